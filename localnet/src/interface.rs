//! The IC's HTTP interface (`/api/v2`, `/api/v3`) over a [`LocalNet`]: what `localnet serve` answers
//! real clients (agent-js, icp-cli) with. Each request is routed by method and path, authenticated
//! ([`crate::ingress`]), and answered in the spec's CBOR shapes; query answers carry the node's
//! signature ([`crate::certification::NodeKey`]), which both agents check by default.
//!
//! Served: `GET /api/v2/status`; queries (v2, v3); calls — v2 answered `202 Accepted` and polled by
//! `read_state` of `/request_status`, v3 and v4 answered when executed with a certificate; and
//! `read_state` (v2, v3) of `/time`, `/subnet`, `/request_status` and `/canister/<id>/{module_hash,
//! controllers}`. Every other route answers 404 with the route named.

use crate::certification::{certificate_cbor, labeled_tree, leb128, NodeKey, RootKey};
use crate::ingress::{self, Request, RequestType};
use crate::{reject_code, LocalNet, MessageId, Reject};
use candid::Principal;
use ciborium::value::Value;
use ic_certification::{leaf, HashTree};
use std::collections::{BTreeMap, HashMap};

/// The interface version this server speaks (`ic_api_version` in the status).
pub const IC_API_VERSION: &str = "0.18.0";
/// Requests larger than this are refused before they are decoded (the IC's ingress limit is 2 MiB;
/// an envelope adds its keys and signatures).
pub const MAX_REQUEST_BYTES: usize = 3 * 1024 * 1024;

/// An HTTP answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Empty when `headers` carries the content type (answers of canisters through the gateway).
    pub content_type: &'static str,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    fn cbor(value: &Value) -> Self {
        let tagged = Value::Tag(55_799, Box::new(value.clone()));
        let mut body = Vec::new();
        ciborium::ser::into_writer(&tagged, &mut body).expect("writing to a Vec cannot fail");
        Self {
            status: 200,
            content_type: "application/cbor",
            headers: Vec::new(),
            body,
        }
    }

    pub(crate) fn text(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            content_type: "text/plain",
            headers: Vec::new(),
            body: message.into().into_bytes(),
        }
    }
}

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

/// The error code string replicas attach to a reject (`IC0302` and the like), from localnet's reject.
pub fn error_code(reject: &Reject) -> &'static str {
    match reject.code {
        reject_code::DESTINATION_INVALID if reject.message.contains("has no") => "IC0302",
        reject_code::DESTINATION_INVALID if reject.message.contains("empty") => "IC0537",
        reject_code::DESTINATION_INVALID => "IC0301",
        reject_code::CANISTER_REJECT => "IC0406",
        reject_code::CANISTER_ERROR if reject.message.contains("is not a controller") => "IC0512",
        reject_code::CANISTER_ERROR if reject.message.contains("must be stopped") => "IC0510",
        reject_code::CANISTER_ERROR if reject.message.contains("stopped") => "IC0508",
        reject_code::CANISTER_ERROR => "IC0503",
        reject_code::SYS_TRANSIENT => "IC0207",
        _ => "IC0504",
    }
}

/// An HTTP request as the server received it.
#[derive(Clone, Debug)]
pub struct HttpIn {
    pub method: String,
    /// Path and query.
    pub url: String,
    pub host: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
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

/// The canister id range the one subnet serves (all of them).
const CANISTER_RANGE: ([u8; 10], [u8; 10]) = (
    [0; 10],
    [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 1],
);

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

    fn query(
        &self,
        net: &mut LocalNet,
        effective: Principal,
        request: Request,
        now: u64,
    ) -> Response {
        let t = match checked(request, RequestType::Query, effective) {
            Ok(target) => target,
            Err(refusal) => return refusal,
        };
        let request_id = t.request_id;
        let fields = match net.query_call(t.canister, t.sender, &t.method, t.arg) {
            Ok(reply) => vec![
                ("status", text("replied")),
                (
                    "reply",
                    Value::Map(vec![(text("arg"), Value::Bytes(reply))]),
                ),
            ],
            Err(reject) => reject_fields(&reject, "rejected"),
        };
        let signature = self.node.sign_response(fields.clone(), now, &request_id);
        let mut answer: Vec<(Value, Value)> =
            fields.into_iter().map(|(k, v)| (text(k), v)).collect();
        answer.push((
            text("signatures"),
            Value::Array(vec![Value::Map(vec![
                (text("timestamp"), Value::Integer(now.into())),
                (text("signature"), Value::Bytes(signature.to_vec())),
                (
                    text("identity"),
                    Value::Bytes(self.node.node_id().as_slice().to_vec()),
                ),
            ])]),
        ));
        Response::cbor(&Value::Map(answer))
    }

