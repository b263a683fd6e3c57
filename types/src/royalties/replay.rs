//! Recomputes every credit of the settlement log from the log alone: the share tables from the
//! registrations and transfers, the splits from their records, each receipt's weights from those,
//! and each account's floors batch by batch. A stakeholder's verifier runs it over a chain it has
//! verified; the canister's property tests run it as the independent reckoning of what it owes.
//!
//! The rules it applies (written here apart from the canister's code, so that a slip in either shows):
//! - a receipt of model `m` metered at `t` is shared under the share epoch in force at `t` (the last
//!   registration or transfer of `m` logged at or before `t`, the first epoch if none), by its split
//!   version; a receipt of an unknown model or split is the treasury's whole;
//! - weights over [`ENTITLEMENT_DENOMINATOR`]: the host `host_bps·U·W`, the treasury
//!   `treasury_bps·U·W`, each holder `owners_bps·units·W`, each data owner `data_bps·weight·U`
//!   (`U` share units, `W` data weight; without data owners their part is the owners');
//! - per batch each account's remainder gains `Σ amount × weight`; the whole units are credited.

use super::*;
use crate::normalize_account;
use std::collections::BTreeMap;

/// What the replay knows of one account.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct ReplayedAccount {
    pub credited_total: u128,
    /// The fractional part of its exact entitlement, over [`ENTITLEMENT_DENOMINATOR`].
    pub remainder: u128,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
struct ReplayedModel {
    data_owners: Vec<DataOwner>,
    /// The holders of each epoch (the epoch is the index).
    tables: Vec<BTreeMap<Account, u64>>,
    /// Log timestamp → the epoch that began then (a later one at the same time replaces it).
    epoch_starts: BTreeMap<u64, u64>,
}

/// The replay's state after some prefix of the log; it serializes (Candid) as a checkpoint, so that a
/// verifier goes on from where it stopped.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LogReplay {
    pub treasury: Account,
    /// The index of the next entry to apply.
    pub next_index: u64,
    /// The hash of the last entry applied ([`LOG_GENESIS_HASH`] at the start).
    pub tip: ByteBuf,
    models: BTreeMap<ModelId, ReplayedModel>,
    splits: BTreeMap<SplitVersion, SplitConfig>,
    accounts: BTreeMap<Account, ReplayedAccount>,
    pub batches: u64,
    pub receipts: u64,
    /// The format-1 entries at the log's start (counted by the verifier, which sees the formats).
    pub legacy_entries: u64,
}

/// Where the log and the recomputation part ways.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayError {
    /// An event names a model the log never registered, or an epoch it never began.
    UnknownModel { index: u64, model: ModelId },
    /// A receipt is logged under another share epoch than the one in force when it was metered.
    WrongEpoch {
        index: u64,
        receipt: ReceiptId,
        logged: Option<u64>,
        recomputed: Option<u64>,
    },
    /// A batch's credit of an account is not the recomputed one.
    WrongCredit {
        index: u64,
        account: Account,
        logged: u128,
        recomputed: u128,
    },
    /// A per-receipt entry's weights do not cover the receipt exactly.
    WeightsNotWhole { index: u64, receipt: ReceiptId },
}

impl std::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownModel { index, model } => {
                write!(f, "entry {index}: model {model} or its epoch is not in the log")
            }
            Self::WrongEpoch {
                index,
                receipt,
                logged,
                recomputed,
            } => write!(
                f,
                "entry {index}: receipt {receipt} is logged under epoch {logged:?}, the log gives {recomputed:?}"
            ),
            Self::WrongCredit {
                index,
                account,
                logged,
                recomputed,
            } => write!(
                f,
                "entry {index}: {account} is credited {logged}, the receipts give {recomputed}"
            ),
            Self::WeightsNotWhole { index, receipt } => {
                write!(f, "entry {index}: the weights of receipt {receipt} do not sum to the whole")
            }
        }
    }
}

const U: u128 = SHARE_UNITS_PER_MODEL as u128;
const W: u128 = DATA_WEIGHT_TOTAL as u128;

