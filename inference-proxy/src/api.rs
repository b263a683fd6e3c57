//! Candid types of the canister's own endpoints (the state machine's types are in their modules).

use crate::metering::Liabilities;
use crate::registry::ApplyNodeArgs;
use crate::state::ProxyConfig;
use candid::{CandidType, Deserialize};

/// The canister's single install/upgrade argument.
#[derive(CandidType, Deserialize, Clone, Debug)]
pub enum ProxyArg {
    Init(ProxyConfig),
    Upgrade(Option<ProxyConfig>),
}

#[derive(CandidType, Deserialize, Clone, Debug)]
pub struct ApplyNodeRequest {
    pub node: ApplyNodeArgs,
    /// The bearer key the node expects from the proxy (16–128 bytes; never shown by a query).
    pub api_key: String,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct FlushView {
    pub closed: Vec<u64>,
    pub settled: Vec<u64>,
    pub waiting: Vec<String>,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ProxyAudit {
    pub ledger_balance: u128,
    pub liabilities: Liabilities,
    /// Transfers whose outcome is not applied yet: while any exist, the balance may differ.
    pub unresolved_transfers: u64,
    pub agrees: bool,
    /// Batches royalties refused and their total: paid to royalties (so not in this ledger balance),
    /// not credited there yet (royalties' audit shows them as its surplus); offered again each flush.
    pub set_aside_batches: u64,
    pub set_aside_total: u128,
}
