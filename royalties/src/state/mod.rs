//! The royalties state and its transitions: plain Rust over stable structures, no IC calls.

use crate::memory::*;
use crate::storable::{Balance, Candid};
use candid::{CandidType, Deserialize, Nat, Principal};
use ic_stable_structures::memory_manager::{MemoryManager, VirtualMemory};
use ic_stable_structures::{DefaultMemoryImpl, StableBTreeMap, StableCell, StableLog};
use icrc_ledger_types::icrc1::account::Account;
use ledger_adapter::book::{Book, BookHost, Transfer};
use ledger_adapter::outbox::{FeePolicy, IntentStatus, TransferIntent, TransferKind};
use neuranft_types::royalties::*;
use neuranft_types::{account_from_key, account_key, normalize_account, BASIS_POINTS};
use serde_bytes::ByteBuf;
use std::collections::{BTreeMap, BTreeSet};

pub type Memory = VirtualMemory<DefaultMemoryImpl>;
type AccountKey = [u8; 62];

pub const MAX_TEXT_BYTES: usize = 256;
pub const MAX_URI_BYTES: usize = 512;
pub const MAX_DATASETS: usize = 32;
pub const MAX_TRAINING_PARAMS: usize = 64;
pub const MAX_OWNERS: usize = 100;
pub const MAX_DATA_OWNERS: usize = 50;
pub const MAX_RECEIPTS_PER_BATCH: usize = 5_000;
pub const MAX_PAGE: usize = 100;
/// Models one principal may manage: every model is state royalties and the proxy keep for ever.
pub const MAX_MODELS_PER_MANAGER: u64 = 100;
/// Registry changes (registrations, price and status changes, share transfers) per principal per
/// minute: each costs royalties a log entry, and most a push to the proxy.
pub const MAX_CHANGES_PER_MINUTE: u32 = 30;
/// How far ahead of this canister's clock a receipt's metering time may be.
pub const METERING_CLOCK_DRIFT_NANOS: u64 = 60_000_000_000;
pub const PAYOUT_MEMO_TAG: &[u8; 8] = b"NNFT-PAY";

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub ledger: Principal,
    pub governance: Principal,
    pub inference_proxy: Principal,
    pub treasury: Account,
    pub auto_payout_fee_multiple: u64,
    pub payout_interval_seconds: u64,
}

/// Totals and sequence numbers, kept beside the maps so that every liability query is O(1).
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct Counters {
    pub next_model_id: u64,
    pub next_payout_id: u64,
    pub current_split_version: SplitVersion,
    pub available_total: u128,
    pub in_flight_total: u128,
    pub undistributed_total: u128,
    pub settled_total: u128,
    pub paid_total: u128,
    pub log_tip_hash: Option<ByteBuf>,
    /// Where the automatic payout scan resumes.
    pub payout_cursor: Option<ByteBuf>,
    /// The last model-push version handed out (optional so older stored counters still decode).
    pub model_push_seq: Option<u64>,
    /// The newest split version the proxy acknowledged (receipts it meters carry it).
    pub split_pushed: Option<SplitVersion>,
}

pub struct State {
    config: StableCell<Candid<Option<Config>>, Memory>,
    counters: StableCell<Candid<Counters>, Memory>,
    models: StableBTreeMap<ModelId, Candid<Model>, Memory>,
    holdings: StableBTreeMap<(ModelId, AccountKey), u64, Memory>,
    holder_index: StableBTreeMap<(AccountKey, ModelId), (), Memory>,
    share_tables: StableBTreeMap<(ModelId, u64), Candid<ShareTable>, Memory>,
    epoch_by_time: StableBTreeMap<(ModelId, u64), u64, Memory>,
    splits: StableBTreeMap<SplitVersion, Candid<SplitRecord>, Memory>,
    split_proposals: StableBTreeMap<ProposalId, SplitVersion, Memory>,
    balances: StableBTreeMap<AccountKey, Balance, Memory>,
    batches: StableBTreeMap<BatchId, Candid<SettleOk>, Memory>,
    settled_receipts: StableBTreeMap<ReceiptId, BatchId, Memory>,
    payouts: StableBTreeMap<PayoutId, Candid<Payout>, Memory>,
    /// Retired: pending payouts are the unresolved ops of `book` (emptied into it on open).
    retired_pending_payouts: StableBTreeMap<PayoutId, (), Memory>,
    payouts_by_account: StableBTreeMap<(AccountKey, PayoutId), (), Memory>,
    log: StableLog<Candid<LogEntry>, Memory, Memory>,
    /// Payout transfers, each executed exactly once, and the payout each one pays.
    book: Book<PayoutId>,
    /// Models whose latest change the inference proxy has not acknowledged, with that change's version.
    model_pushes: StableBTreeMap<ModelId, u64, Memory>,
    /// How many models each principal manages (for [`MAX_MODELS_PER_MANAGER`]).
    models_per_manager: StableBTreeMap<AccountKey, u64, Memory>,
    /// Principals with a claim in progress (heap only: no call is in flight across an upgrade).
    claims_in_progress: BTreeSet<Principal>,
    /// Single-flight flag of the payout job (heap only).
    pub payout_job_running: bool,
    /// Single-flight flag of the push job, and whether it is scheduled (heap only).
    push_job_running: bool,
    push_job_scheduled: bool,
    /// Registry changes per principal in the current minute (heap: a rate limit need not survive an
    /// upgrade).
    changes_this_minute: BTreeMap<Principal, (u64, u32)>,
}

