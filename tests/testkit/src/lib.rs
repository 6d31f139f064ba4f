//! Real servers for tests: `moto_server` (DynamoDB) and `redis-server`, each
//! on a free 127.0.0.1 port, killed on drop.
//!
//! Binaries come from `PATH`, or from `CACHEGEN_MOTO_SERVER` /
//! `CACHEGEN_REDIS_SERVER`. [`shared_moto_endpoint`] and [`shared_redis_url`]
//! reuse the instances `scripts/test.sh` starts (`CACHEGEN_TEST_DYNAMODB_ENDPOINT`,
//! `CACHEGEN_TEST_REDIS_URL`) and otherwise spawn a private one. [`lambda`] runs a
//! Lambda function binary under cargo-lambda's runtime API emulator.

pub mod fault;
pub mod lambda;
mod workspace;

pub use workspace::{example_specs, workspace_root};

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Env var overriding the `moto_server` binary.
pub const MOTO_SERVER_ENV: &str = "CACHEGEN_MOTO_SERVER";
/// Env var overriding the `redis-server` binary.
pub const REDIS_SERVER_ENV: &str = "CACHEGEN_REDIS_SERVER";
/// Env var with the endpoint of a shared moto server.
pub const SHARED_DYNAMODB_ENV: &str = "CACHEGEN_TEST_DYNAMODB_ENDPOINT";
/// Env var with the URL of a shared redis server.
pub const SHARED_REDIS_ENV: &str = "CACHEGEN_TEST_REDIS_URL";

const MOTO_READY_TIMEOUT: Duration = Duration::from_secs(60);
const REDIS_READY_TIMEOUT: Duration = Duration::from_secs(10);
const SPAWN_ATTEMPTS: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Moto,
    Redis,
    RedisTls(TlsFiles),
}

/// A throwaway CA and a server certificate for `127.0.0.1`, made with `openssl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA certificate (PEM), for the client's root store.
    pub ca_cert: PathBuf,
    /// Server certificate (PEM), signed by the CA, SAN `IP:127.0.0.1`.
    pub server_cert: PathBuf,
    /// Server private key (PEM).
    pub server_key: PathBuf,
}

impl TlsFiles {
    /// Writes the files into `dir` by running `openssl`.
    pub fn generate(dir: &Path) -> io::Result<Self> {
        let files = Self {
            ca_cert: dir.join("ca.pem"),
            server_cert: dir.join("server.pem"),
            server_key: dir.join("server.key"),
        };
        let (ca_key, csr, ext) = (
            dir.join("ca.key"),
            dir.join("server.csr"),
            dir.join("san.ext"),
        );
        std::fs::write(&ext, "subjectAltName=IP:127.0.0.1\n")?;
        let p = |p: &Path| p.to_string_lossy().into_owned();
        openssl(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=cachegen-test-ca",
            "-keyout",
            &p(&ca_key),
            "-out",
            &p(&files.ca_cert),
        ])?;
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            &p(&files.server_key),
            "-out",
            &p(&csr),
        ])?;
        openssl(&[
            "x509",
            "-req",
            "-in",
            &p(&csr),
            "-CA",
            &p(&files.ca_cert),
            "-CAkey",
            &p(&ca_key),
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &p(&ext),
            "-out",
            &p(&files.server_cert),
        ])?;
        Ok(files)
    }
}

fn openssl(args: &[&str]) -> io::Result<()> {
    let out = Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "openssl {}: {}",
            args[0],
            String::from_utf8_lossy(&out.stderr)
        )))
    }
}

impl Kind {
    fn binary(&self) -> String {
        let (var, default) = match self {
            Kind::Moto => (MOTO_SERVER_ENV, "moto_server"),
            Kind::Redis | Kind::RedisTls(_) => (REDIS_SERVER_ENV, "redis-server"),
        };
        std::env::var(var).unwrap_or_else(|_| default.to_owned())
    }

