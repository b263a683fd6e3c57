//! The governance state and its transitions. Everything lives in stable structures; nothing here calls
//! the IC. Work that grows with the number of neurons (writing a proposal's ballots, following
//! cascades) is done in bounded steps by [`Governance::advance`], which the canister runs on timers.

use crate::memory::*;
use crate::power::{self, nanos, NANOS_PER_SECOND};
use candid::{CandidType, Deserialize, Principal};
use ic_stable_structures::memory_manager::{MemoryManager, VirtualMemory};
use ic_stable_structures::{DefaultMemoryImpl, StableBTreeMap, StableCell};
use neuranft_types::governance::*;
use neuranft_types::storable::Candid;
use neuranft_types::BASIS_POINTS;
use serde_bytes::ByteBuf;
use sha2::{Digest, Sha256};

type Mem = VirtualMemory<DefaultMemoryImpl>;

const BPS: u128 = BASIS_POINTS as u128;
const SEVEN_DAYS: u64 = 7 * 24 * 3_600 * NANOS_PER_SECOND;
pub const MAX_HOT_KEYS: usize = 10;
pub const MAX_TITLE_BYTES: usize = 256;
pub const MAX_SUMMARY_BYTES: usize = 15_000;
pub const MAX_URL_BYTES: usize = 2_048;
pub const MAX_WASM_BYTES: usize = 3 * 1024 * 1024;
/// An adopted proposal whose target gives no definite answer this many times is Failed: a target
/// that keeps trapping, stays stopped or cannot be stopped must not be called forever.
pub const MAX_EXECUTION_ATTEMPTS: u32 = 10;
/// The wait after the first attempt without a definite answer; it doubles after each, so the attempts
/// span about 85 minutes: a target stopped for its own upgrade is not given up on at once.
pub const FIRST_RETRY_DELAY_SECONDS: u64 = 10;

#[derive(CandidType, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
struct Counters {
    next_neuron: NeuronId,
    next_proposal: ProposalId,
    next_memo: u64,
}

/// Where a proposal's ballot writing stands.
#[derive(CandidType, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Ballots of neurons with id ≥ `next` are still to be written from their voting power at creation.
    Writing {
        next: NeuronId,
    },
    /// The voting power spiked: ballot powers are being replaced, from `next` on, by those of `from`.
    Rebasing {
        next: NeuronId,
        from: ProposalId,
    },
    Done,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
struct ProposalRecord {
    info: ProposalInfo,
    /// The action, with an upgrade's wasm left out (it is in `PROPOSAL_WASMS`).
    action: Action,
    phase: Phase,
}

/// Bounded work, in units of one ballot written or rebased; a follower evaluated costs
/// [`FOLLOWER_COST`].
pub type Budget = u64;
pub const FOLLOWER_COST: Budget = 2;

/// Work done by one [`Governance::advance`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub ballots_written: u64,
    pub followers_evaluated: u64,
    pub decided: Vec<ProposalId>,
    /// `false` when the budget ran out with work left.
    pub finished: bool,
}

pub struct Governance {
    parameters: StableCell<Candid<Option<Parameters>>, Mem>,
    counters: StableCell<Candid<Counters>, Mem>,
    neurons: StableBTreeMap<NeuronId, Candid<Neuron>, Mem>,
    followers: StableBTreeMap<(u8, NeuronId, NeuronId), (), Mem>,
    proposals: StableBTreeMap<ProposalId, Candid<ProposalRecord>, Mem>,
    ballots: StableBTreeMap<(ProposalId, NeuronId), [u8; 17], Mem>,
    wasms: StableBTreeMap<ProposalId, Vec<u8>, Mem>,
    open_by_neuron: StableBTreeMap<(NeuronId, ProposalId), (), Mem>,
    follow_queue: StableBTreeMap<u64, [u8; 25], Mem>,
    unfinished: StableBTreeMap<ProposalId, (), Mem>,
    treasury_transfers: StableBTreeMap<(u64, ProposalId), u128, Mem>,
    by_principal: StableBTreeMap<(Principal, NeuronId), (), Mem>,
    voting_states: StableBTreeMap<NeuronId, [u8; 41], Mem>,
    followee_lists: StableBTreeMap<(u8, NeuronId), Followees, Mem>,
    follow_sequence: StableCell<u64, Mem>,
    execution_attempts: StableBTreeMap<ProposalId, [u8; 12], Mem>,
    /// Neurons with a stake or disbursement in flight (heap: nothing is in flight across an upgrade).
    neurons_in_flight: std::collections::BTreeSet<NeuronId>,
}

/// A neuron's followees on one topic, packed as big-endian ids.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Followees(Vec<NeuronId>);

impl ic_stable_structures::Storable for Followees {
    fn to_bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Owned(self.0.iter().flat_map(|id| id.to_be_bytes()).collect())
    }

    fn into_bytes(self) -> Vec<u8> {
        self.to_bytes().into_owned()
    }

    fn from_bytes(bytes: std::borrow::Cow<[u8]>) -> Self {
        Followees(
            bytes
                .chunks_exact(8)
                .map(|c| u64::from_be_bytes(c.try_into().expect("8 bytes")))
                .collect(),
        )
    }

    const BOUND: ic_stable_structures::storable::Bound =
        ic_stable_structures::storable::Bound::Bounded {
            max_size: 8 * 50,
            is_fixed_size: false,
        };
}

fn encode_ballot(b: Ballot) -> [u8; 17] {
    let mut out = [0u8; 17];
    out[0] = match b.vote {
        Vote::Unspecified => 0,
        Vote::Yes => 1,
        Vote::No => 2,
    };
    out[1..].copy_from_slice(&b.voting_power.to_be_bytes());
    out
}

fn decode_ballot(bytes: [u8; 17]) -> Ballot {
    let mut power = [0u8; 16];
    power.copy_from_slice(&bytes[1..]);
    Ballot {
        vote: match bytes[0] {
            1 => Vote::Yes,
            2 => Vote::No,
            _ => Vote::Unspecified,
        },
        voting_power: u128::from_be_bytes(power),
    }
}

/// Followers of `voter` on `topic` still to evaluate for `proposal`, from follower id `next` on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FollowWork {
    proposal: ProposalId,
    voter: NeuronId,
    topic: u8,
    next: NeuronId,
}

impl FollowWork {
    fn encode(&self) -> [u8; 25] {
        let mut out = [0u8; 25];
        out[..8].copy_from_slice(&self.proposal.to_be_bytes());
        out[8..16].copy_from_slice(&self.voter.to_be_bytes());
        out[16] = self.topic;
        out[17..].copy_from_slice(&self.next.to_be_bytes());
        out
    }

    fn decode(b: [u8; 25]) -> Self {
        let word =
            |r: std::ops::Range<usize>| u64::from_be_bytes(b[r].try_into().expect("8 bytes"));
        Self {
            proposal: word(0..8),
            voter: word(8..16),
            topic: b[16],
            next: word(17..25),
        }
    }
}

fn invalid(field: &str, reason: impl Into<String>) -> GovernanceError {
    GovernanceError::InvalidArgument {
        field: field.into(),
        reason: reason.into(),
    }
}

const HOUR_SECONDS: u64 = 3_600;
const DAY_SECONDS: u64 = 24 * HOUR_SECONDS;
const E8S: u64 = 100_000_000;

// The ranges `validate_parameters` enforces. Each exists so that no single adopted
// `SetGovernanceParameters` can stop governance from adopting the next one (the fix included), and so
// that every product of a parameter with the time or a stake stays far from `u64`/`u128` overflow.

