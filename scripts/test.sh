#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs the tools the tests drive
# (moto_server, cfn-lint, aws-sam-translator, cargo-lambda, checkov, redis-server,
# dynalite, tsc), starts one shared moto, one shared redis, a 6-node Redis Cluster (3
# primaries, 3 replicas) and one dynalite on free loopback ports, runs fmt, clippy and
# every test; on full runs it also runs the DynamoDB-backed runtime suites a second time
# against dynalite (a stricter DynamoDB than moto) and packages the publishable crates;
# then it stops what it started.
# Terraform is used when installed (with the AWS provider in /opt/tf-plugins, or
# CACHEGEN_TF_PLUGIN_DIR); without it only its tests are skipped.
#
#   scripts/test.sh            # everything
#   scripts/test.sh -p cachegen-compiler  # extra arguments go to `cargo test`
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

venv="$root/.venv"
# cargo-lambda (it brings zig): `cargo lambda watch` emulates the Lambda runtime API for
# the example Lambdas' tests (examples/*/lambda/tests), `cargo lambda build` packages them.
python_tools=("moto[server]==5.2.5" "cfn-lint==1.58.0" "aws-sam-translator==1.115.0" "cargo-lambda==1.9.2")
# checkov pins its own versions of libraries cfn-lint also uses: it gets a venv of its own.
checkov_venv="$root/.venv-checkov"
checkov_version="checkov==3.3.30"
# dynalite: a second DynamoDB implementation (npm), stricter than moto (it returns
# unprocessed keys, and creates tables asynchronously). typescript: tsc type-checks and
# compiles the TypeScript template's output, which tests/key_templates.rs runs with node.
npm_tools="$root/.tools/npm"
dynalite_version="dynalite@4.0.0"
typescript_version="typescript@5.6.3"
# mdBook builds the book under docs/; installed with cargo when missing (it compiles in
# about two minutes, so only then). Chromium (Debian's package) renders its pages.
mdbook_version="0.5.4"

log() { printf '\n== %s\n' "$*"; }

install_python_tools() {
  if [ ! -x "$venv/bin/python" ]; then
    log "creating $venv"
    python3 -m venv "$venv"
  fi
  if ! "$venv/bin/pip" install --quiet --disable-pip-version-check "${python_tools[@]}"; then
    echo "error: could not install ${python_tools[*]} into $venv" >&2
    exit 1
  fi
}

install_checkov() {
  if [ ! -x "$checkov_venv/bin/python" ]; then
    log "creating $checkov_venv"
    python3 -m venv "$checkov_venv"
  fi
  if ! "$checkov_venv/bin/pip" install --quiet --disable-pip-version-check "$checkov_version"; then
    echo "error: could not install $checkov_version into $checkov_venv" >&2
    exit 1
  fi
}

check_terraform() {
  if command -v terraform >/dev/null; then
    echo "terraform: $(TF_CLI_CONFIG_FILE=/dev/null terraform version | head -n 1)"
    return
  fi
  cat >&2 <<'NOTICE'

!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!
!!  terraform is NOT installed: the Terraform tests (fmt -check, validate, plan, and   !!
!!  apply/destroy against moto) are SKIPPED. Install terraform and the AWS provider    !!
!!  (a filesystem mirror in /opt/tf-plugins) to run them.                              !!
!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!

NOTICE
}

install_redis() {
  if command -v redis-server >/dev/null; then
    return
  fi
  log "installing redis-server"
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: redis-server is missing; install it (Debian: apt-get install redis-server)" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
}

install_npm_tools() {
  if [ -x "$npm_tools/node_modules/.bin/dynalite" ] && [ -x "$npm_tools/node_modules/.bin/tsc" ]; then
    return
  fi
  if ! command -v npm >/dev/null; then
    echo "error: npm is missing; install Node.js (Debian: apt-get install nodejs npm)" >&2
    exit 1
  fi
  log "installing $dynalite_version and $typescript_version into $npm_tools"
  mkdir -p "$npm_tools"
  if ! npm install --prefix "$npm_tools" --no-audit --no-fund --silent "$dynalite_version" "$typescript_version"; then
    echo "error: could not install $dynalite_version and $typescript_version" >&2
    exit 1
  fi
}

install_mdbook() {
  if command -v mdbook >/dev/null && [ "$(mdbook --version)" = "mdbook v$mdbook_version" ]; then
    return
  fi
  log "installing mdbook $mdbook_version"
  if ! cargo install --locked --quiet mdbook --version "$mdbook_version"; then
    echo "error: could not install mdbook $mdbook_version (cargo install --locked mdbook)" >&2
    exit 1
  fi
}