    fn command(&self, port: u16) -> Command {
        let mut cmd = Command::new(self.binary());
        let port = port.to_string();
        let redis_common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
        match self {
            // AWS-managed policies (such as AWSLambdaBasicExecutionRole) exist, so
            // templates may attach them.
            Kind::Moto => cmd
                .args(["-H", "127.0.0.1", "-p", &port])
                .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true"),
            Kind::Redis => cmd.args(["--port", &port]).args(redis_common),
            Kind::RedisTls(tls) => cmd
                .args([
                    "--port",
                    "0",
                    "--tls-port",
                    &port,
                    "--tls-auth-clients",
                    "no",
                ])
                .arg("--tls-cert-file")
                .arg(&tls.server_cert)
                .arg("--tls-key-file")
                .arg(&tls.server_key)
                .arg("--tls-ca-cert-file")
                .arg(&tls.ca_cert)
                .args(redis_common),
        };
        cmd
    }

    fn ready_timeout(&self) -> Duration {
        match self {
            Kind::Moto => MOTO_READY_TIMEOUT,
            Kind::Redis | Kind::RedisTls(_) => REDIS_READY_TIMEOUT,
        }
    }

    /// One readiness probe: moto answers `GET /moto-api/`, redis `PING`;
    /// a TLS redis only has to accept connections.
    fn probe(&self, port: u16) -> io::Result<bool> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let (request, expect): (&[u8], &[u8]) = match self {
            Kind::Moto => (
                b"GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                b"HTTP/1.1 200",
            ),
            Kind::Redis => (b"PING\r\n", b"+PONG"),
            Kind::RedisTls(_) => return Ok(true),
        };
        s.write_all(request)?;
        let mut buf = vec![0; expect.len()];
        s.read_exact(&mut buf)?;
        Ok(buf == expect)
    }
}

/// A server process on a loopback port, killed on drop.
///
/// On Linux it is also killed when the thread that started it exits, so a
/// test run that dies leaves no server behind. Keep it within that thread's
/// lifetime (per test); do not park it in a `static` that one test initialises.
#[derive(Debug)]
pub struct TestServer {
    kind: Kind,
    port: u16,
    child: Option<Child>,
}

/// A free loopback port (bound, then released).
fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

impl TestServer {
    /// Starts `moto_server` and waits until `GET /moto-api/` answers.
    pub fn moto() -> io::Result<Self> {
        Self::spawn_new(Kind::Moto)
    }

    /// Starts `redis-server` without persistence and waits until `PING` answers.
    pub fn redis() -> io::Result<Self> {
        Self::spawn_new(Kind::Redis)
    }

    /// Starts `redis-server` serving TLS only, with `tls`'s certificate.
    /// [`url`](Self::url) is `rediss://127.0.0.1:<port>`.
    pub fn redis_tls(tls: TlsFiles) -> io::Result<Self> {
        Self::spawn_new(Kind::RedisTls(tls))
    }

