//! `localnet serve`: a [`LocalNet`] live behind the IC's HTTP interface ([`crate::interface`]) on an
//! HTTP/1.1 server (tiny_http, already the workspace's server). One thread owns the network: it
//! answers requests one at a time, and between them follows the wall clock and runs rounds, so
//! timers fire, calls between canisters proceed and outcalls are made without anyone asking.

use crate::interface::Interface;
use crate::LocalNet;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long the server waits for a request before it runs a round anyway.
const IDLE_ROUND: Duration = Duration::from_millis(20);

/// The wall clock in nanoseconds since the epoch.
pub fn wall_clock_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Brings the network's clock up to the wall clock (it never goes back) and runs a round.
fn follow_wall_clock(net: &mut LocalNet) {
    let wall = wall_clock_nanos();
    if wall > net.time() {
        net.advance_time(Duration::from_nanos(wall - net.time()));
    }
    net.tick();
}

/// Requests answered in one round at most.
const MAX_BATCH: usize = 64;

/// The request as the interface takes it (`None` if its body cannot be read).
fn read(request: &mut tiny_http::Request) -> Option<crate::interface::HttpIn> {
    let mut body = Vec::new();
    let limit = crate::interface::MAX_REQUEST_BYTES as u64 + 1;
    request
        .as_reader()
        .take(limit)
        .read_to_end(&mut body)
        .ok()?;
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|h| (h.field.to_string(), h.value.to_string()))
        .collect();
    let host = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("host"))
        .map(|(_, value)| value.clone());
    Some(crate::interface::HttpIn {
        method: request.method().as_str().to_string(),
        url: request.url().to_string(),
        host,
        headers,
        body,
    })
}

fn http_response(
    answer: crate::interface::Response,
) -> tiny_http::Response<std::io::Cursor<Vec<u8>>> {
    let mut response = tiny_http::Response::from_data(answer.body).with_status_code(answer.status);
    if !answer.content_type.is_empty() {
        response.add_header(
            tiny_http::Header::from_bytes("Content-Type", answer.content_type)
                .expect("a valid header"),
        );
    }
    for (name, value) in &answer.headers {
        // The server frames the answer itself: a canister's length or connection headers, and any
        // header with control characters (a response split), are dropped.
        let framing = [
            "content-length",
            "transfer-encoding",
            "connection",
            "keep-alive",
            "upgrade",
        ]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h));
        let control = name.chars().chain(value.chars()).any(|c| c.is_control());
        if framing || control {
            continue;
        }
        if let Ok(header) = tiny_http::Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(header);
        }
    }
    response
}

/// A running server.
pub struct Serving {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<LocalNet>>,
}

impl Serving {
    /// Stops serving after the request in progress and gives the network back.
    pub fn stop(mut self) -> LocalNet {
        self.stop.store(true, Ordering::SeqCst);
        self.thread
            .take()
            .expect("a server is stopped once")
            .join()
            .expect("the server thread does not panic")
    }
}

/// Blocks until Ctrl-C or SIGTERM (what a server waits for before it stops and saves).
pub fn wait_for_interrupt() -> Result<(), String> {
    let (stop, stopped) = std::sync::mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = stop.send(());
    })
    .map_err(|e| format!("cannot handle Ctrl-C: {e}"))?;
    let _ = stopped.recv();
    Ok(())
}

/// Whether `bind` may be served: loopback only, unless remote clients are asked for explicitly (a
/// local network has no access control worth the name).
pub fn check_bind(bind: &SocketAddr, allow_remote: bool) -> Result<(), String> {
    if bind.ip().is_loopback() || allow_remote {
        return Ok(());
    }
    Err(format!(
        "{bind} is not a loopback address: pass --allow-remote to serve other machines"
    ))
}

/// Serves `net` at `bind` (port 0: any free port) until [`Serving::stop`].
pub fn serve(
    mut net: LocalNet,
    mut interface: Interface,
    bind: SocketAddr,
    allow_remote: bool,
) -> Result<Serving, String> {
    check_bind(&bind, allow_remote)?;
    let server = tiny_http::Server::http(bind).map_err(|e| format!("{bind}: {e}"))?;
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or("the server has no IP address")?;
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = Arc::clone(&stop);
    net.set_external_clock(true);
    net.set_root_key(Arc::clone(&interface.root));
    let thread = std::thread::spawn(move || {
        while !stopping.load(Ordering::SeqCst) {
            follow_wall_clock(&mut net);
            let Ok(Some(first)) = server.recv_timeout(IDLE_ROUND) else {
                continue;
            };
            // Every request already waiting is answered in the same round (one certificate).
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match server.try_recv() {
                    Ok(Some(request)) => batch.push(request),
                    _ => break,
                }
            }
            let mut requests = Vec::new();
            let mut received = Vec::new();
            for mut request in batch {
                match read(&mut request) {
                    Some(input) => {
                        requests.push(input);
                        received.push(request);
                    }
                    None => {
                        let _ = request.respond(tiny_http::Response::empty(400));
                    }
                }
            }
            let now = net.time();
            let answers = interface.respond_many(&mut net, requests, now);
            for (request, answer) in received.into_iter().zip(answers) {
                let _ = request.respond(http_response(answer));
            }
        }
        net.set_external_clock(false);
        net
    });
    Ok(Serving {
        addr,
        stop,
        thread: Some(thread),
    })
}
