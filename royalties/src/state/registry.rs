//! The model registry: models, their holdings and share tables by epoch, the models each principal
//! manages, and the per-minute limit on registry changes.

use super::{hash_map, AccountKey, Memory, MAX_PAGE};
use crate::memory::*;
use crate::storable::Candid;
use candid::Principal;
use ic_stable_structures::memory_manager::MemoryManager;
use ic_stable_structures::{DefaultMemoryImpl, StableBTreeMap};
use icrc_ledger_types::icrc1::account::Account;
use neuranft_types::account_from_key;
use neuranft_types::royalties::*;
use neuranft_types::{account_key, normalize_account};
use sha2::Sha256;
use std::collections::BTreeMap;

pub const MAX_TEXT_BYTES: usize = 256;
pub const MAX_URI_BYTES: usize = 512;
pub const MAX_DATASETS: usize = 32;
pub const MAX_TRAINING_PARAMS: usize = 64;
pub const MAX_OWNERS: usize = 100;
pub const MAX_DATA_OWNERS: usize = 50;
/// Models one principal may manage: every model is state royalties and the proxy keep for ever.
pub const MAX_MODELS_PER_MANAGER: u64 = 100;
/// Registry changes (registrations, price and status changes, share transfers) per principal per
/// minute: each costs royalties a log entry, and most a push to the proxy.
pub const MAX_CHANGES_PER_MINUTE: u32 = 30;

pub struct Registry {
    models: StableBTreeMap<ModelId, Candid<Model>, Memory>,
    holdings: StableBTreeMap<(ModelId, AccountKey), u64, Memory>,
    holder_index: StableBTreeMap<(AccountKey, ModelId), (), Memory>,
    share_tables: StableBTreeMap<(ModelId, u64), Candid<ShareTable>, Memory>,
    epoch_by_time: StableBTreeMap<(ModelId, u64), u64, Memory>,
    /// How many models each principal manages (for [`MAX_MODELS_PER_MANAGER`]).
    models_per_manager: StableBTreeMap<AccountKey, u64, Memory>,
    /// Registry changes per principal in the current minute (heap: a rate limit need not survive an
    /// upgrade).
    changes_this_minute: BTreeMap<Principal, (u64, u32)>,
}

fn invalid(field: &str, reason: impl Into<String>) -> RegistryError {
    RegistryError::InvalidArgument {
        field: field.into(),
        reason: reason.into(),
    }
}

fn check_text(field: &str, value: &str, max: usize, required: bool) -> Result<(), RegistryError> {
    if required && value.trim().is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if value.len() > max {
        return Err(invalid(field, format!("longer than {max} bytes")));
    }
    Ok(())
}

fn validate_metadata(m: &ModelMetadata) -> Result<(), RegistryError> {
    check_text("name", &m.name, MAX_TEXT_BYTES, true)?;
    check_text("base_model", &m.base_model, MAX_TEXT_BYTES, true)?;
    check_text("architecture", &m.architecture, MAX_TEXT_BYTES, true)?;
    check_text("licence", &m.licence, MAX_TEXT_BYTES, true)?;
    if m.datasets.len() > MAX_DATASETS {
        return Err(invalid("datasets", format!("more than {MAX_DATASETS}")));
    }
    for d in &m.datasets {
        check_text("datasets.uri", &d.uri, MAX_URI_BYTES, true)?;
        if d.sha256.len() != 32 {
            return Err(invalid("datasets.sha256", "must be 32 bytes"));
        }
    }
    if m.training_params.len() > MAX_TRAINING_PARAMS {
        return Err(invalid(
            "training_params",
            format!("more than {MAX_TRAINING_PARAMS}"),
        ));
    }
    for p in &m.training_params {
        check_text("training_params.key", &p.key, 64, true)?;
        check_text("training_params.value", &p.value, MAX_TEXT_BYTES, false)?;
    }
    Ok(())
}

/// Merges duplicate accounts and checks every amount is positive and that they sum to exactly `total`.
fn merge_weights(
    field: &str,
    entries: impl Iterator<Item = (Account, u64)>,
    max_entries: usize,
    required_total: u64,
) -> Result<BTreeMap<AccountKey, u64>, RegistryError> {
    let mut merged: BTreeMap<AccountKey, u64> = BTreeMap::new();
    let mut total: u64 = 0;
    for (account, amount) in entries {
        if account.owner == Principal::anonymous() {
            return Err(invalid(field, "anonymous account"));
        }
        if amount == 0 {
            return Err(invalid(field, "zero amount"));
        }
        total = total
            .checked_add(amount)
            .ok_or_else(|| invalid(field, format!("must sum to {required_total}")))?;
        *merged.entry(account_key(&account)).or_default() += amount;
    }
    if merged.len() > max_entries {
        return Err(invalid(field, format!("more than {max_entries} accounts")));
    }
    if total != required_total {
        return Err(invalid(
            field,
            format!("must sum to {required_total} (got {total})"),
        ));
    }
    Ok(merged)
}

