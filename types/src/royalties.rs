//! The royalties canister's public interface: model registry, split, settlement, payouts, log, audit.

use candid::{CandidType, Deserialize, Nat, Principal};
use icrc_ledger_types::icrc1::account::{Account, Subaccount};
use serde_bytes::ByteBuf;

pub type ModelId = u64;
pub type BatchId = u64;
pub type ReceiptId = u64;
pub type SplitVersion = u32;
pub use crate::ProposalId;
pub type PayoutId = u64;

mod log;
mod replay;
pub use log::*;
pub use replay::*;

/// Every model is owned in exactly this many share units (fractional ownership to a millionth).
pub const SHARE_UNITS_PER_MODEL: u64 = 1_000_000;
/// Data-owner weights of a model, when it names any, sum to this (basis points of the data owners' part).
pub const DATA_WEIGHT_TOTAL: u64 = 10_000;
/// Weights of a receipt's recipients are integers over this common denominator:
/// split basis points × share units × data-owner weight.
pub const ENTITLEMENT_DENOMINATOR: u128 =
    10_000 * SHARE_UNITS_PER_MODEL as u128 * DATA_WEIGHT_TOTAL as u128;

/// A fine-tuning dataset the model was trained on, pinned by the SHA-256 of its content.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct DatasetRef {
    pub uri: String,
    pub sha256: ByteBuf,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TrainingParam {
    pub key: String,
    pub value: String,
}

/// What the model is: the NFT's immutable description.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ModelMetadata {
    pub name: String,
    /// The Ollama model the node runs, e.g. `llama3.1:8b`.
    pub base_model: String,
    pub architecture: String,
    pub datasets: Vec<DatasetRef>,
    pub training_params: Vec<TrainingParam>,
    pub licence: String,
}

/// Price in the payment token's smallest unit per 1,000 tokens.
#[derive(CandidType, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Price {
    pub per_1k_input_tokens: u64,
    pub per_1k_output_tokens: u64,
}

#[derive(CandidType, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelStatus {
    Active,
    /// Paused by its manager.
    Paused,
    /// Suspended by the DAO (`ModerateModel`): calls are refused; only another proposal lifts it.
    Suspended,
    /// Delisted by the DAO: calls are refused and `list_models` leaves it out; only another proposal
    /// lifts it. Its holders keep what they earned.
    Delisted,
}

impl ModelStatus {
    /// A status only the DAO sets and lifts.
    pub fn is_moderated(self) -> bool {
        matches!(self, ModelStatus::Suspended | ModelStatus::Delisted)
    }
}

/// What the DAO does to a model by a `ModerateModel` proposal.
#[derive(CandidType, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModerationAction {
    Suspend,
    Delist,
    /// Back to `Active` from `Suspended` or `Delisted`.
    Reinstate,
}

/// The DAO's last decision on a model, with its reason (the settlement log keeps every one).
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Moderation {
    pub action: ModerationAction,
    pub reason: String,
    pub proposal_id: ProposalId,
    pub at: u64,
    /// The manager's status (Active or Paused) before the DAO stepped in: what Reinstate restores.
    pub status_before: ModelStatus,
}

/// The most bytes of a moderation's reason.
pub const MAX_MODERATION_REASON_BYTES: usize = 2_000;

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ModerateModelArgs {
    pub proposal_id: ProposalId,
    pub model: ModelId,
    pub action: ModerationAction,
    pub reason: String,
}

impl ModerateModelArgs {
    /// The reason must say something, within [`MAX_MODERATION_REASON_BYTES`].
    pub fn validate_reason(reason: &str) -> Result<(), String> {
        if reason.trim().is_empty() || reason.len() > MAX_MODERATION_REASON_BYTES {
            return Err(format!(
                "the reason must have 1–{MAX_MODERATION_REASON_BYTES} bytes"
            ));
        }
        Ok(())
    }
}

/// How royalties pushes payouts: accruals of at least `auto_payout_fee_multiple × ledger fee`, every
/// `payout_interval_seconds`.
#[derive(CandidType, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct PayoutSettings {
    pub auto_payout_fee_multiple: u64,
    pub payout_interval_seconds: u64,
}