impl BookHost for State {
    type Op = PayoutId;
    fn book(&mut self) -> &mut Book<PayoutId> {
        &mut self.book
    }
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

fn validate_split(split: &SplitConfig) -> Result<(), SplitError> {
    let total_bps = split.total_bps();
    if total_bps != BASIS_POINTS as u32 {
        return Err(SplitError::InvalidSplit { total_bps });
    }
    Ok(())
}

impl State {
    /// Opens the state over `memory`: empty on a fresh canister, everything as it was after an upgrade.
    pub fn open(memory: DefaultMemoryImpl) -> Self {
        Self::open_with(MemoryManager::init(memory))
    }

    /// Opens a fresh state whose virtual memories grow one 64 KiB page at a time instead of the default
    /// 8 MiB buckets: native tests and the simulation create thousands of states.
    pub fn open_small(memory: DefaultMemoryImpl) -> Self {
        Self::open_with(MemoryManager::init_with_bucket_size(memory, 1))
    }

    fn open_with(mm: MemoryManager<DefaultMemoryImpl>) -> Self {
        Self {
            config: StableCell::init(mm.get(CONFIG_MEMORY_ID), Candid(None)),
            counters: StableCell::init(mm.get(COUNTERS_MEMORY_ID), Candid(Counters::default())),
            models: StableBTreeMap::init(mm.get(MODELS_MEMORY_ID)),
            holdings: StableBTreeMap::init(mm.get(HOLDINGS_MEMORY_ID)),
            holder_index: StableBTreeMap::init(mm.get(HOLDER_INDEX_MEMORY_ID)),
            share_tables: StableBTreeMap::init(mm.get(SHARE_TABLES_MEMORY_ID)),
            epoch_by_time: StableBTreeMap::init(mm.get(EPOCH_BY_TIME_MEMORY_ID)),
            splits: StableBTreeMap::init(mm.get(SPLITS_MEMORY_ID)),
            split_proposals: StableBTreeMap::init(mm.get(SPLIT_PROPOSALS_MEMORY_ID)),
            balances: StableBTreeMap::init(mm.get(BALANCES_MEMORY_ID)),
            batches: StableBTreeMap::init(mm.get(BATCHES_MEMORY_ID)),
            settled_receipts: StableBTreeMap::init(mm.get(SETTLED_RECEIPTS_MEMORY_ID)),
            payouts: StableBTreeMap::init(mm.get(PAYOUTS_MEMORY_ID)),
            retired_pending_payouts: StableBTreeMap::init(mm.get(PENDING_PAYOUTS_MEMORY_ID)),
            payouts_by_account: StableBTreeMap::init(mm.get(PAYOUTS_BY_ACCOUNT_MEMORY_ID)),
            log: StableLog::init(mm.get(LOG_INDEX_MEMORY_ID), mm.get(LOG_DATA_MEMORY_ID)),
            model_pushes: StableBTreeMap::init(mm.get(MODEL_PUSHES_MEMORY_ID)),
            models_per_manager: StableBTreeMap::init(mm.get(MODELS_PER_MANAGER_MEMORY_ID)),
            book: Book::init(
                mm.get(OUTBOX_INTENTS_MEMORY_ID),
                mm.get(OUTBOX_PENDING_MEMORY_ID),
                mm.get(OUTBOX_COUNTER_MEMORY_ID),
                mm.get(PAYOUT_OPS_MEMORY_ID),
            ),
            claims_in_progress: BTreeSet::new(),
            payout_job_running: false,
            push_job_running: false,
            push_job_scheduled: false,
            changes_this_minute: BTreeMap::new(),
        }
        .with_pending_payouts_in_book()
    }