/// Long enough for holders to notice a proposal at all; short enough that a fix is voted on within a
/// month.
pub const VOTING_PERIOD_SECONDS: std::ops::RangeInclusive<u64> = HOUR_SECONDS..=30 * DAY_SECONDS;
/// Wait-for-quiet may add at most this in total to a deadline.
pub const MAX_EXTENSION_SECONDS: u64 = 30 * DAY_SECONDS;
/// Eight years of 365.25 days: the NNS's longest lock.
pub const MAX_DISSOLVE_DELAY_SECONDS: u64 = 2_922 * DAY_SECONDS;
/// +100% at most for the dissolve delay and for the age (so at most ×4 in all).
pub const MAX_BONUS_BPS: u16 = 10_000;
/// At most 90% of the votes cast: blocking a proposal takes at least 10% of them voting no.
pub const MAJORITY_BPS: std::ops::RangeInclusive<u16> = 5_000..=9_000;
/// At most half of all voting power must vote yes: abstainers alone cannot block every proposal.
pub const MAX_QUORUM_BPS: u16 = 5_000;
/// 1,000 tokens: staking a neuron must stay within reach of ordinary holders.
pub const MAX_MIN_STAKE: u64 = 1_000 * E8S;
/// Each open proposal writes a ballot per neuron: the work one neuron can cause stays bounded.
pub const MAX_OPEN_PROPOSALS_PER_NEURON: u32 = 50;
/// The packed followee lists are bounded to 50 ids.
pub const MAX_FOLLOWEES_PER_TOPIC: u32 = 50;
/// From ×1 (every growth is a spike) to ×10.
pub const VOTING_POWER_SPIKE_BPS: std::ops::RangeInclusive<u32> = 10_000..=100_000;

fn check_range<T: PartialOrd + std::fmt::Display>(
    field: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
    unit: &str,
) -> Result<(), GovernanceError> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(invalid(
        field,
        format!("{value} is outside {}–{}{unit}", range.start(), range.end()),
    ))
}

fn validate_rules(name: &str, rules: &VotingRules) -> Result<(), GovernanceError> {
    let field = |f: &str| format!("{name}.{f}");
    check_range(
        &field("voting_period_seconds"),
        rules.voting_period_seconds,
        VOTING_PERIOD_SECONDS,
        " seconds",
    )?;
    check_range(
        &field("wait_for_quiet_seconds"),
        rules.wait_for_quiet_seconds,
        0..=rules.voting_period_seconds,
        " seconds (at most the voting period)",
    )?;
    check_range(
        &field("max_extension_seconds"),
        rules.max_extension_seconds,
        0..=MAX_EXTENSION_SECONDS,
        " seconds",
    )?;
    check_range(
        &field("majority_bps"),
        rules.majority_bps,
        MAJORITY_BPS,
        " bps",
    )?;
    // With the majority at least 50%, the quorum never exceeds it: an early decision (by the
    // majority of all power) always agrees with the deadline rule.
    check_range(
        &field("quorum_bps"),
        rules.quorum_bps,
        0..=MAX_QUORUM_BPS,
        " bps",
    )
}

/// Checks parameters a proposal (or the installer) sets: every field within its documented range.
///
/// The reject cost is at most the minimum stake, so every neuron that can be staked can pay it: no
/// parameters can leave governance without anyone able to propose. It is also positive: it is the only
/// price of a proposal, and each proposal writes a ballot per neuron at the DAO's expense.
pub fn validate_parameters(p: &Parameters) -> Result<(), GovernanceError> {
    for (name, rules) in [("normal", &p.normal), ("critical", &p.critical)] {
        validate_rules(name, rules)?;
    }
    if p.critical.majority_bps < p.normal.majority_bps
        || p.critical.quorum_bps < p.normal.quorum_bps
        || p.critical.voting_period_seconds < p.normal.voting_period_seconds
    {
        return Err(invalid(
            "critical",
            "critical topics must be at least as demanding as normal ones",
        ));
    }
    check_range(
        "max_dissolve_delay_seconds",
        p.max_dissolve_delay_seconds,
        0..=MAX_DISSOLVE_DELAY_SECONDS,
        " seconds",
    )?;
    check_range(
        "min_dissolve_delay_seconds",
        p.min_dissolve_delay_seconds,
        0..=p.max_dissolve_delay_seconds,
        " seconds (at most the maximum delay)",
    )?;
    check_range(
        "max_age_for_bonus_seconds",
        p.max_age_for_bonus_seconds,
        0..=MAX_DISSOLVE_DELAY_SECONDS,
        " seconds",
    )?;
    check_range(
        "max_dissolve_delay_bonus_bps",
        p.max_dissolve_delay_bonus_bps,
        0..=MAX_BONUS_BPS,
        " bps",
    )?;
    check_range(
        "max_age_bonus_bps",
        p.max_age_bonus_bps,
        0..=MAX_BONUS_BPS,
        " bps",
    )?;
    check_range("min_stake", p.min_stake, 1..=MAX_MIN_STAKE, " e8s")?;
    check_range(
        "reject_cost",
        p.reject_cost,
        1..=p.min_stake,
        " e8s (at most the minimum stake)",
    )?;
    check_range(
        "max_open_proposals_per_neuron",
        p.max_open_proposals_per_neuron,
        1..=MAX_OPEN_PROPOSALS_PER_NEURON,
        "",
    )?;
    check_range(
        "max_followees_per_topic",
        p.max_followees_per_topic,
        1..=MAX_FOLLOWEES_PER_TOPIC,
        "",
    )?;
    check_range(
        "treasury_cap_per_7_days",
        p.treasury_cap_per_7_days,
        1..=u128::MAX,
        "",
    )?;
    check_range(
        "voting_power_spike_bps",
        p.voting_power_spike_bps,
        VOTING_POWER_SPIKE_BPS,
        " bps",
    )
}

/// The most of an upgrade argument's Candid text a proposal shows; a longer one is not shown at all
/// (a cut could hide exactly the field that matters) and voters see why.
pub const MAX_RENDERED_ARG_BYTES: usize = 8_192;
/// Bounds the work of decoding an argument nobody has checked yet (in Candid's cost units, which
/// count a value decoded without types 50 times): ample for any argument whose text can be shown.
const ARG_DECODING_QUOTA: usize = 2_000_000;

/// An upgrade argument as voters should read it: its Candid text, decoded without types so that no
/// field is left out (field names appear as their Candid hashes), or why it is not shown.
fn render_upgrade_arg(arg: &[u8]) -> String {
    let mut config = candid::DecoderConfig::new();
    config
        .set_decoding_quota(ARG_DECODING_QUOTA)
        .set_skipping_quota(ARG_DECODING_QUOTA);
    match candid::IDLArgs::from_bytes_with_config(arg, &config) {
        Ok(args) => {
            let text = args.to_string();
            if text.len() > MAX_RENDERED_ARG_BYTES {
                format!(
                    "NOT SHOWN: its Candid text has {} bytes, more than {MAX_RENDERED_ARG_BYTES}",
                    text.len()
                )
            } else {
                text
            }
        }
        // The decoder's message may quote the whole input: it is left out.
        Err(_) => "NOT SHOWN: it does not decode as Candid (within the decoding limits)".into(),
    }
}

