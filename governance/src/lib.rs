//! NeuraNFT governance: neurons (stake, dissolve delay, age, hot keys, following), proposals with typed
//! actions whose ballots freeze voting power when they are made, voting with cascading following,
//! wait-for-quiet, early decisions and critical topics, and the queue of adopted proposals to execute.
//! Plain Rust over stable structures; the canister shell performs the ledger and target calls.

pub mod book;
pub mod flows;
pub mod memory;
pub mod power;
pub mod state;

pub use state::Governance;

#[cfg(test)]
mod flow_tests;
#[cfg(test)]
mod tests;
