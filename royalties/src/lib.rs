//! The royalties canister's logic: model registry, exact cumulative crediting of metered inference,
//! payouts and the hash-chained settlement log. Plain Rust: the canister shell (`main.rs`) only
//! decodes, checks callers and performs the ledger calls through [`ledger_adapter::LedgerRuntime`].

pub mod flows;
pub mod memory;
pub mod state;
mod storable;

pub use state::State;

#[cfg(test)]
mod tests;
