//! The whole proxy state: configuration, metering, registry, the ledger-adapter outbox and what each
//! outbox intent is for (a deposit, a withdrawal, a batch transfer). Plain Rust over stable structures.

use crate::metering::{Metering, MeteringError};
use crate::registry::Registry;
use candid::{CandidType, Deserialize, Principal};
use ic_stable_structures::memory_manager::{MemoryId, MemoryManager, VirtualMemory};
use ic_stable_structures::{DefaultMemoryImpl, StableBTreeMap, StableCell};
use ledger_adapter::outbox::{
    FeePolicy, IntentId, IntentStatus, Outbox, OutboxError, OutboxHost, TransferIntent,
    TransferKind,
};
use neuranft_types::storable::Candid;
use neuranft_types::Account;
use std::collections::{BTreeMap, BTreeSet};

type Mem = VirtualMemory<DefaultMemoryImpl>;

pub const DEPOSIT_MEMO_TAG: &[u8; 8] = b"NNFT-DEP";
pub const WITHDRAW_MEMO_TAG: &[u8; 8] = b"NNFT-WDR";
pub const BATCH_MEMO_TAG: &[u8; 8] = b"NNFT-BAT";

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct ProxyConfig {
    pub ledger: Principal,
    pub royalties: Principal,
    pub governance: Principal,
    /// Charged per successful call on top of the usage price; pays cycles and batch ledger fees.
    pub call_fee: u128,
    pub max_prompt_bytes: u64,
    pub max_output_tokens: u32,
    pub max_receipts_per_batch: u32,
    pub flush_interval_seconds: u64,
    pub failures_before_suspension: u32,
    pub max_nodes_per_call: u32,
    pub calls_per_user_per_minute: u32,
}

/// What an outbox intent does when it resolves.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum MoneyOp {
    Deposit { user: Principal, amount: u128 },
    Withdrawal { user: Principal, amount: u128 },
    BatchTransfer { batch: u64 },
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum MoneyError {
    AnonymousCaller,
    /// Another deposit or withdrawal of this caller is in progress.
    AlreadyProcessing,
    ZeroAmount,
    BelowFee {
        amount: u128,
        fee: u128,
    },
    Metering(MeteringError),
    /// The ledger definitely refused the transfer; nothing changed.
    TransferFailed {
        reason: String,
    },
    /// The transfer's outcome is not known yet; it completes (or is undone) by itself later.
    Pending {
        intent: IntentId,
    },
    LedgerUnavailable {
        reason: String,
    },
}

impl From<MeteringError> for MoneyError {
    fn from(e: MeteringError) -> Self {
        MoneyError::Metering(e)
    }
}

#[derive(CandidType, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
struct Counters {
    next_memo: u64,
    ledger_fee: Option<u128>,
    /// The royalty split version receipts are metered under (pushed by royalties).
    split_version: neuranft_types::royalties::SplitVersion,
    /// Batches below this id are all settled.
    first_unsettled_batch: u64,
}

pub struct ProxyState {
    config: StableCell<Candid<Option<ProxyConfig>>, Mem>,
    counters: StableCell<Candid<Counters>, Mem>,
    pub metering: Metering,
    pub registry: Registry,
    outbox: Outbox,
    /// Unresolved outbox intents and what they are for.
    money_ops: StableBTreeMap<IntentId, Candid<MoneyOp>, Mem>,
    /// The bearer key each node expects (never returned by a query).
    node_api_keys: StableBTreeMap<u64, String, Mem>,
    /// Callers with a deposit or withdrawal in progress (heap: nothing is in flight across an upgrade).
    busy: BTreeSet<Principal>,
    /// Calls per user in the current minute (heap: a rate limit need not survive an upgrade).
    calls_this_minute: BTreeMap<Principal, (u64, u32)>,
}

impl OutboxHost for ProxyState {
    fn outbox(&mut self) -> &mut Outbox {
        &mut self.outbox
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
        let id = |i: u8| mm.get(MemoryId::new(i));
        Self {
            config: StableCell::init(id(0), Candid(None)),
            counters: StableCell::init(id(1), Candid(Counters::default())),
            metering: Metering::init(&mm, 2),
            registry: Registry::init(&mm, 7, 16),
            outbox: Outbox::init(id(11), id(12), id(13)),
            money_ops: StableBTreeMap::init(id(14)),
            node_api_keys: StableBTreeMap::init(id(15)),
            busy: BTreeSet::new(),
            calls_this_minute: BTreeMap::new(),
        }
    }

    pub fn initialize(&mut self, config: ProxyConfig) {
        self.config.set(Candid(Some(config)));
    }

    /// Governance's `proposal` sets the per-call fee (once per proposal; calls already held keep the
    /// fee they were quoted).
    pub fn set_call_fee(
        &mut self,
        proposal: crate::registry::ProposalId,
        call_fee: u128,
    ) -> Result<(), crate::registry::RegistryError> {
        self.registry.record_proposal(proposal)?;
        let mut config = self.config();
        config.call_fee = call_fee;
        self.config.set(Candid(Some(config)));
        Ok(())
    }

