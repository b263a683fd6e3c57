//! The hash-chained settlement log, and the audit of what royalties owes against its ledger balance.

use super::{Memory, MAX_PAGE};
use crate::memory::*;
use ic_stable_structures::memory_manager::MemoryManager;
use ic_stable_structures::storable::{Bound, Storable};
use ic_stable_structures::{DefaultMemoryImpl, StableLog};
use neuranft_types::royalties::*;
use serde_bytes::ByteBuf;
use sha2::Sha256;
use std::borrow::Cow;

/// A page's entries stop once their events reach this many bytes (a query answers at most 3 MiB;
/// one batch of 5,000 receipts is ≈ 0.4 MB): a page holds at least one entry.
pub const MAX_PAGE_EVENT_BYTES: usize = 1_500_000;

/// An entry as stored. Format 2: `2 ‖ index ‖ timestamp ‖ prev_hash ‖ hash ‖ event`, the event's
/// Candid bytes as hashed. Entries of earlier versions are a Candid `LogEntry` ("DIDL…"), read as
/// format 1.
#[derive(Clone, Debug)]
struct StoredEntry(Vec<u8>);

const HEADER: usize = 1 + 8 + 8 + 32 + 32;

impl Storable for StoredEntry {
    fn to_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.0)
    }

    fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    fn from_bytes(bytes: Cow<[u8]>) -> Self {
        StoredEntry(bytes.into_owned())
    }

    const BOUND: Bound = Bound::Unbounded;
}

impl StoredEntry {
    fn new(index: u64, timestamp: u64, prev: &[u8; 32], hash: &[u8; 32], event: &[u8]) -> Self {
        let mut bytes = Vec::with_capacity(HEADER + event.len());
        bytes.push(LOG_FORMAT_V2);
        bytes.extend_from_slice(&index.to_be_bytes());
        bytes.extend_from_slice(&timestamp.to_be_bytes());
        bytes.extend_from_slice(prev);
        bytes.extend_from_slice(hash);
        bytes.extend_from_slice(event);
        StoredEntry(bytes)
    }

    fn is_legacy(&self) -> bool {
        self.0.starts_with(b"DIDL")
    }

    fn legacy(&self) -> LogEntry {
        candid::decode_one(&self.0).expect("BUG: a stored log entry decodes")
    }

    fn event_len(&self) -> usize {
        if self.is_legacy() {
            self.0.len()
        } else {
            self.0.len() - HEADER
        }
    }

    fn encoded(&self) -> EncodedLogEntry {
        if self.is_legacy() {
            let e = self.legacy();
            return EncodedLogEntry {
                index: e.index,
                timestamp: e.timestamp,
                prev_hash: e.prev_hash,
                hash: e.hash,
                format: LOG_FORMAT_V1,
                event: ByteBuf::from(candid::encode_one(&e.event).expect("BUG: event encodes")),
            };
        }
        let b = &self.0;
        let u64_at = |i: usize| u64::from_be_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        EncodedLogEntry {
            index: u64_at(1),
            timestamp: u64_at(9),
            prev_hash: ByteBuf::from(b[17..49].to_vec()),
            hash: ByteBuf::from(b[49..81].to_vec()),
            format: LOG_FORMAT_V2,
            event: ByteBuf::from(b[HEADER..].to_vec()),
        }
    }

    fn decoded(&self) -> LogEntry {
        if self.is_legacy() {
            return self.legacy();
        }
        let e = self.encoded();
        LogEntry {
            index: e.index,
            timestamp: e.timestamp,
            prev_hash: e.prev_hash,
            hash: e.hash,
            event: candid::decode_one(&e.event).expect("BUG: a logged event decodes"),
        }
    }
}

pub struct Log {
    log: StableLog<StoredEntry, Memory, Memory>,
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
    pub fn append(&mut self, prev_hash: [u8; 32], event: &LogEvent, now: u64) -> (u64, [u8; 32]) {
        let index = self.log.len();
        let bytes = candid::encode_one(event).expect("BUG: log event must encode");
        let hash = log_entry_hash(&prev_hash, index, now, &bytes);
        self.log
            .append(&StoredEntry::new(index, now, &prev_hash, &hash, &bytes))
            .expect("BUG: stable log is full");
        (index, hash)
    }

    /// Up to `limit` entries from `start`, fewer when their events reach [`MAX_PAGE_EVENT_BYTES`].
    fn stored_page(&self, start: u64, limit: usize) -> Vec<StoredEntry> {
        let end = start
            .saturating_add(limit.clamp(1, MAX_PAGE) as u64)
            .min(self.log.len());
        let mut bytes = 0;
        let mut page = Vec::new();
        for i in start..end {
            let Some(entry) = self.log.get(i) else { break };
            bytes += entry.event_len();
            if !page.is_empty() && bytes > MAX_PAGE_EVENT_BYTES {
                break;
            }
            page.push(entry);
        }
        page
    }

    pub fn page(&self, start: u64, limit: usize) -> LogPage {
        LogPage {
            entries: self
                .stored_page(start, limit)
                .iter()
                .map(StoredEntry::decoded)
                .collect(),
            total: self.log.len(),
        }
    }

    pub fn encoded_page(&self, start: u64, limit: usize) -> EncodedLogPage {
        EncodedLogPage {
            entries: self
                .stored_page(start, limit)
                .iter()
                .map(StoredEntry::encoded)
                .collect(),
            total: self.log.len(),
        }
    }

    /// Appends an entry as versions before format 2 stored it: the upgrade tests start from there.
    #[cfg(test)]
    pub fn append_legacy(&mut self, entry: &LogEntry) {
        let bytes = candid::encode_one(entry).expect("encodes");
        self.log
            .append(&StoredEntry(bytes))
            .expect("BUG: stable log is full");
    }

    /// Hashes the entries as `State::fingerprint` always has.
    pub fn fingerprint(&self, h: &mut Sha256) {
        use sha2::Digest;
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