    /// A call: refused at once when `inspect_message` refuses it (a non-replicated rejection);
    /// otherwise run, and for v3 and v4 answered when executed with a certificate of its status
    /// (v2: `202 Accepted`, the client polls `read_state`).
    fn call(
        &mut self,
        net: &mut LocalNet,
        effective: Principal,
        request: Request,
        accepted_only: bool,
    ) -> Routed {
        let t = match checked(request, RequestType::Call, effective) {
            Ok(target) => target,
            Err(refusal) => return Routed::Done(refusal),
        };
        let (request_id, sender) = (t.request_id, t.sender);
        let message = match self.calls.get(&request_id) {
            // A resubmission of the same request (agents retry): it runs once.
            Some(known) => known.message,
            None => match net.submit_call(t.canister, sender, &t.method, t.arg) {
                Ok(message) => {
                    let expiry = t.ingress_expiry;
                    self.calls.insert(
                        request_id,
                        Submitted {
                            sender,
                            message,
                            expiry,
                        },
                    );
                    message
                }
                Err(reject) => {
                    let fields = reject_fields(&reject, "non_replicated_rejection");
                    return Routed::Done(Response::cbor(&Value::Map(
                        fields.into_iter().map(|(k, v)| (text(k), v)).collect(),
                    )));
                }
            },
        };
        if accepted_only {
            return Routed::Done(accepted());
        }
        Routed::Awaiting {
            request_id,
            message,
        }
    }

    /// `/request_status/<id>/…` of the calls named (`unknown` calls are left out: absent); with
    /// `only`, every other call's status is pruned to its hash.
    fn request_status_tree(
        &self,
        net: &LocalNet,
        ids: &[[u8; 32]],
        only: Option<&[u8; 32]>,
    ) -> HashTree {
        let mut entries = BTreeMap::new();
        for id in ids {
            let Some(submitted) = self.calls.get(id) else {
                continue;
            };
            let status = match net.call_result(submitted.message) {
                None => labeled_tree(BTreeMap::from([(
                    b"status".to_vec(),
                    leaf(b"processing".to_vec()),
                )])),
                Some(Ok(reply)) => labeled_tree(BTreeMap::from([
                    (b"status".to_vec(), leaf(b"replied".to_vec())),
                    (b"reply".to_vec(), leaf(reply)),
                ])),
                Some(Err(reject)) => labeled_tree(BTreeMap::from([
                    (b"status".to_vec(), leaf(b"rejected".to_vec())),
                    (b"reject_code".to_vec(), leaf(leb128(reject.code as u64))),
                    (
                        b"reject_message".to_vec(),
                        leaf(reject.message.clone().into_bytes()),
                    ),
                    (
                        b"error_code".to_vec(),
                        leaf(error_code(&reject).as_bytes().to_vec()),
                    ),
                ])),
            };
            entries.insert(id.to_vec(), status);
        }
        match only {
            // The other requests' nodes are pruned whole, labels included: a client learns neither
            // another request's id nor its status.
            Some(kept) => crate::certification::labeled_tree_keeping(entries, kept),
            None => labeled_tree(entries),
        }
    }