/// The text a proposal shows for its action; a wasm appears as its length and SHA-256, an upgrade
/// argument as its length, SHA-256 and Candid text.
pub fn render_action(action: &Action) -> String {
    match action {
        Action::UpgradeCanister { target, wasm, arg } => format!(
            "UpgradeCanister {{ target: {target:?}, wasm: {} bytes, sha256 {}, arg: {} bytes, sha256 {}, arg as Candid: {} }}",
            wasm.len(),
            hex::encode(Sha256::digest(wasm)),
            arg.len(),
            hex::encode(Sha256::digest(arg)),
            render_upgrade_arg(arg),
        ),
        other => format!("{other:?}"),
    }
}

impl Governance {
    /// 64 KiB buckets: for native tests, benchmarks and the simulation.
    pub fn open_small(memory: DefaultMemoryImpl) -> Self {
        Self::open_in(&MemoryManager::init_with_bucket_size(memory, 1))
    }

    /// Opens the state in `mm` (memory ids in [`crate::memory`]).
    pub fn open_in(mm: &MemoryManager<DefaultMemoryImpl>) -> Self {
        Self {
            parameters: StableCell::init(mm.get(PARAMETERS_MEMORY_ID), Candid(None)),
            counters: StableCell::init(mm.get(COUNTERS_MEMORY_ID), Candid(Counters::default())),
            neurons: StableBTreeMap::init(mm.get(NEURONS_MEMORY_ID)),
            followers: StableBTreeMap::init(mm.get(FOLLOWERS_MEMORY_ID)),
            proposals: StableBTreeMap::init(mm.get(PROPOSALS_MEMORY_ID)),
            ballots: StableBTreeMap::init(mm.get(BALLOTS_MEMORY_ID)),
            wasms: StableBTreeMap::init(mm.get(PROPOSAL_WASMS_MEMORY_ID)),
            open_by_neuron: StableBTreeMap::init(mm.get(OPEN_BY_NEURON_MEMORY_ID)),
            follow_queue: StableBTreeMap::init(mm.get(FOLLOW_QUEUE_MEMORY_ID)),
            unfinished: StableBTreeMap::init(mm.get(UNFINISHED_MEMORY_ID)),
            treasury_transfers: StableBTreeMap::init(mm.get(TREASURY_TRANSFERS_MEMORY_ID)),
            by_principal: StableBTreeMap::init(mm.get(NEURONS_BY_PRINCIPAL_MEMORY_ID)),
            voting_states: StableBTreeMap::init(mm.get(VOTING_STATES_MEMORY_ID)),
            followee_lists: StableBTreeMap::init(mm.get(FOLLOWEE_LISTS_MEMORY_ID)),
            follow_sequence: StableCell::init(mm.get(FOLLOW_SEQUENCE_MEMORY_ID), 0),
            execution_attempts: StableBTreeMap::init(mm.get(EXECUTION_ATTEMPTS_MEMORY_ID)),
            neurons_in_flight: Default::default(),
        }
    }

    /// Marks a neuron's stake or disbursement in flight; `false` when one already is.
    pub fn try_begin_transfer(&mut self, neuron: NeuronId) -> bool {
        self.neurons_in_flight.insert(neuron)
    }

    pub fn end_transfer(&mut self, neuron: NeuronId) {
        self.neurons_in_flight.remove(&neuron);
    }

    pub fn initialize(&mut self, parameters: Parameters) -> Result<(), GovernanceError> {
        validate_parameters(&parameters)?;
        self.parameters.set(Candid(Some(parameters)));
        Ok(())
    }

    pub fn parameters(&self) -> Parameters {
        self.parameters
            .get()
            .0
            .clone()
            .expect("BUG: governance used before initialization")
    }

    fn counters(&self) -> Counters {
        self.counters.get().0.clone()
    }

    fn update_counters(&mut self, f: impl FnOnce(&mut Counters)) {
        let mut c = self.counters();
        f(&mut c);
        self.counters.set(Candid(c));
    }

    // ------------------------------------------------------------------ neurons

    pub fn neuron(&self, id: NeuronId) -> Option<Neuron> {
        self.neurons.get(&id).map(|c| c.0)
    }

    pub fn neuron_count(&self) -> u64 {
        self.neurons.len()
    }

    /// The neurons `principal` controls or is a hot key of.
    pub fn neurons_of(&self, principal: Principal) -> Vec<Neuron> {
        self.by_principal
            .range((principal, 0)..=(principal, NeuronId::MAX))
            .filter_map(|e| self.neuron(e.key().1))
            .collect()
    }

    /// A number no other ledger transfer of governance's uses, for its memo: two identical transfers
    /// (same amount, accounts and time) must not be deduplicated by the ledger into one.
    pub fn next_memo_seq(&mut self) -> u64 {
        let seq = self.counters().next_memo;
        self.update_counters(|c| c.next_memo += 1);
        seq
    }

    /// Hands out the id (and so the ledger subaccount) of a neuron about to be staked.
    pub fn allocate_neuron_id(&mut self) -> NeuronId {
        let id = self.counters().next_neuron;
        self.update_counters(|c| c.next_neuron += 1);
        id
    }

    /// Creates `count` neurons of controller `controller` without any ledger transfer, each
    /// following `followee` on the catch-all topic if given: for benchmarks only.
    #[cfg(any(test, feature = "bench"))]
    pub fn seed_neurons(
        &mut self,
        controller: Principal,
        count: u64,
        stake: u64,
        followee: Option<NeuronId>,
        now: u64,
    ) {
        for _ in 0..count {
            let id = self.allocate_neuron_id();
            self.create_neuron(id, controller, stake, 365 * 24 * 3_600, now)
                .expect("a fresh id");
            if let Some(f) = followee.filter(|f| *f != id) {
                self.follow(controller, id, Topic::CatchAll, vec![f], now)
                    .expect("the followee exists");
            }
        }
    }

    /// Checks a new neuron's stake before it is pulled from the ledger.
    pub fn check_new_stake(
        &self,
        controller: Principal,
        stake: u64,
    ) -> Result<(), GovernanceError> {
        if controller == Principal::anonymous() {
            return Err(GovernanceError::AnonymousCaller);
        }
        let minimum = self.parameters().min_stake;
        if stake < minimum {
            return Err(GovernanceError::StakeBelowMinimum { minimum });
        }
        Ok(())
    }

    /// Creates neuron `id` once its stake (checked by [`Governance::check_new_stake`]) has arrived in
    /// its subaccount.
    pub fn create_neuron(
        &mut self,
        id: NeuronId,
        controller: Principal,
        stake: u64,
        dissolve_delay_seconds: u64,
        now: u64,
    ) -> Result<Neuron, GovernanceError> {
        let p = self.parameters();
        if self.neurons.contains_key(&id) || id >= self.counters().next_neuron {
            return Err(invalid("neuron", "not a freshly allocated id"));
        }
        if controller == Principal::anonymous() {
            return Err(GovernanceError::AnonymousCaller);
        }
        let neuron = Neuron {
            id,
            controller,
            hot_keys: vec![],
            stake,
            fees: 0,
            dissolve: DissolveState::NotDissolving {
                dissolve_delay_seconds: dissolve_delay_seconds.min(p.max_dissolve_delay_seconds),
            },
            aging_since: now,
            created_at: now,
            followees: vec![],
        };
        self.store_neuron(neuron.clone());
        self.by_principal.insert((controller, id), ());
        Ok(neuron)
    }

