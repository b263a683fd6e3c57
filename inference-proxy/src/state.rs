//! The whole proxy state: configuration, metering, registry, the ledger-adapter outbox and what each
//! outbox intent is for (a deposit, a withdrawal, a batch transfer). Plain Rust over stable structures.

use crate::memory::*;
use crate::metering::{BatchStatus, Metering, MeteringError};
use crate::registry::Registry;
use candid::{CandidType, Deserialize, Principal};
use ic_stable_structures::memory_manager::{MemoryManager, VirtualMemory};
use ic_stable_structures::{DefaultMemoryImpl, StableBTreeMap, StableCell};
use ledger_adapter::book::{Book, BookHost, Transfer};
use ledger_adapter::outbox::{
    FeePolicy, IntentId, IntentStatus, OutboxError, TransferIntent, TransferKind,
};
use neuranft_types::guard::{InFlight, Refusal};
pub use neuranft_types::proxy::{MoneyError, ProxyConfig, MAX_RECEIPTS_PER_BATCH};
use neuranft_types::storable::Candid;
use neuranft_types::Account;
use std::collections::BTreeMap;

type Mem = VirtualMemory<DefaultMemoryImpl>;

pub const DEPOSIT_MEMO_TAG: &[u8; 8] = b"NNFT-DEP";
pub const WITHDRAW_MEMO_TAG: &[u8; 8] = b"NNFT-WDR";
pub const BATCH_MEMO_TAG: &[u8; 8] = b"NNFT-BAT";

/// Why a resolved transfer could not be applied to the books. The intent's record is kept (the
/// audit counts it as unresolved) so that nothing is lost, and nothing traps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyError(pub String);

/// What an outbox intent does when it resolves.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum MoneyOp {
    Deposit { user: Principal, amount: u128 },
    Withdrawal { user: Principal, amount: u128 },
    BatchTransfer { batch: u64 },
}

#[derive(CandidType, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
struct Counters {
    next_memo: u64,
    /// The royalty split version receipts are metered under (pushed by royalties).
    split_version: neuranft_types::royalties::SplitVersion,
    /// Batches below this id are all settled or in `to_settle` (a cursor of earlier versions; since
    /// `to_settle` exists it only marks how far those were moved into it).
    first_unsettled_batch: u64,
    /// Where the next retry of set-aside batches starts.
    set_aside_cursor: Option<u64>,
    /// Whether the batches from `first_unsettled_batch` on were moved into `to_settle`.
    settle_queue_migrated: Option<bool>,
}

/// Deposits and withdrawals in flight at most (each holds a ledger call).
pub const MAX_MONEY_OPS_IN_FLIGHT: u32 = 500;
/// Paid calls in flight at most: each reserves an outcall's cycles until its node answers.
pub const MAX_CALLS_IN_FLIGHT: u32 = 500;

pub struct ProxyState {
    config: StableCell<Candid<Option<ProxyConfig>>, Mem>,
    counters: StableCell<Candid<Counters>, Mem>,
    pub metering: Metering,
    pub registry: Registry,
    /// Deposits, withdrawals and batch transfers on the payment ledger, each exactly once.
    book: Book<MoneyOp>,
    /// The bearer key each node expects (never returned by a query).
    node_api_keys: StableBTreeMap<u64, String, Mem>,
    /// Batches transferred to royalties and not yet settled, oldest first.
    to_settle: StableBTreeMap<u64, (), Mem>,
    /// Batches whose transfer definitely failed: they go out again with the ledger's current fee.
    to_send: StableBTreeMap<u64, (), Mem>,
    /// Batches royalties refused (`BatchStatus::SetAside`), retried a few per flush.
    set_aside: StableBTreeMap<u64, (), Mem>,
    /// Callers with a deposit or withdrawal in progress (heap: nothing is in flight across an upgrade).
    busy: InFlight<Principal>,
    /// The holds of the calls in flight (heap, as `busy`).
    pub(crate) calls_in_flight: InFlight<u64>,
    /// Calls per user in the current minute (heap: a rate limit need not survive an upgrade).
    calls_this_minute: BTreeMap<Principal, (u64, u32)>,
    /// Whether a flush is running (heap: nothing is in flight across an upgrade).
    flushing: bool,
    /// Failed `settle` calls per batch since its last answer (heap: a count to set a batch aside).
    settle_failures: BTreeMap<u64, u32>,
}

