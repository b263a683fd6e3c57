//! The IC's HTTP interface (`/api/v2`, `/api/v3`) over a [`LocalNet`]: what `localnet serve` answers
//! real clients (agent-js, icp-cli) with. Each request is routed by method and path, authenticated
//! ([`crate::ingress`]), and answered in the spec's CBOR shapes; query answers carry the node's
//! signature ([`crate::certification::NodeKey`]), which both agents check by default.
//!
//! Served so far: `GET /api/v2/status` and queries (v2, v3). Every other route answers 404 with the
//! route named, so a client sees plainly what is not there yet.

use crate::certification::{NodeKey, RootKey};
use crate::ingress::{self, RequestType};
use crate::{reject_code, LocalNet, Reject};
use candid::Principal;
use ciborium::value::Value;

/// The interface version this server speaks (`ic_api_version` in the status).
pub const IC_API_VERSION: &str = "0.18.0";
/// Requests larger than this are refused before they are decoded (the IC's ingress limit is 2 MiB;
/// an envelope adds its keys and signatures).
pub const MAX_REQUEST_BYTES: usize = 3 * 1024 * 1024;

/// An HTTP answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
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
            body,
        }
    }

    fn text(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            content_type: "text/plain",
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
        reject_code::CANISTER_ERROR if reject.message.contains("stopped") => "IC0508",
        reject_code::CANISTER_ERROR => "IC0503",
        reject_code::SYS_TRANSIENT => "IC0207",
        _ => "IC0504",
    }
}

/// The keys of the network and the routes over them.
pub struct Interface {
    pub root: RootKey,
    pub node: NodeKey,
}

impl Interface {
    pub fn new(seed: &[u8]) -> Self {
        Self {
            root: RootKey::from_seed(seed),
            node: NodeKey::from_seed(seed),
        }
    }

    /// The one subnet's id: the self-authenticating principal of the root key, as ic-agent takes it
    /// when no delegation is given.
    pub fn subnet_id(&self) -> Principal {
        ingress::self_authenticating(&self.root.public_key_der())
    }

    /// Answers one HTTP request received at `now` (nanoseconds).
    pub fn respond(
        &self,
        net: &mut LocalNet,
        method: &str,
        path: &str,
        body: &[u8],
        now: u64,
    ) -> Response {
        if body.len() > MAX_REQUEST_BYTES {
            return Response::text(
                413,
                format!("the request exceeds {MAX_REQUEST_BYTES} bytes"),
            );
        }
        let path = path.split('?').next().unwrap_or_default();
        let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
        match (method, segments.as_slice()) {
            ("GET", ["api", "v2", "status"]) => self.status(),
            ("POST", ["api", "v2" | "v3", "canister", id, "query"]) => {
                match Principal::from_text(id) {
                    Ok(effective) => self.query(net, effective, body, now),
                    Err(e) => Response::text(400, format!("invalid canister id {id}: {e}")),
                }
            }
            _ => Response::text(404, format!("{method} {path} is not served by localnet")),
        }
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

    fn query(&self, net: &mut LocalNet, effective: Principal, body: &[u8], now: u64) -> Response {
        let request = match ingress::authenticate(body, now) {
            Ok(request) => request,
            Err(e) => return Response::text(400, e.to_string()),
        };
        if request.request_type != RequestType::Query {
            return Response::text(400, "the query endpoint takes query requests only");
        }
        let (Some(canister), Some(method), Some(arg)) =
            (request.canister_id, request.method_name, request.arg)
        else {
            return Response::text(400, "a query names its canister, method and argument");
        };
        if canister != effective {
            return Response::text(
                400,
                format!("the request is for {canister}, sent to {effective}'s endpoint"),
            );
        }
        let fields = match net.query_call(canister, request.sender, &method, arg) {
            Ok(reply) => vec![
                ("status", text("replied")),
                (
                    "reply",
                    Value::Map(vec![(text("arg"), Value::Bytes(reply))]),
                ),
            ],
            Err(reject) => vec![
                ("status", text("rejected")),
                ("reject_code", Value::Integer(reject.code.into())),
                ("reject_message", text(&reject.message)),
                ("error_code", text(error_code(&reject))),
            ],
        };
        let signature = self
            .node
            .sign_response(fields.clone(), now, &request.request_id);
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
}
