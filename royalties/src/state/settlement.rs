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
use std::collections::BTreeMap;

pub const MAX_RECEIPTS_PER_BATCH: usize = 5_000;
/// How far ahead of this canister's clock a receipt's metering time may be.
pub const METERING_CLOCK_DRIFT_NANOS: u64 = 60_000_000_000;

pub struct Settlement {
    batches: StableBTreeMap<BatchId, Candid<SettleOk>, Memory>,
    /// Receipts settled one by one by versions before ranges: only read now.
    settled_receipts: StableBTreeMap<ReceiptId, BatchId, Memory>,
    /// first receipt id → (last receipt id, batch): the disjoint id ranges batches settled. A batch
    /// settles the ids from its first new receipt to its last (the proxy numbers receipts one after
    /// another and batches them in order), so a batch costs one insert here, not one per receipt.
    settled_ranges: StableBTreeMap<ReceiptId, (ReceiptId, BatchId), Memory>,
}

impl Settlement {
    /// Opens the settlement records in `mm` (their ids in [`crate::memory`]).
    pub fn init(mm: &MemoryManager<DefaultMemoryImpl>) -> Self {
        Self {
            batches: StableBTreeMap::init(mm.get(BATCHES_MEMORY_ID)),
            settled_receipts: StableBTreeMap::init(mm.get(SETTLED_RECEIPTS_MEMORY_ID)),
            settled_ranges: StableBTreeMap::init(mm.get(SETTLED_RANGES_MEMORY_ID)),
        }
    }

    pub fn batch(&self, id: BatchId) -> Option<SettleOk> {
        self.batches.get(&id).map(|b| b.0)
    }

    /// Refuses a batch that is empty, too large, not in increasing receipt order or was metered in
    /// the future.
    pub fn check(&self, args: &SettleArgs, now: u64) -> Result<(), SettleError> {
        if args.receipts.is_empty() {
            return Err(SettleError::EmptyBatch);
        }
        if args.receipts.len() > MAX_RECEIPTS_PER_BATCH {
            return Err(SettleError::TooManyReceipts {
                max: MAX_RECEIPTS_PER_BATCH as u32,
            });
        }
        let mut previous: Option<ReceiptId> = None;
        for r in &args.receipts {
            match previous {
                Some(p) if p == r.id => {
                    return Err(SettleError::DuplicateReceiptInBatch { receipt: r.id })
                }
                Some(p) if p > r.id => {
                    return Err(SettleError::ReceiptsOutOfOrder {
                        receipt: r.id,
                        after: p,
                    })
                }
                _ => {}
            }
            previous = Some(r.id);
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

    /// The settled ranges that meet `[first, last]`, oldest id first.
    fn ranges_meeting(&self, first: ReceiptId, last: ReceiptId) -> Vec<(ReceiptId, ReceiptId)> {
        let mut found: Vec<(ReceiptId, ReceiptId)> = Vec::new();
        if let Some(e) = self.settled_ranges.range(..=first).next_back() {
            let (start, (end, _)) = e.into_pair();
            if end >= first {
                found.push((start, end));
            }
        }
        if first < last {
            for e in self.settled_ranges.range(first + 1..=last) {
                let (start, (end, _)) = e.into_pair();
                found.push((start, end));
            }
        }
        found
    }

    /// Settles the receipts of `batch` (ids increasing, as [`Self::check`] makes sure) that no earlier
    /// batch settled; returns which ones are new. Each run of new receipts between settled ranges
    /// becomes one range.
    pub fn settle_new(&mut self, batch: BatchId, ids: &[ReceiptId]) -> Vec<bool> {
        let (Some(&first), Some(&last)) = (ids.first(), ids.last()) else {
            return Vec::new();
        };
        let settled = self.ranges_meeting(first, last);
        let legacy = !self.settled_receipts.is_empty();
        let mut new = Vec::with_capacity(ids.len());
        let mut runs: Vec<(ReceiptId, ReceiptId)> = Vec::new();
        let mut run: Option<(ReceiptId, ReceiptId)> = None;
        let mut next_range = 0;
        for &id in ids {
            // Ranges wholly below `id` close the run: it may not span them.
            while next_range < settled.len() && settled[next_range].1 < id {
                runs.extend(run.take());
                next_range += 1;
            }
            let in_range = settled
                .get(next_range)
                .is_some_and(|&(start, end)| start <= id && id <= end);
            let settled_before = in_range || (legacy && self.settled_receipts.contains_key(&id));
            let is_new = !settled_before;
            if is_new {
                run = Some(match run {
                    Some((start, _)) => (start, id),
                    None => (id, id),
                });
            } else {
                runs.extend(run.take());
            }
            new.push(is_new);
        }
        runs.extend(run);
        for (start, end) in runs {
            self.settled_ranges.insert(start, (end, batch));
        }
        new
    }

    pub fn record_batch(&mut self, ok: &SettleOk) {
        self.batches.insert(ok.batch_id, Candid(ok.clone()));
    }

    /// Settles receipts one by one as versions before ranges did: the upgrade tests start from there.
    #[cfg(test)]
    pub fn settle_one_by_one(&mut self, receipt: ReceiptId, batch: BatchId) {
        self.settled_receipts.insert(receipt, batch);
    }

    /// Hashes the maps in the order `State::fingerprint` always has.
    pub fn fingerprint(&self, h: &mut Sha256) {
        hash_map(h, &self.batches);
        hash_map(h, &self.settled_receipts);
        hash_map(h, &self.settled_ranges);
    }
}

/// The recipients of a receipt of `model` and their weights, from the share table and split it was
/// metered under. The host differs per receipt: its weight is [`host_weight`].
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

/// The host's weight of a receipt under `split` (over [`ENTITLEMENT_DENOMINATOR`]).
pub fn host_weight(split: &SplitConfig) -> u128 {
    split.host_bps as u128 * SHARE_UNITS_PER_MODEL as u128 * DATA_WEIGHT_TOTAL as u128
}

/// The share epochs a batch's receipts are credited under, read once per model and split version
/// for the whole batch instead of once per receipt.
pub(super) struct BatchEpochs {
    from: u64,
    to: u64,
    models: BTreeMap<ModelId, Option<super::registry::EpochTimeline>>,
    splits: BTreeMap<SplitVersion, bool>,
}

impl BatchEpochs {
    pub(super) fn spanning(receipts: &[Receipt]) -> Self {
        let times = receipts.iter().map(|r| r.metered_at);
        Self {
            from: times.clone().min().unwrap_or(0),
            to: times.max().unwrap_or(0),
            models: BTreeMap::new(),
            splits: BTreeMap::new(),
        }
    }

    /// The share epoch a receipt is credited under, or `None` when this registry cannot attribute it
    /// (an unknown model or split version: only a faulty proxy makes one). A receipt metered before
    /// the model's first epoch (the proxy's clock a little behind this one) belongs to that epoch.
    pub(super) fn of(&mut self, state: &super::State, r: &Receipt) -> Option<u64> {
        let known_split = *self
            .splits
            .entry(r.split_version)
            .or_insert_with(|| state.splits.contains(r.split_version));
        if !known_split {
            return None;
        }
        let (from, to) = (self.from, self.to);
        self.models
            .entry(r.model)
            .or_insert_with(|| state.registry.epochs_between(r.model, from, to))
            .as_ref()
            .map(|timeline| timeline.at(r.metered_at))
    }
}