impl PayoutSettings {
    /// A multiple below 1 would pay out less than the fee it costs; an interval under 10 s would
    /// spend the canister's cycles on its timer, one over a week would leave earners waiting.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=1_000_000).contains(&self.auto_payout_fee_multiple) {
            return Err("auto_payout_fee_multiple must be 1–1,000,000".into());
        }
        if !(10..=7 * 86_400).contains(&self.payout_interval_seconds) {
            return Err("payout_interval_seconds must be 10–604,800".into());
        }
        Ok(())
    }
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SetPayoutSettingsArgs {
    pub proposal_id: ProposalId,
    pub settings: PayoutSettings,
}

/// Why royalties refused a governance call other than `set_split`.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum GovernedError {
    NotGovernance,
    InvalidArgument {
        field: String,
        reason: String,
    },
    UnknownModel {
        model: ModelId,
    },
    /// This caller's proposal was applied with this very payload: done before.
    ProposalAlreadyApplied {
        proposal_id: ProposalId,
    },
    /// This caller's proposal id was applied with another payload: nothing changed.
    ProposalConflict {
        proposal_id: ProposalId,
    },
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ShareHolding {
    pub account: Account,
    pub units: u64,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct DataOwner {
    pub account: Account,
    pub weight: u64,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct RegisterModelArgs {
    pub metadata: ModelMetadata,
    pub price: Price,
    pub owners: Vec<ShareHolding>,
    pub data_owners: Vec<DataOwner>,
}

/// What the inference proxy keeps of a model: pushed by royalties on every change, `version` strictly
/// increasing, so that the proxy needs no call per inference and ignores a late, older push.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ModelEntry {
    pub model: ModelId,
    /// The Ollama model nodes run for it (e.g. `llama3.1:8b`).
    pub base_model: String,
    pub price: Price,
    pub status: ModelStatus,
    pub version: u64,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Model {
    pub id: ModelId,
    pub metadata: ModelMetadata,
    pub price: Price,
    pub status: ModelStatus,
    /// The principal that registered the model; it alone sets price and status.
    pub manager: Principal,
    pub total_units: u64,
    /// Increments on every share transfer; receipts are credited under the epoch in force when metered.
    pub share_epoch: u64,
    pub data_owners: Vec<DataOwner>,
    pub registered_at: u64,
    pub updated_at: u64,
    /// The DAO's last moderation decision (`None` for a model it never moderated).
    pub moderation: Option<Moderation>,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ModelView {
    pub model: Model,
    pub holders: Vec<ShareHolding>,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ModelPage {
    pub models: Vec<ModelView>,
    /// Pass as `start` to get the next page; `None` when this was the last page.
    pub next: Option<ModelId>,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct HeldShares {
    pub model: ModelId,
    pub units: u64,
    pub total_units: u64,
}

/// The holdings of one model as they were in one epoch; receipts metered in the epoch are credited by it.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ShareTable {
    pub model: ModelId,
    pub epoch: u64,
    pub starts_at: u64,
    pub holders: Vec<ShareHolding>,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TransferSharesArgs {
    pub model: ModelId,
    pub from_subaccount: Option<Subaccount>,
    pub to: Account,
    pub units: u64,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum RegistryError {
    AnonymousCaller,
    NotModelManager {
        model: ModelId,
    },
    UnknownModel {
        model: ModelId,
    },
    InvalidArgument {
        field: String,
        reason: String,
    },
    InsufficientShares {
        held: u64,
        requested: u64,
    },
    /// The caller already manages the most models one principal may.
    TooManyModels {
        max: u64,
    },
    /// The caller made the most registry changes one principal may make in a minute.
    RateLimited {
        changes_per_minute: u32,
    },
    /// The DAO suspended or delisted the model: its manager cannot change its status.
    Moderated {
        model: ModelId,
        status: ModelStatus,
    },
}

/// Basis points of every receipt for each stakeholder class; the four parts sum to 10,000.
#[derive(CandidType, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct SplitConfig {
    pub host_bps: u16,
    pub model_owners_bps: u16,
    pub data_owners_bps: u16,
    pub treasury_bps: u16,
}

impl SplitConfig {
    pub fn total_bps(&self) -> u32 {
        self.host_bps as u32
            + self.model_owners_bps as u32
            + self.data_owners_bps as u32
            + self.treasury_bps as u32
    }
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SplitRecord {
    pub version: SplitVersion,
    pub split: SplitConfig,
    /// `None` for the split given at install time.
    pub proposal_id: Option<ProposalId>,
    pub set_at: u64,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SetSplitArgs {
    pub proposal_id: ProposalId,
    pub split: SplitConfig,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum SplitError {
    NotGovernance,
    InvalidSplit {
        total_bps: u32,
    },
    /// This caller's proposal was applied with this very split: done before.
    ProposalAlreadyApplied {
        proposal_id: ProposalId,
        version: SplitVersion,
    },
    /// This caller's proposal id was applied with another payload: nothing changed.
    ProposalConflict {
        proposal_id: ProposalId,
    },
}

/// One metered inference, as the inference proxy charged it.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    pub id: ReceiptId,
    pub user: Principal,
    pub model: ModelId,
    pub node_operator: Account,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub amount: u64,
    pub split_version: SplitVersion,
    pub metered_at: u64,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SettleArgs {
    pub batch_id: BatchId,
    /// The ledger block of the proxy's transfer of the batch total to this canister.
    pub funding_block: Nat,
    pub receipts: Vec<Receipt>,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SettleOk {
    pub batch_id: BatchId,
    pub log_index: u64,
    pub settled_receipts: u32,
    /// Receipts skipped because an earlier batch already settled them.
    pub duplicate_receipts: Vec<ReceiptId>,
    pub settled_amount: u128,
    /// True when this batch id had been settled before and nothing changed now.
    pub already_settled: bool,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum SettleError {
    NotInferenceProxy,
    EmptyBatch,
    TooManyReceipts {
        max: u32,
    },
    DuplicateReceiptInBatch {
        receipt: ReceiptId,
    },
    /// A batch lists its receipts by increasing id (the proxy numbers and batches them in order).
    ReceiptsOutOfOrder {
        receipt: ReceiptId,
        after: ReceiptId,
    },
    /// Beyond the permitted clock drift: the proxy offers the batch again later.
    MeteredInFuture {
        receipt: ReceiptId,
        metered_at: u64,
        now: u64,
    },
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct StakeholderBalance {
    /// Claimable now.
    pub available: u128,
    /// Everything ever credited.
    pub credited_total: u128,
    /// Debited for payouts whose outcome is not yet final (amount + fee).
    pub in_flight: u128,
    /// Debited for completed payouts (amount + fee).
    pub paid_total: u128,
    /// The fractional part of the exact entitlement, over [`ENTITLEMENT_DENOMINATOR`].
    pub entitlement_remainder: u128,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ClaimArgs {
    pub from_subaccount: Option<Subaccount>,
    /// Where to send; the claiming account itself when `None`.
    pub to: Option<Account>,
}

#[derive(CandidType, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayoutKind {
    Claim,
    Automatic,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum PayoutStatus {
    /// Recorded; the transfer's outcome is not known yet and it is retried with the identical payload.
    Pending,
    Completed {
        block_index: Nat,
    },
    /// Definitely not executed; the accrual was restored.
    Failed {
        reason: String,
    },
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Payout {
    pub id: PayoutId,
    pub kind: PayoutKind,
    /// Whose accrual pays for it.
    pub account: Account,
    pub to: Account,
    /// The accrual debited for this payout: `amount + fee` whatever the ledger fee turns out to be.
    pub gross: u128,
    /// Sent to `to`, and the ledger fee, under the current payload (final once completed: a fee change
    /// while pending is borne by the recipient).
    pub amount: u128,
    pub fee: u128,
    /// The memo's first bytes (the ledger-adapter outbox appends the payload generation).
    pub memo: ByteBuf,
    /// The ledger-adapter outbox intent that carries the transfer.
    pub intent: u64,
    pub status: PayoutStatus,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum ClaimError {
    AnonymousCaller,
    /// Another claim by this caller is in progress.
    AlreadyProcessing,
    NothingToClaim,
    BelowFee {
        available: u128,
        fee: u128,
    },
    /// The destination is the ledger's minting account: a payment there would be a burn.
    MintingAccountDestination,
    /// The ledger definitely refused the transfer; the accrual is restored.
    TransferFailed {
        payout: PayoutId,
        reason: String,
    },
    /// The ledger's fee could not be fetched; nothing was recorded.
    LedgerUnavailable {
        reason: String,
    },
    /// `cap` claims are in flight: try again shortly; nothing changed.
    Busy {
        cap: u32,
    },
}

/// Everything the canister owes, by kind.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct Liabilities {
    pub available: u128,
    pub in_flight: u128,
    /// Settled but not yet whole units of anyone: the sum of every account's fractional entitlement.
    pub undistributed: u128,
    pub total: u128,
    pub settled_total: u128,
    pub paid_total: u128,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct AuditReport {
    pub ledger_balance: u128,
    pub liabilities: Liabilities,
    /// `ledger_balance - liabilities.total`: zero when everything agrees.
    pub surplus: candid::Int,
    pub agrees: bool,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum AuditError {
    /// Inter-canister calls skip `inspect_message`: the method refuses the anonymous caller itself.
    AnonymousCaller,
    LedgerUnavailable {
        reason: String,
    },
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct InitArgs {
    pub ledger: Principal,
    pub governance: Principal,
    pub inference_proxy: Principal,
    pub treasury: Account,
    pub split: SplitConfig,
    /// Accruals of at least `auto_payout_fee_multiple × ledger fee` are pushed by the payout timer.
    pub auto_payout_fee_multiple: u64,
    pub payout_interval_seconds: u64,
}

impl InitArgs {
    /// The launch defaults: host 30%, model owners 50%, data owners 10%, treasury 10%; payouts pushed
    /// from 10 × the ledger fee, checked every minute.
    pub fn with_defaults(
        ledger: Principal,
        governance: Principal,
        inference_proxy: Principal,
        treasury: Account,
    ) -> Self {
        Self {
            ledger,
            governance,
            inference_proxy,
            treasury,
            split: SplitConfig {
                host_bps: 3_000,
                model_owners_bps: 5_000,
                data_owners_bps: 1_000,
                treasury_bps: 1_000,
            },
            auto_payout_fee_multiple: 10,
            payout_interval_seconds: 60,
        }
    }
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct UpgradeArgs {
    pub governance: Option<Principal>,
    pub inference_proxy: Option<Principal>,
    pub treasury: Option<Account>,
    pub auto_payout_fee_multiple: Option<u64>,
    pub payout_interval_seconds: Option<u64>,
}

/// The canister's single install/upgrade argument (one type, so dfx can check both against the `.did`).
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum RoyaltiesArg {
    Init(InitArgs),
    Upgrade(Option<UpgradeArgs>),
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct RoyaltiesConfig {
    pub ledger: Principal,
    pub governance: Principal,
    pub inference_proxy: Principal,
    pub treasury: Account,
    pub auto_payout_fee_multiple: u64,
    pub payout_interval_seconds: u64,
    pub ledger_fee: Option<u128>,
    pub current_split: SplitRecord,
}

/// `ceil((input × per_1k_input + output × per_1k_output) / 1000)`, exactly; `None` if it overflows.
pub fn price_of(price: &Price, input_tokens: u64, output_tokens: u64) -> Option<u128> {
    let input = input_tokens as u128 * price.per_1k_input_tokens as u128;
    let output = output_tokens as u128 * price.per_1k_output_tokens as u128;
    Some(input.checked_add(output)?.div_ceil(1_000))
}