    pub fn config(&self) -> ProxyConfig {
        self.config
            .get()
            .0
            .clone()
            .expect("BUG: proxy used before initialization")
    }

    pub fn ledger_fee(&self) -> Option<u128> {
        self.counters.get().0.ledger_fee
    }

    pub fn set_ledger_fee(&mut self, fee: u128) {
        let mut c = self.counters.get().0.clone();
        c.ledger_fee = Some(fee);
        self.counters.set(Candid(c));
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

    pub fn try_begin(&mut self, caller: Principal) -> bool {
        self.busy.insert(caller)
    }

    pub fn end(&mut self, caller: Principal) {
        self.busy.remove(&caller);
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
        let memo = self.next_memo(DEPOSIT_MEMO_TAG);
        let intent = self
            .outbox
            .enqueue(
                TransferKind::TransferFrom {
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
                amount,
                FeePolicy::PaidBySender,
                &memo,
                fee,
                now,
            )
            .map_err(outbox_error)?;
        self.money_ops
            .insert(intent.id, Candid(MoneyOp::Deposit { user, amount }));
        Ok(intent)
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
        let memo = self.next_memo(WITHDRAW_MEMO_TAG);
        let intent = self
            .outbox
            .enqueue(
                TransferKind::Transfer {
                    from_subaccount: None,
                    to,
                },
                amount,
                FeePolicy::DeductedFromAmount,
                &memo,
                fee,
                now,
            )
            .expect("BUG: withdrawal amount checked above the fee");
        self.money_ops
            .insert(intent.id, Candid(MoneyOp::Withdrawal { user, amount }));
        Ok(intent)
    }

    /// Records the transfer of a closed batch's total to royalties (the proxy pays the ledger fee from
    /// its fee reserve, reserved when the batch closed).
    pub fn record_batch_transfer(
        &mut self,
        batch: u64,
        royalties: Principal,
        total: u128,
        fee: u128,
        now: u64,
    ) -> TransferIntent {
        let mut memo = BATCH_MEMO_TAG.to_vec();
        memo.extend_from_slice(&batch.to_be_bytes());
        let intent = self
            .outbox
            .enqueue(
                TransferKind::Transfer {
                    from_subaccount: None,
                    to: Account {
                        owner: royalties,
                        subaccount: None,
                    },
                },
                total,
                FeePolicy::PaidBySender,
                &memo,
                fee,
                now,
            )
            .expect("BUG: a batch memo fits and a batch total plus fee fits u128");
        self.money_ops
            .insert(intent.id, Candid(MoneyOp::BatchTransfer { batch }));
        intent
    }

    pub fn money_op(&self, intent: IntentId) -> Option<MoneyOp> {
        self.money_ops.get(&intent).map(|c| c.0)
    }

    pub fn unresolved_intents(&self, limit: usize) -> Vec<IntentId> {
        self.money_ops.keys().take(limit).collect()
    }

    pub fn intent(&self, id: IntentId) -> Option<TransferIntent> {
        self.outbox.get(id)
    }

    pub fn first_unsettled_batch(&self) -> u64 {
        self.counters.get().0.first_unsettled_batch
    }

    pub fn set_first_unsettled_batch(&mut self, batch: u64) {
        let mut c = self.counters.get().0.clone();
        c.first_unsettled_batch = batch;
        self.counters.set(Candid(c));
    }

    /// Applies a resolved intent to the balances, once: the record is removed as it is applied. A
    /// batch transfer that definitely failed is recorded again (its funds are still here).
    /// Returns the intent's status.
    pub fn apply_intent(&mut self, id: IntentId, now: u64) -> IntentStatus {
        let intent = self.outbox.get(id).expect("BUG: unknown intent");
        if intent.status == IntentStatus::Pending {
            return intent.status;
        }
        let Some(op) = self.money_ops.remove(&id).map(|c| c.0) else {
            return intent.status;
        };
        let completed = matches!(intent.status, IntentStatus::Completed { .. });
        match op {
            MoneyOp::Deposit { user, amount } => {
                if completed {
                    self.metering
                        .credit_deposit(&user, amount)
                        .expect("BUG: a deposit the ledger accepted overflows balances");
                }
            }
            MoneyOp::Withdrawal { user, amount } => {
                self.metering.end_withdrawal(&user, amount, completed)
            }
            MoneyOp::BatchTransfer { batch } => match &intent.status {
                IntentStatus::Completed {
                    block_index, fee, ..
                } => {
                    self.metering
                        .batch_transferred(batch, block_index.clone(), *fee)
                        .expect("BUG: batch transfer applied to an unknown batch");
                }
                _ => {
                    let royalties = self.config().royalties;
                    let record = self.metering.batch(batch).expect("BUG: unknown batch");
                    self.record_batch_transfer(batch, royalties, record.total, intent.fee, now);
                }
            },
        }
        intent.status
    }
}

fn outbox_error(e: OutboxError) -> MoneyError {
    match e {
        OutboxError::AmountBelowFee { amount, fee } => MoneyError::BelowFee { amount, fee },
        OutboxError::Overflow => MoneyError::Metering(MeteringError::Overflow),
        OutboxError::MemoTooLong { .. } => unreachable!("memos are 16 bytes"),
    }
}