impl Registry {
    /// Opens the registry in `mm` (its ids in [`crate::memory`]).
    pub fn init(mm: &MemoryManager<DefaultMemoryImpl>) -> Self {
        Self {
            models: StableBTreeMap::init(mm.get(MODELS_MEMORY_ID)),
            holdings: StableBTreeMap::init(mm.get(HOLDINGS_MEMORY_ID)),
            holder_index: StableBTreeMap::init(mm.get(HOLDER_INDEX_MEMORY_ID)),
            share_tables: StableBTreeMap::init(mm.get(SHARE_TABLES_MEMORY_ID)),
            epoch_by_time: StableBTreeMap::init(mm.get(EPOCH_BY_TIME_MEMORY_ID)),
            models_per_manager: StableBTreeMap::init(mm.get(MODELS_PER_MANAGER_MEMORY_ID)),
            changes_this_minute: BTreeMap::new(),
        }
    }

    /// Validates and records model `id` with its holdings and first share table; returns the event
    /// the log records it by.
    pub fn register(
        &mut self,
        caller: Principal,
        args: RegisterModelArgs,
        id: ModelId,
        now: u64,
    ) -> Result<LogEvent, RegistryError> {
        if caller == Principal::anonymous() {
            return Err(RegistryError::AnonymousCaller);
        }
        validate_metadata(&args.metadata)?;
        let manager_key = account_key(&Account {
            owner: caller,
            subaccount: None,
        });
        let managed = self.models_per_manager.get(&manager_key).unwrap_or(0);
        if managed >= MAX_MODELS_PER_MANAGER {
            return Err(RegistryError::TooManyModels {
                max: MAX_MODELS_PER_MANAGER,
            });
        }
        if args.owners.is_empty() {
            return Err(invalid("owners", "at least one owner is required"));
        }
        let owners = merge_weights(
            "owners",
            args.owners.iter().map(|h| (h.account, h.units)),
            MAX_OWNERS,
            SHARE_UNITS_PER_MODEL,
        )?;
        let data_owners = if args.data_owners.is_empty() {
            BTreeMap::new()
        } else {
            merge_weights(
                "data_owners",
                args.data_owners.iter().map(|d| (d.account, d.weight)),
                MAX_DATA_OWNERS,
                DATA_WEIGHT_TOTAL,
            )?
        };
        self.admit_change(caller, now)?;
        self.models_per_manager.insert(manager_key, managed + 1);
        let data_owners: Vec<DataOwner> = data_owners
            .into_iter()
            .map(|(k, weight)| DataOwner {
                account: account_from_key(&k),
                weight,
            })
            .collect();
        let model = Model {
            id,
            metadata: args.metadata,
            price: args.price,
            status: ModelStatus::Active,
            manager: caller,
            total_units: SHARE_UNITS_PER_MODEL,
            share_epoch: 0,
            data_owners: data_owners.clone(),
            registered_at: now,
            updated_at: now,
            moderation: None,
        };
        for (key, units) in &owners {
            self.holdings.insert((id, *key), *units);
            self.holder_index.insert((*key, id), ());
        }
        self.models.insert(id, Candid(model));
        self.record_share_table(id, 0, now);
        Ok(LogEvent::ModelRegistered {
            model: id,
            manager: caller,
            owners: self.holders(id),
            data_owners,
        })
    }

    fn record_share_table(&mut self, model: ModelId, epoch: u64, now: u64) {
        let table = ShareTable {
            model,
            epoch,
            starts_at: now,
            holders: self.holders(model),
        };
        self.share_tables.insert((model, epoch), Candid(table));
        self.epoch_by_time.insert((model, now), epoch);
    }

    fn holders(&self, model: ModelId) -> Vec<ShareHolding> {
        self.holdings
            .range((model, [0u8; 62])..=(model, [u8::MAX; 62]))
            .map(|e| {
                let ((_, key), units) = e.into_pair();
                ShareHolding {
                    account: account_from_key(&key),
                    units,
                }
            })
            .collect()
    }

