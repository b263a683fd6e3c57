//! Settlement: the batches settled and the receipt ids in them, the checks a batch must pass, and who
//! is owed what weight of a receipt.

use super::{hash_map, AccountKey, Memory};
use crate::memory::*;
use crate::storable::Candid;
use ic_stable_structures::memory_manager::MemoryManager;
use ic_stable_structures::{DefaultMemoryImpl, StableBTreeMap};
use icrc_ledger_types::icrc1::account::Account;
use neuranft_types::account_key;
use neuranft_types::royalties::*;
use sha2::Sha256;
use std::collections::{BTreeMap, BTreeSet};

pub const MAX_RECEIPTS_PER_BATCH: usize = 5_000;
/// How far ahead of this canister's clock a receipt's metering time may be.
pub const METERING_CLOCK_DRIFT_NANOS: u64 = 60_000_000_000;

pub struct Settlement {
    batches: StableBTreeMap<BatchId, Candid<SettleOk>, Memory>,
    settled_receipts: StableBTreeMap<ReceiptId, BatchId, Memory>,
}

impl Settlement {
    /// Opens the settlement records in `mm` (their ids in [`crate::memory`]).
    pub fn init(mm: &MemoryManager<DefaultMemoryImpl>) -> Self {
        Self {
            batches: StableBTreeMap::init(mm.get(BATCHES_MEMORY_ID)),
            settled_receipts: StableBTreeMap::init(mm.get(SETTLED_RECEIPTS_MEMORY_ID)),
        }
    }

    pub fn batch(&self, id: BatchId) -> Option<SettleOk> {
        self.batches.get(&id).map(|b| b.0)
    }

    /// Refuses a batch that is empty, too large, repeats a receipt or was metered in the future.
    pub fn check(&self, args: &SettleArgs, now: u64) -> Result<(), SettleError> {
        if args.receipts.is_empty() {
            return Err(SettleError::EmptyBatch);
        }
        if args.receipts.len() > MAX_RECEIPTS_PER_BATCH {
            return Err(SettleError::TooManyReceipts {
                max: MAX_RECEIPTS_PER_BATCH as u32,
            });
        }
        let mut seen = BTreeSet::new();
        for r in &args.receipts {
            if !seen.insert(r.id) {
                return Err(SettleError::DuplicateReceiptInBatch { receipt: r.id });
            }
            if r.metered_at > now.saturating_add(METERING_CLOCK_DRIFT_NANOS) {
                return Err(SettleError::MeteredInFuture {
                    receipt: r.id,
                    metered_at: r.metered_at,
                    now,
                });
            }
        }
        Ok(())
    }

    pub fn is_settled(&self, receipt: ReceiptId) -> bool {
        self.settled_receipts.contains_key(&receipt)
    }

    pub fn mark_settled(&mut self, receipt: ReceiptId, batch: BatchId) {
        self.settled_receipts.insert(receipt, batch);
    }

    pub fn record_batch(&mut self, ok: &SettleOk) {
        self.batches.insert(ok.batch_id, Candid(ok.clone()));
    }

    /// Hashes the maps in the order `State::fingerprint` always has.
    pub fn fingerprint(&self, h: &mut Sha256) {
        hash_map(h, &self.batches);
        hash_map(h, &self.settled_receipts);
    }
}

/// The recipients of a receipt of `model` and their weights, from the share table and split it was
/// metered under. The host differs per receipt, so [`with_host`] adds it.
pub fn recipients(
    model: &Model,
    table: &ShareTable,
    split: &SplitConfig,
    treasury: &Account,
) -> Vec<(AccountKey, u64)> {
    let units = SHARE_UNITS_PER_MODEL;
    let data = DATA_WEIGHT_TOTAL;
    // Without data owners their part goes to the model owners.
    let (owners_bps, data_bps) = if model.data_owners.is_empty() {
        (
            split.model_owners_bps as u64 + split.data_owners_bps as u64,
            0,
        )
    } else {
        (split.model_owners_bps as u64, split.data_owners_bps as u64)
    };
    let mut weights: BTreeMap<AccountKey, u64> = BTreeMap::new();
    let mut add = |account: &Account, weight: u64| {
        if weight > 0 {
            *weights.entry(account_key(account)).or_default() += weight;
        }
    };
    // The host is added per receipt; here its slot is left out.
    add(treasury, split.treasury_bps as u64 * units * data);
    for h in &table.holders {
        add(&h.account, owners_bps * h.units * data);
    }
    for d in &model.data_owners {
        add(&d.account, data_bps * d.weight * units);
    }
    weights.into_iter().collect()
}

/// `recipients` with the receipt's host added at its weight under `split`.
pub fn with_host(
    recipients: &[(AccountKey, u64)],
    split: &SplitConfig,
    host: &Account,
) -> Vec<(AccountKey, u64)> {
    let host_weight = split.host_bps as u64 * SHARE_UNITS_PER_MODEL * DATA_WEIGHT_TOTAL;
    let host_key = account_key(host);
    let mut merged: Vec<(AccountKey, u64)> = recipients.to_vec();
    if host_weight > 0 {
        match merged.iter_mut().find(|(k, _)| *k == host_key) {
            Some((_, w)) => *w += host_weight,
            None => merged.push((host_key, host_weight)),
        }
    }
    merged
}