install_chromium() {
  if command -v chromium >/dev/null; then
    return
  fi
  log "installing chromium"
  if [ "$(id -u)" -ne 0 ]; then
    echo "error: chromium is missing; install it (Debian: apt-get install chromium)" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# N distinct free loopback ports, one a line (all bound at once, so none repeats).
free_ports() {
  python3 -c 'import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1", 0))
print("\n".join(str(s.getsockname()[1]) for s in socks))' "$1"
}

wait_for() { # description, command...
  local what=$1
  shift
  for _ in $(seq 1 100); do
    if "$@" >/dev/null 2>&1; then
      return
    fi
    sleep 0.1
  done
  echo "error: $what did not start" >&2
  exit 1
}

pids=()
cluster_dir=""
cluster_ports=()
stop_servers() {
  # A cluster node a test killed and started again is not among the pids.
  for port in "${cluster_ports[@]}"; do
    timeout 5 redis-cli -p "$port" shutdown nosave >/dev/null 2>&1 || true
  done
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$cluster_dir" ]; then
    rm -rf "$cluster_dir"
  fi
}
trap stop_servers EXIT

# Starts a Redis Cluster of 3 primaries and 3 replicas on free loopback ports (a short
# node timeout, so a killed primary's replica takes over in seconds), waits until every
# node reports cluster_state:ok, and exports its node URLs, comma-separated, as
# CACHEGEN_TEST_REDIS_CLUSTER_URLS. Each node's bus port is picked too (--cluster-port,
# Redis 7): the default, port + 10000, can be past 65535 for an ephemeral port.
start_redis_cluster() {
  cluster_dir=$(mktemp -d)
  local ports bus_ports nodes=() urls=()
  mapfile -t ports < <(free_ports 12)
  bus_ports=("${ports[@]:6}")
  ports=("${ports[@]:0:6}")
  cluster_ports=("${ports[@]}")
  for i in "${!ports[@]}"; do
    local port=${ports[$i]}
    (cd "$cluster_dir" && exec redis-server --port "$port" --cluster-port "${bus_ports[$i]}" \
      --cluster-enabled yes --cluster-config-file "nodes-$port.conf" --cluster-node-timeout 2000 \
      --bind 127.0.0.1 --save '' --appendonly no --daemonize no) >"$root/target/redis-cluster-$port.log" 2>&1 &
    pids+=($!)
    nodes+=("127.0.0.1:$port")
    urls+=("redis://127.0.0.1:$port")
  done
  for port in "${ports[@]}"; do
    wait_for "redis-server (cluster node $port)" redis-cli -p "$port" ping
  done
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$root/target/redis-cluster-create.log"
  for port in "${ports[@]}"; do
    wait_for "Redis Cluster (node $port)" bash -c "redis-cli -p $port cluster info | grep -q '^cluster_state:ok'"
  done
  CACHEGEN_TEST_REDIS_CLUSTER_URLS=$(IFS=,; echo "${urls[*]}")
  export CACHEGEN_TEST_REDIS_CLUSTER_URLS
}

# Incremental caches only pay off on a rebuild: a CI run builds once, and its disk is
# finite (a clean build with them ran out of space).
if [ "${CI:-}" = true ]; then
  export CARGO_INCREMENTAL=0
fi
df -h "$root" | tail -n 1 | awk '{print "disk: " $4 " free on " $6}'

log "installing test tools"
install_python_tools
install_checkov
install_redis
install_npm_tools
install_mdbook
install_chromium
check_terraform
export PATH="$venv/bin:$PATH"

log "starting moto_server and redis-server on loopback"
mkdir -p "$root/target"
moto_port=$(free_port)
MOTO_IAM_LOAD_MANAGED_POLICIES=true moto_server -H 127.0.0.1 -p "$moto_port" >"$root/target/moto.log" 2>&1 &
pids+=($!)
redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no >"$root/target/redis.log" 2>&1 &
pids+=($!)
dynalite_port=$(free_port)
"$npm_tools/node_modules/.bin/dynalite" --host 127.0.0.1 --port "$dynalite_port" --createTableMs 0 --deleteTableMs 0 --updateTableMs 0 >"$root/target/dynalite.log" 2>&1 &
pids+=($!)
wait_for "moto_server" python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1])' "http://127.0.0.1:$moto_port/moto-api/"
wait_for "redis-server" redis-cli -p "$redis_port" ping
start_redis_cluster
wait_for "dynalite" python3 -c 'import sys, urllib.request
try: urllib.request.urlopen(sys.argv[1])
except urllib.error.HTTPError: pass' "http://127.0.0.1:$dynalite_port/"
export CACHEGEN_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$moto_port"
export CACHEGEN_TEST_REDIS_URL="redis://127.0.0.1:$redis_port"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
echo "moto $CACHEGEN_TEST_DYNAMODB_ENDPOINT, redis $CACHEGEN_TEST_REDIS_URL, redis cluster $CACHEGEN_TEST_REDIS_CLUSTER_URLS"