impl BookHost for ProxyState {
    type Op = MoneyOp;
    fn book(&mut self) -> &mut Book<MoneyOp> {
        &mut self.book
    }
}

impl ProxyState {
    pub fn open(memory: DefaultMemoryImpl) -> Self {
        Self::open_with(MemoryManager::init(memory))
    }

    /// 64 KiB buckets: for native tests and the simulation.
    pub fn open_small(memory: DefaultMemoryImpl) -> Self {
        Self::open_with(MemoryManager::init_with_bucket_size(memory, 1))
    }

    fn open_with(mm: MemoryManager<DefaultMemoryImpl>) -> Self {
        Self {
            config: StableCell::init(mm.get(CONFIG_MEMORY_ID), Candid(None)),
            counters: StableCell::init(mm.get(COUNTERS_MEMORY_ID), Candid(Counters::default())),
            metering: Metering::init(&mm),
            registry: Registry::init(&mm),
            book: Book::init(
                mm.get(OUTBOX_INTENTS_MEMORY_ID),
                mm.get(OUTBOX_PENDING_MEMORY_ID),
                mm.get(OUTBOX_COUNTER_MEMORY_ID),
                mm.get(MONEY_OPS_MEMORY_ID),
            ),
            node_api_keys: StableBTreeMap::init(mm.get(NODE_API_KEYS_MEMORY_ID)),
            to_settle: StableBTreeMap::init(mm.get(TO_SETTLE_MEMORY_ID)),
            to_send: StableBTreeMap::init(mm.get(TO_SEND_MEMORY_ID)),
            set_aside: StableBTreeMap::init(mm.get(SET_ASIDE_MEMORY_ID)),
            busy: InFlight::new(MAX_MONEY_OPS_IN_FLIGHT),
            calls_in_flight: InFlight::new(MAX_CALLS_IN_FLIGHT),
            calls_this_minute: BTreeMap::new(),
            flushing: false,
            settle_failures: BTreeMap::new(),
        }
        .with_settle_queue()
    }

    /// Moves the transferred batches an earlier version tracked by cursor alone into `to_settle`,
    /// once: later versions keep the queue, so an upgrade never scans the batches again.
    fn with_settle_queue(mut self) -> Self {
        let mut c = self.counters.get().0.clone();
        if c.settle_queue_migrated == Some(true) {
            return self;
        }
        for id in c.first_unsettled_batch..self.metering.next_batch_id() {
            let status = self.metering.batch(id).map(|b| b.status);
            if let Some(BatchStatus::Transferred { .. }) = status {
                self.to_settle.insert(id, ());
            }
        }
        c.settle_queue_migrated = Some(true);
        self.counters.set(Candid(c));
        self
    }

    pub fn initialize(&mut self, config: ProxyConfig) -> Result<(), String> {
        config.validate()?;
        self.config.set(Candid(Some(config)));
        Ok(())
    }

    /// Governance's `proposal` sets the per-call fee (once per proposal; calls already held keep the
    /// fee they were quoted).
    pub fn set_call_fee(
        &mut self,
        caller: candid::Principal,
        proposal: crate::registry::ProposalId,
        call_fee: u128,
    ) -> Result<(), crate::registry::RegistryError> {
        if !neuranft_types::proxy::CALL_FEE_RANGE.contains(&call_fee) {
            return Err(crate::registry::RegistryError::InvalidArgument {
                field: "call_fee".into(),
                reason: "must be 1–10^12".into(),
            });
        }
        let payload = neuranft_types::applied::payload_hash("set_call_fee", &call_fee);
        self.registry.record_proposal(caller, proposal, payload)?;
        let mut config = self.config();
        config.call_fee = call_fee;
        self.set_config(config);
        Ok(())
    }

