//! The whole stable-memory layout. Ids are never reused: retire an id by leaving a comment here.

use ic_stable_structures::memory_manager::MemoryId;

pub const CONFIG_MEMORY_ID: MemoryId = MemoryId::new(0);
pub const COUNTERS_MEMORY_ID: MemoryId = MemoryId::new(1);
pub const MODELS_MEMORY_ID: MemoryId = MemoryId::new(2);
pub const HOLDINGS_MEMORY_ID: MemoryId = MemoryId::new(3);
pub const HOLDER_INDEX_MEMORY_ID: MemoryId = MemoryId::new(4);
pub const SHARE_TABLES_MEMORY_ID: MemoryId = MemoryId::new(5);
pub const EPOCH_BY_TIME_MEMORY_ID: MemoryId = MemoryId::new(6);
pub const SPLITS_MEMORY_ID: MemoryId = MemoryId::new(7);
pub const SPLIT_PROPOSALS_MEMORY_ID: MemoryId = MemoryId::new(8);
pub const BALANCES_MEMORY_ID: MemoryId = MemoryId::new(9);
pub const BATCHES_MEMORY_ID: MemoryId = MemoryId::new(10);
pub const SETTLED_RECEIPTS_MEMORY_ID: MemoryId = MemoryId::new(11);
pub const PAYOUTS_MEMORY_ID: MemoryId = MemoryId::new(12);
/// Retired: pending payouts moved into the book (`PAYOUT_OPS_MEMORY_ID`); emptied on open.
pub const PENDING_PAYOUTS_MEMORY_ID: MemoryId = MemoryId::new(13);
pub const LOG_INDEX_MEMORY_ID: MemoryId = MemoryId::new(14);
pub const LOG_DATA_MEMORY_ID: MemoryId = MemoryId::new(15);
pub const PAYOUTS_BY_ACCOUNT_MEMORY_ID: MemoryId = MemoryId::new(16);
pub const OUTBOX_INTENTS_MEMORY_ID: MemoryId = MemoryId::new(17);
pub const OUTBOX_PENDING_MEMORY_ID: MemoryId = MemoryId::new(18);
pub const OUTBOX_COUNTER_MEMORY_ID: MemoryId = MemoryId::new(19);
pub const MODEL_PUSHES_MEMORY_ID: MemoryId = MemoryId::new(20);
pub const MODELS_PER_MANAGER_MEMORY_ID: MemoryId = MemoryId::new(21);
/// Intent id → the payout it pays, while unresolved (the book's ops; 13 retired into it).
pub const PAYOUT_OPS_MEMORY_ID: MemoryId = MemoryId::new(22);
/// (caller, proposal id) → the SHA-256 of the split it set: a replay is done, another payload a
/// conflict ([`neuranft_types::applied`]).
pub const SPLIT_PAYLOADS_MEMORY_ID: MemoryId = MemoryId::new(23);
/// (caller, proposal id) → the SHA-256 of a `moderate_model` or `set_payout_settings` payload.
pub const GOVERNED_PAYLOADS_MEMORY_ID: MemoryId = MemoryId::new(24);
/// first receipt id → (last receipt id, batch): the receipt ranges batches settled (11 keeps the
/// receipts settled one by one before).
pub const SETTLED_RANGES_MEMORY_ID: MemoryId = MemoryId::new(25);
