//! HTTPS outcalls in localnet. Requests wait in a queue until a test answers them
//! ([`crate::LocalNet::mock_http_response`]) or, for URLs on the loopback allow-list, until localnet
//! makes the request itself over plain HTTP/1.1 (so the proxy can call a real hpc-node process here;
//! mainnet only allows HTTPS).

use ic_management_canister_types::{HttpHeader, HttpMethod, HttpRequestArgs, HttpRequestResult};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The most a response may be (docs/localnet.md, "Platform figures").
pub const MAX_RESPONSE_BYTES: u64 = 2_000_000;
/// The most a request may be.
pub const MAX_REQUEST_BYTES: u64 = 2_000_000;

/// An outcall waiting for its response.
#[derive(Clone, Debug)]
pub struct PendingHttpRequest {
    pub id: u64,
    pub canister: candid::Principal,
    pub url: String,
    pub method: HttpMethod,
    pub headers: Vec<HttpHeader>,
    pub body: Vec<u8>,
    pub max_response_bytes: u64,
    pub is_replicated: bool,
}

/// `host:port` of an `http://` URL, and its path.
pub fn split_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("http://")?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    Some((authority.to_string(), path.to_string()))
}

pub fn request_bytes(args: &HttpRequestArgs) -> u64 {
    (args.url.len()
        + args
            .headers
            .iter()
            .map(|h| h.name.len() + h.value.len())
            .sum::<usize>()
        + args.body.as_ref().map_or(0, Vec::len)
        + args
            .transform
            .as_ref()
            .map_or(0, |t| t.context.len() + t.function.0.method.len())) as u64
}

fn method_name(method: &HttpMethod) -> &'static str {
    match method {
        HttpMethod::GET => "GET",
        HttpMethod::HEAD => "HEAD",
        HttpMethod::POST => "POST",
        HttpMethod::PUT => "PUT",
        HttpMethod::DELETE => "DELETE",
        _ => "GET",
    }
}

/// Makes the request over plain HTTP/1.1 (`Connection: close`), reading at most
/// `max_response_bytes` of body.
pub fn send(request: &PendingHttpRequest, timeout: Duration) -> Result<HttpRequestResult, String> {
    let (authority, path) =
        split_url(&request.url).ok_or_else(|| format!("not an http:// URL: {}", request.url))?;
    let mut stream =
        TcpStream::connect(&authority).map_err(|e| format!("connect {authority}: {e}"))?;
    stream.set_read_timeout(Some(timeout)).ok();
    stream.set_write_timeout(Some(timeout)).ok();
    let mut head = format!(
        "{} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n",
        method_name(&request.method),
        request.body.len()
    );
    for h in &request.headers {
        let lower = h.name.to_ascii_lowercase();
        if lower != "host" && lower != "content-length" && lower != "connection" {
            head.push_str(&format!("{}: {}\r\n", h.name, h.value));
        }
    }
    head.push_str("\r\n");
    let mut message = head.into_bytes();
    message.extend_from_slice(&request.body);
    stream
        .write_all(&message)
        .map_err(|e| format!("send to {authority}: {e}"))?;
    let mut raw = Vec::new();
    let limit = request.max_response_bytes + 64 * 1024;
    stream
        .take(limit + 1)
        .read_to_end(&mut raw)
        .map_err(|e| format!("read from {authority}: {e}"))?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("the response has no header terminator")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or("empty response")?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line: {status_line}"))?;
    let mut headers = Vec::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("transfer-encoding") && value.trim() != "identity" {
                return Err("chunked responses are not supported by localnet's HTTP client".into());
            }
            headers.push(HttpHeader {
                name: name.trim().to_string(),
                value: value.trim().to_string(),
            });
        }
    }
    if body.len() as u64 > request.max_response_bytes {
        return Err(format!(
            "the response body exceeds max_response_bytes ({})",
            request.max_response_bytes
        ));
    }
    Ok(HttpRequestResult {
        status: status.into(),
        headers,
        body,
    })
}
