//! NeuraNFT's economic simulation: agents (users, models and their owners, hosts) act in discrete
//! steps on the very state machines the canisters run — the inference-proxy's metering and flush,
//! royalties' settlement and payouts, the icrc-ledger — with integer money, and the conservation
//! invariants are checked after every step. See `sim/README.md`.

pub mod ab;
pub mod cadcad;
pub mod charts;
pub mod report;
pub mod rng;
pub mod scenario;
pub mod sweep;
pub mod world;