    /// The neuron, if `caller` controls it (or, with `hot_key_ok`, is one of its hot keys).
    fn authorized(
        &self,
        caller: Principal,
        id: NeuronId,
        hot_key_ok: bool,
    ) -> Result<Neuron, GovernanceError> {
        if caller == Principal::anonymous() {
            return Err(GovernanceError::AnonymousCaller);
        }
        let neuron = self
            .neuron(id)
            .ok_or(GovernanceError::NeuronNotFound { neuron: id })?;
        if neuron.controller == caller || (hot_key_ok && neuron.hot_keys.contains(&caller)) {
            Ok(neuron)
        } else {
            Err(GovernanceError::NotAuthorized)
        }
    }

    /// Writes the ballots this neuron still owes proposals whose ballots are being written, from its
    /// state before a change: voting power stays the one at each proposal's creation.
    fn freeze_before_change(&mut self, id: NeuronId) {
        let writing: Vec<ProposalId> = self
            .unfinished
            .keys()
            .filter(|p| {
                self.proposals
                    .get(p)
                    .is_some_and(|r| matches!(r.0.phase, Phase::Writing { next } if next <= id))
            })
            .collect();
        if writing.is_empty() {
            return;
        }
        let parameters = self.parameters();
        for p in writing {
            let mut record = self.proposals.get(&p).expect("listed").0;
            self.write_ballot(&mut record, id, &parameters);
            self.proposals.insert(p, Candid(record));
        }
    }

    fn store_neuron(&mut self, neuron: Neuron) {
        self.voting_states
            .insert(neuron.id, power::VotingState::of(&neuron).encode());
        self.neurons.insert(neuron.id, Candid(neuron));
    }

    /// Adds `amount` that arrived in the neuron's subaccount; the age is diluted by the new stake.
    pub fn add_stake(
        &mut self,
        id: NeuronId,
        amount: u64,
        now: u64,
    ) -> Result<Neuron, GovernanceError> {
        let mut neuron = self
            .neuron(id)
            .ok_or(GovernanceError::NeuronNotFound { neuron: id })?;
        let new_stake = neuron
            .stake
            .checked_add(amount)
            .ok_or(GovernanceError::Overflow)?;
        self.freeze_before_change(id);
        if let DissolveState::NotDissolving { .. } = neuron.dissolve {
            let age = now.saturating_sub(neuron.aging_since) as u128;
            let kept = age * neuron.stake as u128 / new_stake.max(1) as u128;
            neuron.aging_since = now.saturating_sub(kept as u64);
        }
        neuron.stake = new_stake;
        self.store_neuron(neuron.clone());
        Ok(neuron)
    }

    pub fn increase_dissolve_delay(
        &mut self,
        caller: Principal,
        id: NeuronId,
        additional_seconds: u64,
        now: u64,
    ) -> Result<Neuron, GovernanceError> {
        let mut neuron = self.authorized(caller, id, false)?;
        if additional_seconds == 0 {
            return Err(invalid("additional_seconds", "must be positive"));
        }
        let max = self.parameters().max_dissolve_delay_seconds;
        self.freeze_before_change(id);
        neuron.dissolve = match neuron.dissolve {
            DissolveState::NotDissolving {
                dissolve_delay_seconds,
            } => DissolveState::NotDissolving {
                dissolve_delay_seconds: dissolve_delay_seconds
                    .saturating_add(additional_seconds)
                    .min(max),
            },
            DissolveState::Dissolving { dissolved_at } => {
                let latest = now.saturating_add(nanos(max));
                DissolveState::Dissolving {
                    dissolved_at: dissolved_at
                        .max(now)
                        .saturating_add(nanos(additional_seconds))
                        .min(latest),
                }
            }
        };
        self.store_neuron(neuron.clone());
        Ok(neuron)
    }

    pub fn start_dissolving(
        &mut self,
        caller: Principal,
        id: NeuronId,
        now: u64,
    ) -> Result<Neuron, GovernanceError> {
        let mut neuron = self.authorized(caller, id, false)?;
        let DissolveState::NotDissolving {
            dissolve_delay_seconds,
        } = neuron.dissolve
        else {
            return Err(invalid("neuron", "already dissolving"));
        };
        self.freeze_before_change(id);
        neuron.dissolve = DissolveState::Dissolving {
            dissolved_at: now.saturating_add(nanos(dissolve_delay_seconds)),
        };
        self.store_neuron(neuron.clone());
        Ok(neuron)
    }

    pub fn stop_dissolving(
        &mut self,
        caller: Principal,
        id: NeuronId,
        now: u64,
    ) -> Result<Neuron, GovernanceError> {
        let mut neuron = self.authorized(caller, id, false)?;
        let DissolveState::Dissolving { .. } = neuron.dissolve else {
            return Err(invalid("neuron", "not dissolving"));
        };
        self.freeze_before_change(id);
        neuron.dissolve = DissolveState::NotDissolving {
            dissolve_delay_seconds: power::dissolve_delay_seconds(&neuron, now),
        };
        neuron.aging_since = now;
        self.store_neuron(neuron.clone());
        Ok(neuron)
    }

    pub fn add_hot_key(
        &mut self,
        caller: Principal,
        id: NeuronId,
        hot_key: Principal,
    ) -> Result<Neuron, GovernanceError> {
        let mut neuron = self.authorized(caller, id, false)?;
        if hot_key == Principal::anonymous() || hot_key == neuron.controller {
            return Err(invalid("hot_key", "anonymous or the controller"));
        }
        if neuron.hot_keys.contains(&hot_key) {
            return Ok(neuron);
        }
        if neuron.hot_keys.len() >= MAX_HOT_KEYS {
            return Err(invalid("hot_key", format!("at most {MAX_HOT_KEYS}")));
        }
        neuron.hot_keys.push(hot_key);
        self.by_principal.insert((hot_key, id), ());
        self.store_neuron(neuron.clone());
        Ok(neuron)
    }

    pub fn remove_hot_key(
        &mut self,
        caller: Principal,
        id: NeuronId,
        hot_key: Principal,
    ) -> Result<Neuron, GovernanceError> {
        let mut neuron = self.authorized(caller, id, false)?;
        neuron.hot_keys.retain(|k| *k != hot_key);
        self.by_principal.remove(&(hot_key, id));
        self.store_neuron(neuron.clone());
        Ok(neuron)
    }

    /// Sets the neuron's followees on `topic` (an empty list stops following on it); the neuron's
    /// followers are evaluated on the next [`Governance::advance`].
    pub fn follow(
        &mut self,
        caller: Principal,
        id: NeuronId,
        topic: Topic,
        followees: Vec<NeuronId>,
        now: u64,
    ) -> Result<Neuron, GovernanceError> {
        let mut neuron = self.authorized(caller, id, true)?;
        let max = self.parameters().max_followees_per_topic;
        let mut unique = followees.clone();
        unique.sort_unstable();
        unique.dedup();
        if unique.len() != followees.len() {
            return Err(invalid("followees", "listed twice"));
        }
        if followees.len() > max as usize {
            return Err(GovernanceError::TooManyFollowees { max });
        }
        if followees.contains(&id) {
            return Err(invalid("followees", "a neuron cannot follow itself"));
        }
        if let Some(missing) = followees.iter().find(|f| !self.neurons.contains_key(f)) {
            return Err(GovernanceError::NeuronNotFound { neuron: *missing });
        }
        let code = topic.code();
        if let Some(i) = neuron.followees.iter().position(|(t, _)| *t == topic) {
            for old in neuron.followees.remove(i).1 {
                self.followers.remove(&(code, old, id));
            }
        }
        for f in &followees {
            self.followers.insert((code, *f, id), ());
        }
        if followees.is_empty() {
            self.followee_lists.remove(&(code, id));
        } else {
            self.followee_lists
                .insert((code, id), Followees(followees.clone()));
        }
        if !followees.is_empty() {
            neuron.followees.push((topic, followees));
            neuron.followees.sort_by_key(|(t, _)| *t);
        }
        self.store_neuron(neuron.clone());
        self.follow_on_open_proposals(id, now);
        Ok(neuron)
    }

