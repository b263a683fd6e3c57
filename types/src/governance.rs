//! The governance canister's Candid types: neurons, proposals and their typed actions, parameters,
//! errors. Token amounts are in the governance token's smallest unit (e8s).

use crate::proxy::ProxyLimits;
use crate::royalties::{ModelId, ModerationAction, PayoutSettings, SplitConfig};
use crate::Account;
use candid::{CandidType, Deserialize, Principal};
use serde_bytes::ByteBuf;

pub type NeuronId = u64;
pub use crate::ProposalId;

mod neuron;
pub use neuron::*;

/// What a proposal is about; following and the rules that judge it are per topic.
#[derive(CandidType, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Topic {
    /// Only for following: the followees used on every normal topic a neuron has no followees for.
    CatchAll,
    Motion,
    /// Admitting and suspending nodes.
    NodeAdmission,
    NodeRemoval,
    RoyaltySplit,
    NetworkFees,
    Treasury,
    GovernanceParameters,
    CanisterUpgrades,
    /// Calls of the methods the DAO registered (`ExecuteGenericFunction`).
    GenericFunctions,
    /// Suspending, delisting and reinstating models (`ModerateModel`). Not critical: a harmful
    /// model must be stoppable within the normal voting period.
    ModelModeration,
    /// The proxy's limits and royalties' payout settings.
    ServiceSettings,
}

impl Topic {
    pub const ALL: [Topic; 12] = [
        Topic::CatchAll,
        Topic::Motion,
        Topic::NodeAdmission,
        Topic::NodeRemoval,
        Topic::RoyaltySplit,
        Topic::NetworkFees,
        Topic::Treasury,
        Topic::GovernanceParameters,
        Topic::CanisterUpgrades,
        Topic::GenericFunctions,
        Topic::ModelModeration,
        Topic::ServiceSettings,
    ];

    /// Critical topics need a larger share of all voting power, a larger majority and a longer
    /// voting period, and ignore catch-all following.
    pub fn is_critical(self) -> bool {
        !matches!(
            self,
            Topic::CatchAll | Topic::Motion | Topic::NodeAdmission | Topic::ModelModeration
        )
    }

    pub fn code(self) -> u8 {
        Topic::ALL
            .iter()
            .position(|t| *t == self)
            .expect("every topic is in ALL") as u8
    }
}

/// Which canister an `UpgradeCanister` proposal installs code on.
#[derive(CandidType, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpgradeTarget {
    Royalties,
    InferenceProxy,
    /// The ledger of the token royalties pays in (when the system deployed it).
    PaymentLedger,
    /// The ledger neurons stake on.
    GovernanceLedger,
    /// Governance itself: installed by the root canister (governance's only controller), which
    /// stops governance, installs the module from its own chunk store and starts it again.
    Governance,
    /// The root canister (governance is its only controller).
    Root,
    /// The canister serving the web app.
    Frontend,
}

/// A module too large for one message: staged beforehand in ≤ 1 MiB chunks
/// (`stage_wasm_chunk`), named here by their hashes, in order.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ChunkedWasm {
    /// SHA-256 of the whole module (the chunks' concatenation; gzip-compressed or not).
    pub wasm_module_hash: ByteBuf,
    /// SHA-256 of each chunk, in the module's order; each staged by the proposing neuron.
    pub chunk_hashes: Vec<ByteBuf>,
}

/// A method of another canister the DAO registered by proposal, which `ExecuteGenericFunction`
/// proposals call with a Candid payload (the SNS's generic nervous-system functions).
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct GenericFunction {
    /// The id of the proposal that registered it.
    pub id: u64,
    /// Unique among the registered functions.
    pub name: String,
    pub description: String,
    pub target: Principal,
    /// Called with the payload as its Candid arguments when a proposal is adopted.
    pub method: String,
    /// A method of `target` called with the same payload when a proposal is made and again just
    /// before it executes; answers `variant { Ok : text; Err : text }`: the payload as voters should
    /// read it, or why it must not be called.
    pub validator: String,
}

