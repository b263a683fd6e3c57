//! The HTTP endpoint: `POST /v1/infer` (authenticated, deduplicated, signed) and `GET /v1/health`.

use crate::backend::{Backend, BackendError};
use crate::config::Config;
use ed25519_dalek::{Signer, SigningKey};
use neuranft_types::node::{
    signed_usage_message, InferRequest, InferResponse, NodeError, MAX_REQUEST_ID_LEN,
};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, VecDeque};
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Instant;

const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

enum Remembered {
    InFlight {
        request_hash: [u8; 32],
    },
    Done {
        request_hash: [u8; 32],
        status: u16,
        body: String,
    },
}

#[derive(Default)]
struct Dedup {
    entries: HashMap<String, Remembered>,
    order: VecDeque<String>,
}

struct Node {
    config: Config,
    backend: Box<dyn Backend>,
    key: SigningKey,
    dedup: Mutex<Dedup>,
    /// Inferences actually run (not answered from the dedup store).
    inferences: std::sync::atomic::AtomicU64,
}

/// A running node; dropping it does not stop it, [`RunningNode::shutdown`] does.
pub struct RunningNode {
    pub addr: std::net::SocketAddr,
    server: Arc<tiny_http::Server>,
    workers: Vec<std::thread::JoinHandle<()>>,
    node: Arc<Node>,
}

impl RunningNode {
    /// Stops accepting requests and waits for the ones in progress.
    pub fn shutdown(self) {
        self.server.unblock();
        for _ in 1..self.workers.len() {
            self.server.unblock();
        }
        for w in self.workers {
            let _ = w.join();
        }
    }

    pub fn inferences_run(&self) -> u64 {
        self.node
            .inferences
            .load(std::sync::atomic::Ordering::SeqCst)
    }
}

fn log(config: &Config, event: &str, fields: serde_json::Value) {
    if !config.log {
        return;
    }
    let mut line = json!({
        "ts_ms": std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
        "event": event,
    });
    if let (Some(l), Some(f)) = (line.as_object_mut(), fields.as_object()) {
        l.extend(f.clone());
    }
    eprintln!("{line}");
}

pub fn start(
    config: Config,
    backend: Box<dyn Backend>,
    key: SigningKey,
) -> Result<RunningNode, String> {
    config.validate()?;
    let server = Arc::new(
        tiny_http::Server::http(&config.listen)
            .map_err(|e| format!("listen on {}: {e}", config.listen))?,
    );
    let addr = server
        .server_addr()
        .to_ip()
        .ok_or("the server has no IP address")?;
    let node = Arc::new(Node {
        config,
        backend,
        key,
        dedup: Mutex::default(),
        inferences: Default::default(),
    });
    let workers = (0..node.config.workers)
        .map(|_| {
            let server = Arc::clone(&server);
            let node = Arc::clone(&node);
            std::thread::spawn(move || {
                while let Ok(request) = server.recv() {
                    node.handle(request);
                }
            })
        })
        .collect();
    log(
        &node.config,
        "started",
        json!({ "listen": addr.to_string(), "public_key": crate::keys::public_key_hex(&node.key),
                "backend": node.config.backend, "models": node.config.models }),
    );
    Ok(RunningNode {
        addr,
        server,
        workers,
        node,
    })
}