    /// New followees apply at once to open proposals whose outcome among them is already decided.
    fn follow_on_open_proposals(&mut self, id: NeuronId, now: u64) {
        let open: Vec<ProposalId> = self.unfinished.keys().collect();
        for p in open {
            let mut record = self.proposals.get(&p).expect("listed").0;
            if record.info.status != ProposalStatus::Open {
                continue;
            }
            if let Some(vote) = self.followed_vote(p, record.info.topic, id) {
                self.cast(&mut record, id, vote, now);
                self.proposals.insert(p, Candid(record));
            }
        }
    }

    /// Checks that the neuron can be disbursed now (dissolved; no proposal of its own undecided) and
    /// returns it: the shell transfers `stake − fees` to the owner and the fees to the treasury, then
    /// calls [`Governance::remove_neuron`].
    pub fn check_disburse(
        &self,
        caller: Principal,
        id: NeuronId,
        now: u64,
    ) -> Result<Neuron, GovernanceError> {
        let neuron = self.authorized(caller, id, false)?;
        if !power::is_dissolved(&neuron, now) {
            return Err(GovernanceError::NotDissolved {
                dissolved_at: match neuron.dissolve {
                    DissolveState::Dissolving { dissolved_at } => Some(dissolved_at),
                    DissolveState::NotDissolving { .. } => None,
                },
            });
        }
        if self
            .open_by_neuron
            .range((id, 0)..=(id, ProposalId::MAX))
            .next()
            .is_some()
        {
            return Err(invalid(
                "neuron",
                "it has an undecided proposal (its reject cost is not settled)",
            ));
        }
        Ok(neuron)
    }

    /// `amount` of the neuron's stake left its subaccount (a disbursement to its owner).
    pub fn disbursed(&mut self, id: NeuronId, amount: u64) {
        if let Some(mut neuron) = self.neuron(id) {
            self.freeze_before_change(id);
            neuron.stake = neuron.stake.saturating_sub(amount);
            self.store_neuron(neuron);
        }
    }

    /// Removes a disbursed neuron (its followers simply lose a followee).
    pub fn remove_neuron(&mut self, id: NeuronId) -> Option<Neuron> {
        self.freeze_before_change(id);
        let neuron = self.neurons.remove(&id)?.0;
        self.voting_states.remove(&id);
        self.by_principal.remove(&(neuron.controller, id));
        for k in &neuron.hot_keys {
            self.by_principal.remove(&(*k, id));
        }
        for (topic, followees) in &neuron.followees {
            self.followee_lists.remove(&(topic.code(), id));
            for f in followees {
                self.followers.remove(&(topic.code(), *f, id));
            }
        }
        Some(neuron)
    }

    // ------------------------------------------------------------------ proposals

    pub fn proposal(&self, id: ProposalId) -> Option<ProposalInfo> {
        self.proposals.get(&id).map(|r| r.0.info)
    }

    pub fn proposal_action(&self, id: ProposalId) -> Option<Action> {
        let record = self.proposals.get(&id)?.0;
        Some(match record.action {
            Action::UpgradeCanister { target, arg, .. } => Action::UpgradeCanister {
                target,
                wasm: ByteBuf::from(self.wasms.get(&id).unwrap_or_default()),
                arg,
            },
            other => other,
        })
    }

    /// Proposals newest first, from `before` (exclusive) on, filtered by topic and status name.
    pub fn list_proposals(
        &self,
        before: Option<ProposalId>,
        limit: usize,
        topic: Option<Topic>,
        status: Option<&str>,
    ) -> Vec<ProposalInfo> {
        let end = before.unwrap_or(ProposalId::MAX);
        self.proposals
            .range(..end)
            .rev()
            .map(|e| e.value().0.info)
            .filter(|i| topic.is_none_or(|t| i.topic == t))
            .filter(|i| status.is_none_or(|s| status_name(&i.status) == s))
            .take(limit)
            .collect()
    }

    pub fn ballot(&self, proposal: ProposalId, neuron: NeuronId) -> Option<Ballot> {
        self.ballots.get(&(proposal, neuron)).map(decode_ballot)
    }

    /// A page of a proposal's ballots, by neuron id from `start`.
    pub fn ballots(
        &self,
        proposal: ProposalId,
        start: NeuronId,
        limit: usize,
    ) -> Vec<(NeuronId, Ballot)> {
        self.ballots
            .range((proposal, start)..=(proposal, NeuronId::MAX))
            .take(limit)
            .map(|e| (e.key().1, decode_ballot(e.value())))
            .collect()
    }

    /// What `TransferTreasury` executions moved in the 7 days before `now`.
    pub fn treasury_used(&self, now: u64) -> u128 {
        let since = now.saturating_sub(SEVEN_DAYS);
        self.treasury_transfers
            .range((since, 0)..)
            .map(|e| e.value())
            .fold(0u128, u128::saturating_add)
    }

    fn check_action(&self, action: &Action, now: u64) -> Result<(), GovernanceError> {
        match action {
            Action::Motion { text } => {
                if text.is_empty() || text.len() > MAX_SUMMARY_BYTES {
                    return Err(invalid("text", format!("1–{MAX_SUMMARY_BYTES} bytes")));
                }
            }
            Action::SetRoyaltySplit { split } => {
                if split.total_bps() != BASIS_POINTS as u32 {
                    return Err(invalid("split", "the parts must sum to 10,000 bps"));
                }
            }
            Action::SetCallFee { call_fee } => {
                let range = neuranft_types::proxy::CALL_FEE_RANGE;
                if !range.contains(call_fee) {
                    return Err(invalid(
                        "call_fee",
                        format!("{call_fee} is outside {}–{}", range.start(), range.end()),
                    ));
                }
            }
            Action::AdmitNode { .. } | Action::SuspendNode { .. } | Action::RemoveNode { .. } => {}
            Action::TransferTreasury { to, amount } => {
                if *amount == 0 {
                    return Err(invalid("amount", "must be positive"));
                }
                if to.owner == Principal::anonymous() {
                    return Err(invalid("to", "the anonymous principal"));
                }
                self.check_treasury_cap(*amount, 0, now)?;
            }
            Action::SetGovernanceParameters { parameters } => validate_parameters(parameters)?,
            Action::UpgradeCanister { wasm, .. } => {
                if wasm.len() < 8 || (&wasm[..4] != b"\0asm" && &wasm[..2] != b"\x1f\x8b") {
                    return Err(invalid("wasm", "not a wasm module (or gzipped one)"));
                }
                if wasm.len() > MAX_WASM_BYTES {
                    return Err(invalid("wasm", format!("at most {MAX_WASM_BYTES} bytes")));
                }
            }
        }
        Ok(())
    }

    fn check_treasury_cap(
        &self,
        amount: u128,
        in_flight: u128,
        now: u64,
    ) -> Result<(), GovernanceError> {
        let cap = self.parameters().treasury_cap_per_7_days;
        let used = self.treasury_used(now).saturating_add(in_flight);
        if used.saturating_add(amount) > cap {
            return Err(GovernanceError::TreasuryCapExceeded {
                cap,
                used,
                requested: amount,
            });
        }
        Ok(())
    }

