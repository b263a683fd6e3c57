//! The wire protocol between the inference proxy and an hpc-node gateway, and the signed usage (the
//! node's signature over what one call used; the metered `Receipt` is the proxy's, made from it). The proxy receives the response through a non-replicated outcall, which one replica
//! could alter; the Ed25519 signature over [`signed_usage_message`] lets the proxy detect that.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Longest request id the node accepts.
pub const MAX_REQUEST_ID_LEN: usize = 64;

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ChatMessage {
    pub role: String,
    pub content: String,
}

/// `POST /v1/infer`, with `Authorization: Bearer <key>`.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
pub struct InferRequest {
    /// Unique per inference; a repeated id returns the stored response instead of a second inference.
    pub request_id: String,
    pub model: String,
    /// Exactly one of `prompt` and `messages`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messages: Option<Vec<ChatMessage>>,
    pub max_tokens: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
}

#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Usage {
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub total_duration_ns: u64,
    pub eval_duration_ns: u64,
}

/// The node's answer.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct InferResponse {
    pub request_id: String,
    pub model: String,
    pub output: String,
    pub usage: Usage,
    /// Hex of the 64-byte Ed25519 signature over [`signed_usage_message`].
    pub signature: String,
}

/// A node's refusal, with the HTTP status it comes with.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct NodeError {
    pub error: String,
    pub message: String,
}

/// The bytes a node signs for one inference: a domain tag, then length-prefixed request id and model,
/// the four usage numbers (big-endian u64) and the SHA-256 of the output, so that neither the counts
/// nor the text can be changed without breaking the signature.
pub fn signed_usage_message(request_id: &str, model: &str, usage: &Usage, output: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(128);
    // The tag keeps the name nodes in the field already sign with.
    m.extend_from_slice(b"neuranft-node-receipt-v1");
    for field in [request_id.as_bytes(), model.as_bytes()] {
        m.extend_from_slice(&(field.len() as u32).to_be_bytes());
        m.extend_from_slice(field);
    }
    for n in [
        usage.input_tokens,
        usage.output_tokens,
        usage.total_duration_ns,
        usage.eval_duration_ns,
    ] {
        m.extend_from_slice(&n.to_be_bytes());
    }
    m.extend_from_slice(&Sha256::digest(output.as_bytes()));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_changes_the_signed_usage_message() {
        let usage = Usage {
            input_tokens: 10,
            output_tokens: 20,
            total_duration_ns: 30,
            eval_duration_ns: 40,
        };
        let base = signed_usage_message("r1", "llama3.1:8b", &usage, "hello");
        assert_ne!(
            base,
            signed_usage_message("r2", "llama3.1:8b", &usage, "hello")
        );
        assert_ne!(
            base,
            signed_usage_message("r1", "llama3.1:70b", &usage, "hello")
        );
        assert_ne!(
            base,
            signed_usage_message("r1", "llama3.1:8b", &usage, "hellO")
        );
        let more = Usage {
            output_tokens: 21,
            ..usage
        };
        assert_ne!(
            base,
            signed_usage_message("r1", "llama3.1:8b", &more, "hello")
        );
        // Length prefixes keep ("ab", "c") and ("a", "bc") apart.
        assert_ne!(
            signed_usage_message("ab", "c", &usage, ""),
            signed_usage_message("a", "bc", &usage, "")
        );
    }
}