/// What an adopted proposal does.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// A statement of opinion: adopted or rejected, nothing executes.
    Motion {
        text: String,
    },
    /// Royalties applies this split to receipts metered after it (`set_split`).
    SetRoyaltySplit {
        split: SplitConfig,
    },
    /// The proxy's per-call fee (`set_call_fee`).
    SetCallFee {
        call_fee: u128,
    },
    AdmitNode {
        node: u64,
    },
    SuspendNode {
        node: u64,
    },
    RemoveNode {
        node: u64,
    },
    /// Pays from the DAO treasury (governance's treasury subaccount on the payment ledger); capped per
    /// rolling 7 days, checked at submission and again at execution.
    TransferTreasury {
        to: Account,
        amount: u128,
    },
    SetGovernanceParameters {
        parameters: Parameters,
    },
    /// Installs a module on the target in upgrade mode with `arg`; the proposal shows the module's
    /// SHA-256 and the argument's SHA-256 and Candid text. The module is either `wasm` itself (one
    /// that fits in a message) or, with `wasm` empty, the chunks `chunked_wasm` names (any size up
    /// to [`MAX_MODULE_BYTES`]). Either way it travels to the target as chunks
    /// (`upload_chunk`, `install_chunked_code`) and execution refuses a module whose SHA-256 is not
    /// the proposal's.
    UpgradeCanister {
        target: UpgradeTarget,
        wasm: ByteBuf,
        arg: ByteBuf,
        chunked_wasm: Option<ChunkedWasm>,
    },
    /// Registers a generic function (its id: this proposal's). Neither governance, root, the
    /// ledgers nor the management canister may be its target.
    RegisterGenericFunction {
        name: String,
        description: String,
        target: Principal,
        method: String,
        validator: String,
    },
    /// Removes a registered generic function; proposals that would call it fail.
    RemoveGenericFunction {
        function: u64,
    },
    /// Calls `function`'s method with `payload` (Candid bytes of its arguments). The function's
    /// validator renders the payload for voters when the proposal is made and checks it again at
    /// execution; a refusal either time changes nothing.
    ExecuteGenericFunction {
        function: u64,
        payload: ByteBuf,
    },
    /// Suspends, delists or reinstates a model (royalties' `moderate_model`); the reason is kept
    /// with the model and in the settlement log.
    ModerateModel {
        model: ModelId,
        action: ModerationAction,
        reason: String,
    },
    /// Royalties' payout settings (`set_payout_settings`).
    SetPayoutSettings {
        settings: PayoutSettings,
    },
    /// The proxy's limits (`set_limits`), within the bounds `ProxyLimits::validate` names.
    SetProxyLimits {
        limits: ProxyLimits,
    },
}

/// The most bytes a generic function's payload may have.
pub const MAX_GENERIC_PAYLOAD_BYTES: usize = 64 * 1024;
/// The most bytes of a validator's rendering of a payload.
pub const MAX_VALIDATOR_TEXT_BYTES: usize = 8 * 1024;
/// The most generic functions registered at once.
pub const MAX_GENERIC_FUNCTIONS: usize = 100;

impl Action {
    pub fn topic(&self) -> Topic {
        match self {
            Action::Motion { .. } => Topic::Motion,
            Action::SetRoyaltySplit { .. } => Topic::RoyaltySplit,
            Action::SetCallFee { .. } => Topic::NetworkFees,
            Action::AdmitNode { .. } | Action::SuspendNode { .. } => Topic::NodeAdmission,
            Action::RemoveNode { .. } => Topic::NodeRemoval,
            Action::TransferTreasury { .. } => Topic::Treasury,
            Action::SetGovernanceParameters { .. } => Topic::GovernanceParameters,
            Action::UpgradeCanister { .. } => Topic::CanisterUpgrades,
            Action::RegisterGenericFunction { .. } | Action::RemoveGenericFunction { .. } => {
                Topic::GovernanceParameters
            }
            Action::ExecuteGenericFunction { .. } => Topic::GenericFunctions,
            Action::ModerateModel { .. } => Topic::ModelModeration,
            Action::SetPayoutSettings { .. } | Action::SetProxyLimits { .. } => {
                Topic::ServiceSettings
            }
        }
    }
}

