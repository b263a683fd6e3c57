//! The inference-proxy's types other canisters use: node records and the decisions governance makes
//! on them, and the errors of those calls.

use crate::Account;
use candid::{CandidType, Deserialize};

pub type NodeId = u64;
pub use crate::ProposalId;

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum NodeStatus {
    Applied,
    Active,
    /// By governance (`by_proposal`) or by the proxy after failures.
    Suspended {
        reason: String,
        by_proposal: Option<ProposalId>,
    },
    Removed,
}

#[derive(CandidType, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    pub successes: u64,
    pub failures: u64,
    pub consecutive_failures: u32,
    pub total_latency_ms: u64,
    pub in_flight: u32,
    pub last_failure: Option<String>,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct NodeRecord {
    pub id: NodeId,
    pub operator: Account,
    /// `https://…` (localnet also allows `http://127.0.0.1…`).
    pub endpoint: String,
    pub public_key: [u8; 32],
    /// Base models served.
    pub models: Vec<String>,
    /// Calls it accepts at once.
    pub capacity: u32,
    pub status: NodeStatus,
    pub stats: NodeStats,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ApplyNodeArgs {
    pub operator_subaccount: Option<[u8; 32]>,
    pub endpoint: String,
    pub public_key: serde_bytes::ByteBuf,
    pub models: Vec<String>,
    pub capacity: u32,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum RegistryError {
    AnonymousCaller,
    NotGovernance,
    NotRoyalties,
    InvalidArgument {
        field: String,
        reason: String,
    },
    UnknownNode {
        node: NodeId,
    },
    ProposalAlreadyExecuted {
        proposal: ProposalId,
    },
    /// The registry is full, or the caller has the most applications waiting one principal may.
    TooManyNodes {
        max_nodes: u32,
        max_pending_per_principal: u32,
    },
    NodeRemoved {
        node: NodeId,
    },
}

#[derive(CandidType, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeAction {
    Admit,
    Suspend,
    Remove,
}

/// The per-call fee the proxy may charge: at least 1 unit (the call fees are the reserve that pays
/// every batch transfer's ledger fee: at 0 no batch could ever be closed) and at most 10¹² units
/// (10,000 tokens of 8 decimals: far above any sane fee, far below what makes a quote overflow).
pub const CALL_FEE_RANGE: std::ops::RangeInclusive<u128> = 1..=1_000_000_000_000;
