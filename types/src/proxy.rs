//! The inference proxy's Candid interface: its configuration, users' balances and calls, metering and
//! batches, node records and the decisions governance makes on them, and the errors of every call.

use crate::royalties::{ModelId, ModelStatus, Receipt};
use crate::Account;
use candid::{CandidType, Deserialize, Nat, Principal};

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
    /// This caller's proposal took effect here with this very payload: done before.
    ProposalAlreadyExecuted {
        proposal: ProposalId,
    },
    /// This caller's proposal id took effect here with another payload: nothing changed.
    ProposalConflict {
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

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq)]
pub struct InferArgs {
    pub model: ModelId,
    /// Exactly one of `prompt` and `messages`.
    pub prompt: Option<String>,
    pub messages: Option<Vec<Message>>,
    pub max_tokens: u32,
    pub temperature: Option<f32>,
    pub seed: Option<u64>,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub role: String,
    pub content: String,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct InferOk {
    pub output: String,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Usage price plus the call fee.
    pub charged: u128,
    pub released: u128,
    pub node: NodeId,
    /// The metered receipt; `None` when the usage price was 0 (a free model: only the call fee).
    pub receipt: Option<u64>,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum InferError {
    AnonymousCaller,
    UnknownModel {
        model: ModelId,
    },
    ModelPaused {
        model: ModelId,
    },
    /// The DAO suspended or delisted the model (`ModerateModel`; the reason is in royalties' log).
    ModelModerated {
        model: ModelId,
        status: ModelStatus,
    },
    InvalidInput {
        reason: String,
    },
    RateLimited {
        calls_per_minute: u32,
    },
    /// The proxy cannot pay the outcalls' cycles; nothing was held.
    InsufficientCycles {
        needed: u128,
        available: u128,
    },
    Metering(MeteringError),
    NoNodeAvailable,
    /// `cap` calls are in flight: try again shortly; nothing was held or charged.
    Busy {
        cap: u32,
    },
    /// Every node tried failed; nothing was charged.
    AllNodesFailed {
        failures: Vec<(NodeId, String)>,
    },
}

#[derive(CandidType, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserBalance {
    pub available: u128,
    pub held: u128,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum BatchStatus {
    /// Closed; the transfer of `total` to royalties (with `fee` reserved) has not completed.
    AwaitingTransfer {
        fee: u128,
    },
    /// The funds are with royalties; `settle` may still be pending.
    Transferred {
        block: Nat,
    },
    Settled,
    /// The funds are with royalties, which refused to settle the batch for `reason`: set aside so that
    /// it never holds up later batches, and tried again now and then (royalties' audit shows these
    /// funds as its surplus until then).
    SetAside {
        block: Nat,
        reason: String,
        attempts: u32,
    },
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct BatchRecord {
    pub id: BatchId,
    pub receipts: Vec<Receipt>,
    pub total: u128,
    pub status: BatchStatus,
    pub created_at: u64,
}

#[derive(CandidType, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Liabilities {
    pub available: u128,
    pub held: u128,
    pub unsettled: u128,
    pub batched: u128,
    pub fee_reserve: u128,
    pub withdrawals_in_flight: u128,
    pub total: u128,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum MeteringError {
    AnonymousCaller,
    ZeroAmount,
    Overflow,
    InsufficientBalance {
        available: u128,
        needed: u128,
    },
    UnknownHold {
        hold: HoldId,
    },
    /// The receipt's amount does not fit the settlement format (u64).
    ReceiptTooLarge {
        amount: u128,
    },
    UnknownBatch {
        batch: BatchId,
    },
    /// The per-call fees collected do not yet cover the ledger fee of a batch transfer.
    FeeReserveTooLow {
        reserve: u128,
        fee: u128,
    },
}

pub type HoldId = u64;

pub type BatchId = u64;

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ProxyConfig {
    pub ledger: Principal,
    pub royalties: Principal,
    pub governance: Principal,
    /// Charged per successful call on top of the usage price; pays cycles and batch ledger fees.
    pub call_fee: u128,
    pub max_prompt_bytes: u64,
    pub max_output_tokens: u32,
    pub max_receipts_per_batch: u32,
    pub flush_interval_seconds: u64,
    pub failures_before_suspension: u32,
    pub max_nodes_per_call: u32,
    pub calls_per_user_per_minute: u32,
}

/// The limits of a proxy's configuration the DAO may change (`set_limits`, by a generic proposal).
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ProxyLimits {
    pub max_prompt_bytes: u64,
    pub max_output_tokens: u32,
    pub calls_per_user_per_minute: u32,
    /// Nodes tried per call before it fails (failover).
    pub max_nodes_per_call: u32,
    pub failures_before_suspension: u32,
    pub flush_interval_seconds: u64,
    pub max_receipts_per_batch: u32,
}

impl ProxyConfig {
    pub fn limits(&self) -> ProxyLimits {
        ProxyLimits {
            max_prompt_bytes: self.max_prompt_bytes,
            max_output_tokens: self.max_output_tokens,
            calls_per_user_per_minute: self.calls_per_user_per_minute,
            max_nodes_per_call: self.max_nodes_per_call,
            failures_before_suspension: self.failures_before_suspension,
            flush_interval_seconds: self.flush_interval_seconds,
            max_receipts_per_batch: self.max_receipts_per_batch,
        }
    }

    /// This configuration with `limits`, if it keeps every bound ([`ProxyConfig::validate`]).
    pub fn with_limits(&self, limits: &ProxyLimits) -> Result<ProxyConfig, String> {
        let config = ProxyConfig {
            max_prompt_bytes: limits.max_prompt_bytes,
            max_output_tokens: limits.max_output_tokens,
            calls_per_user_per_minute: limits.calls_per_user_per_minute,
            max_nodes_per_call: limits.max_nodes_per_call,
            failures_before_suspension: limits.failures_before_suspension,
            flush_interval_seconds: limits.flush_interval_seconds,
            max_receipts_per_batch: limits.max_receipts_per_batch,
            ..self.clone()
        };
        config.validate()?;
        Ok(config)
    }

    /// What `limits` would change, as voters read it: each limit as `name: now → then`.
    pub fn describe_limits(&self, limits: &ProxyLimits) -> Result<String, String> {
        let then = self.with_limits(limits)?.limits();
        let now = self.limits();
        let line = |name: &str, a: u64, b: u64| {
            if a == b {
                format!("{name}: {a} (unchanged)")
            } else {
                format!("{name}: {a} → {b}")
            }
        };
        Ok([
            line(
                "max_prompt_bytes",
                now.max_prompt_bytes,
                then.max_prompt_bytes,
            ),
            line(
                "max_output_tokens",
                now.max_output_tokens.into(),
                then.max_output_tokens.into(),
            ),
            line(
                "calls_per_user_per_minute",
                now.calls_per_user_per_minute.into(),
                then.calls_per_user_per_minute.into(),
            ),
            line(
                "max_nodes_per_call",
                now.max_nodes_per_call.into(),
                then.max_nodes_per_call.into(),
            ),
            line(
                "failures_before_suspension",
                now.failures_before_suspension.into(),
                then.failures_before_suspension.into(),
            ),
            line(
                "flush_interval_seconds",
                now.flush_interval_seconds,
                then.flush_interval_seconds,
            ),
            line(
                "max_receipts_per_batch",
                now.max_receipts_per_batch.into(),
                then.max_receipts_per_batch.into(),
            ),
        ]
        .join("; "))
    }
}

/// Receipts per batch at most: one `settle` of this many stays far inside an update's instruction
/// limit (about 1.3 M instructions per receipt, so ≈ 2.6 B) and its argument far inside the 2 MiB
/// inter-canister message limit (≈ 120 bytes per receipt); royalties accepts up to 5,000.
pub const MAX_RECEIPTS_PER_BATCH: u32 = 2_000;

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum MoneyError {
    AnonymousCaller,
    /// Another deposit or withdrawal of this caller is in progress.
    AlreadyProcessing,
    ZeroAmount,
    BelowFee {
        amount: u128,
        fee: u128,
    },
    /// The destination is the ledger's minting account: a transfer there would be a burn.
    MintingAccountDestination,
    Metering(MeteringError),
    /// The ledger definitely refused the transfer; nothing changed.
    TransferFailed {
        reason: String,
    },
    /// The transfer's outcome is not known yet; it completes (or is undone) by itself later.
    Pending {
        intent: u64,
    },
    LedgerUnavailable {
        reason: String,
    },
    /// `cap` deposits and withdrawals are in flight: try again shortly; nothing changed.
    Busy {
        cap: u32,
    },
}

impl ProxyConfig {
    /// The limits every configuration must keep (install and upgrade refuse others).
    pub fn validate(&self) -> Result<(), String> {
        let check = |ok: bool, what: &str| if ok { Ok(()) } else { Err(what.to_string()) };
        check(
            CALL_FEE_RANGE.contains(&self.call_fee),
            "call_fee must be 1–10^12",
        )?;
        self.limits().validate()
    }
}

impl ProxyLimits {
    /// The bounds every limit keeps (governance checks them when a proposal is made, the proxy when
    /// it applies them).
    pub fn validate(&self) -> Result<(), String> {
        let check = |ok: bool, what: &str| if ok { Ok(()) } else { Err(what.to_string()) };
        check(
            (1..=MAX_RECEIPTS_PER_BATCH).contains(&self.max_receipts_per_batch),
            "max_receipts_per_batch must be 1–2,000",
        )?;
        check(
            (1..=1_000_000).contains(&self.max_prompt_bytes),
            "max_prompt_bytes must be 1–1,000,000",
        )?;
        check(
            (1..=100_000).contains(&self.max_output_tokens),
            "max_output_tokens must be 1–100,000",
        )?;
        check(
            (1..=10).contains(&self.max_nodes_per_call),
            "max_nodes_per_call must be 1–10",
        )?;
        check(
            self.failures_before_suspension >= 1,
            "failures_before_suspension must be positive",
        )?;
        check(
            self.calls_per_user_per_minute >= 1,
            "calls_per_user_per_minute must be positive",
        )?;
        check(
            (1..=86_400).contains(&self.flush_interval_seconds),
            "flush_interval_seconds must be 1–86,400",
        )
    }
}

impl From<MeteringError> for MoneyError {
    fn from(e: MeteringError) -> Self {
        MoneyError::Metering(e)
    }
}

impl From<MeteringError> for InferError {
    fn from(e: MeteringError) -> Self {
        InferError::Metering(e)
    }
}

/// Why `audit` gave no report.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum ProxyAuditError {
    /// The audit costs a ledger call: the anonymous caller may not ask for one.
    AnonymousCaller,
    /// The ledger did not tell the proxy its balance.
    LedgerUnavailable { reason: String },
}
