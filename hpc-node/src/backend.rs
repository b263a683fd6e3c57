//! Where inferences run: Ollama over its HTTP API, or a deterministic built-in backend that speaks the
//! same protocol so the whole system runs without a GPU (the main job's and CI's default).

use neuranft_types::node::{InferRequest, Usage};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    pub output: String,
    pub usage: Usage,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BackendError {
    #[error("the backend is unavailable: {0}")]
    Unavailable(String),
    #[error("the backend timed out")]
    Timeout,
    #[error("the backend answered something unreadable: {0}")]
    BadResponse(String),
    /// A token count is missing: the inference cannot be billed, so it fails.
    #[error("the backend did not report {0}")]
    UsageUnknown(&'static str),
    #[error("no backend model for {0}")]
    UnknownModel(String),
}

pub trait Backend: Send + Sync {
    fn complete(&self, request: &InferRequest) -> Result<Completion, BackendError>;
}

/// The request's input as one text: the prompt, or the chat messages as `role: content` lines.
pub fn input_text(request: &InferRequest) -> String {
    match (&request.prompt, &request.messages) {
        (Some(p), _) => p.clone(),
        (None, Some(messages)) => messages
            .iter()
            .map(|m| format!("{}: {}", m.role, m.content))
            .collect::<Vec<_>>()
            .join("\n"),
        (None, None) => String::new(),
    }
}

/// Deterministic text generation: the same request gives the same output and usage, byte for byte.
/// Input tokens are `ceil(input bytes / 4) + 1` (about four bytes per token, plus the start token);
/// the output is 16–63 words (at most `max_tokens`) drawn from a fixed vocabulary by SHA-256 of the
/// model, input and seed, one token per word; durations are 50 ms + 20 ms per output token.
pub struct Deterministic;

const VOCABULARY: [&str; 32] = [
    "the", "model", "answers", "with", "care", "data", "owners", "share", "in", "every", "token",
    "patient", "history", "suggests", "a", "benign", "course", "review", "code", "function",
    "returns", "value", "network", "node", "ledger", "settles", "royalty", "fairly", "and",
    "exactly", "today", ".",
];

impl Backend for Deterministic {
    fn complete(&self, request: &InferRequest) -> Result<Completion, BackendError> {
        let input = input_text(request);
        let mut h = Sha256::new();
        h.update(request.model.as_bytes());
        h.update([0]);
        h.update(input.as_bytes());
        h.update(request.seed.unwrap_or(0).to_be_bytes());
        let mut state: [u8; 32] = h.finalize().into();
        let words = (16 + state[0] as u64 % 48).min(request.max_tokens as u64);
        let mut output = Vec::with_capacity(words as usize);
        for i in 0..words {
            if i % 32 == 0 && i > 0 {
                state = Sha256::digest(state).into();
            }
            output.push(VOCABULARY[state[(i % 32) as usize] as usize % VOCABULARY.len()]);
        }
        let eval_ns = words * 20_000_000;
        Ok(Completion {
            output: output.join(" "),
            usage: Usage {
                input_tokens: (input.len() as u64).div_ceil(4) + 1,
                output_tokens: words,
                total_duration_ns: 50_000_000 + eval_ns,
                eval_duration_ns: eval_ns,
            },
        })
    }
}

/// Ollama's `/api/generate` (prompt) or `/api/chat` (messages), non-streaming.
pub struct Ollama {
    pub base_url: String,
    /// The proxy's model name → the Ollama tag that serves it.
    pub model_map: BTreeMap<String, String>,
    pub timeout: Duration,
}

impl Ollama {
    fn ollama_model(&self, model: &str) -> Result<String, BackendError> {
        match self.model_map.get(model) {
            Some(tag) => Ok(tag.clone()),
            None if self.model_map.is_empty() => Ok(model.to_string()),
            None => Err(BackendError::UnknownModel(model.to_string())),
        }
    }
}

/// Reads the output and the usage from an Ollama response body. A missing count is unknown, not 0:
/// Ollama omits zero fields, and billing a guess is worse than failing.
pub fn parse_ollama_response(body: &Value, chat: bool) -> Result<Completion, BackendError> {
    let output = if chat {
        body.pointer("/message/content")
    } else {
        body.get("response")
    }
    .and_then(Value::as_str)
    .ok_or_else(|| BackendError::BadResponse("no output text".into()))?
    .to_string();
    let count = |field: &'static str| {
        body.get(field)
            .and_then(Value::as_u64)
            .ok_or(BackendError::UsageUnknown(field))
    };
    Ok(Completion {
        output,
        usage: Usage {
            input_tokens: count("prompt_eval_count")?,
            output_tokens: count("eval_count")?,
            total_duration_ns: body
                .get("total_duration")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            eval_duration_ns: body
                .get("eval_duration")
                .and_then(Value::as_u64)
                .unwrap_or(0),
        },
    })
}

impl Backend for Ollama {
    fn complete(&self, request: &InferRequest) -> Result<Completion, BackendError> {
        let model = self.ollama_model(&request.model)?;
        let mut options = json!({ "num_predict": request.max_tokens });
        if let Some(t) = request.temperature {
            options["temperature"] = json!(t);
        }
        if let Some(s) = request.seed {
            options["seed"] = json!(s);
        }
        let chat = request.messages.is_some();
        let (path, body) = match &request.messages {
            Some(messages) => (
                "/api/chat",
                json!({ "model": model, "messages": messages, "stream": false, "options": options }),
            ),
            None => (
                "/api/generate",
                json!({ "model": model, "prompt": request.prompt, "stream": false, "options": options }),
            ),
        };
        let url = format!("{}{path}", self.base_url.trim_end_matches('/'));
        let agent = ureq::AgentBuilder::new().timeout(self.timeout).build();
        let response = agent.post(&url).send_json(body).map_err(|e| match e {
            ureq::Error::Transport(t) if t.kind() == ureq::ErrorKind::Io => {
                let text = t.to_string();
                if text.contains("timed out") || text.contains("WouldBlock") {
                    BackendError::Timeout
                } else {
                    BackendError::Unavailable(text)
                }
            }
            ureq::Error::Status(code, r) => BackendError::Unavailable(format!(
                "Ollama answered {code}: {}",
                r.into_string().unwrap_or_default()
            )),
            other => BackendError::Unavailable(other.to_string()),
        })?;
        let body: Value = response
            .into_json()
            .map_err(|e| BackendError::BadResponse(e.to_string()))?;
        parse_ollama_response(&body, chat)
    }
}
