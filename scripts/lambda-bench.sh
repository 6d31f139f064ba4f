#!/usr/bin/env bash
# Builds the example Lambdas for release with cargo-lambda (x86_64) and measures, for
# each, its binary size (as built and stripped) and its init duration under
# `cargo lambda watch`: from process start to the runtime's first poll for an event,
# the median of RUNS cold starts (default 20). BENCHMARKS.md records the results.
#
#   scripts/lambda-bench.sh          # needs cargo-lambda on PATH (scripts/test.sh installs it into .venv)
#   RUNS=50 scripts/lambda-bench.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export PATH="$root/.venv/bin:$PATH"
runs=${RUNS:-20}
functions=(drs-query-lambda change-sync-lambda)

package_args=()
for function in "${functions[@]}"; do
  package_args+=(-p "$function")
done
cargo lambda build --release "${package_args[@]}"

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cargo lambda watch --only-lambda-apis --ignore-changes --invoke-address 127.0.0.1 --invoke-port "$port" >/dev/null 2>&1 &
emulator=$!
trap 'kill "$emulator" 2>/dev/null || true' EXIT
python3 - "$port" <<'PY'
import socket, sys, time
for _ in range(600):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit("cargo lambda watch did not start")
PY

echo "load average: $(cut -d ' ' -f 1-3 /proc/loadavg)"
printf '%-20s %12s %12s %14s\n' function "size" "stripped" "init (median)"
for function in "${functions[@]}"; do
  binary="target/lambda/$function/bootstrap"
  stripped=$(mktemp)
  strip -o "$stripped" "$binary"
  # The function's environment names a table and a bucket; init reads no AWS service.
  init=$(python3 - "$binary" "$port" "$runs" <<'PY'
import os, statistics, subprocess, sys, time
binary, port, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
env = dict(os.environ,
    AWS_LAMBDA_RUNTIME_API=f"http://127.0.0.1:{port}/.rt", AWS_LAMBDA_FUNCTION_NAME="_",
    AWS_LAMBDA_FUNCTION_VERSION="1", AWS_LAMBDA_FUNCTION_MEMORY_SIZE="1024",
    AWS_LAMBDA_LOG_FORMAT="JSON", RUST_LOG="info,lambda_runtime=debug",
    AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_REGION="us-east-1",
    AWS_EC2_METADATA_DISABLED="true", AWS_ENDPOINT_URL="http://127.0.0.1:9",
    CACHE_TABLE_NAME="bench", METADATA_CACHE_TABLE="bench", DOCUMENTS_BUCKET="bench")
times = []
for _ in range(runs):
    started = time.perf_counter()
    process = subprocess.Popen([binary], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    for line in process.stdout:
        if "Concurrent polling disabled" in line or "runtime_worker_pool_initializing" in line:
            times.append(time.perf_counter() - started)
            break
    process.kill()
    process.wait()
if len(times) < runs:
    sys.exit(f"{binary}: the runtime never polled in {runs - len(times)} of {runs} runs")
print(f"{statistics.median(times) * 1000:.1f} ms")
PY
)
  printf '%-20s %10s B %10s B %14s\n' "$function" "$(stat -c %s "$binary")" "$(stat -c %s "$stripped")" "$init"
  rm -f "$stripped"
done
