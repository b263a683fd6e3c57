//! The hash-chained settlement log, and the audit of what royalties owes against its ledger balance.

use super::{Memory, MAX_PAGE};
use crate::memory::*;
use crate::storable::Candid;
use ic_stable_structures::memory_manager::MemoryManager;
use ic_stable_structures::{DefaultMemoryImpl, StableLog, Storable};
use neuranft_types::royalties::*;
use serde_bytes::ByteBuf;
use sha2::{Digest, Sha256};

pub struct Log {
    log: StableLog<Candid<LogEntry>, Memory, Memory>,
}

impl Log {
    /// Opens the log in `mm` (its ids in [`crate::memory`]).
    pub fn init(mm: &MemoryManager<DefaultMemoryImpl>) -> Self {
        Self {
            log: StableLog::init(mm.get(LOG_INDEX_MEMORY_ID), mm.get(LOG_DATA_MEMORY_ID)),
        }
    }

    pub fn len(&self) -> u64 {
        self.log.len()
    }

    /// Appends `event` chained to `prev_hash`; returns its index and hash (the new tip).
    pub fn append(&mut self, prev_hash: ByteBuf, event: LogEvent, now: u64) -> (u64, ByteBuf) {
        let index = self.log.len();
        let hash = LogEntry::compute_hash(&prev_hash, index, now, &event);
        let entry = LogEntry {
            index,
            timestamp: now,
            prev_hash,
            hash: ByteBuf::from(hash.to_vec()),
            event,
        };
        self.log
            .append(&Candid(entry))
            .expect("BUG: stable log is full");
        (index, ByteBuf::from(hash.to_vec()))
    }

    pub fn page(&self, start: u64, limit: usize) -> LogPage {
        let total = self.log.len();
        let end = start
            .saturating_add(limit.clamp(1, MAX_PAGE) as u64)
            .min(total);
        LogPage {
            entries: (start..end)
                .filter_map(|i| self.log.get(i).map(|e| e.0))
                .collect(),
            total,
        }
    }

    /// Hashes the entries as `State::fingerprint` always has.
    pub fn fingerprint(&self, h: &mut Sha256) {
        for e in self.log.iter() {
            h.update(e.to_bytes());
        }
    }
}

pub fn audit_against(liabilities: Liabilities, ledger_balance: u128) -> AuditReport {
    let surplus =
        candid::Int::from(ledger_balance as i128) - candid::Int::from(liabilities.total as i128);
    AuditReport {
        ledger_balance,
        agrees: ledger_balance == liabilities.total,
        liabilities,
        surplus,
    }
}