    fn spawn_new(kind: Kind) -> io::Result<Self> {
        let mut last = None;
        for _ in 0..SPAWN_ATTEMPTS {
            let mut server = Self {
                kind: kind.clone(),
                port: free_port()?,
                child: None,
            };
            match server.start() {
                Ok(()) => return Ok(server),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("at least one attempt"))
    }

    /// (Re)starts the server on its port and waits until it is ready.
    pub fn start(&mut self) -> io::Result<()> {
        self.stop();
        let mut cmd = self.kind.command(self.port);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        kill_with_parent(&mut cmd);
        let mut child = cmd.spawn().map_err(|e| {
            io::Error::new(e.kind(), format!("cannot run {}: {e}", self.kind.binary()))
        })?;
        let deadline = Instant::now() + self.kind.ready_timeout();
        loop {
            if let Some(status) = child.try_wait()? {
                return Err(io::Error::other(format!(
                    "{} exited before becoming ready ({status})",
                    self.kind.binary()
                )));
            }
            if matches!(self.kind.probe(self.port), Ok(true)) {
                self.child = Some(child);
                return Ok(());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("{} not ready on port {}", self.kind.binary(), self.port),
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server (for store-down tests); [`start`](Self::start) revives it.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// HTTP endpoint, e.g. `http://127.0.0.1:5000` (for moto).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Connection URL: the HTTP endpoint for moto, `redis://` or `rediss://127.0.0.1:<port>` for redis.
    pub fn url(&self) -> String {
        match self.kind {
            Kind::Moto => self.endpoint(),
            Kind::Redis => format!("redis://127.0.0.1:{}", self.port),
            Kind::RedisTls(_) => format!("rediss://127.0.0.1:{}", self.port),
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Asks Linux to kill the child if the spawning thread dies, so a test run
/// killed by a signal leaves no server behind.
#[cfg(target_os = "linux")]
fn kill_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn kill_with_parent(_: &mut Command) {}

/// A server address, shared or private; a private server lives as long as this.
#[derive(Debug)]
pub struct SharedServer {
    url: String,
    _private: Option<TestServer>,
}

impl SharedServer {
    /// The endpoint (moto) or URL (redis).
    pub fn url(&self) -> &str {
        &self.url
    }

    fn from_env_or(var: &str, spawn: fn() -> io::Result<TestServer>) -> io::Result<Self> {
        match std::env::var(var) {
            Ok(url) if !url.is_empty() => Ok(Self {
                url,
                _private: None,
            }),
            _ => {
                let server = spawn()?;
                Ok(Self {
                    url: server.url(),
                    _private: Some(server),
                })
            }
        }
    }
}

/// The shared moto endpoint from `CACHEGEN_TEST_DYNAMODB_ENDPOINT`, or a private server.
pub fn shared_moto_endpoint() -> io::Result<SharedServer> {
    SharedServer::from_env_or(SHARED_DYNAMODB_ENV, TestServer::moto)
}

/// The shared redis URL from `CACHEGEN_TEST_REDIS_URL`, or a private server.
pub fn shared_redis_url() -> io::Result<SharedServer> {
    SharedServer::from_env_or(SHARED_REDIS_ENV, TestServer::redis)
}

/// A name unique within this machine's test runs, for tables and key prefixes.
pub fn unique_name(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Account ID moto reports.
pub const MOTO_ACCOUNT_ID: &str = "123456789012";

/// A CloudFormation template (JSON) creating a stub Lambda function `name` and its role
/// on moto: something for a bucket's event notifications and invoke permission to name.
/// moto creates functions without running them, so the code is never executed.
pub fn stub_function_template(name: &str) -> String {
    format!(
        r#"{{"Resources":{{"Role":{{"Type":"AWS::IAM::Role","Properties":{{"AssumeRolePolicyDocument":{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"Service":"lambda.amazonaws.com"}},"Action":"sts:AssumeRole"}}]}}}}}},"Function":{{"Type":"AWS::Lambda::Function","Properties":{{"FunctionName":"{name}","Runtime":"python3.12","Handler":"index.handler","Role":{{"Fn::GetAtt":["Role","Arn"]}},"Code":{{"ZipFile":"def handler(event, context):\n    return None\n"}}}}}}}}}}"#
    )
}

/// An empty zip archive (its end-of-central-directory record alone): code for a function
/// moto creates and never runs.
pub const EMPTY_ZIP: [u8; 22] = [
    b'P', b'K', 5, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
];

/// The ARN moto gives function `name` in `us-east-1`.
pub fn stub_function_arn(name: &str) -> String {
    format!("arn:aws:lambda:us-east-1:{MOTO_ACCOUNT_ID}:function:{name}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_stops_and_restarts_on_the_same_port() {
        let mut server = TestServer::redis().expect("redis-server on PATH");
        let port = server.port();
        assert!(Kind::Redis.probe(port).unwrap());
        server.stop();
        assert!(Kind::Redis.probe(port).is_err());
        server.start().unwrap();
        assert_eq!(server.port(), port);
        assert!(Kind::Redis.probe(port).unwrap());
    }

    #[test]
    fn moto_answers_and_is_killed_on_drop() {
        let server = TestServer::moto().expect("moto_server on PATH");
        let port = server.port();
        assert!(Kind::Moto.probe(port).unwrap());
        drop(server);
        assert!(Kind::Moto.probe(port).is_err());
    }

    #[test]
    fn targets_split_across_reads_are_counted_once() {
        let counts = Mutex::new(HashMap::new());
        let mut window = b"x-amz-target: DynamoDB_2012".to_vec();
        count_targets(&window, 0, &counts);
        let tail = window.len();
        window
            .extend_from_slice(b"0810.GetItem\r\nx-amz-target: DynamoDB_20120810.BatchGetItem\r\n");
        count_targets(&window, tail, &counts);
        let tail = window.len();
        window.extend_from_slice(b"body");
        count_targets(&window, tail, &counts);
        let counts = counts.into_inner().unwrap();
        assert_eq!(
            (counts["GetItem"], counts["BatchGetItem"], counts.len()),
            (1, 1, 2)
        );
    }

    #[test]
    fn unique_names_differ() {
        assert_ne!(unique_name("t"), unique_name("t"));
    }
}

/// A loopback TCP proxy in front of a DynamoDB endpoint that counts requests
/// per operation (from the `X-Amz-Target` header), to show how many round
/// trips a call makes. Stops accepting on drop.
#[derive(Debug)]
pub struct CountingProxy {
    port: u16,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    stop: Arc<AtomicBool>,
}

const TARGET_PREFIX: &[u8] = b"DynamoDB_20120810.";
const SCAN_TAIL: usize = 64;

impl CountingProxy {
    /// Proxies to `upstream`, an `http://127.0.0.1:<port>` endpoint.
    pub fn start(upstream: &str) -> io::Result<Self> {
        let counts = Arc::new(Mutex::new(HashMap::new()));
        let c = counts.clone();
        let (port, stop) = spawn_proxy(upstream, move |client, upstream| {
            let _ = relay(client, upstream, &c);
        })?;
        Ok(Self { port, counts, stop })
    }

    /// The proxy's endpoint, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Requests seen for `operation`, e.g. `GetItem`.
    pub fn count(&self, operation: &str) -> usize {
        self.counts
            .lock()
            .expect("count lock")
            .get(operation)
            .copied()
            .unwrap_or(0)
    }

    /// Requests seen, every operation together.
    pub fn total(&self) -> usize {
        self.counts.lock().expect("count lock").values().sum()
    }

    /// Forgets the counts so far.
    pub fn reset(&self) {
        self.counts.lock().expect("count lock").clear();
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Listens on a free loopback port and hands each connection, with the parsed
/// `upstream` address, to `handle` on its own thread, until the returned flag is set.
pub(crate) fn spawn_proxy(
    upstream: &str,
    handle: impl Fn(TcpStream, SocketAddr) + Send + Sync + 'static,
) -> io::Result<(u16, Arc<AtomicBool>)> {
    let upstream: SocketAddr = upstream
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{upstream}: {e}")))?;
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    listener.set_nonblocking(true)?;
    let port = listener.local_addr()?.port();
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    let handle = Arc::new(handle);
    std::thread::spawn(move || {
        while !stopping.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((client, _)) => {
                    let handle = handle.clone();
                    std::thread::spawn(move || handle(client, upstream));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
    });
    Ok((port, stop))
}

fn relay(
    client: TcpStream,
    upstream: SocketAddr,
    counts: &Mutex<HashMap<String, usize>>,
) -> io::Result<()> {
    client.set_nonblocking(false)?;
    let server = TcpStream::connect(upstream)?;
    let (mut from_server, mut to_client) = (server.try_clone()?, client.try_clone()?);
    std::thread::spawn(move || {
        let _ = io::copy(&mut from_server, &mut to_client);
        let _ = to_client.shutdown(std::net::Shutdown::Write);
    });
    let (mut from_client, mut to_server) = (client, server);
    let mut buf = vec![0; 64 * 1024];
    let mut window: Vec<u8> = Vec::new();
    loop {
        let n = from_client.read(&mut buf)?;
        if n == 0 {
            return to_server.shutdown(std::net::Shutdown::Write);
        }
        let tail_len = window.len();
        window.extend_from_slice(&buf[..n]);
        count_targets(&window, tail_len, counts);
        let keep = window.len().saturating_sub(SCAN_TAIL);
        window.drain(..keep);
        to_server.write_all(&buf[..n])?;
    }
}

/// Counts operation names that end at or after `tail_len` (earlier ones were
/// counted in the previous read) and are terminated within `window`.
fn count_targets(window: &[u8], tail_len: usize, counts: &Mutex<HashMap<String, usize>>) {
    let mut from = 0;
    while let Some(i) = window[from..]
        .windows(TARGET_PREFIX.len())
        .position(|w| w == TARGET_PREFIX)
    {
        let start = from + i + TARGET_PREFIX.len();
        let len = window[start..]
            .iter()
            .take_while(|b| b.is_ascii_alphanumeric())
            .count();
        let end = start + len;
        if end < window.len() && end >= tail_len && len > 0 {
            let op = String::from_utf8_lossy(&window[start..end]).into_owned();
            *counts.lock().expect("count lock").entry(op).or_default() += 1;
        }
        from = end.max(from + i + 1);
    }
}