    /// Moves the pending payouts an earlier version listed on their own into the book, once.
    fn with_pending_payouts_in_book(mut self) -> Self {
        let pending: Vec<PayoutId> = self.retired_pending_payouts.keys().collect();
        for id in pending {
            let payout = self.payout(id).expect("BUG: pending payout without record");
            self.book.adopt(payout.intent, id);
            self.retired_pending_payouts.remove(&id);
        }
        self
    }

    /// Installs the configuration and the first split. Refuses a split that does not sum to 10,000.
    pub fn initialize(&mut self, args: InitArgs, now: u64) -> Result<(), SplitError> {
        validate_split(&args.split)?;
        assert!(self.config.get().0.is_none(), "BUG: initialized twice");
        self.config.set(Candid(Some(Config {
            ledger: args.ledger,
            governance: args.governance,
            inference_proxy: args.inference_proxy,
            treasury: normalize_account(&args.treasury),
            auto_payout_fee_multiple: args.auto_payout_fee_multiple.max(1),
            payout_interval_seconds: args.payout_interval_seconds.max(1),
        })));
        self.apply_split(args.split, None, now);
        Ok(())
    }

    pub fn upgrade(&mut self, args: UpgradeArgs) {
        let mut config = self.config().clone();
        if let Some(p) = args.governance {
            config.governance = p;
        }
        if let Some(p) = args.inference_proxy {
            config.inference_proxy = p;
        }
        if let Some(t) = args.treasury {
            config.treasury = normalize_account(&t);
        }
        if let Some(k) = args.auto_payout_fee_multiple {
            config.auto_payout_fee_multiple = k.max(1);
        }
        if let Some(s) = args.payout_interval_seconds {
            config.payout_interval_seconds = s.max(1);
        }
        self.config.set(Candid(Some(config)));
    }

    pub fn config(&self) -> &Config {
        self.config
            .get()
            .0
            .as_ref()
            .expect("BUG: state not initialized")
    }

    pub fn is_initialized(&self) -> bool {
        self.config.get().0.is_some()
    }

    pub fn counters(&self) -> &Counters {
        &self.counters.get().0
    }

    fn update_counters(&mut self, f: impl FnOnce(&mut Counters)) {
        let mut counters = self.counters.get().0.clone();
        f(&mut counters);
        self.counters.set(Candid(counters));
    }

    fn append_log(&mut self, event: LogEvent, now: u64) -> u64 {
        let index = self.log.len();
        let prev_hash = self
            .counters()
            .log_tip_hash
            .clone()
            .unwrap_or_else(|| ByteBuf::from(vec![0u8; 32]));
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
        self.update_counters(|c| c.log_tip_hash = Some(ByteBuf::from(hash.to_vec())));
        index
    }

    // ---------------------------------------------------------------- registry

    pub fn register_model(
        &mut self,
        caller: Principal,
        args: RegisterModelArgs,
        now: u64,
    ) -> Result<ModelId, RegistryError> {
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
        let id = self.counters().next_model_id;
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
        };
        for (key, units) in &owners {
            self.holdings.insert((id, *key), *units);
            self.holder_index.insert((*key, id), ());
        }
        self.models.insert(id, Candid(model));
        self.queue_model_push(id);
        self.record_share_table(id, 0, now);
        self.update_counters(|c| c.next_model_id += 1);
        let owners = self.holders(id);
        self.append_log(
            LogEvent::ModelRegistered {
                model: id,
                manager: caller,
                owners,
                data_owners,
            },
            now,
        );
        Ok(id)
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

    fn model(&self, id: ModelId) -> Result<Model, RegistryError> {
        self.models
            .get(&id)
            .map(|m| m.0)
            .ok_or(RegistryError::UnknownModel { model: id })
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
        self.queue_model_push(id);
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
        self.admit_change(caller, now)?;
        model.status = status;
        model.updated_at = now;
        self.models.insert(id, Candid(model));
        self.queue_model_push(id);
        Ok(())
    }

    /// Records that the proxy must learn the model's current price and status, under a new version.
    fn queue_model_push(&mut self, id: ModelId) {
        let version = self.counters().model_push_seq.unwrap_or(0) + 1;
        self.update_counters(|c| c.model_push_seq = Some(version));
        self.model_pushes.insert(id, version);
    }

