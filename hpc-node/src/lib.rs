//! hpc-node: the HTTP gateway an operator runs beside Ollama. The inference proxy calls it by a
//! non-replicated HTTPS outcall; it authenticates the proxy (bearer key), deduplicates by request id,
//! runs the inference on a backend (Ollama, or a deterministic built-in one) and signs the usage
//! receipt with the node's Ed25519 key.

pub mod backend;
pub mod config;
pub mod keys;
pub mod server;

pub use backend::{Backend, BackendError, Completion};
pub use config::Config;
pub use server::{start, RunningNode};
