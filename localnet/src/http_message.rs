//! What the HTTP server exchanges, for the IC's API and the gateway alike: requests as received,
//! answers, and the error codes replicas attach to rejects.

use crate::{reject_code, Reject};
use ciborium::value::Value;

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
    pub(crate) fn cbor(value: &Value) -> Self {
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
