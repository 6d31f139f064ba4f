//! A Lambda function binary run as Lambda runs it: `cargo lambda watch --only-lambda-apis`
//! (cargo-lambda's emulator of the Lambda runtime API) on a free loopback port, the
//! binary started against it with the environment Lambda gives a function, and events
//! sent with `cargo lambda invoke`. What the function prints (its logs and EMF metric
//! lines) is kept, each line with the time it arrived.
//!
//! The binary is the one cargo built for the test (`CARGO_BIN_EXE_<name>`): the emulator
//! does not build it, since `cargo run -p <lambda>` alone resolves other features than
//! the workspace's test build and would rebuild the AWS SDK. (`cargo lambda watch
//! --concurrency N` starts N processes, as classic Lambda scales; Lambda Managed
//! Instances' concurrency within one process is the function's `AWS_LAMBDA_MAX_CONCURRENCY`.)
//! `cargo-lambda` comes from `PATH` (scripts/test.sh installs it into its venv).

use std::io::{self, BufRead, BufReader, Read};
use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{free_port, kill_with_parent};

/// How long to wait for the emulator to listen, or for a function to print what is awaited.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// `cargo lambda watch --only-lambda-apis` on a loopback port, killed on drop.
#[derive(Debug)]
pub struct Emulator {
    child: Child,
    port: u16,
}

impl Emulator {
    /// Starts the emulator in the Cargo workspace at `workspace` (it reads its metadata)
    /// and waits until it listens.
    pub fn start(workspace: &Path) -> io::Result<Self> {
        let port = free_port()?;
        let mut command = Command::new("cargo");
        command
            .args(["lambda", "watch", "--only-lambda-apis", "--ignore-changes"])
            .args(["--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(port.to_string())
            .current_dir(workspace)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        kill_with_parent(&mut command);
        let mut child = command.spawn().map_err(|err| {
            io::Error::new(
                err.kind(),
                format!("cannot run `cargo lambda watch`: {err}"),
            )
        })?;
        let deadline = Instant::now() + READY_TIMEOUT;
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            if let Some(status) = child.try_wait()? {
                return Err(io::Error::other(format!(
                    "`cargo lambda watch` exited before listening ({status}): is cargo-lambda installed? scripts/test.sh installs it"
                )));
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("`cargo lambda watch` is not listening on port {port}"),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Self { child, port })
    }

    /// Starts `binary` as the emulator's function, with `env` on top of what Lambda sets
    /// (`AWS_LAMBDA_RUNTIME_API`, the function's name, version and memory size).
    pub fn run(&self, binary: &Path, env: &[(&str, String)]) -> io::Result<Function> {
        let mut command = Command::new(binary);
        command
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{}/.rt", self.port),
            )
            // The emulator's one unnamed function, which `invoke` reaches without a name.
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .envs(env.iter().map(|(key, value)| (*key, value)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        kill_with_parent(&mut command);
        let started = Instant::now();
        let mut child = command.spawn().map_err(|err| {
            io::Error::new(
                err.kind(),
                format!("cannot run {}: {err}", binary.display()),
            )
        })?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");
        for stream in [Box::new(stdout) as Box<dyn Read + Send>, Box::new(stderr)] {
            let lines = Arc::clone(&lines);
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines
                        .lock()
                        .expect("lines lock")
                        .push((Instant::now(), line));
                }
            });
        }
        Ok(Function {
            child,
            started,
            lines,
        })
    }

    /// `cargo lambda invoke` of the function with `payload`: its JSON answer, or the
    /// error the function reported.
    pub fn invoke(&self, payload: &Value) -> Result<Value, String> {
        answer(self.invoke_command(payload).output())
    }

    /// `count` `cargo lambda invoke` processes of `payload` started at once, so the
    /// invocations are in flight together; their answers, in start order.
    pub fn invoke_together(&self, payload: &Value, count: usize) -> Vec<Result<Value, String>> {
        let children: Vec<io::Result<Child>> = (0..count)
            .map(|_| {
                self.invoke_command(payload)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
            })
            .collect();
        children
            .into_iter()
            .map(|child| answer(child.and_then(Child::wait_with_output)))
            .collect()
    }

    fn invoke_command(&self, payload: &Value) -> Command {
        let mut command = Command::new("cargo");
        command
            .args(["lambda", "invoke", "--invoke-address", "127.0.0.1"])
            .args(["--invoke-port", &self.port.to_string()])
            .args(["--output-format", "json", "--data-ascii"])
            .arg(payload.to_string())
            .stdin(Stdio::null());
        command
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The answer `cargo lambda invoke` printed, or why there is none.
fn answer(output: io::Result<Output>) -> Result<Value, String> {
    let output = output.map_err(|err| format!("cannot run `cargo lambda invoke`: {err}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "{stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    serde_json::from_str(stdout.trim())
        .map_err(|err| format!("`cargo lambda invoke` printed no JSON ({err}): {stdout}"))
}

/// A function process under the [`Emulator`], killed on drop.
#[derive(Debug)]
pub struct Function {
    child: Child,
    started: Instant,
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Function {
    /// Every line the function has printed so far, stdout and stderr.
    pub fn lines(&self) -> Vec<String> {
        let lines = self.lines.lock().expect("lines lock");
        lines.iter().map(|(_, line)| line.clone()).collect()
    }

    /// The EMF lines printed so far (JSON objects with an `_aws` member).
    pub fn emf(&self) -> Vec<Value> {
        self.lines()
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|value| value.get("_aws").is_some())
            .collect()
    }

    /// Waits until `done` holds of the function's output (it prints a line before it
    /// answers, and the line reaches this process a moment later); whether it did.
    pub fn wait_until(&self, done: impl Fn(&Self) -> bool) -> bool {
        let deadline = Instant::now() + READY_TIMEOUT;
        while !done(self) {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// How many lines printed so far contain `text`.
    pub fn count(&self, text: &str) -> usize {
        let lines = self.lines.lock().expect("lines lock");
        lines.iter().filter(|(_, line)| line.contains(text)).count()
    }

    /// From the start of the process to the first line containing `text` (such as the
    /// runtime's first poll for an event: the init phase), if it printed one.
    pub fn time_to(&self, text: &str) -> Option<Duration> {
        let lines = self.lines.lock().expect("lines lock");
        lines
            .iter()
            .find(|(_, line)| line.contains(text))
            .map(|(at, _)| at.duration_since(self.started))
    }

    /// Stops the function; a new one started on the same emulator starts cold.
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        self.kill();
    }
}