impl LogReplay {
    /// A replay from the log's first entry; `treasury` is royalties' configured treasury.
    pub fn new(treasury: Account) -> Self {
        Self {
            treasury: normalize_account(&treasury),
            next_index: 0,
            tip: ByteBuf::from(LOG_GENESIS_HASH.to_vec()),
            models: BTreeMap::new(),
            splits: BTreeMap::new(),
            accounts: BTreeMap::new(),
            batches: 0,
            receipts: 0,
            legacy_entries: 0,
        }
    }

    pub fn account(&self, account: &Account) -> ReplayedAccount {
        self.accounts
            .get(&normalize_account(account))
            .cloned()
            .unwrap_or_default()
    }

    /// Every account the log credited or left a fraction to.
    pub fn accounts(&self) -> impl Iterator<Item = (&Account, &ReplayedAccount)> {
        self.accounts.iter()
    }

    /// Applies the entry at `index` (the next one) whose hash is `hash`.
    pub fn apply(
        &mut self,
        index: u64,
        timestamp: u64,
        hash: &[u8],
        event: &LogEvent,
    ) -> Result<(), ReplayError> {
        match event {
            LogEvent::ModelRegistered {
                model,
                owners,
                data_owners,
                ..
            } => {
                let table = owners
                    .iter()
                    .map(|h| (normalize_account(&h.account), h.units))
                    .collect();
                self.models.insert(
                    *model,
                    ReplayedModel {
                        data_owners: data_owners.clone(),
                        tables: vec![table],
                        epoch_starts: BTreeMap::from([(timestamp, 0)]),
                    },
                );
            }
            LogEvent::SharesTransferred {
                model,
                from,
                to,
                units,
                new_epoch,
            } => {
                let unknown = ReplayError::UnknownModel {
                    index,
                    model: *model,
                };
                let m = self.models.get_mut(model).ok_or(unknown.clone())?;
                if *new_epoch as usize != m.tables.len() {
                    return Err(unknown);
                }
                let mut table = m.tables.last().cloned().unwrap_or_default();
                let from = normalize_account(from);
                let held = table.get(&from).copied().unwrap_or(0);
                if held < *units {
                    return Err(unknown);
                }
                if held == *units {
                    table.remove(&from);
                } else {
                    table.insert(from, held - units);
                }
                *table.entry(normalize_account(to)).or_default() += units;
                m.tables.push(table);
                m.epoch_starts.insert(timestamp, *new_epoch);
            }
            LogEvent::SplitSet { record } => {
                self.splits.insert(record.version, record.split);
            }
            LogEvent::BatchCredited {
                receipts, credits, ..
            } => self.apply_batch(index, receipts, credits)?,
            LogEvent::BatchSettled { receipts, .. } => self.apply_legacy_batch(index, receipts)?,
            LogEvent::PayoutRecorded { .. }
            | LogEvent::PayoutCompleted { .. }
            | LogEvent::PayoutFailed { .. }
            | LogEvent::ModelModerated { .. }
            | LogEvent::PayoutSettingsSet { .. } => {}
        }
        self.next_index = index + 1;
        self.tip = ByteBuf::from(hash.to_vec());
        Ok(())
    }

    /// The epoch a receipt is shared under, or `None` when the log cannot attribute it.
    fn epoch_of(&self, model: ModelId, split: SplitVersion, metered_at: u64) -> Option<u64> {
        if !self.splits.contains_key(&split) {
            return None;
        }
        let m = self.models.get(&model)?;
        Some(
            m.epoch_starts
                .range(..=metered_at)
                .next_back()
                .map_or(0, |(_, e)| *e),
        )
    }

    /// Adds `amount × weight` of one receipt to `accruals` for every one of its recipients.
    fn share(
        &self,
        accruals: &mut BTreeMap<Account, u128>,
        r: &LoggedReceipt,
        epoch: u64,
    ) -> Option<()> {
        let m = self.models.get(&r.model)?;
        let table = m.tables.get(epoch as usize)?;
        let split = self.splits.get(&r.split_version)?;
        let (owners_bps, data_bps) = if m.data_owners.is_empty() {
            (
                split.model_owners_bps as u128 + split.data_owners_bps as u128,
                0,
            )
        } else {
            (
                split.model_owners_bps as u128,
                split.data_owners_bps as u128,
            )
        };
        let amount = r.amount as u128;
        let mut add = |account: Account, weight: u128| {
            if weight > 0 {
                *accruals.entry(account).or_default() += amount * weight;
            }
        };
        add(
            normalize_account(&r.node_operator),
            split.host_bps as u128 * U * W,
        );
        add(self.treasury, split.treasury_bps as u128 * U * W);
        for (holder, units) in table {
            add(*holder, owners_bps * *units as u128 * W);
        }
        for d in &m.data_owners {
            add(
                normalize_account(&d.account),
                data_bps * d.weight as u128 * U,
            );
        }
        Some(())
    }

