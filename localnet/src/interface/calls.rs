//! The query and call endpoints: a request checked against the endpoint it was sent to, then run
//! (a query answered with the node's signature, a call recorded so that a resubmission runs once).

use super::{accepted, error_code, text, Interface, Response, Routed, Submitted};
use crate::ingress::{Request, RequestType};
use crate::{LocalNet, Reject};
use candid::Principal;
use ciborium::value::Value;

impl Interface {
    pub(super) fn query(
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
    pub(super) fn call(
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

fn reject_fields(reject: &Reject, status: &str) -> Vec<(&'static str, Value)> {
    vec![
        ("status", text(status)),
        ("reject_code", Value::Integer(reject.code.into())),
        ("reject_message", text(&reject.message)),
        ("error_code", text(error_code(reject))),
    ]
}