    /// The model changes the proxy has not acknowledged, oldest model id first.
    pub fn pending_model_pushes(&self, limit: usize) -> Vec<ModelEntry> {
        self.model_pushes
            .iter()
            .take(limit)
            .filter_map(|e| {
                let (id, version) = e.into_pair();
                let model = self.models.get(&id)?.0;
                Some(ModelEntry {
                    model: id,
                    base_model: model.metadata.base_model,
                    price: model.price,
                    status: model.status,
                    version,
                })
            })
            .collect()
    }

    /// The split version the proxy must meter under, while it has not acknowledged it.
    pub fn pending_split_push(&self) -> Option<SplitVersion> {
        let current = self.counters().current_split_version;
        (current > self.counters().split_pushed.unwrap_or(0)).then_some(current)
    }

    /// The proxy meters under `version` from now on.
    pub fn split_push_acknowledged(&mut self, version: SplitVersion) {
        self.update_counters(|c| c.split_pushed = Some(c.split_pushed.unwrap_or(0).max(version)));
    }

    pub fn has_pending_pushes(&self) -> bool {
        !self.model_pushes.is_empty() || self.pending_split_push().is_some()
    }

    pub fn begin_push_job(&mut self) -> bool {
        self.push_job_scheduled = false;
        !std::mem::replace(&mut self.push_job_running, true)
    }

    pub fn end_push_job(&mut self) {
        self.push_job_running = false;
    }

