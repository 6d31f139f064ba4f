//! Real servers for tests: `moto_server` (DynamoDB) and `redis-server`, each
//! on a free 127.0.0.1 port, killed on drop.
//!
//! Binaries come from `PATH`, or from `CACHEGEN_MOTO_SERVER` /
//! `CACHEGEN_REDIS_SERVER`. [`shared_moto_endpoint`] and [`shared_redis_url`]
//! reuse the instances `scripts/test.sh` starts (`CACHEGEN_TEST_DYNAMODB_ENDPOINT`,
//! `CACHEGEN_TEST_REDIS_URL`) and otherwise spawn a private one.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Moto,
    Redis,
}

impl Kind {
    fn binary(self) -> String {
        let (var, default) = match self {
            Kind::Moto => (MOTO_SERVER_ENV, "moto_server"),
            Kind::Redis => (REDIS_SERVER_ENV, "redis-server"),
        };
        std::env::var(var).unwrap_or_else(|_| default.to_owned())
    }

    fn command(self, port: u16) -> Command {
        let mut cmd = Command::new(self.binary());
        let port = port.to_string();
        match self {
            // AWS-managed policies (such as AWSLambdaBasicExecutionRole) exist, so
            // templates may attach them.
            Kind::Moto => cmd
                .args(["-H", "127.0.0.1", "-p", &port])
                .env("MOTO_IAM_LOAD_MANAGED_POLICIES", "true"),
            Kind::Redis => cmd.args([
                "--port",
                &port,
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ]),
        };
        cmd
    }

    fn ready_timeout(self) -> Duration {
        match self {
            Kind::Moto => MOTO_READY_TIMEOUT,
            Kind::Redis => REDIS_READY_TIMEOUT,
        }
    }

    /// One readiness probe: moto answers `GET /moto-api/`, redis `PING`.
    fn probe(self, port: u16) -> io::Result<bool> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        let (request, expect): (&[u8], &[u8]) = match self {
            Kind::Moto => (
                b"GET /moto-api/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                b"HTTP/1.1 200",
            ),
            Kind::Redis => (b"PING\r\n", b"+PONG"),
        };
        s.write_all(request)?;
        let mut buf = vec![0; expect.len()];
        s.read_exact(&mut buf)?;
        Ok(buf == expect)
    }
}

/// A server process on a loopback port, killed on drop.
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

    fn spawn_new(kind: Kind) -> io::Result<Self> {
        let mut last = None;
        for _ in 0..SPAWN_ATTEMPTS {
            let mut server = Self {
                kind,
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

    /// Connection URL: the HTTP endpoint for moto, `redis://127.0.0.1:<port>` for redis.
    pub fn url(&self) -> String {
        match self.kind {
            Kind::Moto => self.endpoint(),
            Kind::Redis => format!("redis://127.0.0.1:{}", self.port),
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
    fn unique_names_differ() {
        assert_ne!(unique_name("t"), unique_name("t"));
    }
}
