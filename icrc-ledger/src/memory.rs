//! The stable-memory layout of the ledger. Ids are never reused.

use ic_stable_structures::memory_manager::MemoryId;

pub const CONFIG_MEMORY_ID: MemoryId = MemoryId::new(0);
pub const TOTALS_MEMORY_ID: MemoryId = MemoryId::new(1);
pub const BALANCES_MEMORY_ID: MemoryId = MemoryId::new(2);
pub const ALLOWANCES_MEMORY_ID: MemoryId = MemoryId::new(3);
pub const DEDUP_MEMORY_ID: MemoryId = MemoryId::new(4);
pub const DEDUP_EXPIRY_MEMORY_ID: MemoryId = MemoryId::new(5);
pub const BLOCKS_INDEX_MEMORY_ID: MemoryId = MemoryId::new(6);
pub const BLOCKS_DATA_MEMORY_ID: MemoryId = MemoryId::new(7);