    /// Replaces the configuration (the caller checked it).
    pub(crate) fn set_config(&mut self, config: ProxyConfig) {
        self.config.set(Candid(Some(config)));
    }

    pub fn config(&self) -> ProxyConfig {
        self.config
            .get()
            .0
            .clone()
            .expect("BUG: proxy used before initialization")
    }

    pub fn ledger_fee(&self) -> Option<u128> {
        self.book.fee()
    }

    fn next_memo(&mut self, tag: &[u8; 8]) -> Vec<u8> {
        let mut c = self.counters.get().0.clone();
        let n = c.next_memo;
        c.next_memo += 1;
        self.counters.set(Candid(c));
        ledger_adapter::tagged_memo(tag, n)
    }

    pub fn set_node_api_key(&mut self, node: u64, key: String) {
        self.node_api_keys.insert(node, key);
    }

    pub fn node_api_key(&self, node: u64) -> Option<String> {
        self.node_api_keys.get(&node)
    }

    pub fn split_version(&self) -> neuranft_types::royalties::SplitVersion {
        self.counters.get().0.split_version
    }

    /// Meters under `version` from now on; an older version arriving late changes nothing.
    pub fn set_split_version(&mut self, version: neuranft_types::royalties::SplitVersion) {
        let mut c = self.counters.get().0.clone();
        c.split_version = c.split_version.max(version);
        self.counters.set(Candid(c));
    }

    /// Counts a call against the caller's per-minute limit; `false` when the limit is reached.
    pub fn admit_call(&mut self, caller: Principal, now: u64, per_minute: u32) -> bool {
        let minute = now / 60_000_000_000;
        if self.calls_this_minute.len() > 100_000 {
            self.calls_this_minute.retain(|_, (m, _)| *m == minute);
        }
        let entry = self.calls_this_minute.entry(caller).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        if entry.1 >= per_minute {
            return false;
        }
        entry.1 += 1;
        true
    }

    pub fn try_begin(&mut self, caller: Principal) -> Result<(), Refusal> {
        self.busy.try_begin(caller)
    }

    pub fn end(&mut self, caller: Principal) {
        self.busy.end(&caller);
    }

    /// Batches transferred and waiting for `settle`, oldest first.
    pub fn batches_to_settle(&self, limit: usize) -> Vec<u64> {
        self.to_settle.keys().take(limit).collect()
    }

    /// Batches whose transfer must be sent again, oldest first.
    pub fn batches_to_send(&self, limit: usize) -> Vec<u64> {
        self.to_send.keys().take(limit).collect()
    }

    /// Up to `limit` set-aside batches, going round from where the last call stopped.
    pub fn set_aside_batches_to_retry(&mut self, limit: usize) -> Vec<u64> {
        let start = self.counters.get().0.set_aside_cursor.unwrap_or(0);
        let mut ids: Vec<u64> = self
            .set_aside
            .range(start..)
            .take(limit)
            .map(|e| *e.key())
            .collect();
        if ids.len() < limit {
            let wrap = self.set_aside.range(..start).take(limit - ids.len());
            ids.extend(wrap.map(|e| *e.key()));
        }
        let next = ids.last().map(|id| id + 1);
        let mut c = self.counters.get().0.clone();
        c.set_aside_cursor = next;
        self.counters.set(Candid(c));
        ids
    }

    /// The number and the total of the batches set aside: funds with royalties, not yet credited.
    pub fn set_aside_summary(&self) -> (u64, u128) {
        let total = self
            .set_aside
            .keys()
            .filter_map(|id| self.metering.batch(id))
            .map(|b| b.total)
            .sum();
        (self.set_aside.len(), total)
    }

    /// Royalties settled the batch (now, or after it was set aside).
    pub fn batch_settled(&mut self, batch: u64) -> Result<(), MeteringError> {
        self.metering.batch_settled(batch)?;
        self.forget_settle_entry(batch);
        Ok(())
    }