    /// Whether the caller must schedule the push job: not when it is scheduled already. A job that is
    /// running picks the change up in its next round (a scheduled job finding it running ends at
    /// once); a change a job could not push waits for the payout timer's push.
    pub fn schedule_push_job(&mut self) -> bool {
        !std::mem::replace(&mut self.push_job_scheduled, true)
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

    /// The proxy accepted `version` of the model; a newer change stays pending.
    pub fn model_push_acknowledged(&mut self, id: ModelId, version: u64) {
        if self.model_pushes.get(&id) == Some(version) {
            self.model_pushes.remove(&id);
        }
    }

    /// Moves share units from one of the caller's accounts; starts a new share epoch so that only
    /// receipts metered from now on are credited under the new holdings.
    pub fn transfer_shares(
        &mut self,
        caller: Principal,
        args: TransferSharesArgs,
        now: u64,
    ) -> Result<u64, RegistryError> {
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
        self.append_log(
            LogEvent::SharesTransferred {
                model: args.model,
                from: normalize_account(&from),
                to: normalize_account(&args.to),
                units: args.units,
                new_epoch: epoch,
            },
            now,
        );
        Ok(epoch)
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

    // ---------------------------------------------------------------- split

    fn apply_split(
        &mut self,
        split: SplitConfig,
        proposal_id: Option<ProposalId>,
        now: u64,
    ) -> SplitVersion {
        let version = if self.splits.is_empty() {
            0
        } else {
            self.counters().current_split_version + 1
        };
        let record = SplitRecord {
            version,
            split,
            proposal_id,
            set_at: now,
        };
        self.splits.insert(version, Candid(record.clone()));
        if let Some(p) = proposal_id {
            self.split_proposals.insert(p, version);
        }
        self.update_counters(|c| c.current_split_version = version);
        self.append_log(LogEvent::SplitSet { record }, now);
        version
    }

    pub fn set_split(
        &mut self,
        caller: Principal,
        args: SetSplitArgs,
        now: u64,
    ) -> Result<SplitVersion, SplitError> {
        if caller != self.config().governance {
            return Err(SplitError::NotGovernance);
        }
        if let Some(version) = self.split_proposals.get(&args.proposal_id) {
            return Err(SplitError::ProposalAlreadyApplied {
                proposal_id: args.proposal_id,
                version,
            });
        }
        validate_split(&args.split)?;
        Ok(self.apply_split(args.split, Some(args.proposal_id), now))
    }

    pub fn current_split(&self) -> SplitRecord {
        self.splits
            .get(&self.counters().current_split_version)
            .expect("BUG: no split")
            .0
    }

    pub fn split(&self, version: SplitVersion) -> Option<SplitRecord> {
        self.splits.get(&version).map(|s| s.0)
    }

    // ---------------------------------------------------------------- settlement

    /// Credits every new receipt of the batch; all-or-nothing on invalid input, idempotent by batch id
    /// and by receipt id.
    pub fn settle(
        &mut self,
        caller: Principal,
        args: SettleArgs,
        now: u64,
    ) -> Result<SettleOk, SettleError> {
        if caller != self.config().inference_proxy {
            return Err(SettleError::NotInferenceProxy);
        }
        if let Some(done) = self.batches.get(&args.batch_id) {
            return Ok(SettleOk {
                already_settled: true,
                ..done.0
            });
        }
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
        // No single receipt can make the batch refused (that would leave every other receipt of it
        // unpaid): one this registry cannot attribute is credited whole to the treasury, below.
        let epochs: Vec<Option<u64>> = args
            .receipts
            .iter()
            .map(|r| self.attributable_epoch(r))
            .collect();

        let mut settled = Vec::new();
        let mut duplicates = Vec::new();
        let mut settled_amount: u128 = 0;
        let mut credited: u128 = 0;
        let mut recipients_cache: BTreeMap<(ModelId, u64, SplitVersion), Vec<(AccountKey, u64)>> =
            BTreeMap::new();
        for (receipt, epoch) in args.receipts.into_iter().zip(epochs) {
            if self.settled_receipts.contains_key(&receipt.id) {
                duplicates.push(receipt.id);
                continue;
            }
            self.settled_receipts.insert(receipt.id, args.batch_id);
            settled_amount += receipt.amount as u128;
            let Some(epoch) = epoch else {
                let treasury = [(
                    account_key(&self.config().treasury),
                    ENTITLEMENT_DENOMINATOR as u64,
                )];
                settled.push(self.credit_weights(receipt, 0, &treasury, &mut credited));
                continue;
            };
            let cache_key = (receipt.model, epoch, receipt.split_version);
            let recipients = recipients_cache.entry(cache_key).or_insert_with(|| {
                let model = self
                    .models
                    .get(&receipt.model)
                    .expect("BUG: model checked by attributable_epoch")
                    .0;
                self.recipients(&model, epoch, receipt.split_version)
            });
            settled.push(self.credit_receipt(receipt, epoch, recipients, &mut credited));
        }
        let settled_receipts = settled.len() as u32;
        self.update_counters(|c| {
            c.settled_total += settled_amount;
            c.available_total += credited;
            // What the floors left stays owed; a later receipt may carry it over a whole unit.
            c.undistributed_total = c.undistributed_total + settled_amount - credited;
        });
        let log_index = self.append_log(
            LogEvent::BatchSettled {
                batch_id: args.batch_id,
                funding_block: args.funding_block,
                receipts: settled,
                duplicate_receipts: duplicates.clone(),
            },
            now,
        );
        let ok = SettleOk {
            batch_id: args.batch_id,
            log_index,
            settled_receipts,
            duplicate_receipts: duplicates,
            settled_amount,
            already_settled: false,
        };
        self.batches.insert(args.batch_id, Candid(ok.clone()));
        Ok(ok)
    }

    /// The share epoch a receipt is credited under, or `None` when this registry cannot attribute it
    /// (an unknown model or split version: only a faulty proxy makes one). A receipt metered before
    /// the model's first epoch (the proxy's clock a little behind this one) belongs to that epoch.
    fn attributable_epoch(&self, r: &Receipt) -> Option<u64> {
        if !self.models.contains_key(&r.model) || !self.splits.contains_key(&r.split_version) {
            return None;
        }
        let epoch = self
            .epoch_by_time
            .range((r.model, 0)..=(r.model, r.metered_at))
            .next_back()
            .map_or(0, |e| e.into_pair().1);
        Some(epoch)
    }

    /// Who is paid for a receipt of `model` under `epoch` and `version`, and their weights over
    /// [`ENTITLEMENT_DENOMINATOR`], merged by account so that nobody's rounding compounds.
    fn recipients(
        &self,
        model: &Model,
        epoch: u64,
        version: SplitVersion,
    ) -> Vec<(AccountKey, u64)> {
        let split = self
            .splits
            .get(&version)
            .expect("BUG: split validated")
            .0
            .split;
        let table = self
            .share_tables
            .get(&(model.id, epoch))
            .expect("BUG: epoch exists")
            .0;
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
        add(
            &self.config().treasury,
            split.treasury_bps as u64 * units * data,
        );
        for h in &table.holders {
            add(&h.account, owners_bps * h.units * data);
        }
        for d in &model.data_owners {
            add(&d.account, data_bps * d.weight * units);
        }
        weights.into_iter().collect()
    }

    /// Credits one receipt: each recipient's remainder grows by `amount × weight`; the whole units in
    /// it are credited. So every account's `credited_total` is `floor(exact entitlement)` at all times.
    fn credit_receipt(
        &mut self,
        receipt: Receipt,
        epoch: u64,
        recipients: &[(AccountKey, u64)],
        credited_in_batch: &mut u128,
    ) -> SettledReceipt {
        let split = self
            .splits
            .get(&receipt.split_version)
            .expect("BUG: split validated")
            .0
            .split;
        let host_weight = split.host_bps as u64 * SHARE_UNITS_PER_MODEL * DATA_WEIGHT_TOTAL;
        let host_key = account_key(&receipt.node_operator);
        let mut merged: Vec<(AccountKey, u64)> = recipients.to_vec();
        if host_weight > 0 {
            match merged.iter_mut().find(|(k, _)| *k == host_key) {
                Some((_, w)) => *w += host_weight,
                None => merged.push((host_key, host_weight)),
            }
        }
        self.credit_weights(receipt, epoch, &merged, credited_in_batch)
    }

    /// Credits `receipt.amount × weight / ENTITLEMENT_DENOMINATOR` to each account, exactly (the
    /// weights sum to the denominator).
    fn credit_weights(
        &mut self,
        receipt: Receipt,
        epoch: u64,
        merged: &[(AccountKey, u64)],
        credited_in_batch: &mut u128,
    ) -> SettledReceipt {
        debug_assert_eq!(
            merged.iter().map(|(_, w)| *w as u128).sum::<u128>(),
            ENTITLEMENT_DENOMINATOR
        );
        let amount = receipt.amount as u128;
        let mut credits = Vec::with_capacity(merged.len());
        let mut credited_now: u128 = 0;
        for &(key, weight) in merged {
            let mut balance = self.balances.get(&key).map(|b| b.0).unwrap_or_default();
            // remainder < 10^14 and amount × weight < 2^64 × 10^14: no overflow.
            let accrued = balance.entitlement_remainder + amount * weight as u128;
            let whole = accrued / ENTITLEMENT_DENOMINATOR;
            balance.entitlement_remainder = accrued % ENTITLEMENT_DENOMINATOR;
            balance.available += whole;
            balance.credited_total += whole;
            credited_now += whole;
            self.balances.insert(key, Balance(balance));
            credits.push(Credit {
                account: account_from_key(&key),
                weight,
                amount: whole,
            });
        }
        *credited_in_batch += credited_now;
        SettledReceipt {
            receipt,
            share_epoch: epoch,
            credits,
        }
    }

    pub fn batch(&self, id: BatchId) -> Option<SettleOk> {
        self.batches.get(&id).map(|b| b.0)
    }

    // ---------------------------------------------------------------- balances and payouts

    pub fn balance_of(&self, account: &Account) -> StakeholderBalance {
        self.balances
            .get(&account_key(account))
            .map(|b| b.0)
            .unwrap_or_default()
    }

    pub fn ledger_fee(&self) -> Option<u128> {
        self.book.fee()
    }

    /// Takes the per-caller guard; `false` when a claim by `caller` is already in progress.
    pub fn try_begin_claim(&mut self, caller: Principal) -> bool {
        self.claims_in_progress.insert(caller)
    }

    pub fn end_claim(&mut self, caller: Principal) {
        self.claims_in_progress.remove(&caller);
    }

    /// Debits the whole available accrual of `account` and records a payout of it, the transfer's intent
    /// (memo, `created_at_time`, fee) persisted in the outbox before any ledger call.
    pub fn record_payout(
        &mut self,
        account: &Account,
        to: &Account,
        kind: PayoutKind,
        fee: u128,
        now: u64,
    ) -> Result<Payout, ClaimError> {
        let key = account_key(account);
        let mut balance = self.balances.get(&key).map(|b| b.0).unwrap_or_default();
        if balance.available == 0 {
            return Err(ClaimError::NothingToClaim);
        }
        if balance.available <= fee {
            return Err(ClaimError::BelowFee {
                available: balance.available,
                fee,
            });
        }
        let gross = balance.available;
        let id = self.counters().next_payout_id;
        let memo = ledger_adapter::tagged_memo(PAYOUT_MEMO_TAG, id);
        let transfer = Transfer {
            kind: TransferKind::Transfer {
                from_subaccount: None,
                to: *to,
            },
            gross,
            fee_policy: FeePolicy::DeductedFromAmount,
            memo: memo.clone(),
            fee_limit: None,
        };
        let intent = self
            .book
            .enqueue(transfer, fee, now, id)
            .expect("BUG: payout intent checked above");
        let payout = Payout {
            id,
            kind,
            account: normalize_account(account),
            to: *to,
            gross,
            amount: intent.amount(),
            fee,
            memo: ByteBuf::from(memo),
            intent: intent.id,
            status: PayoutStatus::Pending,
        };
        balance.available = 0;
        balance.in_flight += gross;
        self.balances.insert(key, Balance(balance));
        self.payouts.insert(id, Candid(payout.clone()));
        self.payouts_by_account.insert((key, id), ());
        self.update_counters(|c| {
            c.next_payout_id += 1;
            c.available_total -= gross;
            c.in_flight_total += gross;
        });
        self.append_log(
            LogEvent::PayoutRecorded {
                payout: payout.clone(),
            },
            now,
        );
        Ok(payout)
    }

    pub fn payout(&self, id: PayoutId) -> Option<Payout> {
        self.payouts.get(&id).map(|p| p.0)
    }

    pub fn pending_payout_ids(&self, limit: usize) -> Vec<PayoutId> {
        self.book
            .unresolved(limit)
            .into_iter()
            .map(|(_, payout)| payout)
            .collect()
    }

    /// The payout's transfer intent in the outbox.
    pub fn payout_intent(&self, payout: &Payout) -> TransferIntent {
        self.book
            .intent(payout.intent)
            .expect("BUG: payout without intent")
    }

    /// Applies a payout's resolved transfer (the book removes the op as it is applied): completes the
    /// payout, or restores the accrual.
    pub fn apply(&mut self, id: PayoutId, intent: &TransferIntent, now: u64) {
        match &intent.status {
            IntentStatus::Completed {
                block_index,
                fee,
                amount,
            } => {
                self.complete_payout(id, block_index.clone(), *amount, *fee, now);
            }
            IntentStatus::Failed { reason } => {
                self.fail_payout(id, reason.clone(), now);
            }
            IntentStatus::Pending => unreachable!("the book applies resolved intents only"),
        }
    }

    /// Records the payload now in force on a payout still pending (a fee change rebuilt it).
    pub fn refresh_pending_payout(&mut self, id: PayoutId, intent: &TransferIntent) {
        let mut payout = self.payout(id).expect("BUG: unknown payout");
        if payout.status == PayoutStatus::Pending
            && (payout.amount, payout.fee) != (intent.amount(), intent.fee)
        {
            payout.amount = intent.amount();
            payout.fee = intent.fee;
            self.payouts.insert(id, Candid(payout));
        }
    }

    fn finish_payout(&mut self, id: PayoutId, status: PayoutStatus) -> Payout {
        let mut payout = self.payout(id).expect("BUG: unknown payout");
        assert_eq!(
            payout.status,
            PayoutStatus::Pending,
            "BUG: payout {id} finished twice"
        );
        payout.status = status;
        self.payouts.insert(id, Candid(payout.clone()));
        payout
    }

    fn complete_payout(
        &mut self,
        id: PayoutId,
        block_index: Nat,
        amount: u128,
        fee: u128,
        now: u64,
    ) -> Payout {
        let mut payout = self.finish_payout(
            id,
            PayoutStatus::Completed {
                block_index: block_index.clone(),
            },
        );
        debug_assert_eq!(amount + fee, payout.gross);
        payout.amount = amount;
        payout.fee = fee;
        self.payouts.insert(id, Candid(payout.clone()));
        let debit = payout.gross;
        let key = account_key(&payout.account);
        let mut balance = self
            .balances
            .get(&key)
            .expect("BUG: payout without balance")
            .0;
        balance.in_flight -= debit;
        balance.paid_total += debit;
        self.balances.insert(key, Balance(balance));
        self.update_counters(|c| {
            c.in_flight_total -= debit;
            c.paid_total += debit;
        });
        self.append_log(
            LogEvent::PayoutCompleted {
                payout: id,
                block_index,
                amount,
                fee,
            },
            now,
        );
        payout
    }

    /// The ledger definitely did not execute the payout: the accrual comes back.
    fn fail_payout(&mut self, id: PayoutId, reason: String, now: u64) -> Payout {
        let payout = self.finish_payout(
            id,
            PayoutStatus::Failed {
                reason: reason.clone(),
            },
        );
        let debit = payout.gross;
        let key = account_key(&payout.account);
        let mut balance = self
            .balances
            .get(&key)
            .expect("BUG: payout without balance")
            .0;
        balance.in_flight -= debit;
        balance.available += debit;
        self.balances.insert(key, Balance(balance));
        self.update_counters(|c| {
            c.in_flight_total -= debit;
            c.available_total += debit;
        });
        self.append_log(
            LogEvent::PayoutFailed {
                payout: id,
                reason,
                restored: debit,
            },
            now,
        );
        payout
    }

    /// Accounts whose accrual reached `threshold`, scanning at most `max_scan` balances from where the
    /// previous scan stopped (wrapping around at the end).
    pub fn auto_payout_candidates(
        &mut self,
        threshold: u128,
        limit: usize,
        max_scan: usize,
    ) -> Vec<Account> {
        use std::ops::Bound;
        let cursor: Option<AccountKey> = self
            .counters()
            .payout_cursor
            .as_ref()
            .and_then(|c| c.as_slice().try_into().ok());
        let lower = cursor.map_or(Bound::Unbounded, Bound::Excluded);
        let mut found = Vec::new();
        let mut stopped_at = None;
        for (scanned, entry) in self.balances.range((lower, Bound::Unbounded)).enumerate() {
            let (key, balance) = entry.into_pair();
            if balance.0.available >= threshold {
                found.push(account_from_key(&key));
            }
            if found.len() >= limit || scanned + 1 >= max_scan {
                stopped_at = Some(key);
                break;
            }
        }
        self.update_counters(|c| c.payout_cursor = stopped_at.map(|k| ByteBuf::from(k.to_vec())));
        found
    }

    /// The newest payouts paid from `account`'s accrual, newest first.
    pub fn payouts_of(&self, account: &Account, limit: usize) -> Vec<Payout> {
        let key = account_key(account);
        self.payouts_by_account
            .keys_range((key, 0)..=(key, u64::MAX))
            .rev()
            .take(limit.clamp(1, MAX_PAGE))
            .filter_map(|(_, id)| self.payout(id))
            .collect()
    }

    // ---------------------------------------------------------------- log and audit

    pub fn log_page(&self, start: u64, limit: usize) -> LogPage {
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

    pub fn log_tip(&self) -> (u64, ByteBuf) {
        (
            self.log.len(),
            self.counters()
                .log_tip_hash
                .clone()
                .unwrap_or_else(|| ByteBuf::from(vec![0u8; 32])),
        )
    }

    pub fn liabilities(&self) -> Liabilities {
        let c = self.counters();
        Liabilities {
            available: c.available_total,
            in_flight: c.in_flight_total,
            undistributed: c.undistributed_total,
            total: c.available_total + c.in_flight_total + c.undistributed_total,
            settled_total: c.settled_total,
            paid_total: c.paid_total,
        }
    }

    pub fn audit_against(&self, ledger_balance: u128) -> AuditReport {
        let liabilities = self.liabilities();
        let surplus = candid::Int::from(ledger_balance as i128)
            - candid::Int::from(liabilities.total as i128);
        AuditReport {
            ledger_balance,
            agrees: ledger_balance == liabilities.total,
            liabilities,
            surplus,
        }
    }

    /// Recomputes the balance totals from the map (O(n)): `(available, in_flight, remainders / denominator)`.
    /// Tests compare them with the O(1) counters.
    pub fn recompute_totals(&self) -> (u128, u128, u128) {
        let (mut available, mut in_flight, mut remainders) = (0u128, 0u128, 0u128);
        for e in self.balances.iter() {
            let b = e.into_pair().1 .0;
            available += b.available;
            in_flight += b.in_flight;
            remainders += b.entitlement_remainder;
        }
        assert_eq!(
            remainders % ENTITLEMENT_DENOMINATOR,
            0,
            "fractional entitlements must sum to whole units"
        );
        (available, in_flight, remainders / ENTITLEMENT_DENOMINATOR)
    }

    /// A digest of every stable map, for upgrade tests.
    pub fn fingerprint(&self) -> [u8; 32] {
        use ic_stable_structures::Storable;
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        h.update(self.config.get().to_bytes());
        h.update(self.counters.get().to_bytes());
        macro_rules! map {
            ($m:expr) => {
                for e in $m.iter() {
                    let (k, v) = e.into_pair();
                    h.update(k.to_bytes());
                    h.update(v.to_bytes());
                }
            };
        }
        map!(self.models);
        map!(self.holdings);
        map!(self.holder_index);
        map!(self.share_tables);
        map!(self.epoch_by_time);
        map!(self.splits);
        map!(self.split_proposals);
        map!(self.balances);
        map!(self.batches);
        map!(self.settled_receipts);
        map!(self.payouts);
        map!(self.retired_pending_payouts);
        for (intent, payout) in self.book.unresolved(usize::MAX) {
            h.update(intent.to_be_bytes());
            h.update(payout.to_be_bytes());
        }
        map!(self.payouts_by_account);
        for e in self.log.iter() {
            h.update(e.to_bytes());
        }
        h.finalize().into()
    }
}
