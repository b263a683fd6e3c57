//! The whole stable-memory layout. Ids are never reused: retire an id by leaving a comment here.

use ic_stable_structures::memory_manager::MemoryId;

pub const CONFIG_MEMORY_ID: MemoryId = MemoryId::new(0);
pub const COUNTERS_MEMORY_ID: MemoryId = MemoryId::new(1);
/// Metering (`Metering::init`): users, holds, open receipts, batches, totals.
pub const USERS_MEMORY_ID: MemoryId = MemoryId::new(2);
pub const HOLDS_MEMORY_ID: MemoryId = MemoryId::new(3);
pub const OPEN_RECEIPTS_MEMORY_ID: MemoryId = MemoryId::new(4);
pub const BATCHES_MEMORY_ID: MemoryId = MemoryId::new(5);
pub const METERING_TOTALS_MEMORY_ID: MemoryId = MemoryId::new(6);
/// Registry (`Registry::init`): models, nodes, executed proposals, the next node id, counters.
pub const MODELS_MEMORY_ID: MemoryId = MemoryId::new(7);
pub const NODES_MEMORY_ID: MemoryId = MemoryId::new(8);
pub const EXECUTED_PROPOSALS_MEMORY_ID: MemoryId = MemoryId::new(9);
pub const NEXT_NODE_MEMORY_ID: MemoryId = MemoryId::new(10);
/// The book on the payment ledger: the outbox's intents, pending set and counter, then the ops.
pub const OUTBOX_INTENTS_MEMORY_ID: MemoryId = MemoryId::new(11);
pub const OUTBOX_PENDING_MEMORY_ID: MemoryId = MemoryId::new(12);
pub const OUTBOX_COUNTER_MEMORY_ID: MemoryId = MemoryId::new(13);
pub const MONEY_OPS_MEMORY_ID: MemoryId = MemoryId::new(14);
pub const NODE_API_KEYS_MEMORY_ID: MemoryId = MemoryId::new(15);
pub const REGISTRY_COUNTERS_MEMORY_ID: MemoryId = MemoryId::new(16);
pub const TO_SETTLE_MEMORY_ID: MemoryId = MemoryId::new(17);
pub const TO_SEND_MEMORY_ID: MemoryId = MemoryId::new(18);
pub const SET_ASIDE_MEMORY_ID: MemoryId = MemoryId::new(19);
/// (caller, proposal id) → the SHA-256 of what the proposal did here ([`neuranft_types::applied`]);
/// `EXECUTED_PROPOSALS_MEMORY_ID` keeps the ids applied before payloads were recorded.
pub const PROPOSAL_PAYLOADS_MEMORY_ID: MemoryId = MemoryId::new(20);