    /// Royalties refused the batch for good (as far as the proxy can tell): it waits aside.
    pub fn set_batch_aside(&mut self, batch: u64, reason: String) -> Result<(), MeteringError> {
        self.metering.batch_set_aside(batch, reason)?;
        self.to_settle.remove(&batch);
        self.settle_failures.remove(&batch);
        self.set_aside.insert(batch, ());
        Ok(())
    }

    /// The batch no longer waits for `settle` (settled, or not transferred after all).
    pub fn forget_settle_entry(&mut self, batch: u64) {
        self.to_settle.remove(&batch);
        self.set_aside.remove(&batch);
        self.settle_failures.remove(&batch);
    }

    /// Counts a failed `settle` call of the batch; returns how many since its last answer.
    pub fn count_settle_failure(&mut self, batch: u64) -> u32 {
        let failures = self.settle_failures.entry(batch).or_insert(0);
        *failures = failures.saturating_add(1);
        *failures
    }

    pub fn try_begin_flush(&mut self) -> bool {
        !std::mem::replace(&mut self.flushing, true)
    }

    pub fn end_flush(&mut self) {
        self.flushing = false;
    }

    /// Sends a batch whose transfer failed again, with the ledger's current fee (from the reserve).
    pub fn resend_batch(
        &mut self,
        batch: u64,
        ledger_fee: u128,
        now: u64,
    ) -> Result<IntentId, MeteringError> {
        // Only a batch still waiting to be sent: never a second transfer of one batch.
        let waiting = matches!(
            self.metering.batch(batch).map(|b| b.status),
            Some(BatchStatus::AwaitingTransfer { .. })
        );
        if !self.to_send.contains_key(&batch) || !waiting {
            self.to_send.remove(&batch);
            return Err(MeteringError::UnknownBatch { batch });
        }
        self.metering.rearm_batch(batch, ledger_fee)?;
        let royalties = self.config().royalties;
        let total = self.metering.batch(batch).map_or(0, |b| b.total);
        let intent = self.record_batch_transfer(batch, royalties, total, ledger_fee, now)?;
        self.to_send.remove(&batch);
        Ok(intent.id)
    }

    /// Records a deposit's pull (ICRC-2 `transfer_from` from the caller, who pays the ledger fee).
    pub fn record_deposit(
        &mut self,
        user: Principal,
        proxy: Principal,
        amount: u128,
        fee: u128,
        now: u64,
    ) -> Result<TransferIntent, MoneyError> {
        if amount == 0 {
            return Err(MoneyError::ZeroAmount);
        }
        let transfer = Transfer {
            kind: TransferKind::TransferFrom {
                spender_subaccount: None,
                from: Account {
                    owner: user,
                    subaccount: None,
                },
                to: Account {
                    owner: proxy,
                    subaccount: None,
                },
            },
            gross: amount,
            fee_policy: FeePolicy::PaidBySender,
            memo: self.next_memo(DEPOSIT_MEMO_TAG),
            fee_limit: None,
        };
        self.book
            .enqueue(transfer, fee, now, MoneyOp::Deposit { user, amount })
            .map_err(outbox_error)
    }

    /// Takes `amount` from the caller's balance and records its transfer to `to` (the recipient bears
    /// the ledger fee).
    pub fn record_withdrawal(
        &mut self,
        user: Principal,
        to: Account,
        amount: u128,
        fee: u128,
        now: u64,
    ) -> Result<TransferIntent, MoneyError> {
        if amount <= fee {
            return Err(MoneyError::BelowFee { amount, fee });
        }
        self.metering.begin_withdrawal(&user, amount)?;
        let transfer = Transfer {
            kind: TransferKind::Transfer {
                from_subaccount: None,
                to,
            },
            gross: amount,
            fee_policy: FeePolicy::DeductedFromAmount,
            memo: self.next_memo(WITHDRAW_MEMO_TAG),
            fee_limit: None,
        };
        Ok(self
            .book
            .enqueue(transfer, fee, now, MoneyOp::Withdrawal { user, amount })
            .expect("BUG: withdrawal amount checked above the fee"))
    }

