//! The royalties state and its transitions: plain Rust over stable structures, no IC calls. Each part
//! owns its maps; `State` holds the configuration and the counters beside them, and runs every
//! transition that touches more than one part.

mod balances;
mod cells;
mod governed;
mod log;
mod pushes;
mod registry;
mod settlement;
mod split;

use balances::Balances;
use candid::{Nat, Principal};
use cells::Cells;
use ic_stable_structures::memory_manager::{MemoryManager, VirtualMemory};
use ic_stable_structures::{DefaultMemoryImpl, StableBTreeMap, Storable};
use icrc_ledger_types::icrc1::account::Account;
use ledger_adapter::book::{Book, BookHost};
use ledger_adapter::outbox::{IntentStatus, TransferIntent};
use log::Log;
use neuranft_types::account_key;
use neuranft_types::applied::Applied;
use neuranft_types::royalties::*;
use pushes::Pushes;
use registry::Registry;
use serde_bytes::ByteBuf;
use settlement::Settlement;
use sha2::{Digest, Sha256};
use split::{validate_split, Splits};
use std::collections::BTreeMap;

pub use balances::PAYOUT_MEMO_TAG;
pub use cells::{Config, Counters};
pub use registry::{
    MAX_CHANGES_PER_MINUTE, MAX_DATASETS, MAX_DATA_OWNERS, MAX_MODELS_PER_MANAGER, MAX_OWNERS,
    MAX_TEXT_BYTES, MAX_TRAINING_PARAMS, MAX_URI_BYTES,
};
pub use settlement::{MAX_RECEIPTS_PER_BATCH, METERING_CLOCK_DRIFT_NANOS};

pub type Memory = VirtualMemory<DefaultMemoryImpl>;
type AccountKey = [u8; 62];

pub const MAX_PAGE: usize = 100;

pub struct State {
    cells: Cells,
    registry: Registry,
    splits: Splits,
    balances: Balances,
    settlement: Settlement,
    log: Log,
    pushes: Pushes,
    /// The moderation and payout-settings proposals applied ([`governed`]).
    governed: neuranft_types::applied::AppliedProposals<Memory>,
    /// Single-flight flag of the payout job (heap only).
    pub payout_job_running: bool,
}

impl BookHost for State {
    type Op = PayoutId;
    fn book(&mut self) -> &mut Book<PayoutId> {
        self.balances.book()
    }
}