    /// `read_state`: a certificate over `/time` and the requested paths' subtrees (sent unpruned).
    /// A request's status may be read only by its sender.
    fn read_state(&self, net: &LocalNet, request: Request, now: u64) -> Response {
        if request.request_type != RequestType::ReadState {
            return Response::text(
                400,
                "the read_state endpoint takes read_state requests only",
            );
        }
        let mut top: BTreeMap<Vec<u8>, HashTree> = BTreeMap::new();
        top.insert(b"time".to_vec(), leaf(leb128(now)));
        let mut statuses = Vec::new();
        let mut canisters: BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, CanisterEntry>> = BTreeMap::new();
        for path in request.paths.unwrap_or_default() {
            match path.first().map(Vec::as_slice) {
                Some(b"time") | None => {}
                Some(b"subnet") => {
                    top.insert(b"subnet".to_vec(), self.subnet_tree());
                }
                Some(b"request_status") => {
                    let Some(id) = path
                        .get(1)
                        .and_then(|id| <[u8; 32]>::try_from(id.as_slice()).ok())
                    else {
                        return Response::text(
                            400,
                            "a request_status path names a 32-byte request id",
                        );
                    };
                    if let Some(submitted) = self.calls.get(&id) {
                        if submitted.sender != request.sender {
                            return Response::text(
                                403,
                                "only the sender of a request may read its status",
                            );
                        }
                    }
                    statuses.push(id);
                }
                Some(b"canister") => {
                    let Some(id) = path
                        .get(1)
                        .and_then(|id| Principal::try_from_slice(id).ok())
                    else {
                        return Response::text(400, "a canister path names a canister id");
                    };
                    let entries = canisters.entry(id.as_slice().to_vec()).or_default();
                    match path.get(2).map(Vec::as_slice) {
                        Some(b"metadata") => {
                            let Some(name) = path.get(3).and_then(|n| std::str::from_utf8(n).ok())
                            else {
                                return Response::text(400, "a metadata path names a section");
                            };
                            let Some(section) = net.metadata(id, name) else {
                                continue;
                            };
                            let controller = net
                                .controllers(id)
                                .is_some_and(|c| c.contains(&request.sender));
                            if !section.public && !controller {
                                return Response::text(
                                    403,
                                    format!("the metadata section {name} of {id} is private to its controllers"),
                                );
                            }
                            let metadata = match entries
                                .entry(b"metadata".to_vec())
                                .or_insert_with(|| CanisterEntry::Metadata(BTreeMap::new()))
                            {
                                CanisterEntry::Metadata(m) => m,
                                CanisterEntry::Leaf(_) => unreachable!("metadata is a subtree"),
                            };
                            metadata.insert(name.as_bytes().to_vec(), section.contents);
                        }
                        _ => {
                            // A path naming the canister (or one of its leaves) gets all its leaves.
                            if let Some(hash) = net.module_hash(id) {
                                entries.insert(
                                    b"module_hash".to_vec(),
                                    CanisterEntry::Leaf(hash.to_vec()),
                                );
                            }
                            if let Some(controllers) = net.controllers(id) {
                                entries.insert(
                                    b"controllers".to_vec(),
                                    CanisterEntry::Leaf(controllers_cbor(&controllers)),
                                );
                            }
                            if let Some(data) = net.certified_data(id) {
                                entries
                                    .insert(b"certified_data".to_vec(), CanisterEntry::Leaf(data));
                            }
                        }
                    }
                }
                Some(other) => {
                    return Response::text(
                        404,
                        format!(
                            "the state tree has no path /{}",
                            String::from_utf8_lossy(other)
                        ),
                    )
                }
            }
        }
        if !statuses.is_empty() {
            top.insert(
                b"request_status".to_vec(),
                self.request_status_tree(net, &statuses, None),
            );
        }
        if !canisters.is_empty() {
            let canisters = canisters
                .into_iter()
                .map(|(id, entries)| {
                    let entries = entries
                        .into_iter()
                        .map(|(label, entry)| (label, entry.tree()))
                        .collect();
                    (id, labeled_tree(entries))
                })
                .collect();
            top.insert(b"canister".to_vec(), labeled_tree(canisters));
        }
        Response::cbor(&Value::Map(vec![(
            text("certificate"),
            Value::Bytes(self.root.certify(labeled_tree(top))),
        )]))
    }