fn error(status: u16, code: &str, message: impl Into<String>) -> (u16, String) {
    let body = NodeError {
        error: code.into(),
        message: message.into(),
    };
    (status, serde_json::to_string(&body).expect("error encodes"))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Node {
    fn handle(&self, mut request: tiny_http::Request) {
        let started = Instant::now();
        let path = request.url().to_string();
        let (status, body) = match (request.method(), path.as_str()) {
            (tiny_http::Method::Get, "/v1/health") => (
                200,
                json!({ "public_key": crate::keys::public_key_hex(&self.key), "models": self.config.models })
                    .to_string(),
            ),
            (tiny_http::Method::Post, "/v1/infer") => self.infer(&mut request),
            _ => error(404, "not_found", format!("no route {path}")),
        };
        log(
            &self.config,
            "request",
            json!({ "path": path, "status": status, "ms": started.elapsed().as_millis() as u64 }),
        );
        let header = tiny_http::Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..])
            .expect("static header");
        let response = tiny_http::Response::from_string(body)
            .with_status_code(status)
            .with_header(header);
        let _ = request.respond(response);
    }

    fn infer(&self, request: &mut tiny_http::Request) -> (u16, String) {
        let presented = request
            .headers()
            .iter()
            .find(|h| h.field.equiv("Authorization"))
            .map(|h| h.value.as_str().to_string())
            .unwrap_or_default();
        let expected = format!("Bearer {}", self.config.api_key);
        if !constant_time_eq(presented.as_bytes(), expected.as_bytes()) {
            return error(401, "unauthorized", "missing or wrong bearer key");
        }
        let mut raw = Vec::new();
        if request
            .as_reader()
            .take(MAX_BODY_BYTES as u64 + 1)
            .read_to_end(&mut raw)
            .is_err()
        {
            return error(400, "bad_request", "unreadable body");
        }
        if raw.len() > MAX_BODY_BYTES {
            return error(413, "too_large", "the request body exceeds 2 MiB");
        }
        let req: InferRequest = match serde_json::from_slice(&raw) {
            Ok(r) => r,
            Err(e) => return error(400, "bad_request", format!("invalid request: {e}")),
        };
        if let Err(message) = self.validate(&req) {
            return error(400, "bad_request", message);
        }
        let request_hash: [u8; 32] = Sha256::digest(&raw).into();
        // A repeated id returns what the first request got; the same id with another body is refused.
        {
            let mut dedup = self.dedup.lock().expect("dedup lock");
            match dedup.entries.get(&req.request_id) {
                Some(Remembered::Done {
                    request_hash: h,
                    status,
                    body,
                }) if *h == request_hash => return (*status, body.clone()),
                Some(Remembered::InFlight { request_hash: h }) if *h == request_hash => {
                    return error(409, "in_progress", "this request is running; retry later")
                }
                Some(_) => {
                    return error(
                        409,
                        "request_id_reused",
                        "the request id was used for another request",
                    )
                }
                None => {}
            }
            dedup.entries.insert(
                req.request_id.clone(),
                Remembered::InFlight { request_hash },
            );
        }
        self.inferences
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let (status, body) = match self.backend.complete(&req) {
            Ok(completion) => {
                let message = signed_usage_message(
                    &req.request_id,
                    &req.model,
                    &completion.usage,
                    &completion.output,
                );
                let response = InferResponse {
                    request_id: req.request_id.clone(),
                    model: req.model.clone(),
                    output: completion.output,
                    usage: completion.usage,
                    signature: hex::encode(self.key.sign(&message).to_bytes()),
                };
                log(
                    &self.config,
                    "infer",
                    json!({ "request_id": req.request_id, "model": req.model,
                            "input_tokens": response.usage.input_tokens,
                            "output_tokens": response.usage.output_tokens }),
                );
                (
                    200,
                    serde_json::to_string(&response).expect("response encodes"),
                )
            }
            Err(e) => {
                let status = match e {
                    BackendError::Timeout => 504,
                    BackendError::UnknownModel(_) => 400,
                    _ => 502,
                };
                log(
                    &self.config,
                    "infer_failed",
                    json!({ "request_id": req.request_id, "error": e.to_string() }),
                );
                error(status, "backend", e.to_string())
            }
        };
        let mut dedup = self.dedup.lock().expect("dedup lock");
        if status == 200 {
            dedup.entries.insert(
                req.request_id.clone(),
                Remembered::Done {
                    request_hash,
                    status,
                    body: body.clone(),
                },
            );
            dedup.order.push_back(req.request_id);
            while dedup.order.len() > self.config.dedup_capacity {
                if let Some(old) = dedup.order.pop_front() {
                    dedup.entries.remove(&old);
                }
            }
        } else {
            // A failed inference may be retried under the same id.
            dedup.entries.remove(&req.request_id);
        }
        (status, body)
    }

    fn validate(&self, req: &InferRequest) -> Result<(), String> {
        let id_ok = !req.request_id.is_empty()
            && req.request_id.len() <= MAX_REQUEST_ID_LEN
            && req
                .request_id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_:.".contains(&b));
        if !id_ok {
            return Err(format!(
                "request_id must be 1–{MAX_REQUEST_ID_LEN} characters of [A-Za-z0-9-_:.]"
            ));
        }
        if !self.config.models.contains(&req.model) {
            return Err(format!("this node does not serve model {:?}", req.model));
        }
        let input_bytes = match (&req.prompt, &req.messages) {
            (Some(p), None) => p.len(),
            (None, Some(m)) if !m.is_empty() => {
                m.iter().map(|m| m.content.len() + m.role.len()).sum()
            }
            _ => return Err("give exactly one of prompt and a non-empty messages".into()),
        };
        if input_bytes > self.config.max_prompt_bytes {
            return Err(format!(
                "the input exceeds {} bytes",
                self.config.max_prompt_bytes
            ));
        }
        if req.max_tokens == 0 || req.max_tokens > self.config.max_tokens_limit {
            return Err(format!(
                "max_tokens must be 1–{}",
                self.config.max_tokens_limit
            ));
        }
        if req.temperature.is_some_and(|t| !(0.0..=2.0).contains(&t)) {
            return Err("temperature must be within 0–2".into());
        }
        Ok(())
    }
}