    /// Makes a proposal: checks the proposer and the action, charges the reject cost, copies the rules
    /// of its topic, and starts writing ballots (the rest is done by [`Governance::advance`]).
    pub fn make_proposal(
        &mut self,
        caller: Principal,
        args: MakeProposalArgs,
        now: u64,
        budget: Budget,
    ) -> Result<ProposalId, GovernanceError> {
        let p = self.parameters();
        let mut neuron = self.authorized(caller, args.neuron, true)?;
        if power::dissolve_delay_seconds(&neuron, now) < p.min_dissolve_delay_seconds {
            return Err(GovernanceError::DissolveDelayTooShort {
                minimum_seconds: p.min_dissolve_delay_seconds,
            });
        }
        if args.title.is_empty() || args.title.len() > MAX_TITLE_BYTES {
            return Err(invalid("title", format!("1–{MAX_TITLE_BYTES} bytes")));
        }
        if args.summary.len() > MAX_SUMMARY_BYTES {
            return Err(invalid(
                "summary",
                format!("at most {MAX_SUMMARY_BYTES} bytes"),
            ));
        }
        if args.url.len() > MAX_URL_BYTES {
            return Err(invalid("url", format!("at most {MAX_URL_BYTES} bytes")));
        }
        self.check_action(&args.action, now)?;
        let open = self
            .open_by_neuron
            .range((neuron.id, 0)..=(neuron.id, ProposalId::MAX))
            .count();
        if open >= p.max_open_proposals_per_neuron as usize {
            return Err(GovernanceError::TooManyOpenProposals {
                max: p.max_open_proposals_per_neuron,
            });
        }
        let free = power::free_stake(&neuron);
        if free < p.reject_cost {
            return Err(GovernanceError::InsufficientStakeForRejectCost {
                reject_cost: p.reject_cost,
                free,
            });
        }
        self.freeze_before_change(neuron.id);
        neuron.fees = neuron.fees.saturating_add(p.reject_cost);
        self.store_neuron(neuron.clone());

        let id = self.counters().next_proposal;
        self.update_counters(|c| c.next_proposal += 1);
        let topic = args.action.topic();
        let rules = p.rules(topic);
        let rendered_action = render_action(&args.action);
        let action = match args.action {
            Action::UpgradeCanister { target, wasm, arg } => {
                self.wasms.insert(id, wasm.into_vec());
                Action::UpgradeCanister {
                    target,
                    wasm: ByteBuf::new(),
                    arg,
                }
            }
            other => other,
        };
        let record = ProposalRecord {
            info: ProposalInfo {
                id,
                proposer: neuron.id,
                title: args.title,
                summary: args.summary,
                url: args.url,
                topic,
                rendered_action,
                status: ProposalStatus::Preparing,
                tally: Tally::default(),
                rules,
                reject_cost: p.reject_cost,
                created_at: now,
                deadline: now.saturating_add(nanos(rules.voting_period_seconds)),
                decided_at: None,
                executed_at: None,
                ballots_from: None,
            },
            action,
            phase: Phase::Writing { next: 0 },
        };
        self.proposals.insert(id, Candid(record));
        self.open_by_neuron.insert((neuron.id, id), ());
        self.unfinished.insert(id, ());
        self.advance(now, budget);
        Ok(id)
    }

    /// Writes neuron `id`'s ballot on a proposal whose ballots are being written, if it has none yet
    /// and was eligible when the proposal was made.
    fn write_ballot(&mut self, record: &mut ProposalRecord, id: NeuronId, parameters: &Parameters) {
        let key = (record.info.id, id);
        if self.ballots.contains_key(&key) {
            return;
        }
        let Some(state) = self.voting_states.get(&id) else {
            return;
        };
        let state = power::VotingState::decode(&state);
        if state.created_at > record.info.created_at {
            return;
        }
        let Some(power) = power::voting_power_of(&state, parameters, record.info.created_at) else {
            return;
        };
        self.ballots.insert(
            key,
            encode_ballot(Ballot {
                vote: Vote::Unspecified,
                voting_power: power,
            }),
        );
        record.info.tally.total = record.info.tally.total.saturating_add(power);
    }

    /// Bounded work on every unfinished proposal: write ballots, rebase them after a spike, evaluate
    /// followers, decide proposals whose outcome is certain or whose deadline passed.
    pub fn advance(&mut self, now: u64, budget: Budget) -> Progress {
        let mut progress = Progress::default();
        let mut left = budget;
        let ids: Vec<ProposalId> = self.unfinished.keys().collect();
        for id in ids {
            let mut record = self.proposals.get(&id).expect("BUG: unfinished unknown").0;
            left = self.prepare(&mut record, left, now, &mut progress);
            self.proposals.insert(id, Candid(record));
            if left == 0 {
                return progress;
            }
        }
        left = self.run_follow_queue(left, now, &mut progress);
        if left == 0 {
            return progress;
        }
        let ids: Vec<ProposalId> = self.unfinished.keys().collect();
        for id in ids {
            let mut record = self.proposals.get(&id).expect("BUG: unfinished unknown").0;
            if self.decide(&mut record, now) {
                progress.decided.push(id);
            }
            self.proposals.insert(id, Candid(record));
        }
        progress.finished = true;
        progress
    }

    /// Continues writing (or rebasing) a proposal's ballots; opens it when done. Returns the budget left.
    fn prepare(
        &mut self,
        record: &mut ProposalRecord,
        mut left: Budget,
        now: u64,
        progress: &mut Progress,
    ) -> Budget {
        let id = record.info.id;
        loop {
            match record.phase {
                Phase::Done => return left,
                Phase::Writing { next } => {
                    let batch: Vec<NeuronId> = self
                        .neurons
                        .range(next..)
                        .take(left as usize)
                        .map(|e| *e.key())
                        .collect();
                    let parameters = self.parameters();
                    for n in &batch {
                        self.write_ballot(record, *n, &parameters);
                    }
                    left -= batch.len() as u64;
                    progress.ballots_written += batch.len() as u64;
                    match batch.last() {
                        Some(last) if left == 0 => {
                            record.phase = Phase::Writing { next: last + 1 };
                            return 0;
                        }
                        _ => {
                            record.phase = match self.spike_reference(record) {
                                Some(from) => {
                                    record.info.ballots_from = Some(from);
                                    record.info.tally.total = 0;
                                    Phase::Rebasing { next: 0, from }
                                }
                                None => Phase::Done,
                            };
                        }
                    }
                }
                Phase::Rebasing { next, from } => {
                    let batch: Vec<(NeuronId, Ballot)> = self.ballots(id, next, left as usize);
                    for (n, mut ballot) in batch.iter().copied() {
                        ballot.voting_power = self.ballot(from, n).map_or(0, |b| b.voting_power);
                        record.info.tally.total =
                            record.info.tally.total.saturating_add(ballot.voting_power);
                        self.ballots.insert((id, n), encode_ballot(ballot));
                    }
                    left -= batch.len() as u64;
                    progress.ballots_written += batch.len() as u64;
                    match batch.last() {
                        Some((last, _)) if left == 0 => {
                            record.phase = Phase::Rebasing {
                                next: last + 1,
                                from,
                            };
                            return 0;
                        }
                        _ => record.phase = Phase::Done,
                    }
                }
            }
            if record.phase == Phase::Done {
                record.info.status = ProposalStatus::Open;
                // The proposer votes yes with whatever ballot it has.
                let proposer = record.info.proposer;
                self.cast(record, proposer, Vote::Yes, now);
                return left;
            }
        }
    }