    pub fn model(&self, id: ModelId) -> Result<Model, RegistryError> {
        self.models
            .get(&id)
            .map(|m| m.0)
            .ok_or(RegistryError::UnknownModel { model: id })
    }

    /// Stores `model` as it now is (the DAO's moderation changed it).
    pub fn replace(&mut self, model: Model) {
        self.models.insert(model.id, Candid(model));
    }

    /// What the proxy must learn of model `id`, as change `version`.
    pub fn model_entry(&self, id: ModelId, version: u64) -> Option<ModelEntry> {
        let model = self.models.get(&id)?.0;
        Some(ModelEntry {
            model: id,
            base_model: model.metadata.base_model,
            price: model.price,
            status: model.status,
            version,
        })
    }

    fn managed_model(&self, caller: Principal, id: ModelId) -> Result<Model, RegistryError> {
        if caller == Principal::anonymous() {
            return Err(RegistryError::AnonymousCaller);
        }
        let model = self.model(id)?;
        if model.manager != caller {
            return Err(RegistryError::NotModelManager { model: id });
        }
        Ok(model)
    }

    pub fn set_price(
        &mut self,
        caller: Principal,
        id: ModelId,
        price: Price,
        now: u64,
    ) -> Result<(), RegistryError> {
        let mut model = self.managed_model(caller, id)?;
        self.admit_change(caller, now)?;
        model.price = price;
        model.updated_at = now;
        self.models.insert(id, Candid(model));
        Ok(())
    }

    pub fn set_status(
        &mut self,
        caller: Principal,
        id: ModelId,
        status: ModelStatus,
        now: u64,
    ) -> Result<(), RegistryError> {
        let mut model = self.managed_model(caller, id)?;
        for s in [model.status, status] {
            if s.is_moderated() {
                return Err(RegistryError::Moderated {
                    model: id,
                    status: s,
                });
            }
        }
        self.admit_change(caller, now)?;
        model.status = status;
        model.updated_at = now;
        self.models.insert(id, Candid(model));
        Ok(())
    }

    /// Counts a registry change against the caller's per-minute limit.
    fn admit_change(&mut self, caller: Principal, now: u64) -> Result<(), RegistryError> {
        let minute = now / 60_000_000_000;
        if self.changes_this_minute.len() > 10_000 {
            self.changes_this_minute.retain(|_, (m, _)| *m == minute);
        }
        let entry = self
            .changes_this_minute
            .entry(caller)
            .or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        if entry.1 >= MAX_CHANGES_PER_MINUTE {
            return Err(RegistryError::RateLimited {
                changes_per_minute: MAX_CHANGES_PER_MINUTE,
            });
        }
        entry.1 += 1;
        Ok(())
    }

    /// Moves the units and records the new epoch's share table; returns the epoch and the event the
    /// log records the transfer by.
    pub fn transfer_shares(
        &mut self,
        caller: Principal,
        args: &TransferSharesArgs,
        now: u64,
    ) -> Result<(u64, LogEvent), RegistryError> {
        if caller == Principal::anonymous() {
            return Err(RegistryError::AnonymousCaller);
        }
        if args.to.owner == Principal::anonymous() {
            return Err(invalid("to", "anonymous account"));
        }
        if args.units == 0 {
            return Err(invalid("units", "zero amount"));
        }
        let mut model = self.model(args.model)?;
        let from = Account {
            owner: caller,
            subaccount: args.from_subaccount,
        };
        let from_key = account_key(&from);
        let to_key = account_key(&args.to);
        let held = self.holdings.get(&(args.model, from_key)).unwrap_or(0);
        if held < args.units {
            return Err(RegistryError::InsufficientShares {
                held,
                requested: args.units,
            });
        }
        if from_key == to_key {
            return Err(invalid("to", "same account as the sender"));
        }
        let receiver_is_new = self.holdings.get(&(args.model, to_key)).is_none();
        let holder_count = self.holders_count(args.model);
        if receiver_is_new && held != args.units && holder_count >= MAX_OWNERS {
            return Err(invalid(
                "to",
                format!("a model has at most {MAX_OWNERS} holders"),
            ));
        }
        self.admit_change(caller, now)?;
        if held == args.units {
            self.holdings.remove(&(args.model, from_key));
            self.holder_index.remove(&(from_key, args.model));
        } else {
            self.holdings
                .insert((args.model, from_key), held - args.units);
        }
        let to_units = self.holdings.get(&(args.model, to_key)).unwrap_or(0) + args.units;
        self.holdings.insert((args.model, to_key), to_units);
        self.holder_index.insert((to_key, args.model), ());
        model.share_epoch += 1;
        model.updated_at = now;
        let epoch = model.share_epoch;
        self.models.insert(args.model, Candid(model));
        self.record_share_table(args.model, epoch, now);
        let event = LogEvent::SharesTransferred {
            model: args.model,
            from: normalize_account(&from),
            to: normalize_account(&args.to),
            units: args.units,
            new_epoch: epoch,
        };
        Ok((epoch, event))
    }

