//! The IC's HTTP interface (`/api/v2`, `/api/v3`) over a [`LocalNet`]: what `localnet serve` answers
//! real clients (agent-js, icp-cli) with. Each request is routed by method and path, authenticated
//! ([`crate::ingress`]), and answered in the spec's CBOR shapes; query answers carry the node's
//! signature ([`crate::certification::NodeKey`]), which both agents check by default.
//!
//! Served: `GET /api/v2/status`; queries (v2, v3); calls — v2 answered `202 Accepted` and polled by
//! `read_state` of `/request_status`, v3 and v4 answered when executed with a certificate; and
//! `read_state` (v2, v3) of `/time`, `/subnet`, `/request_status` and `/canister/<id>/{module_hash,
//! controllers}`. Every other route answers 404 with the route named.

mod calls;
mod read_state;

pub use crate::http_message::{error_code, HttpIn, Response};

use crate::certification::{certificate_cbor, labeled_tree, leb128, NodeKey, RootKey};
use crate::ingress;
use crate::{LocalNet, MessageId};
use candid::Principal;
use ciborium::value::Value;
use ic_certification::{leaf, HashTree};
use std::collections::{BTreeMap, HashMap};

/// The interface version this server speaks (`ic_api_version` in the status).
pub const IC_API_VERSION: &str = "0.18.0";
/// Requests larger than this are refused before they are decoded (the IC's ingress limit is 2 MiB;
/// an envelope adds its keys and signatures).
pub const MAX_REQUEST_BYTES: usize = 3 * 1024 * 1024;

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

/// A request routed: answered, or a call whose answer is awaited (and certified with the others).
enum Routed {
    Done(Response),
    Awaiting {
        request_id: [u8; 32],
        message: MessageId,
    },
}

/// A call's request id, who sent it and the message localnet runs it as.
struct Submitted {
    sender: Principal,
    message: MessageId,
    /// After this, the request could not be sent again: its record may go once it is answered.
    expiry: u64,
}

/// How often the records of expired, answered requests are swept (nanoseconds).
const SWEEP_INTERVAL: u64 = 10_000_000_000;

/// The keys of the network, the calls it was sent, and the routes over them.
pub struct Interface {
    pub root: std::sync::Arc<RootKey>,
    pub node: NodeKey,
    calls: HashMap<[u8; 32], Submitted>,
    next_sweep: u64,
}

impl Interface {
    pub fn new(seed: &[u8]) -> Self {
        Self {
            root: std::sync::Arc::new(RootKey::from_seed(seed)),
            node: NodeKey::from_seed(seed),
            calls: HashMap::new(),
            next_sweep: 0,
        }
    }

    /// Requests recorded (run, and not yet forgotten after their expiry).
    pub fn recorded_calls(&self) -> usize {
        self.calls.len()
    }

    /// Forgets the requests whose expiry has passed and that were answered: a resubmission could no
    /// longer be accepted, so nothing needs them (the IC prunes them likewise). Bounded memory under
    /// any load.
    fn sweep(&mut self, net: &mut LocalNet, now: u64) {
        if now < self.next_sweep {
            return;
        }
        self.next_sweep = now.saturating_add(SWEEP_INTERVAL);
        self.calls.retain(|_, submitted| {
            let done = submitted.expiry < now && net.call_result(submitted.message).is_some();
            if done {
                net.forget_message(submitted.message);
            }
            !done
        });
    }

    /// The one subnet's id: the self-authenticating principal of the root key, as ic-agent takes it
    /// when no delegation is given.
    pub fn subnet_id(&self) -> Principal {
        ingress::self_authenticating(&self.root.public_key_der())
    }

    /// Answers one HTTP request as a server receives it: the IC's API under `/api/`, otherwise the
    /// gateway to the canister the host (`<id>.localhost`) or `?canisterId=` names.
    #[allow(clippy::too_many_arguments)]
    pub fn respond_http(
        &mut self,
        net: &mut LocalNet,
        method: &str,
        url: &str,
        host: Option<&str>,
        headers: Vec<(String, String)>,
        body: &[u8],
        now: u64,
    ) -> Response {
        let request = HttpIn {
            method: method.to_string(),
            url: url.to_string(),
            host: host.map(str::to_string),
            headers,
            body: body.to_vec(),
        };
        self.respond_many(net, vec![request], now)
            .pop()
            .expect("one answer per request")
    }

    /// Answers requests received together, as one round: every call among them is executed, then
    /// one root-key signature certifies all their answers (each client gets the tree with the other
    /// requests' statuses pruned, so none sees another's reply), as a subnet certifies a round.
    pub fn respond_many(
        &mut self,
        net: &mut LocalNet,
        requests: Vec<HttpIn>,
        now: u64,
    ) -> Vec<Response> {
        self.attach(net);
        self.sweep(net, now);
        let routed = requests
            .into_iter()
            .map(|r| self.route_http(net, r, now))
            .collect();
        self.finish(net, routed, now)
    }

    /// Certified data in queries is signed by the key clients were given.
    fn attach(&self, net: &mut LocalNet) {
        if !std::sync::Arc::ptr_eq(net.root_key(), &self.root) {
            net.set_root_key(std::sync::Arc::clone(&self.root));
        }
    }

