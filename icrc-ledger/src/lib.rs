//! A compact ICRC-1/2/3 ledger for local networks, tests and the simulation. The state machine
//! ([`state::Ledger`]) is plain Rust; `main.rs` is the canister shell around it.

pub mod api;
pub mod block;
pub mod certification;
pub mod memory;
pub mod state;

pub use state::Ledger;

#[cfg(test)]
mod tests;