    /// Records the transfer of a closed batch's total to royalties. The proxy pays the ledger fee
    /// from its fee reserve, reserved when the batch closed; the fee is also the transfer's limit, so
    /// that a fee rise is decided here ([`ProxyState::resend_batch`]) and never paid from users' funds.
    pub fn record_batch_transfer(
        &mut self,
        batch: u64,
        royalties: Principal,
        total: u128,
        fee: u128,
        now: u64,
    ) -> Result<TransferIntent, MeteringError> {
        let mut memo = BATCH_MEMO_TAG.to_vec();
        memo.extend_from_slice(&batch.to_be_bytes());
        let transfer = Transfer {
            kind: TransferKind::Transfer {
                from_subaccount: None,
                to: Account {
                    owner: royalties,
                    subaccount: None,
                },
            },
            gross: total,
            fee_policy: FeePolicy::PaidBySender,
            memo,
            fee_limit: Some(fee),
        };
        self.book
            .enqueue(transfer, fee, now, MoneyOp::BatchTransfer { batch })
            .map_err(|_| MeteringError::Overflow)
    }

    pub fn money_op(&self, intent: IntentId) -> Option<MoneyOp> {
        self.book.op(intent)
    }

    pub fn unresolved_intents(&self, limit: usize) -> Vec<IntentId> {
        self.book.unresolved_ids(limit)
    }

    pub fn unresolved_count(&self) -> u64 {
        self.book.unresolved_count()
    }

    pub fn intent(&self, id: IntentId) -> Option<TransferIntent> {
        self.book.intent(id)
    }

    /// Applies a resolved intent's op to the balances (the book removes the op as it is applied). A
    /// batch transfer that definitely failed waits in `to_send` (its funds are still here) to go out
    /// again with the fee of the moment. An op that cannot be applied changes nothing.
    pub(crate) fn apply(&mut self, op: MoneyOp, intent: &TransferIntent) -> Result<(), ApplyError> {
        let completed = matches!(intent.status, IntentStatus::Completed { .. });
        let applied = match op {
            MoneyOp::Deposit { user, amount } if completed => {
                self.metering.credit_deposit(&user, amount)
            }
            MoneyOp::Deposit { .. } => Ok(()),
            MoneyOp::Withdrawal { user, amount } => {
                self.metering.end_withdrawal(&user, amount, completed);
                Ok(())
            }
            MoneyOp::BatchTransfer { batch } => match &intent.status {
                IntentStatus::Completed {
                    block_index, fee, ..
                } => {
                    let waiting = matches!(
                        self.metering.batch(batch).map(|b| b.status),
                        Some(BatchStatus::AwaitingTransfer { .. })
                    );
                    self.metering
                        .batch_transferred(batch, block_index.clone(), *fee)
                        .map(|_| {
                            if waiting {
                                self.to_settle.insert(batch, ());
                            }
                        })
                }
                _ => match self.metering.batch(batch).map(|b| b.status) {
                    Some(BatchStatus::AwaitingTransfer { .. }) => {
                        self.to_send.insert(batch, ());
                        Ok(())
                    }
                    // The batch went out by another intent: nothing to send again.
                    Some(_) => Ok(()),
                    None => Err(MeteringError::UnknownBatch { batch }),
                },
            },
        };
        applied.map_err(|e| ApplyError(format!("intent {}: {e:?}", intent.id)))
    }
}

fn outbox_error(e: OutboxError) -> MoneyError {
    match e {
        OutboxError::AmountBelowFee { amount, fee } => MoneyError::BelowFee { amount, fee },
        OutboxError::Overflow => MoneyError::Metering(MeteringError::Overflow),
        OutboxError::MemoTooLong { .. } | OutboxError::FeeAboveLimit { .. } => {
            MoneyError::TransferFailed {
                reason: e.to_string(),
            }
        }
    }
}