    fn route_http(&mut self, net: &mut LocalNet, request: HttpIn, now: u64) -> Routed {
        let HttpIn {
            method,
            url,
            host,
            headers,
            body,
        } = request;
        let api = url.starts_with("/api/");
        match crate::gateway::target(host.as_deref(), &url) {
            Some(Ok(canister)) if !api => Routed::Done(crate::gateway::respond(
                net,
                canister,
                crate::gateway::HttpRequest {
                    method,
                    url,
                    headers,
                    body,
                    certificate_version: None,
                },
            )),
            Some(Err(e)) if !api => Routed::Done(Response::text(400, e)),
            None if !api => Routed::Done(Response::text(
                404,
                format!(
                    "{method} {url}: name a canister, as http://<canister-id>.localhost:<port>/… or ?canisterId=<canister-id>"
                ),
            )),
            _ => self.route(net, &method, &url, &body, now),
        }
    }

    /// Waits for the calls among `routed` to be answered and certifies their answers with one
    /// signature.
    fn finish(&self, net: &mut LocalNet, routed: Vec<Routed>, now: u64) -> Vec<Response> {
        let awaited: Vec<[u8; 32]> = routed
            .iter()
            .filter_map(|r| match r {
                Routed::Awaiting {
                    request_id,
                    message,
                } => {
                    let _ = net.await_call(*message);
                    net.call_result(*message).map(|_| *request_id)
                }
                Routed::Done(_) => None,
            })
            .collect();
        let signature = (!awaited.is_empty()).then(|| {
            self.root
                .sign_root(&self.answers_tree(net, &awaited, None, now))
        });
        routed
            .into_iter()
            .map(|r| match r {
                Routed::Done(response) => response,
                Routed::Awaiting { request_id, .. } => match &signature {
                    Some(signature) if awaited.contains(&request_id) => {
                        let tree = self.answers_tree(net, &awaited, Some(&request_id), now);
                        Response::cbor(&Value::Map(vec![
                            (text("status"), text("replied")),
                            (
                                text("certificate"),
                                Value::Bytes(certificate_cbor(tree, signature.clone())),
                            ),
                        ]))
                    }
                    // Not executed within localnet's rounds per call: the client polls.
                    _ => accepted(),
                },
            })
            .collect()
    }

    /// `/request_status/…` of the calls `ids` and `/time`; with `only`, the other calls' statuses
    /// pruned (the root hash is the same).
    fn answers_tree(
        &self,
        net: &LocalNet,
        ids: &[[u8; 32]],
        only: Option<&[u8; 32]>,
        now: u64,
    ) -> HashTree {
        labeled_tree(BTreeMap::from([
            (
                b"request_status".to_vec(),
                self.request_status_tree(net, ids, only),
            ),
            (b"time".to_vec(), leaf(leb128(now))),
        ]))
    }

    /// Answers one request of the IC's HTTP API received at `now` (nanoseconds).
    pub fn respond(
        &mut self,
        net: &mut LocalNet,
        method: &str,
        path: &str,
        body: &[u8],
        now: u64,
    ) -> Response {
        self.attach(net);
        self.sweep(net, now);
        let routed = self.route(net, method, path, body, now);
        self.finish(net, vec![routed], now)
            .pop()
            .expect("one answer per request")
    }

    /// The answer, or a call to wait for.
    fn route(
        &mut self,
        net: &mut LocalNet,
        method: &str,
        path: &str,
        body: &[u8],
        now: u64,
    ) -> Routed {
        if body.len() > MAX_REQUEST_BYTES {
            return Routed::Done(Response::text(
                413,
                format!("the request exceeds {MAX_REQUEST_BYTES} bytes"),
            ));
        }
        let path = path.split('?').next().unwrap_or_default();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        Routed::Done(match (method, segments.as_slice()) {
            ("GET", ["api", "v2", "status"]) => self.status(),
            ("POST", ["api", version @ ("v2" | "v3" | "v4"), "canister", id, endpoint]) => {
                let effective = match Principal::from_text(id) {
                    Ok(effective) => effective,
                    Err(e) => {
                        return Routed::Done(Response::text(
                            400,
                            format!("invalid canister id {id}: {e}"),
                        ))
                    }
                };
                let request = match ingress::authenticate(body, now) {
                    Ok(request) => request,
                    Err(e) => return Routed::Done(Response::text(400, e.to_string())),
                };
                match (*version, *endpoint) {
                    ("v2" | "v3", "query") => self.query(net, effective, request, now),
                    ("v2" | "v3", "read_state") => self.read_state(net, request, now),
                    (_, "call") => return self.call(net, effective, request, version == &"v2"),
                    _ => Response::text(404, format!("{method} {path} is not served by localnet")),
                }
            }
            _ => Response::text(404, format!("{method} {path} is not served by localnet")),
        })
    }

    fn status(&self) -> Response {
        Response::cbor(&Value::Map(vec![
            (text("ic_api_version"), text(IC_API_VERSION)),
            (
                text("impl_version"),
                text(concat!("localnet-", env!("CARGO_PKG_VERSION"))),
            ),
            (text("root_key"), Value::Bytes(self.root.public_key_der())),
            (text("replica_health_status"), text("healthy")),
        ]))
    }
}

fn accepted() -> Response {
    Response {
        status: 202,
        content_type: "text/plain",
        headers: Vec::new(),
        body: Vec::new(),
    }
}
