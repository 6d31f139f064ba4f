//! A loopback HTTP proxy that injects faults into DynamoDB traffic: throttling errors,
//! 500s, connection resets, latency and batch reads left unprocessed, for as many
//! requests as a test asks.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the proxy does to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answer `400 ProvisionedThroughputExceededException`, as a throttled table does.
    Throttle,
    /// Answer `500 InternalServerError`.
    ServerError,
    /// Close the connection without answering.
    Reset,
    /// Forward the request after this delay.
    Latency(Duration),
    /// Answer a `BatchGetItem` with every key it asks for unprocessed, as DynamoDB does
    /// when it runs out of capacity part way; other requests are forwarded.
    Unprocessed,
}

/// A proxy to a DynamoDB endpoint whose next requests fail as scripted.
#[derive(Debug)]
pub struct FaultProxy {
    port: u16,
    plan: Arc<Mutex<Plan>>,
    stop: Arc<AtomicBool>,
}

#[derive(Debug, Default)]
struct Plan {
    /// Faults for the next requests, in order.
    next: VecDeque<Fault>,
    /// A fault for every request while set.
    always: Option<Fault>,
    /// Requests seen, and faults injected.
    requests: usize,
    injected: usize,
}

impl FaultProxy {
    /// Proxies to `upstream`, an `http://127.0.0.1:<port>` endpoint.
    pub fn start(upstream: &str) -> io::Result<Self> {
        let plan = Arc::new(Mutex::new(Plan::default()));
        let p = plan.clone();
        let (port, stop) = crate::spawn_proxy(upstream, move |client, upstream| {
            let _ = serve(client, upstream, &p);
        })?;
        Ok(Self { port, plan, stop })
    }

    /// The proxy's endpoint, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Fails the next `count` requests with `fault`.
    pub fn fail_next(&self, fault: Fault, count: usize) {
        self.plan
            .lock()
            .expect("plan lock")
            .next
            .extend(std::iter::repeat_n(fault, count));
    }

    /// Fails every request with `fault` until [`heal`](Self::heal).
    pub fn fail_all(&self, fault: Fault) {
        self.plan.lock().expect("plan lock").always = Some(fault);
    }

    /// Stops injecting faults.
    pub fn heal(&self) {
        let mut plan = self.plan.lock().expect("plan lock");
        plan.always = None;
        plan.next.clear();
    }

    /// Faults injected so far.
    pub fn injected(&self) -> usize {
        self.plan.lock().expect("plan lock").injected
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One HTTP/1.1 request: head (with its blank line) and body.
fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().unwrap_or(0);
        }
        head.extend_from_slice(line.as_bytes());
        if line == "\r\n" {
            break;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    head.extend_from_slice(&body);
    Ok(Some(head))
}

/// Reads one HTTP response from `upstream` (Content-Length framed, as moto answers).
fn read_response(upstream: &mut BufReader<TcpStream>) -> io::Result<Vec<u8>> {
    read_request(upstream)?
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "no response"))
}

fn error_response(status: &str, kind: &str) -> Vec<u8> {
    let body = format!(
        r#"{{"__type":"com.amazonaws.dynamodb.v20120810#{kind}","message":"injected by FaultProxy"}}"#
    );
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nx-amzn-RequestId: fault\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// The answer to a `BatchGetItem` that reads nothing and leaves every key it asks for
/// unprocessed; `None` for any other request.
fn all_unprocessed(request: &[u8]) -> Option<Vec<u8>> {
    let split = request.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = String::from_utf8_lossy(&request[..split]).to_ascii_lowercase();
    if !head.contains("x-amz-target: dynamodb_20120810.batchgetitem") {
        return None;
    }
    let body: serde_json::Value = serde_json::from_slice(&request[split + 4..]).ok()?;
    let answer = serde_json::json!({ "Responses": {}, "UnprocessedKeys": body["RequestItems"] });
    let body = answer.to_string();
    Some(
        format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nContent-Length: {}\r\nx-amzn-RequestId: fault\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

fn serve(client: TcpStream, upstream: SocketAddr, plan: &Mutex<Plan>) -> io::Result<()> {
    client.set_nonblocking(false)?;
    let mut writer = client.try_clone()?;
    let mut reader = BufReader::new(client);
    // A fresh upstream connection per request keeps the framing simple.
    let forward = |request: &[u8]| -> io::Result<Vec<u8>> {
        let mut server = TcpStream::connect(upstream)?;
        server.write_all(request)?;
        read_response(&mut BufReader::new(server))
    };
    while let Some(request) = read_request(&mut reader)? {
        let fault = {
            let mut plan = plan.lock().expect("plan lock");
            plan.requests += 1;
            let fault = plan.next.pop_front().or(plan.always);
            if fault.is_some() {
                plan.injected += 1;
            }
            fault
        };
        match fault {
            Some(Fault::Throttle) => {
                writer.write_all(&error_response(
                    "400 Bad Request",
                    "ProvisionedThroughputExceededException",
                ))?;
            }
            Some(Fault::ServerError) => {
                writer.write_all(&error_response(
                    "500 Internal Server Error",
                    "InternalServerError",
                ))?;
            }
            Some(Fault::Reset) => return Ok(()),
            Some(Fault::Latency(delay)) => {
                std::thread::sleep(delay);
                writer.write_all(&forward(&request)?)?;
            }
            Some(Fault::Unprocessed) => match all_unprocessed(&request) {
                Some(response) => writer.write_all(&response)?,
                None => writer.write_all(&forward(&request)?)?,
            },
            None => writer.write_all(&forward(&request)?)?,
        }
    }
    Ok(())
}