log "cargo fmt --check"
cargo fmt --all -- --check

log "cargo clippy"
# The workspace's lints ([workspace.lints], clippy.toml) hold for the published crates'
# code. Cargo's [lints] cannot leave tests out, so clippy's function-length lint is
# checked on libraries and binaries only: a test reads best as one scenario.
cargo clippy --workspace --all-targets --quiet -- -D warnings -A clippy::too_many_lines
cargo clippy --workspace --lib --bins --quiet -- -D warnings

log "cargo test"
cargo test --workspace --no-fail-fast "$@"

if [ $# -eq 0 ]; then
  # The runtime's features, each alone and as generated crates combine them: the workspace
  # build above unifies them all, so a `cfg` that needs another feature only fails here.
  # Clippy on the library (the integration tests need every feature); then the unit tests
  # that only run without a feature (uncompressed envelopes, REDIS_URL without `redis`),
  # and each example crate alone, with exactly the features its manifest asks for.
  log "runtime feature matrix"
  # The example crates below cover the combinations generated crates use.
  for features in "" dynamodb redis s3 lambda-events compression otel dynamodb,s3 redis,otel; do
    echo "features: [$features]"
    cargo clippy -p cachegen-runtime --lib --quiet --no-default-features --features "$features" -- -D warnings
  done
  cargo test -p cachegen-runtime --lib --quiet --no-default-features --features dynamodb
  # OpenTelemetry is off by default, so the workspace run above skipped its test.
  cargo test -p cachegen-runtime --quiet --features otel --test otel
  for example in discord-bot-cache sessions-api-cache glasswork-app-cache telegram-vps-bot-cache \
    drs-query-lambda change-sync-lambda build-script-example; do
    echo "alone: $example"
    cargo clippy -p "$example" --quiet -- -D warnings
  done
fi

if [ $# -eq 0 ]; then
  # The suites that reach DynamoDB only (S3-backed ones need moto), on dynalite.
  log "DynamoDB-backed runtime suites against dynalite"
  CACHEGEN_TEST_DYNAMODB_ENDPOINT="http://127.0.0.1:$dynalite_port" \
    CACHEGEN_TEST_DYNAMODB_SERVER=dynalite cargo test -p cachegen-runtime \
    --test conformance --test distributed_flight --test dynamo_layout --test version_stamps \
    --test resilience --test faults --test dynamo_requests --test idempotency --test sort_keys

  # Each publishable crate is packaged, so a file it needs from outside its folder, or a
  # dependency without a version, fails here; the light ones are also built from their
  # tarballs (the runtime and the CLI would rebuild the AWS SDK: minutes, for no more).
  # A fresh target dir per run: cargo extracts the packages it verifies against into
  # ~/.cargo/registry/src, keyed by the packaging registry's path, and reuses what it
  # finds there, so packages from an earlier run at the same path would stand in for
  # today's sources.
  log "cargo package"
  package_target=$(mktemp -d "$root/target/package-XXXXXX")
  cargo package --offline --allow-dirty --target-dir "$package_target" \
    -p cachegen-names -p cachegen-compiler
  # One command for all four, so the runtime and the CLI resolve the names crate and the
  # compiler from the packages beside them, not from crates.io.
  cargo package --offline --allow-dirty --no-verify --target-dir "$package_target" \
    -p cachegen-names -p cachegen-compiler -p cachegen-runtime -p cachegen
  rm -rf "$package_target"

  # The publishable crates' API docs, with broken intra-doc links and missing docs as errors.
  log "cargo doc"
  RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet \
    -p cachegen-names -p cachegen-compiler -p cachegen-runtime -p cachegen

  # The book: built, its internal links and anchors checked, and its front page and one
  # diagnostic page rendered as a reader's browser shows them (screenshots kept in
  # target/book-screenshots/). Its generated pages and examples are checked by
  # generator/cli/tests/book/ in `cargo test`.
  log "the book"
  rm -rf docs/book
  mdbook build docs
  python3 scripts/check_book_links.py docs/book
  python3 scripts/check_book_render.py docs/book target/book-screenshots \
    "index.html=Teams running AWS Lambda" \
    "reference/diagnostics/CG0310.html=cachegen build</code> reports"
fi
