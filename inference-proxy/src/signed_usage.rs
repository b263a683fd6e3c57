//! Verifying a node's signed usage. A non-replicated outcall is seen by one replica, which could
//! alter the token counts or the output; the node signs them
//! (`neuranft_types::node::signed_usage_message`), and only a [`VerifiedUsage`] — which only
//! [`verify`] can make — can be charged and become a metered receipt.

use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use neuranft_types::node::{signed_usage_message, InferResponse, Usage};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UsageError {
    /// The body is not the node protocol's JSON.
    Malformed(String),
    /// The answer is for another request or model.
    Mismatch(String),
    BadSignature,
    /// More output tokens than the caller allowed.
    ExceedsMaxTokens {
        output_tokens: u64,
        max_tokens: u64,
    },
}

/// Usage a node signed for a request: the only thing a charge accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedUsage {
    request_id: String,
    model: String,
    usage: Usage,
    output: String,
}

impl VerifiedUsage {
    pub fn request_id(&self) -> &str {
        &self.request_id
    }
    pub fn model(&self) -> &str {
        &self.model
    }
    pub fn usage(&self) -> Usage {
        self.usage
    }
    pub fn output(&self) -> &str {
        &self.output
    }
}

/// Parses the node's JSON answer and checks it answers `request_id` for `model`, within `max_tokens`,
/// signed by `node_public_key`.
pub fn verify(
    body: &[u8],
    node_public_key: &[u8; 32],
    request_id: &str,
    model: &str,
    max_tokens: u64,
) -> Result<VerifiedUsage, UsageError> {
    let response: InferResponse =
        serde_json::from_slice(body).map_err(|e| UsageError::Malformed(e.to_string()))?;
    if response.request_id != request_id || response.model != model {
        return Err(UsageError::Mismatch(format!(
            "answer for {}/{} to a request for {request_id}/{model}",
            response.request_id, response.model
        )));
    }
    let signature: [u8; 64] = hex::decode(&response.signature)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or(UsageError::BadSignature)?;
    let key = VerifyingKey::from_bytes(node_public_key).map_err(|_| UsageError::BadSignature)?;
    let message = signed_usage_message(
        &response.request_id,
        &response.model,
        &response.usage,
        &response.output,
    );
    key.verify(&message, &Signature::from_bytes(&signature))
        .map_err(|_| UsageError::BadSignature)?;
    if response.usage.output_tokens > max_tokens {
        return Err(UsageError::ExceedsMaxTokens {
            output_tokens: response.usage.output_tokens,
            max_tokens,
        });
    }
    Ok(VerifiedUsage {
        request_id: response.request_id,
        model: response.model,
        usage: response.usage,
        output: response.output,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn signed(key: &SigningKey, usage: Usage, output: &str) -> Vec<u8> {
        let message = signed_usage_message("r1", "llama3.1:8b", &usage, output);
        serde_json::to_vec(&InferResponse {
            request_id: "r1".into(),
            model: "llama3.1:8b".into(),
            output: output.into(),
            usage,
            signature: hex::encode(key.sign(&message).to_bytes()),
        })
        .unwrap()
    }

    #[test]
    fn only_a_correctly_signed_matching_answer_verifies() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let public = key.verifying_key().to_bytes();
        let usage = Usage {
            input_tokens: 12,
            output_tokens: 30,
            total_duration_ns: 1,
            eval_duration_ns: 1,
        };
        let body = signed(&key, usage, "hello");
        let ok = verify(&body, &public, "r1", "llama3.1:8b", 64).unwrap();
        assert_eq!(ok.usage(), usage);
        assert_eq!(ok.output(), "hello");
        // Another key, another request, another model, a tampered count, too many tokens, garbage.
        let other = SigningKey::from_bytes(&[2; 32]).verifying_key().to_bytes();
        assert_eq!(
            verify(&body, &other, "r1", "llama3.1:8b", 64),
            Err(UsageError::BadSignature)
        );
        assert!(matches!(
            verify(&body, &public, "r2", "llama3.1:8b", 64),
            Err(UsageError::Mismatch(_))
        ));
        assert!(matches!(
            verify(&body, &public, "r1", "other", 64),
            Err(UsageError::Mismatch(_))
        ));
        let tampered = String::from_utf8(body.clone())
            .unwrap()
            .replace("\"output_tokens\":30", "\"output_tokens\":3");
        assert_eq!(
            verify(tampered.as_bytes(), &public, "r1", "llama3.1:8b", 64),
            Err(UsageError::BadSignature)
        );
        assert_eq!(
            verify(&body, &public, "r1", "llama3.1:8b", 10),
            Err(UsageError::ExceedsMaxTokens {
                output_tokens: 30,
                max_tokens: 10
            })
        );
        assert!(matches!(
            verify(b"{", &public, "r1", "llama3.1:8b", 64),
            Err(UsageError::Malformed(_))
        ));
    }
}