/// How a proposal of a class of topics is judged. A proposal copies its rules when it is made.
#[derive(CandidType, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct VotingRules {
    pub voting_period_seconds: u64,
    /// At the deadline, yes must be at least this share of all voting power (basis points).
    pub quorum_bps: u16,
    /// Yes must be more than this share of the votes cast at the deadline, or of all voting power for
    /// an early decision (basis points).
    pub majority_bps: u16,
    /// A vote that flips the outcome moves the deadline to at least now + this.
    pub wait_for_quiet_seconds: u64,
    /// Wait-for-quiet never extends the deadline by more than this in total.
    pub max_extension_seconds: u64,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Parameters {
    /// The smallest stake a neuron may have.
    pub min_stake: u64,
    /// Neurons vote and propose only with at least this dissolve delay.
    pub min_dissolve_delay_seconds: u64,
    pub max_dissolve_delay_seconds: u64,
    /// The voting-power bonus at the maximum dissolve delay (basis points; 10,000 = ×2).
    pub max_dissolve_delay_bonus_bps: u16,
    pub max_age_for_bonus_seconds: u64,
    /// The voting-power bonus at the maximum age (basis points).
    pub max_age_bonus_bps: u16,
    /// Charged to the proposer's neuron; refunded when the proposal is adopted.
    pub reject_cost: u64,
    pub max_open_proposals_per_neuron: u32,
    pub max_followees_per_topic: u32,
    pub normal: VotingRules,
    pub critical: VotingRules,
    /// The most `TransferTreasury` may move in any 7 days, in the payment token.
    pub treasury_cap_per_7_days: u128,
    /// A proposal whose total voting power exceeds this multiple (basis points) of the smallest total
    /// of the proposals made in the last 7 days is judged with that proposal's ballots instead.
    pub voting_power_spike_bps: u32,
}

const DAY_SECONDS: u64 = 24 * 3_600;

/// The IC's limit on one chunk of a chunked module (`upload_chunk`).
pub const MAX_CHUNK_BYTES: usize = 1024 * 1024;
/// The largest module an upgrade proposal may install (staged chunks; the IC allows 100 MiB, a
/// proposal's module is copied once, when the proposal is made, which bounds it lower).
pub const MAX_MODULE_BYTES: usize = 32 * 1024 * 1024;
/// What one neuron may hold staged at once.
pub const MAX_STAGED_BYTES_PER_NEURON: u64 = 2 * MAX_MODULE_BYTES as u64;
/// What all neurons together may hold staged at once.
pub const MAX_STAGED_BYTES: u64 = 1024 * 1024 * 1024;
/// Staged chunks no proposal took are dropped after this long.
pub const STAGED_CHUNK_LIFETIME_SECONDS: u64 = 7 * DAY_SECONDS;

impl Default for Parameters {
    /// The recommended starting point (tokens with 8 decimals): 10-token minimum stake, 30 days to
    /// vote and 4 years at most, up to +100% power for the delay and +25% for 4 years of age, a
    /// 10-token reject cost (at most the minimum stake, so any neuron can propose), 2-day normal
    /// votes (3% quorum, simple majority) and 4-day critical ones (20% quorum, two-thirds majority),
    /// wait-for-quiet of 12 hours / 1 day.
    fn default() -> Self {
        Self {
            min_stake: 1_000_000_000,
            min_dissolve_delay_seconds: 30 * DAY_SECONDS,
            max_dissolve_delay_seconds: 4 * 365 * DAY_SECONDS,
            max_dissolve_delay_bonus_bps: 10_000,
            max_age_for_bonus_seconds: 4 * 365 * DAY_SECONDS,
            max_age_bonus_bps: 2_500,
            reject_cost: 1_000_000_000,
            max_open_proposals_per_neuron: 5,
            max_followees_per_topic: 15,
            normal: VotingRules {
                voting_period_seconds: 2 * DAY_SECONDS,
                quorum_bps: 300,
                majority_bps: 5_000,
                wait_for_quiet_seconds: DAY_SECONDS / 2,
                max_extension_seconds: 2 * DAY_SECONDS,
            },
            critical: VotingRules {
                voting_period_seconds: 4 * DAY_SECONDS,
                quorum_bps: 2_000,
                majority_bps: 6_667,
                wait_for_quiet_seconds: DAY_SECONDS,
                max_extension_seconds: 4 * DAY_SECONDS,
            },
            treasury_cap_per_7_days: 1_000_000_000_000,
            voting_power_spike_bps: 15_000,
        }
    }
}

impl Parameters {
    pub fn rules(&self, topic: Topic) -> VotingRules {
        if topic.is_critical() {
            self.critical
        } else {
            self.normal
        }
    }
}

#[derive(CandidType, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vote {
    Unspecified,
    Yes,
    No,
}

