//! The node's configuration: a TOML file, overridden by flags. Every field has a default.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address to listen on.
    pub listen: String,
    /// The bearer key the proxy presents (registered with the node's admission).
    pub api_key: String,
    /// Where the Ed25519 signing key lives; created on first start.
    pub key_file: PathBuf,
    /// `deterministic` (built in) or `ollama`.
    pub backend: String,
    /// The models this node serves (the proxy's names).
    pub models: Vec<String>,
    pub max_tokens_limit: u32,
    pub max_prompt_bytes: usize,
    /// Responses remembered for request-id deduplication.
    pub dedup_capacity: usize,
    pub workers: usize,
    /// One JSON line per event (start, request, inference) on stderr.
    pub log: bool,
    pub ollama: OllamaConfig,
}

#[derive(Deserialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct OllamaConfig {
    pub url: String,
    pub timeout_seconds: u64,
    /// The proxy's model name → the Ollama tag; empty means the names are the tags.
    pub model_map: BTreeMap<String, String>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            api_key: String::new(),
            key_file: PathBuf::from("hpc-node.key"),
            backend: "deterministic".into(),
            models: vec!["llama3.1:8b".into()],
            max_tokens_limit: 4_096,
            max_prompt_bytes: 1_000_000,
            dedup_capacity: 10_000,
            workers: 4,
            log: true,
            ollama: OllamaConfig::default(),
        }
    }
}

impl Default for OllamaConfig {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:11434".into(),
            timeout_seconds: 120,
            model_map: BTreeMap::new(),
        }
    }
}

impl Config {
    /// Reads a TOML file; unknown keys and bad values are errors that name the problem.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    pub fn validate(&self) -> Result<(), String> {
        if self.api_key.len() < 16 {
            return Err(
                "api_key must be at least 16 characters (set it in the file or with --api-key)"
                    .into(),
            );
        }
        if !matches!(self.backend.as_str(), "deterministic" | "ollama") {
            return Err(format!(
                "backend must be deterministic or ollama, not {:?}",
                self.backend
            ));
        }
        if self.models.is_empty() {
            return Err("models must name at least one model".into());
        }
        if self.workers == 0 || self.max_tokens_limit == 0 {
            return Err("workers and max_tokens_limit must be positive".into());
        }
        Ok(())
    }
}
