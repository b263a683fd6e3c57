//! Deduplication (ICRC-1): payloads with `created_at_time` remembered for the window, and pruned
//! as they expire.

use super::refusal::Refusal;
use super::{Ledger, PERMITTED_DRIFT_NANOS, TRANSACTION_WINDOW_NANOS};
use candid::{CandidType, Principal};
use sha2::{Digest, Sha256};

/// Expired dedup entries removed per transaction: bounded work, and the table never outgrows the window.
const DEDUP_PRUNE_PER_TX: usize = 4;

impl Ledger {
    /// `TooOld` / `CreatedInFuture` / `Duplicate` for a payload with `created_at_time`; returns the
    /// payload hash to record once the transaction is applied.
    pub(super) fn check_dedup(
        &self,
        created_at_time: Option<u64>,
        payload: &[u8],
        now: u64,
    ) -> Result<Option<(u64, [u8; 32])>, Refusal> {
        let Some(created) = created_at_time else {
            return Ok(None);
        };
        if created.saturating_add(TRANSACTION_WINDOW_NANOS + PERMITTED_DRIFT_NANOS) < now {
            return Err(Refusal::TooOld);
        }
        if created > now.saturating_add(PERMITTED_DRIFT_NANOS) {
            return Err(Refusal::CreatedInFuture(now));
        }
        let hash: [u8; 32] = Sha256::digest(payload).into();
        if let Some(block) = self.dedup.get(&hash) {
            return Err(Refusal::Duplicate(block));
        }
        Ok(Some((created, hash)))
    }

    pub(super) fn prune_dedup(&mut self, now: u64) {
        for _ in 0..DEDUP_PRUNE_PER_TX {
            let Some(entry) = self.dedup_expiry.first_key_value() else {
                return;
            };
            let (created, hash) = entry.0;
            if created.saturating_add(TRANSACTION_WINDOW_NANOS + PERMITTED_DRIFT_NANOS) >= now {
                return;
            }
            self.dedup_expiry.remove(&(created, hash));
            self.dedup.remove(&hash);
        }
    }

    pub(super) fn record_dedup(&mut self, entry: Option<(u64, [u8; 32])>, block: u64) {
        if let Some((created, hash)) = entry {
            self.dedup.insert(hash, block);
            self.dedup_expiry.insert((created, hash), ());
        }
    }

    /// The dedup identity: the endpoint, the caller and the whole Candid payload. Candid keeps `None`
    /// and `Some([0; 32])` apart, as the standard requires.
    pub(super) fn payload_identity<T: CandidType>(
        endpoint: &str,
        caller: Principal,
        arg: &T,
    ) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(128);
        bytes.extend_from_slice(endpoint.as_bytes());
        bytes.push(caller.as_slice().len() as u8);
        bytes.extend_from_slice(caller.as_slice());
        bytes.extend_from_slice(&candid::encode_one(arg).expect("BUG: argument encodes"));
        bytes
    }

    /// Payloads currently remembered for deduplication.
    pub fn dedup_entries(&self) -> u64 {
        self.dedup.len()
    }
}