    /// `/subnet/<subnet>/{public_key, canister_ranges, node/<node>/public_key}`.
    fn subnet_tree(&self) -> HashTree {
        let ranges = Value::Tag(
            55_799,
            Box::new(Value::Array(vec![Value::Array(vec![
                Value::Bytes(CANISTER_RANGE.0.to_vec()),
                Value::Bytes(CANISTER_RANGE.1.to_vec()),
            ])])),
        );
        let mut ranges_cbor = Vec::new();
        ciborium::ser::into_writer(&ranges, &mut ranges_cbor)
            .expect("writing to a Vec cannot fail");
        let node = labeled_tree(BTreeMap::from([(
            self.node.node_id().as_slice().to_vec(),
            labeled_tree(BTreeMap::from([(
                b"public_key".to_vec(),
                leaf(self.node.public_key_der()),
            )])),
        )]));
        let subnet = labeled_tree(BTreeMap::from([
            (b"canister_ranges".to_vec(), leaf(ranges_cbor)),
            (b"node".to_vec(), node),
            (b"public_key".to_vec(), leaf(self.root.public_key_der())),
        ]));
        labeled_tree(BTreeMap::from([(
            self.subnet_id().as_slice().to_vec(),
            subnet,
        )]))
    }
}

/// A node under `/canister/<id>` in a read_state answer.
enum CanisterEntry {
    Leaf(Vec<u8>),
    Metadata(BTreeMap<Vec<u8>, Vec<u8>>),
}

impl CanisterEntry {
    fn tree(self) -> HashTree {
        match self {
            Self::Leaf(bytes) => leaf(bytes),
            Self::Metadata(sections) => labeled_tree(
                sections
                    .into_iter()
                    .map(|(name, contents)| (name, leaf(contents)))
                    .collect(),
            ),
        }
    }
}

/// What a query or call asks a canister to do.
struct Target {
    canister: Principal,
    method: String,
    arg: Vec<u8>,
    sender: Principal,
    request_id: [u8; 32],
    ingress_expiry: u64,
}

/// The request is of `kind` and for the canister whose endpoint it was sent to (a call may also go
/// to the management canister through any canister's endpoint, as agents send them).
fn checked(request: Request, kind: RequestType, effective: Principal) -> Result<Target, Response> {
    if request.request_type != kind {
        return Err(Response::text(
            400,
            format!("this endpoint takes {kind:?} requests only"),
        ));
    }
    let (Some(canister), Some(method), Some(arg)) =
        (request.canister_id, request.method_name, request.arg)
    else {
        return Err(Response::text(
            400,
            "the request names no canister, method or argument",
        ));
    };
    let management = kind == RequestType::Call && canister == Principal::management_canister();
    if management {
        // A management call acts on the canister its endpoint names.
        match crate::management::ingress_target(&method, &arg) {
            Ok(Some(target)) if target != effective => {
                return Err(Response::text(
                    400,
                    format!("the call acts on {target}, sent to {effective}'s endpoint"),
                ))
            }
            Ok(_) => {}
            Err(e) => return Err(Response::text(400, e.message)),
        }
    } else if canister != effective {
        return Err(Response::text(
            400,
            format!("the request is for {canister}, sent to {effective}'s endpoint"),
        ));
    }
    Ok(Target {
        canister,
        method,
        arg,
        sender: request.sender,
        request_id: request.request_id,
        ingress_expiry: request.ingress_expiry,
    })
}

fn accepted() -> Response {
    Response {
        status: 202,
        content_type: "text/plain",
        headers: Vec::new(),
        body: Vec::new(),
    }
}

fn reject_fields(reject: &Reject, status: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("status", text(status)),
        ("reject_code", Value::Integer(reject.code.into())),
        ("reject_message", text(&reject.message)),
        ("error_code", text(error_code(reject))),
    ]
}

/// A canister's controllers as the state tree holds them: self-describing CBOR, an array of
/// principals' bytes.
fn controllers_cbor(controllers: &[Principal]) -> Vec<u8> {
    let value = Value::Tag(
        55_799,
        Box::new(Value::Array(
            controllers
                .iter()
                .map(|c| Value::Bytes(c.as_slice().to_vec()))
                .collect(),
        )),
    );
    let mut out = Vec::new();
    ciborium::ser::into_writer(&value, &mut out).expect("writing to a Vec cannot fail");
    out
}