#[derive(CandidType, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ballot {
    pub vote: Vote,
    pub voting_power: u128,
}

#[derive(CandidType, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    pub yes: u128,
    pub no: u128,
    /// All voting power with a ballot.
    pub total: u128,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum ProposalStatus {
    /// Ballots are being written (in chunks, on timers); voting opens when they all are.
    Preparing,
    Open,
    Rejected,
    /// Adopted; waiting for (or retrying) its execution.
    Adopted,
    Executed,
    Failed {
        reason: String,
    },
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ProposalInfo {
    pub id: ProposalId,
    pub proposer: NeuronId,
    pub title: String,
    pub summary: String,
    pub url: String,
    pub topic: Topic,
    /// The action as text, with a wasm shown as its length and SHA-256 and an upgrade argument as its
    /// length, SHA-256 and Candid text.
    pub rendered_action: String,
    pub status: ProposalStatus,
    pub tally: Tally,
    pub rules: VotingRules,
    pub reject_cost: u64,
    pub created_at: u64,
    pub deadline: u64,
    pub decided_at: Option<u64>,
    pub executed_at: Option<u64>,
    /// The proposal whose ballots judge this one after a voting-power spike.
    pub ballots_from: Option<ProposalId>,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct MakeProposalArgs {
    pub neuron: NeuronId,
    pub title: String,
    pub summary: String,
    pub url: String,
    pub action: Action,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum GovernanceError {
    AnonymousCaller,
    NeuronNotFound {
        neuron: NeuronId,
    },
    ProposalNotFound {
        proposal: ProposalId,
    },
    /// The caller is not the neuron's controller, nor a hot key or grantee with the right to do this.
    NotAuthorized,
    InvalidArgument {
        field: String,
        reason: String,
    },
    /// The neuron's dissolve delay is below the minimum to vote or propose.
    DissolveDelayTooShort {
        minimum_seconds: u64,
    },
    StakeBelowMinimum {
        minimum: u64,
    },
    /// The neuron's free stake (stake − fees) cannot pay the reject cost.
    InsufficientStakeForRejectCost {
        reject_cost: u64,
        free: u64,
    },
    TooManyOpenProposals {
        max: u32,
    },
    TooManyFollowees {
        max: u32,
    },
    /// Not eligible: no ballot on this proposal (created after it, or below the minimum delay then).
    NoBallot,
    AlreadyVoted,
    /// The proposal is decided or not open yet.
    VotingClosed,
    TreasuryCapExceeded {
        cap: u128,
        used: u128,
        requested: u128,
    },
    NotDissolved {
        dissolved_at: Option<u64>,
    },
    /// A stake, disbursement, split or merge of this neuron is in progress.
    Busy,
    Overflow,
    /// The ledger definitely refused; nothing changed.
    TransferFailed {
        reason: String,
    },
    /// The transfer's outcome is not known yet; it completes or is undone by itself.
    Pending,
    /// The ledger did not answer a query (a balance); nothing changed.
    LedgerUnavailable {
        reason: String,
    },
    /// The module's SHA-256 is not the one the proposal names.
    WasmHashMismatch {
        expected: ByteBuf,
        actual: ByteBuf,
    },
    /// A chunk the proposal names is not staged by its neuron (never, or expired).
    ChunkNotStaged {
        hash: ByteBuf,
    },
    /// Staging this chunk would pass the neuron's or everyone's quota (bytes).
    StagingQuotaExceeded {
        quota: u64,
        staged: u64,
    },
    GenericFunctionNotFound {
        function: u64,
    },
    /// The generic function's validator refused the payload (or could not be asked); nothing changed.
    GenericValidationFailed {
        reason: String,
    },
}

/// The subaccount of the governance canister that holds neuron `id`'s stake on the governance-token
/// ledger.
pub fn neuron_subaccount(id: NeuronId) -> [u8; 32] {
    let mut sub = [0u8; 32];
    sub[0] = b'N';
    sub[24..].copy_from_slice(&id.to_be_bytes());
    sub
}

/// The subaccount of the governance canister that holds the DAO treasury on the payment ledger
/// (royalties credits the treasury share to it).
pub const TREASURY_SUBACCOUNT: [u8; 32] = {
    let mut sub = [0u8; 32];
    sub[0] = b'T';
    sub
};

/// What the governance canister works with.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct GovernanceConfig {
    /// Where neurons are staked.
    pub governance_ledger: Principal,
    /// Where the treasury is (the token royalties pays in).
    pub payment_ledger: Principal,
    pub royalties: Principal,
    pub inference_proxy: Principal,
    pub parameters: Parameters,
    /// The root canister (governance's controller after the hand-over), which installs
    /// governance's own upgrades.
    pub root: Option<Principal>,
    /// The canister serving the web app.
    pub frontend: Option<Principal>,
}

/// The install and upgrade argument (one type, so dfx checks both against the `.did`).
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum GovernanceArg {
    Init(GovernanceConfig),
    Upgrade(Option<GovernanceUpgrade>),
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct GovernanceUpgrade {
    pub royalties: Option<Principal>,
    pub inference_proxy: Option<Principal>,
    pub root: Option<Principal>,
    pub frontend: Option<Principal>,
}

impl GovernanceConfig {
    /// The configuration after an upgrade that names new targets (the rest stays).
    pub fn upgraded(mut self, upgrade: GovernanceUpgrade) -> Self {
        if let Some(royalties) = upgrade.royalties {
            self.royalties = royalties;
        }
        if let Some(proxy) = upgrade.inference_proxy {
            self.inference_proxy = proxy;
        }
        if upgrade.root.is_some() {
            self.root = upgrade.root;
        }
        if upgrade.frontend.is_some() {
            self.frontend = upgrade.frontend;
        }
        self
    }

    /// The canister an upgrade of `target` installs on (`None`: not part of this deployment).
    pub fn canister_of(&self, target: UpgradeTarget, governance: Principal) -> Option<Principal> {
        match target {
            UpgradeTarget::Royalties => Some(self.royalties),
            UpgradeTarget::InferenceProxy => Some(self.inference_proxy),
            UpgradeTarget::PaymentLedger => Some(self.payment_ledger),
            UpgradeTarget::GovernanceLedger => Some(self.governance_ledger),
            UpgradeTarget::Governance => Some(governance),
            UpgradeTarget::Root => self.root,
            UpgradeTarget::Frontend => self.frontend,
        }
    }

    /// Why a generic function may not call `target`, if it may not: governance, root and the ledgers
    /// have typed actions with their own checks (a generic call could, say, move the treasury past
    /// its cap), and the management canister would bypass the upgrade checks.
    pub fn generic_target_refusal(
        &self,
        target: Principal,
        governance: Principal,
    ) -> Option<&'static str> {
        if target == Principal::management_canister() {
            Some("the management canister")
        } else if target == governance || Some(target) == self.root {
            Some("governance or root")
        } else if target == self.payment_ledger || target == self.governance_ledger {
            Some("a ledger of the system")
        } else if target == Principal::anonymous() {
            Some("the anonymous principal")
        } else {
            None
        }
    }
}

/// One chunk of a module for an upgrade proposal, staged by a neuron that may propose.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct StageChunkArgs {
    pub neuron: NeuronId,
    /// At most [`MAX_CHUNK_BYTES`].
    pub chunk: ByteBuf,
}

/// A staged chunk, as `staged_chunks` lists it.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct StagedChunk {
    pub hash: ByteBuf,
    pub bytes: u64,
    /// Nanoseconds; dropped [`STAGED_CHUNK_LIFETIME_SECONDS`] later unless a proposal takes it.
    pub staged_at: u64,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ListProposalsArgs {
    /// Newest first, strictly before this id.
    pub before: Option<ProposalId>,
    pub limit: u32,
    pub topic: Option<Topic>,
    /// `Preparing`, `Open`, `Rejected`, `Adopted`, `Executed` or `Failed`.
    pub status: Option<String>,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ProposalDetail {
    pub info: ProposalInfo,
    /// A page of ballots (neuron, ballot) by neuron id.
    pub ballots: Vec<(NeuronId, Ballot)>,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TreasuryView {
    pub account: Account,
    pub ledger_balance: u128,
    pub cap_per_7_days: u128,
    pub used_last_7_days: u128,
}

/// What one run of governance's job did.
#[derive(CandidType, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct JobReport {
    pub ballots_written: u64,
    pub followers_evaluated: u64,
    pub decided: Vec<ProposalId>,
    pub transfers_driven: u64,
    pub executions_attempted: Vec<ProposalId>,
    /// The work budget ran out with ballots or followers left (the next run continues).
    pub work_left: bool,
}
