//! The HTTP gateway: a browser's request for `http://<canister-id>.localhost:<port>/…` (or any path
//! with `?canisterId=<id>`) becomes the canister's `http_request` query, and — when the canister asks
//! for it with `upgrade = opt true` — its `http_request_update` update call, as the IC's boundary
//! nodes do (the HTTP gateway protocol). The answer is the canister's status, headers and body.
//! localnet's gateway trusts the network it serves, so it does not verify the response's
//! certification headers (`IC-Certificate`); it passes them on for a client that does. Streaming
//! responses are refused (501).

use crate::http_message::Response;
use crate::{LocalNet, Reject};
use candid::{CandidType, Deserialize, Principal};

/// A header: name and value.
pub type HeaderField = (String, String);

/// The gateway's request to the canister (`http_request` and `http_request_update`).
#[derive(CandidType, Deserialize, Clone, Debug)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<HeaderField>,
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    pub certificate_version: Option<u16>,
}

/// The canister's answer. A streaming strategy names a callback; localnet does not follow it.
#[derive(CandidType, Deserialize, Clone, Debug)]
pub struct HttpResponse {
    pub status_code: u16,
    pub headers: Vec<HeaderField>,
    #[serde(with = "serde_bytes")]
    pub body: Vec<u8>,
    pub upgrade: Option<bool>,
    pub streaming_strategy: Option<candid::Reserved>,
}

/// The request body a gateway forwards at most (the IC's ingress message limit).
pub const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;

/// The canister a request is for: the host's first label (`<id>.localhost`), else `canisterId=` in
/// the query string. `None` if neither names one.
pub fn target(host: Option<&str>, url: &str) -> Option<Result<Principal, String>> {
    let from_host = host
        .map(|h| h.split(':').next().unwrap_or_default())
        .and_then(|h| h.strip_suffix(".localhost"))
        .filter(|label| !label.is_empty() && !label.contains('.'));
    let from_query = url.split_once('?').and_then(|(_, query)| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix("canisterId="))
    });
    let text = from_host.or(from_query)?;
    Some(Principal::from_text(text).map_err(|e| format!("invalid canister id {text}: {e}")))
}

fn reject_response(reject: &Reject) -> Response {
    let status = match reject.code {
        crate::reject_code::DESTINATION_INVALID => 404,
        crate::reject_code::CANISTER_REJECT => 400,
        _ => 502,
    };
    Response::text(
        status,
        format!(
            "the canister could not answer ({}): {}",
            crate::http_message::error_code(reject),
            reject.message
        ),
    )
}

fn decoded(bytes: &[u8]) -> Result<HttpResponse, Response> {
    candid::decode_one(bytes).map_err(|e| {
        Response::text(
            502,
            format!("the canister's http_request answer does not decode: {e}"),
        )
    })
}

/// Answers `request` with `canister`'s `http_request` (then `http_request_update` if it asks).
pub fn respond(net: &mut LocalNet, canister: Principal, request: HttpRequest) -> Response {
    if request.body.len() > MAX_BODY_BYTES {
        return Response::text(413, format!("the body exceeds {MAX_BODY_BYTES} bytes"));
    }
    let query = HttpRequest {
        certificate_version: Some(2),
        ..request.clone()
    };
    let arg = candid::encode_one(&query).expect("an HttpRequest encodes");
    let answer = match net.query_call(canister, Principal::anonymous(), "http_request", arg) {
        Ok(bytes) => bytes,
        Err(reject) => return reject_response(&reject),
    };
    let mut response = match decoded(&answer) {
        Ok(response) => response,
        Err(refusal) => return refusal,
    };
    if response.upgrade == Some(true) {
        let arg = candid::encode_one(&request).expect("an HttpRequest encodes");
        let answer =
            match net.update_call(canister, Principal::anonymous(), "http_request_update", arg) {
                Ok(bytes) => bytes,
                Err(reject) => return reject_response(&reject),
            };
        response = match decoded(&answer) {
            Ok(response) => response,
            Err(refusal) => return refusal,
        };
    }
    if response.streaming_strategy.is_some() {
        return Response::text(
            501,
            "localnet's gateway does not follow streaming responses",
        );
    }
    Response {
        status: response.status_code,
        content_type: "",
        headers: response.headers,
        body: response.body,
    }
}
