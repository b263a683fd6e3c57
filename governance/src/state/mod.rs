//! The governance state and its transitions. Everything lives in stable structures; nothing here calls
//! the IC. Work that grows with the number of neurons (writing a proposal's ballots, following
//! cascades) is done in bounded steps by [`Governance::advance`], which the canister runs on timers.
//! This file holds the `Governance` struct, its opening, the records its children share and
//! [`Governance::advance`]; each child file holds one concept of the state.

mod ballots;
mod codecs;
mod execution;
mod generic;
mod lifecycle;
mod listing;
mod neurons;
mod parameters;
mod proposals;
mod render;
mod staging;
mod voting;

use crate::memory::*;
use crate::power::NANOS_PER_SECOND;
use candid::{CandidType, Deserialize, Principal};
use codecs::Followees;
use ic_stable_structures::memory_manager::{MemoryManager, VirtualMemory};
use ic_stable_structures::{DefaultMemoryImpl, StableBTreeMap, StableCell};
use neuranft_types::governance::*;
use neuranft_types::storable::Candid;
use neuranft_types::BASIS_POINTS;

pub use ballots::BALLOT_RETENTION_SECONDS;
pub use execution::{FIRST_RETRY_DELAY_SECONDS, MAX_EXECUTION_ATTEMPTS};
pub use lifecycle::MAX_GRANTS;
pub use neurons::MAX_HOT_KEYS;
pub use parameters::{
    validate_parameters, MAJORITY_BPS, MAX_BONUS_BPS, MAX_DISSOLVE_DELAY_SECONDS,
    MAX_EXTENSION_SECONDS, MAX_FOLLOWEES_PER_TOPIC, MAX_MIN_STAKE, MAX_OPEN_PROPOSALS_PER_NEURON,
    MAX_QUORUM_BPS, VOTING_PERIOD_SECONDS, VOTING_POWER_SPIKE_BPS,
};
pub use proposals::{
    status_name, status_names, MAX_SUMMARY_BYTES, MAX_TITLE_BYTES, MAX_URL_BYTES, MAX_WASM_BYTES,
};
pub use render::{render_action, MAX_RENDERED_ARG_BYTES};
pub use staging::module_chunks;

type Mem = VirtualMemory<DefaultMemoryImpl>;

/// Generic proposals waiting for their validator at once (one per neuron): a bound on the calls
/// proposers can make governance send before any reject cost is charged.
pub const MAX_VALIDATIONS_IN_FLIGHT: u32 = 10;

const BPS: u128 = BASIS_POINTS as u128;
const SEVEN_DAYS: u64 = 7 * 24 * 3_600 * NANOS_PER_SECOND;

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
    /// The action, with an upgrade's wasm left out (it is in `PROPOSAL_WASMS`) and, for proposals made
    /// since chunked upgrades, always with `chunked_wasm` naming the module's SHA-256.
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
    staged: StableBTreeMap<(NeuronId, [u8; 32]), Vec<u8>, Mem>,
    staged_meta: StableBTreeMap<(NeuronId, [u8; 32]), [u8; 16], Mem>,
    staged_total: StableCell<u64, Mem>,
    generic_functions: StableBTreeMap<u64, Candid<GenericFunction>, Mem>,
    ballots_to_prune: StableBTreeMap<(u64, ProposalId), (), Mem>,
    proposals_by_status: StableBTreeMap<(u8, ProposalId), (), Mem>,
    proposals_by_topic: StableBTreeMap<(u8, ProposalId), (), Mem>,
    proposals_by_status_topic: StableBTreeMap<(u8, u8, ProposalId), (), Mem>,
    proposal_status: StableBTreeMap<ProposalId, u8, Mem>,
    index_backfill: StableCell<u64, Mem>,
    /// Neurons whose stake is moving (heap: marked again after an upgrade from the staking book,
    /// `flows::restore_busy`).
    neurons_in_flight: std::collections::BTreeSet<NeuronId>,
    /// Neurons whose generic proposal waits for its validator (heap, as above).
    validations_in_flight: neuranft_types::guard::InFlight<NeuronId>,
}

fn invalid(field: &str, reason: impl Into<String>) -> GovernanceError {
    GovernanceError::InvalidArgument {
        field: field.into(),
        reason: reason.into(),
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
            staged: StableBTreeMap::init(mm.get(STAGED_CHUNKS_MEMORY_ID)),
            staged_meta: StableBTreeMap::init(mm.get(STAGED_CHUNK_META_MEMORY_ID)),
            staged_total: StableCell::init(mm.get(STAGED_TOTAL_MEMORY_ID), 0),
            generic_functions: StableBTreeMap::init(mm.get(GENERIC_FUNCTIONS_MEMORY_ID)),
            ballots_to_prune: StableBTreeMap::init(mm.get(BALLOTS_TO_PRUNE_MEMORY_ID)),
            proposals_by_status: StableBTreeMap::init(mm.get(PROPOSALS_BY_STATUS_MEMORY_ID)),
            proposals_by_topic: StableBTreeMap::init(mm.get(PROPOSALS_BY_TOPIC_MEMORY_ID)),
            proposals_by_status_topic: StableBTreeMap::init(
                mm.get(PROPOSALS_BY_STATUS_TOPIC_MEMORY_ID),
            ),
            proposal_status: StableBTreeMap::init(mm.get(PROPOSAL_STATUS_MEMORY_ID)),
            index_backfill: StableCell::init(mm.get(PROPOSAL_INDEX_BACKFILL_MEMORY_ID), 0),
            neurons_in_flight: Default::default(),
            validations_in_flight: neuranft_types::guard::InFlight::new(MAX_VALIDATIONS_IN_FLIGHT),
        }
    }

    pub fn initialize(&mut self, parameters: Parameters) -> Result<(), GovernanceError> {
        validate_parameters(&parameters)?;
        self.parameters.set(Candid(Some(parameters)));
        self.mark_history_indexed();
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

    /// A number no other ledger transfer of governance's uses, for its memo: two identical transfers
    /// (same amount, accounts and time) must not be deduplicated by the ledger into one.
    pub fn next_memo_seq(&mut self) -> u64 {
        let seq = self.counters().next_memo;
        self.update_counters(|c| c.next_memo += 1);
        seq
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
            self.store_proposal(record);
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
            self.store_proposal(record);
        }
        progress.finished = true;
        progress
    }
}
