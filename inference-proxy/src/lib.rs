//! The inference proxy's state machine (plain Rust, no `ic_cdk`): users' prepaid balances, holds of the
//! quoted maximum, charges from verified node receipts, and batches of metered receipts for royalties.
//! The canister shell (deposits and withdrawals through the ledger-adapter outbox, the outcall, the
//! flush timer) builds on it.

pub mod authorized;
pub mod flows;
pub mod infer;
pub mod memory;
pub mod metering;
pub mod registry;
pub mod signed_usage;
pub mod state;

#[cfg(test)]
mod tests;
