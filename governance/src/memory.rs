//! The whole stable-memory layout. Ids are never reused: retire an id by leaving a comment here.

use ic_stable_structures::memory_manager::MemoryId;

pub const PARAMETERS_MEMORY_ID: MemoryId = MemoryId::new(0);
pub const COUNTERS_MEMORY_ID: MemoryId = MemoryId::new(1);
pub const NEURONS_MEMORY_ID: MemoryId = MemoryId::new(2);
/// (topic, followee, follower) → ().
pub const FOLLOWERS_MEMORY_ID: MemoryId = MemoryId::new(3);
pub const PROPOSALS_MEMORY_ID: MemoryId = MemoryId::new(4);
/// (proposal, neuron) → ballot.
pub const BALLOTS_MEMORY_ID: MemoryId = MemoryId::new(5);
/// Proposal id → the wasm of an `UpgradeCanister` action (kept out of the record every vote rewrites).
pub const PROPOSAL_WASMS_MEMORY_ID: MemoryId = MemoryId::new(6);
/// (proposer neuron, proposal) → () while undecided.
pub const OPEN_BY_NEURON_MEMORY_ID: MemoryId = MemoryId::new(7);
/// Sequence → (proposal, neuron that voted): followers still to evaluate.
pub const FOLLOW_QUEUE_MEMORY_ID: MemoryId = MemoryId::new(8);
/// Proposals not yet final (preparing, open, adopted and not executed).
pub const UNFINISHED_MEMORY_ID: MemoryId = MemoryId::new(9);
/// (execution time, proposal) → amount moved from the treasury.
pub const TREASURY_TRANSFERS_MEMORY_ID: MemoryId = MemoryId::new(10);
/// (principal, neuron) → () for controllers and hot keys.
pub const NEURONS_BY_PRINCIPAL_MEMORY_ID: MemoryId = MemoryId::new(11);
/// The stakes book (governance-token ledger): outbox 12–14, what each transfer is for 15.
pub const STAKES_BOOK_FIRST_MEMORY_ID: u8 = 12;
/// The treasury book (payment ledger): outbox 16–18, what each transfer is for 19.
pub const TREASURY_BOOK_FIRST_MEMORY_ID: u8 = 16;
/// The canister's configuration (ledgers and targets).
pub const CONFIG_MEMORY_ID: MemoryId = MemoryId::new(20);
/// Neuron id → the 41-byte voting state ballots are written from.
pub const VOTING_STATES_MEMORY_ID: MemoryId = MemoryId::new(21);
/// (topic, follower) → its followees on the topic, packed.
pub const FOLLOWEE_LISTS_MEMORY_ID: MemoryId = MemoryId::new(22);
/// The follow queue's next sequence number.
pub const FOLLOW_SEQUENCE_MEMORY_ID: MemoryId = MemoryId::new(23);
/// Proposal id → failed execution attempts so far and the earliest time of the next (12 bytes).
pub const EXECUTION_ATTEMPTS_MEMORY_ID: MemoryId = MemoryId::new(24);
/// (neuron, chunk hash) → a chunk of an upgrade module staged by the neuron.
pub const STAGED_CHUNKS_MEMORY_ID: MemoryId = MemoryId::new(25);
/// (neuron, chunk hash) → when it was staged and its length (16 bytes).
pub const STAGED_CHUNK_META_MEMORY_ID: MemoryId = MemoryId::new(26);
/// The bytes staged by all neurons together.
pub const STAGED_TOTAL_MEMORY_ID: MemoryId = MemoryId::new(27);
/// Generic function id → the function (registered by proposal).
pub const GENERIC_FUNCTIONS_MEMORY_ID: MemoryId = MemoryId::new(28);
/// (time a proposal became final, proposal) → () while its ballots are kept.
pub const BALLOTS_TO_PRUNE_MEMORY_ID: MemoryId = MemoryId::new(29);
/// (status code, proposal) → (): proposals by status, for `list_proposals` without a scan.
pub const PROPOSALS_BY_STATUS_MEMORY_ID: MemoryId = MemoryId::new(30);
/// (topic code, proposal) → ().
pub const PROPOSALS_BY_TOPIC_MEMORY_ID: MemoryId = MemoryId::new(31);
/// (status code, topic code, proposal) → ().
pub const PROPOSALS_BY_STATUS_TOPIC_MEMORY_ID: MemoryId = MemoryId::new(32);
/// Proposal → its status code as indexed.
pub const PROPOSAL_STATUS_MEMORY_ID: MemoryId = MemoryId::new(33);
/// The next proposal the indexes' backfill (of proposals made before them) looks at; `u64::MAX`
/// once every proposal is indexed.
pub const PROPOSAL_INDEX_BACKFILL_MEMORY_ID: MemoryId = MemoryId::new(34);