/// Feeds every entry of `map` to a fingerprint, key and value as stored.
fn hash_map<K, V>(h: &mut Sha256, map: &StableBTreeMap<K, V, Memory>)
where
    K: Storable + Ord + Clone,
    V: Storable,
{
    for e in map.iter() {
        let (k, v) = e.into_pair();
        h.update(k.to_bytes());
        h.update(v.to_bytes());
    }
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
            cells: Cells::init(&mm),
            registry: Registry::init(&mm),
            splits: Splits::init(&mm),
            balances: Balances::init(&mm),
            settlement: Settlement::init(&mm),
            log: Log::init(&mm),
            pushes: Pushes::init(&mm),
            governed: governed::open(&mm),
            payout_job_running: false,
        }
    }

    /// Installs the configuration and the first split. Refuses a split that does not sum to 10,000.
    pub fn initialize(&mut self, args: InitArgs, now: u64) -> Result<(), SplitError> {
        validate_split(&args.split)?;
        self.cells.initialize(&args);
        self.apply_split(args.split, None, now);
        Ok(())
    }

    pub fn upgrade(&mut self, args: UpgradeArgs) {
        self.cells.upgrade(args);
    }

    pub fn config(&self) -> &Config {
        self.cells.config()
    }

    /// The configuration as `get_config` shows it, with the fee and split in force.
    pub fn config_view(&self) -> RoyaltiesConfig {
        let c = self.config();
        RoyaltiesConfig {
            ledger: c.ledger,
            governance: c.governance,
            inference_proxy: c.inference_proxy,
            treasury: c.treasury,
            auto_payout_fee_multiple: c.auto_payout_fee_multiple,
            payout_interval_seconds: c.payout_interval_seconds,
            ledger_fee: self.ledger_fee(),
            current_split: self.current_split(),
        }
    }

    pub fn is_initialized(&self) -> bool {
        self.cells.is_initialized()
    }

    pub fn counters(&self) -> &Counters {
        self.cells.counters()
    }

    fn update_counters(&mut self, f: impl FnOnce(&mut Counters)) {
        self.cells.update_counters(f);
    }

    fn append_log(&mut self, event: LogEvent, now: u64) -> u64 {
        let (index, hash) = self.log.append(self.log_tip_hash(), &event, now);
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
        let id = self.counters().next_model_id;
        let event = self.registry.register(caller, args, id, now)?;
        self.queue_model_push(id);
        self.update_counters(|c| c.next_model_id += 1);
        self.append_log(event, now);
        Ok(id)
    }

    pub fn set_price(
        &mut self,
        caller: Principal,
        id: ModelId,
        price: Price,
        now: u64,
    ) -> Result<(), RegistryError> {
        self.registry.set_price(caller, id, price, now)?;
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
        self.registry.set_status(caller, id, status, now)?;
        self.queue_model_push(id);
        Ok(())
    }

    /// Records that the proxy must learn the model's current price and status, under a new version.
    fn queue_model_push(&mut self, id: ModelId) {
        let version = self.counters().model_push_seq.unwrap_or(0) + 1;
        self.update_counters(|c| c.model_push_seq = Some(version));
        self.pushes.queue(id, version);
    }

    /// The model changes the proxy has not acknowledged, oldest model id first.
    pub fn pending_model_pushes(&self, limit: usize) -> Vec<ModelEntry> {
        self.pushes
            .pending(limit)
            .into_iter()
            .filter_map(|(id, version)| self.registry.model_entry(id, version))
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
        self.pushes.has_model_pushes() || self.pending_split_push().is_some()
    }

    pub fn begin_push_job(&mut self) -> bool {
        self.pushes.begin_job()
    }

    pub fn end_push_job(&mut self) {
        self.pushes.end_job();
    }

    /// Whether the caller must schedule the push job: not when it is scheduled already. A job that is
    /// running picks the change up in its next round (a scheduled job finding it running ends at
    /// once); a change a job could not push waits for the payout timer's push.
    pub fn schedule_push_job(&mut self) -> bool {
        self.pushes.schedule_job()
    }

    /// The proxy accepted `version` of the model; a newer change stays pending.
    pub fn model_push_acknowledged(&mut self, id: ModelId, version: u64) {
        self.pushes.acknowledged(id, version);
    }

    /// Moves share units from one of the caller's accounts; starts a new share epoch so that only
    /// receipts metered from now on are credited under the new holdings.
    pub fn transfer_shares(
        &mut self,
        caller: Principal,
        args: TransferSharesArgs,
        now: u64,
    ) -> Result<u64, RegistryError> {
        let (epoch, event) = self.registry.transfer_shares(caller, &args, now)?;
        self.append_log(event, now);
        Ok(epoch)
    }

    pub fn get_model(&self, id: ModelId) -> Option<ModelView> {
        self.registry.get_model(id)
    }

    pub fn list_models(&self, start: Option<ModelId>, limit: usize) -> ModelPage {
        self.registry.list_models(start, limit)
    }

    pub fn models_of(&self, account: &Account) -> Vec<HeldShares> {
        self.registry.models_of(account)
    }

    pub fn share_table(&self, model: ModelId, epoch: u64) -> Option<ShareTable> {
        self.registry.share_table(model, epoch)
    }

    // ---------------------------------------------------------------- split

    fn apply_split(
        &mut self,
        split: SplitConfig,
        proposal_id: Option<ProposalId>,
        now: u64,
    ) -> SplitVersion {
        let current = self.counters().current_split_version;
        let record = self.splits.record(current, split, proposal_id, now);
        let version = record.version;
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
        let proposal_id = args.proposal_id;
        match self.splits.check_proposal(caller, proposal_id, &args.split) {
            Applied::New => {}
            Applied::Replay => {
                return Err(SplitError::ProposalAlreadyApplied {
                    proposal_id,
                    version: self.splits.applied(proposal_id).unwrap_or_default(),
                })
            }
            Applied::Conflict => return Err(SplitError::ProposalConflict { proposal_id }),
        }
        validate_split(&args.split)?;
        self.splits
            .record_proposal(caller, proposal_id, &args.split);
        Ok(self.apply_split(args.split, Some(proposal_id), now))
    }

    pub fn current_split(&self) -> SplitRecord {
        self.splits
            .get(self.counters().current_split_version)
            .expect("BUG: no split")
    }

    pub fn split(&self, version: SplitVersion) -> Option<SplitRecord> {
        self.splits.get(version)
    }

    // ---------------------------------------------------------------- settlement

    /// Credits every new receipt of the batch; all-or-nothing on invalid input, idempotent by batch id
    /// and by receipt id. Each account's balance, read and written once, gains `Σ amount × weight`:
    /// the same floors as receipt by receipt (`⌊(r + a + b)/D⌋ = ⌊(r + a)/D⌋ + ⌊((r + a) mod D + b)/D⌋`).
    pub fn settle(
        &mut self,
        caller: Principal,
        args: SettleArgs,
        now: u64,
    ) -> Result<SettleOk, SettleError> {
        if caller != self.config().inference_proxy {
            return Err(SettleError::NotInferenceProxy);
        }
        if let Some(done) = self.settlement.batch(args.batch_id) {
            return Ok(SettleOk {
                already_settled: true,
                ..done
            });
        }
        self.settlement.check(&args, now)?;
        let ids: Vec<ReceiptId> = args.receipts.iter().map(|r| r.id).collect();
        let new = self.settlement.settle_new(args.batch_id, &ids);

        // The batch's amounts by who they are shared among: (model, epoch, split) groups share by the
        // same weights; hosts by their split's host weight. No single receipt can make the batch
        // refused (that would leave every other receipt of it unpaid): one this registry cannot
        // attribute is credited whole to the treasury.
        let mut epochs = settlement::BatchEpochs::spanning(&args.receipts);
        let mut by_group: BTreeMap<(ModelId, u64, SplitVersion), u128> = BTreeMap::new();
        let mut by_host: BTreeMap<(AccountKey, SplitVersion), u128> = BTreeMap::new();
        let mut unattributed: u128 = 0;
        let mut logged = Vec::with_capacity(args.receipts.len());
        let mut duplicates = Vec::new();
        let mut settled_amount: u128 = 0;
        for (receipt, is_new) in args.receipts.iter().zip(new) {
            if !is_new {
                duplicates.push(receipt.id);
                continue;
            }
            let amount = receipt.amount as u128;
            settled_amount += amount;
            let epoch = epochs.of(self, receipt);
            match epoch {
                Some(epoch) => {
                    *by_group
                        .entry((receipt.model, epoch, receipt.split_version))
                        .or_default() += amount;
                    *by_host
                        .entry((account_key(&receipt.node_operator), receipt.split_version))
                        .or_default() += amount;
                }
                None => unattributed += amount,
            }
            logged.push(LoggedReceipt::of(receipt, epoch));
        }
        // Σ amount < 5,000 × 2^64 and every weight ≤ ENTITLEMENT_DENOMINATOR < 2^47: below 2^124.
        let mut accruals: BTreeMap<AccountKey, u128> = BTreeMap::new();
        for ((model, epoch, version), amount) in by_group {
            let model = self
                .registry
                .model(model)
                .expect("BUG: model checked by attributable_epoch");
            for (key, weight) in self.recipients(&model, epoch, version) {
                *accruals.entry(key).or_default() += amount * weight as u128;
            }
        }
        for ((host, version), amount) in by_host {
            let split = self
                .splits
                .get(version)
                .expect("BUG: split validated")
                .split;
            let weight = settlement::host_weight(&split);
            if weight > 0 {
                *accruals.entry(host).or_default() += amount * weight;
            }
        }
        if unattributed > 0 {
            *accruals
                .entry(account_key(&self.config().treasury))
                .or_default() += unattributed * ENTITLEMENT_DENOMINATOR;
        }
        let (credits, credited) = self.balances.credit_accruals(&accruals);
        let settled_receipts = logged.len() as u32;
        self.update_counters(|c| {
            c.settled_total += settled_amount;
            c.available_total += credited;
            // What the floors left stays owed; a later batch may carry it over a whole unit.
            c.undistributed_total = c.undistributed_total + settled_amount - credited;
        });
        let log_index = self.append_log(
            LogEvent::BatchCredited {
                batch_id: args.batch_id,
                funding_block: args.funding_block,
                receipts: logged,
                credits,
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
        self.settlement.record_batch(&ok);
        Ok(ok)
    }

    /// Who is paid for a receipt of `model` under `epoch` and `version` besides its host, and their
    /// weights over [`ENTITLEMENT_DENOMINATOR`], merged by account.
    fn recipients(
        &self,
        model: &Model,
        epoch: u64,
        version: SplitVersion,
    ) -> Vec<(AccountKey, u64)> {
        let split = self
            .splits
            .get(version)
            .expect("BUG: split validated")
            .split;
        let table = self
            .registry
            .share_table(model.id, epoch)
            .expect("BUG: epoch exists");
        settlement::recipients(model, &table, &split, &self.config().treasury)
    }

    /// Marks a receipt settled as versions before ranges did, and logs an entry as versions before
    /// format 2 stored it: the upgrade tests start from there.
    #[cfg(test)]
    pub(crate) fn as_before_ranges(
        &mut self,
        receipt: ReceiptId,
        batch: BatchId,
        entry: &LogEntry,
    ) {
        self.settlement.settle_one_by_one(receipt, batch);
        self.log.append_legacy(entry);
        self.update_counters(|c| c.log_tip_hash = Some(entry.hash.clone()));
    }

    pub fn batch(&self, id: BatchId) -> Option<SettleOk> {
        self.settlement.batch(id)
    }

    // ---------------------------------------------------------------- balances and payouts

    pub fn balance_of(&self, account: &Account) -> StakeholderBalance {
        self.balances.balance_of(account)
    }

    pub fn ledger_fee(&self) -> Option<u128> {
        self.balances.ledger_fee()
    }

    /// Takes the per-caller guard; `false` when a claim by `caller` is already in progress.
    pub fn try_begin_claim(
        &mut self,
        caller: Principal,
    ) -> Result<(), neuranft_types::guard::Refusal> {
        self.balances.try_begin_claim(caller)
    }

    pub fn end_claim(&mut self, caller: Principal) {
        self.balances.end_claim(caller);
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
        let id = self.counters().next_payout_id;
        let payout = self
            .balances
            .record_payout(id, account, to, kind, fee, now)?;
        let gross = payout.gross;
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
        self.balances.payout(id)
    }

    pub fn pending_payout_ids(&self, limit: usize) -> Vec<PayoutId> {
        self.balances.pending_payout_ids(limit)
    }

    /// The payout's transfer intent in the outbox.
    pub fn payout_intent(&self, payout: &Payout) -> TransferIntent {
        self.balances.payout_intent(payout)
    }

    /// Applies a payout's resolved transfer (the book removes the op as it is applied): completes the
    /// payout, or restores the accrual.
    #[cfg(test)]
    pub(crate) fn put_back_as_before_the_book(&mut self, id: PayoutId) {
        self.balances.put_back_as_before_the_book(id);
    }

    pub(crate) fn apply(&mut self, id: PayoutId, intent: &TransferIntent, now: u64) {
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
    pub(crate) fn refresh_pending_payout(&mut self, id: PayoutId, intent: &TransferIntent) {
        self.balances.refresh_pending_payout(id, intent);
    }

    fn complete_payout(
        &mut self,
        id: PayoutId,
        block_index: Nat,
        amount: u128,
        fee: u128,
        now: u64,
    ) -> Payout {
        let payout = self
            .balances
            .complete_payout(id, block_index.clone(), amount, fee);
        let debit = payout.gross;
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
        let payout = self.balances.fail_payout(id, reason.clone());
        let debit = payout.gross;
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
        let cursor: Option<AccountKey> = self
            .counters()
            .payout_cursor
            .as_ref()
            .and_then(|c| c.as_slice().try_into().ok());
        let (found, stopped_at) = self
            .balances
            .auto_payout_candidates(cursor, threshold, limit, max_scan);
        self.update_counters(|c| c.payout_cursor = stopped_at.map(|k| ByteBuf::from(k.to_vec())));
        found
    }

    /// The newest payouts paid from `account`'s accrual, newest first.
    pub fn payouts_of(&self, account: &Account, limit: usize) -> Vec<Payout> {
        self.balances.payouts_of(account, limit)
    }

    // ---------------------------------------------------------------- log and audit

    pub fn log_page(&self, start: u64, limit: usize) -> LogPage {
        self.log.page(start, limit)
    }

    pub fn encoded_log_page(&self, start: u64, limit: usize) -> EncodedLogPage {
        self.log.encoded_page(start, limit)
    }

    /// The hash of the log's last entry ([`LOG_GENESIS_HASH`] while it is empty): what the canister
    /// certifies.
    pub fn log_tip_hash(&self) -> [u8; 32] {
        self.counters()
            .log_tip_hash
            .as_ref()
            .and_then(|h| h.as_slice().try_into().ok())
            .unwrap_or(LOG_GENESIS_HASH)
    }

    pub fn log_tip(&self) -> LogTip {
        LogTip {
            length: self.log.len(),
            hash: ByteBuf::from(self.log_tip_hash().to_vec()),
        }
    }

    pub fn liabilities(&self) -> Liabilities {
        self.counters().liabilities()
    }

    pub fn audit_against(&self, ledger_balance: u128) -> AuditReport {
        log::audit_against(self.liabilities(), ledger_balance)
    }

    /// Recomputes the balance totals from the map (O(n)): `(available, in_flight, remainders / denominator)`.
    /// Tests compare them with the O(1) counters.
    pub fn recompute_totals(&self) -> (u128, u128, u128) {
        self.balances.recompute_totals()
    }

    /// A digest of every stable map, for upgrade tests.
    pub fn fingerprint(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        self.cells.fingerprint(&mut h);
        self.registry.fingerprint(&mut h);
        self.splits.fingerprint(&mut h);
        self.balances.fingerprint_balances(&mut h);
        self.settlement.fingerprint(&mut h);
        self.balances.fingerprint_payouts(&mut h);
        self.log.fingerprint(&mut h);
        for (key, payload) in self.governed.entries() {
            h.update(key.as_bytes());
            h.update(payload);
        }
        h.finalize().into()
    }
}