    /// The proposal of the last 7 days with the smallest total voting power, if this proposal's total
    /// exceeds it by more than the spike factor.
    fn spike_reference(&self, record: &ProposalRecord) -> Option<ProposalId> {
        let spike = self.parameters().voting_power_spike_bps as u128;
        let since = record.info.created_at.saturating_sub(SEVEN_DAYS);
        let smallest = self
            .proposals
            .range(..record.info.id)
            .rev()
            .map(|e| e.value().0)
            .take_while(|r| r.info.created_at >= since)
            .filter(|r| {
                r.phase == Phase::Done && r.info.ballots_from.is_none() && r.info.tally.total > 0
            })
            .min_by_key(|r| r.info.tally.total)?;
        (record.info.tally.total.saturating_mul(BPS)
            > smallest.info.tally.total.saturating_mul(spike))
        .then_some(smallest.info.id)
    }

    /// Records `vote` on `neuron`'s unvoted ballot, updates the tally and applies wait-for-quiet, and
    /// queues the neuron's followers. `false` when there is no unvoted ballot.
    fn cast(
        &mut self,
        record: &mut ProposalRecord,
        neuron: NeuronId,
        vote: Vote,
        now: u64,
    ) -> bool {
        let key = (record.info.id, neuron);
        let Some(mut ballot) = self.ballots.get(&key).map(decode_ballot) else {
            return false;
        };
        if ballot.vote != Vote::Unspecified || vote == Vote::Unspecified {
            return false;
        }
        let rules = record.info.rules;
        let winning = |t: &Tally| {
            t.yes.saturating_mul(BPS)
                > t.yes
                    .saturating_add(t.no)
                    .saturating_mul(rules.majority_bps as u128)
        };
        let before = winning(&record.info.tally);
        ballot.vote = vote;
        self.ballots.insert(key, encode_ballot(ballot));
        match vote {
            Vote::Yes => {
                record.info.tally.yes = record.info.tally.yes.saturating_add(ballot.voting_power)
            }
            Vote::No => {
                record.info.tally.no = record.info.tally.no.saturating_add(ballot.voting_power)
            }
            Vote::Unspecified => unreachable!(),
        }
        if winning(&record.info.tally) != before && ballot.voting_power > 0 {
            let latest = record.info.created_at.saturating_add(nanos(
                rules
                    .voting_period_seconds
                    .saturating_add(rules.max_extension_seconds),
            ));
            let quiet = now.saturating_add(nanos(rules.wait_for_quiet_seconds));
            record.info.deadline = record.info.deadline.max(quiet.min(latest));
        }
        let mut topics = vec![record.info.topic.code()];
        if !record.info.topic.is_critical() {
            topics.push(Topic::CatchAll.code());
        }
        for topic in topics {
            // Most voters have no followers: nothing to queue.
            if self
                .followers
                .range((topic, neuron, 0)..=(topic, neuron, NeuronId::MAX))
                .next()
                .is_none()
            {
                continue;
            }
            let seq = *self.follow_sequence.get();
            self.follow_sequence.set(seq + 1);
            let work = FollowWork {
                proposal: record.info.id,
                voter: neuron,
                topic,
                next: 0,
            };
            self.follow_queue.insert(seq, work.encode());
        }
        true
    }

    /// A neuron's vote (by its controller or a hot key); its followers follow within `budget`, the rest
    /// on the next [`Governance::advance`].
    pub fn register_vote(
        &mut self,
        caller: Principal,
        neuron: NeuronId,
        proposal: ProposalId,
        vote: Vote,
        now: u64,
        budget: Budget,
    ) -> Result<Tally, GovernanceError> {
        self.authorized(caller, neuron, true)?;
        if vote == Vote::Unspecified {
            return Err(invalid("vote", "Yes or No"));
        }
        let mut record = self
            .proposals
            .get(&proposal)
            .ok_or(GovernanceError::ProposalNotFound { proposal })?
            .0;
        if record.info.status != ProposalStatus::Open || now >= record.info.deadline {
            return Err(GovernanceError::VotingClosed);
        }
        let ballot = self
            .ballot(proposal, neuron)
            .ok_or(GovernanceError::NoBallot)?;
        if ballot.vote != Vote::Unspecified {
            return Err(GovernanceError::AlreadyVoted);
        }
        self.cast(&mut record, neuron, vote, now);
        self.proposals.insert(proposal, Candid(record));
        self.advance(now, budget);
        Ok(self.proposal(proposal).expect("exists").tally)
    }

    /// Evaluates the followers of the neurons that voted, in queue order, one follower per unit of
    /// budget; a voter with more followers than the budget is resumed where it stopped.
    fn run_follow_queue(&mut self, mut left: Budget, now: u64, progress: &mut Progress) -> Budget {
        // Each proposal is decoded once and written back once per run, not once per entry.
        let mut records: std::collections::BTreeMap<ProposalId, ProposalRecord> =
            std::collections::BTreeMap::new();
        while left > 0 {
            let Some((seq, bytes)) = self.follow_queue.first_key_value() else {
                break;
            };
            let work = FollowWork::decode(bytes);
            if let std::collections::btree_map::Entry::Vacant(slot) = records.entry(work.proposal) {
                match self.proposals.get(&work.proposal) {
                    Some(r) => {
                        slot.insert(r.0);
                    }
                    None => {
                        self.follow_queue.remove(&seq);
                        continue;
                    }
                }
            }
            let record = records.get_mut(&work.proposal).expect("loaded above");
            if record.info.status != ProposalStatus::Open {
                self.follow_queue.remove(&seq);
                continue;
            }
            // Evaluating a follower costs about two ballot writes.
            let fits = (left / FOLLOWER_COST).max(1);
            let followers: Vec<NeuronId> = self
                .followers
                .range(
                    (work.topic, work.voter, work.next)..=(work.topic, work.voter, NeuronId::MAX),
                )
                .take(fits as usize + 1)
                .map(|e| e.key().2)
                .collect();
            let more = followers.len() > fits as usize;
            let topic = record.info.topic;
            for follower in followers.iter().take(fits as usize) {
                progress.followers_evaluated += 1;
                if let Some(vote) = self.followed_vote(work.proposal, topic, *follower) {
                    self.cast(record, *follower, vote, now);
                }
            }
            if more {
                let next = followers[fits as usize];
                self.follow_queue
                    .insert(seq, FollowWork { next, ..work }.encode());
                left = 0;
                break;
            }
            self.follow_queue.remove(&seq);
            // An entry costs a unit even without followers.
            left = left.saturating_sub((followers.len() as u64 * FOLLOWER_COST).max(1));
        }
        for (id, record) in records {
            self.proposals.insert(id, Candid(record));
        }
        left
    }

    /// The vote following gives `follower` on `proposal` now, if its followees on the topic (or on
    /// the catch-all, for a normal topic it has none on) have decided it: yes when more than half of
    /// them voted yes, no when at least half voted no.
    fn followed_vote(
        &self,
        proposal: ProposalId,
        topic: Topic,
        follower: NeuronId,
    ) -> Option<Vote> {
        let ballot = self.ballot(proposal, follower)?;
        if ballot.vote != Vote::Unspecified {
            return None;
        }
        let on = |t: Topic| self.followee_lists.get(&(t.code(), follower)).map(|f| f.0);
        let followees = match on(topic) {
            Some(f) => f,
            None if !topic.is_critical() => on(Topic::CatchAll)?,
            None => return None,
        };
        let (mut yes, mut no) = (0usize, 0usize);
        for f in &followees {
            match self.ballot(proposal, *f).map(|b| b.vote) {
                Some(Vote::Yes) => yes += 1,
                Some(Vote::No) => no += 1,
                _ => {}
            }
        }
        if yes * 2 > followees.len() {
            Some(Vote::Yes)
        } else if no * 2 >= followees.len() {
            Some(Vote::No)
        } else {
            None
        }
    }