    fn apply_batch(
        &mut self,
        index: u64,
        receipts: &[LoggedReceipt],
        credits: &[AccountCredit],
    ) -> Result<(), ReplayError> {
        let mut accruals: BTreeMap<Account, u128> = BTreeMap::new();
        for r in receipts {
            let recomputed = self.epoch_of(r.model, r.split_version, r.metered_at);
            if recomputed != r.share_epoch {
                return Err(ReplayError::WrongEpoch {
                    index,
                    receipt: r.id,
                    logged: r.share_epoch,
                    recomputed,
                });
            }
            match recomputed {
                Some(epoch) => self.share(&mut accruals, r, epoch).ok_or({
                    ReplayError::UnknownModel {
                        index,
                        model: r.model,
                    }
                })?,
                None => {
                    *accruals.entry(self.treasury).or_default() +=
                        r.amount as u128 * ENTITLEMENT_DENOMINATOR
                }
            }
        }
        let logged: BTreeMap<Account, u128> = credits
            .iter()
            .map(|c| (normalize_account(&c.account), c.amount))
            .collect();
        let whole = self.credit(&accruals);
        for account in whole.keys().chain(logged.keys()) {
            let (logged, recomputed) = (
                logged.get(account).copied().unwrap_or(0),
                whole.get(account).copied().unwrap_or(0),
            );
            if logged != recomputed {
                return Err(ReplayError::WrongCredit {
                    index,
                    account: *account,
                    logged,
                    recomputed,
                });
            }
        }
        self.batches += 1;
        self.receipts += receipts.len() as u64;
        Ok(())
    }

    /// Entries of versions that settled receipt by receipt carry each receipt's weights: they are
    /// applied as logged (and their credits checked), the weights checked to cover each receipt.
    fn apply_legacy_batch(
        &mut self,
        index: u64,
        receipts: &[SettledReceipt],
    ) -> Result<(), ReplayError> {
        let mut accruals: BTreeMap<Account, u128> = BTreeMap::new();
        let mut logged: BTreeMap<Account, u128> = BTreeMap::new();
        for r in receipts {
            let total: u128 = r.credits.iter().map(|c| c.weight as u128).sum();
            if total != ENTITLEMENT_DENOMINATOR {
                return Err(ReplayError::WeightsNotWhole {
                    index,
                    receipt: r.receipt.id,
                });
            }
            for c in &r.credits {
                let account = normalize_account(&c.account);
                *accruals.entry(account).or_default() +=
                    r.receipt.amount as u128 * c.weight as u128;
                *logged.entry(account).or_default() += c.amount;
            }
        }
        let whole = self.credit(&accruals);
        for (account, recomputed) in whole {
            let logged = logged.get(&account).copied().unwrap_or(0);
            if logged != recomputed {
                return Err(ReplayError::WrongCredit {
                    index,
                    account,
                    logged,
                    recomputed,
                });
            }
        }
        self.batches += 1;
        self.receipts += receipts.len() as u64;
        Ok(())
    }

    /// Adds each accrual to its account's remainder; returns the whole units credited (non-zero only).
    fn credit(&mut self, accruals: &BTreeMap<Account, u128>) -> BTreeMap<Account, u128> {
        let mut whole = BTreeMap::new();
        for (account, accrual) in accruals {
            let a = self.accounts.entry(*account).or_default();
            let exact = a.remainder + accrual;
            let units = exact / ENTITLEMENT_DENOMINATOR;
            a.remainder = exact % ENTITLEMENT_DENOMINATOR;
            a.credited_total += units;
            if units > 0 {
                whole.insert(*account, units);
            }
        }
        whole
    }
}
