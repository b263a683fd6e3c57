//! The canister's async flows, kept apart from the synchronous state so that they run natively as in
//! the canister: payouts through the ledger, and pushes that keep the inference proxy current.

pub mod payouts;
pub mod push;