    /// Decides an open proposal whose outcome is certain or whose deadline passed. `true` if decided.
    fn decide(&mut self, record: &mut ProposalRecord, now: u64) -> bool {
        if record.info.status != ProposalStatus::Open {
            return false;
        }
        let Tally { yes, no, total } = record.info.tally;
        let rules = record.info.rules;
        let majority = rules.majority_bps as u128;
        // Saturating, never wrapping: a tally is a small multiple of the staked supply, far below
        // where these products would saturate.
        let share = |power: u128, bps: u128| power.saturating_mul(bps);
        let adopted = if share(yes, BPS) > share(total, majority) {
            true
        } else if share(no, BPS) >= share(total, BPS.saturating_sub(majority)) {
            false
        } else if now >= record.info.deadline {
            share(yes, BPS) >= share(total, rules.quorum_bps as u128)
                && share(yes, BPS) > share(yes.saturating_add(no), majority)
        } else {
            return false;
        };
        record.info.decided_at = Some(now);
        self.open_by_neuron
            .remove(&(record.info.proposer, record.info.id));
        if adopted {
            if let Some(mut proposer) = self.neuron(record.info.proposer) {
                self.freeze_before_change(proposer.id);
                proposer.fees = proposer.fees.saturating_sub(record.info.reject_cost);
                self.store_neuron(proposer);
            }
            if matches!(record.action, Action::Motion { .. }) {
                record.info.status = ProposalStatus::Executed;
                record.info.executed_at = Some(now);
                self.unfinished.remove(&record.info.id);
            } else {
                record.info.status = ProposalStatus::Adopted;
            }
        } else {
            record.info.status = ProposalStatus::Rejected;
            self.unfinished.remove(&record.info.id);
        }
        true
    }

    // ------------------------------------------------------------------ execution

    /// Adopted proposals waiting for execution, oldest first, with their full action; one waiting for
    /// its next attempt after an unknown outcome is due only from then.
    pub fn executions_due(&self, limit: usize, now: u64) -> Vec<(ProposalId, Action)> {
        self.unfinished
            .keys()
            .filter(|id| {
                self.proposals
                    .get(id)
                    .is_some_and(|r| r.0.info.status == ProposalStatus::Adopted)
                    && self.execution_attempts(*id).1 <= now
            })
            .take(limit)
            .filter_map(|id| Some((id, self.proposal_action(id)?)))
            .collect()
    }

    /// Re-checks the economic limits of an adopted proposal just before it executes.
    /// `in_flight`: treasury payments of other proposals whose transfer has not resolved yet.
    pub fn check_before_execution(
        &self,
        id: ProposalId,
        now: u64,
        in_flight: u128,
    ) -> Result<(), GovernanceError> {
        match self.proposal_action(id) {
            Some(Action::TransferTreasury { amount, .. }) => {
                self.check_treasury_cap(amount, in_flight, now)
            }
            Some(Action::SetGovernanceParameters { parameters }) => {
                validate_parameters(&parameters)
            }
            Some(_) => Ok(()),
            None => Err(GovernanceError::ProposalNotFound { proposal: id }),
        }
    }

    /// Failed attempts at executing `id` so far, and the earliest time of the next.
    pub fn execution_attempts(&self, id: ProposalId) -> (u32, u64) {
        self.execution_attempts.get(&id).map_or((0, 0), |b| {
            (
                u32::from_be_bytes(b[..4].try_into().expect("4 bytes")),
                u64::from_be_bytes(b[4..].try_into().expect("8 bytes")),
            )
        })
    }

    /// An attempt at executing adopted proposal `id` got no definite answer (`reason`): it is tried
    /// again after a delay that doubles each time, and after [`MAX_EXECUTION_ATTEMPTS`] it is Failed
    /// with the last reason. The count is in stable memory, so an upgrade does not reset it.
    pub fn record_unknown_outcome(&mut self, id: ProposalId, reason: String, now: u64) {
        let Some(record) = self.proposals.get(&id) else {
            return;
        };
        if record.0.info.status != ProposalStatus::Adopted {
            return;
        }
        let attempts = self.execution_attempts(id).0.saturating_add(1);
        if attempts >= MAX_EXECUTION_ATTEMPTS {
            self.record_execution(
                id,
                Err(format!(
                    "no definite answer after {attempts} attempts; the last: {reason}"
                )),
                now,
            );
            return;
        }
        let delay = nanos(FIRST_RETRY_DELAY_SECONDS).saturating_mul(1 << (attempts - 1));
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&attempts.to_be_bytes());
        bytes[4..].copy_from_slice(&now.saturating_add(delay).to_be_bytes());
        self.execution_attempts.insert(id, bytes);
    }

    /// Records the outcome of an adopted proposal's execution (once; later calls change nothing).
    /// Parameters set by a proposal apply to proposals made after it only.
    pub fn record_execution(&mut self, id: ProposalId, result: Result<(), String>, now: u64) {
        let Some(mut record) = self.proposals.get(&id).map(|r| r.0) else {
            return;
        };
        if record.info.status != ProposalStatus::Adopted {
            return;
        }
        match result {
            Ok(()) => {
                match &record.action {
                    Action::TransferTreasury { amount, .. } => {
                        self.treasury_transfers.insert((now, id), *amount);
                    }
                    Action::SetGovernanceParameters { parameters } => {
                        self.parameters.set(Candid(Some(parameters.clone())));
                    }
                    _ => {}
                }
                record.info.status = ProposalStatus::Executed;
            }
            Err(reason) => record.info.status = ProposalStatus::Failed { reason },
        }
        record.info.executed_at = Some(now);
        self.wasms.remove(&id);
        self.execution_attempts.remove(&id);
        self.unfinished.remove(&id);
        self.proposals.insert(id, Candid(record));
    }

    /// Sets parameters without any check: for tests of parameters that an earlier version of
    /// governance stored under weaker checks.
    #[cfg(test)]
    pub(crate) fn set_parameters_unchecked(&mut self, parameters: Parameters) {
        self.parameters.set(Candid(Some(parameters)));
    }

    /// Replaces a stored proposal's action without any check: for tests of proposals that an earlier
    /// version of governance stored under weaker checks.
    #[cfg(test)]
    pub(crate) fn set_action_unchecked(&mut self, id: ProposalId, action: Action) {
        let mut record = self.proposals.get(&id).expect("the proposal exists").0;
        record.action = action;
        self.proposals.insert(id, Candid(record));
    }

    /// Follow-queue entries still to process (for queries and tests).
    pub fn pending_follow_work(&self) -> u64 {
        self.follow_queue.len()
    }
}

pub fn status_name(status: &ProposalStatus) -> &'static str {
    match status {
        ProposalStatus::Preparing => "Preparing",
        ProposalStatus::Open => "Open",
        ProposalStatus::Rejected => "Rejected",
        ProposalStatus::Adopted => "Adopted",
        ProposalStatus::Executed => "Executed",
        ProposalStatus::Failed { .. } => "Failed",
    }
}