    fn holders_count(&self, model: ModelId) -> usize {
        self.holdings
            .keys_range((model, [0u8; 62])..=(model, [u8::MAX; 62]))
            .count()
    }

    pub fn get_model(&self, id: ModelId) -> Option<ModelView> {
        let model = self.models.get(&id)?.0;
        Some(ModelView {
            holders: self.holders(id),
            model,
        })
    }

    pub fn list_models(&self, start: Option<ModelId>, limit: usize) -> ModelPage {
        let limit = limit.clamp(1, MAX_PAGE);
        let mut models: Vec<ModelView> = self
            .models
            .range(start.unwrap_or(0)..)
            // Delisted models are not offered; their holders still see them by `get_model`.
            .filter(|e| e.value().0.status != ModelStatus::Delisted)
            .take(limit + 1)
            .map(|e| {
                let (id, m) = e.into_pair();
                ModelView {
                    holders: self.holders(id),
                    model: m.0,
                }
            })
            .collect();
        let next = if models.len() > limit {
            models.pop().map(|m| m.model.id)
        } else {
            None
        };
        ModelPage { models, next }
    }

    pub fn models_of(&self, account: &Account) -> Vec<HeldShares> {
        let key = account_key(account);
        self.holder_index
            .keys_range((key, 0)..=(key, u64::MAX))
            .map(|(_, model)| HeldShares {
                model,
                units: self.holdings.get(&(model, key)).unwrap_or(0),
                total_units: self
                    .models
                    .get(&model)
                    .map(|m| m.0.total_units)
                    .unwrap_or(0),
            })
            .collect()
    }

    pub fn share_table(&self, model: ModelId, epoch: u64) -> Option<ShareTable> {
        self.share_tables.get(&(model, epoch)).map(|t| t.0)
    }

    /// The share epoch of `model` in force at `at` (the first one for a time before it); `None` for
    /// an unknown model.
    pub fn epoch_at(&self, model: ModelId, at: u64) -> Option<u64> {
        if !self.models.contains_key(&model) {
            return None;
        }
        let epoch = self
            .epoch_by_time
            .range((model, 0)..=(model, at))
            .next_back()
            .map_or(0, |e| e.into_pair().1);
        Some(epoch)
    }

    /// The epochs of `model` in force from `from` to `to`, read at once for a batch whose receipts
    /// were metered between them (`None`: no such model).
    pub fn epochs_between(&self, model: ModelId, from: u64, to: u64) -> Option<EpochTimeline> {
        let first = self.epoch_at(model, from)?;
        let changes = if from < to {
            self.epoch_by_time
                .range((model, from + 1)..=(model, to))
                .map(|e| {
                    let ((_, at), epoch) = e.into_pair();
                    (at, epoch)
                })
                .collect()
        } else {
            Vec::new()
        };
        Some(EpochTimeline { first, changes })
    }

    /// Hashes the maps in the order `State::fingerprint` always has, so that a digest taken before
    /// an upgrade still compares (the per-manager counts were never part of it).
    pub fn fingerprint(&self, h: &mut Sha256) {
        hash_map(h, &self.models);
        hash_map(h, &self.holdings);
        hash_map(h, &self.holder_index);
        hash_map(h, &self.share_tables);
        hash_map(h, &self.epoch_by_time);
    }
}

/// A model's share epochs over a span of time: the one in force at its start, and the changes in it.
pub struct EpochTimeline {
    first: u64,
    changes: Vec<(u64, u64)>,
}

impl EpochTimeline {
    /// The epoch in force at `at` (within the span it was read for).
    pub fn at(&self, at: u64) -> u64 {
        let later = self.changes.partition_point(|(start, _)| *start <= at);
        later
            .checked_sub(1)
            .map_or(self.first, |i| self.changes[i].1)
    }
}
