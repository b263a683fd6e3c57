//! An outbox of ledger transfers that must happen exactly once.
//!
//! Each intent is persisted (stable memory) with its memo and `created_at_time` before the first call.
//! While the outcome of a send is unknown the identical payload is sent again; `Duplicate` counts as
//! done. A definite refusal after an unknown outcome proves nothing by itself (ledgers check the fee
//! before deduplication, so `BadFee` can hide an earlier success), so the ledger's ICRC-3 block log is
//! searched for the payload before anything new is built. That search is conclusive because the IC
//! delivers the requests of one canister to another in order: once a later send has been answered,
//! every earlier send has either executed or been dropped for good.
//!
//! A new payload (new fee, new `created_at_time`, next memo generation) is built only when every
//! earlier payload of the intent is known not to have executed.

use crate::reconcile::{find_block, PayloadMatch};
use crate::{
    classify_transfer, classify_transfer_from_error, CallFailure, LedgerRuntime, TransferOutcome,
};
use candid::{CandidType, Deserialize, Nat, Principal};
use ic_stable_structures::memory_manager::VirtualMemory;
use ic_stable_structures::{DefaultMemoryImpl, StableBTreeMap, StableCell};
use icrc_ledger_types::icrc1::account::{Account, Subaccount};
use icrc_ledger_types::icrc1::transfer::{Memo, TransferArg};
use icrc_ledger_types::icrc2::transfer_from::TransferFromArgs;
use neuranft_types::guard::OnDrop;
use neuranft_types::storable::Candid;
use std::cell::RefCell;
use std::collections::BTreeSet;

pub type IntentId = u64;
pub type Memory = VirtualMemory<DefaultMemoryImpl>;

/// A caller's memo may take this many bytes; the outbox appends a 4-byte payload generation, so that
/// every payload it ever builds for an intent is distinct and findable in the block log.
pub const MAX_BASE_MEMO_LEN: usize = 28;
/// Sends of one intent per [`drive`] before it is left to the next one (a timer).
pub const SENDS_PER_DRIVE: u32 = 3;
/// New payloads built per [`drive`] (fee changes, expiry): a fee that keeps changing cannot loop.
pub const REBUILDS_PER_DRIVE: u32 = 2;

#[derive(CandidType, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeePolicy {
    /// The recipient receives `gross − fee`: the sender's debit is exactly `gross` whatever the fee.
    DeductedFromAmount,
    /// The recipient receives `gross`; the sender pays the fee on top.
    PaidBySender,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum TransferKind {
    /// ICRC-1 transfer from the canister's own (sub)account.
    Transfer {
        from_subaccount: Option<Subaccount>,
        to: Account,
    },
    /// ICRC-2 transfer_from, spending an allowance the canister holds.
    TransferFrom {
        spender_subaccount: Option<Subaccount>,
        from: Account,
        to: Account,
    },
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum IntentStatus {
    Pending,
    /// Executed once, in `block_index`; the recipient received `amount`, the ledger charged `fee`.
    Completed {
        block_index: Nat,
        fee: u128,
        amount: u128,
    },
    /// Definitely never executed, and never will.
    Failed {
        reason: String,
    },
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TransferIntent {
    pub id: IntentId,
    pub kind: TransferKind,
    pub gross: u128,
    pub fee_policy: FeePolicy,
    pub base_memo: Vec<u8>,
    pub enqueued_at: u64,
    /// The current payload: its fee, `created_at_time` and memo generation.
    pub fee: u128,
    pub created_at_time: u64,
    pub generation: u32,
    pub sends: u32,
    /// Some send of the current payload has no known outcome, so it may have executed.
    pub maybe_executed: bool,
    pub status: IntentStatus,
    /// The highest fee this intent may pay without its host deciding again: a ledger asking for more
    /// fails the intent (it never executed), so that a fee rise is never paid out of money the host
    /// owes to someone else. `None`: any fee (the sender's own funds, or deducted from the amount).
    pub fee_limit: Option<u128>,
    /// The fee a ledger's `BadFee` answer taught this intent, if any: with `icrc1_fee`, the only
    /// sources a host's fee cache may learn from.
    pub learned_fee: Option<u128>,
}

/// The exact request of the current payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    Transfer(TransferArg),
    TransferFrom(TransferFromArgs),
}

impl TransferIntent {
    pub fn memo(&self) -> Vec<u8> {
        let mut memo = self.base_memo.clone();
        memo.extend_from_slice(&self.generation.to_be_bytes());
        memo
    }

    /// What the recipient receives under the current payload.
    pub fn amount(&self) -> u128 {
        match self.fee_policy {
            FeePolicy::DeductedFromAmount => self.gross - self.fee,
            FeePolicy::PaidBySender => self.gross,
        }
    }

    pub fn to(&self) -> Account {
        match &self.kind {
            TransferKind::Transfer { to, .. } | TransferKind::TransferFrom { to, .. } => *to,
        }
    }

    /// The account debited, given the principal that sends (the canister).
    pub fn from(&self, sender: Principal) -> Account {
        match &self.kind {
            TransferKind::Transfer {
                from_subaccount, ..
            } => Account {
                owner: sender,
                subaccount: *from_subaccount,
            },
            TransferKind::TransferFrom { from, .. } => *from,
        }
    }

    pub fn payload(&self) -> Payload {
        let memo = Some(Memo::from(self.memo()));
        match &self.kind {
            TransferKind::Transfer {
                from_subaccount,
                to,
            } => Payload::Transfer(TransferArg {
                from_subaccount: *from_subaccount,
                to: *to,
                fee: Some(self.fee.into()),
                created_at_time: Some(self.created_at_time),
                memo,
                amount: self.amount().into(),
            }),
            TransferKind::TransferFrom {
                spender_subaccount,
                from,
                to,
            } => Payload::TransferFrom(TransferFromArgs {
                spender_subaccount: *spender_subaccount,
                from: *from,
                to: *to,
                amount: self.amount().into(),
                fee: Some(self.fee.into()),
                memo,
                created_at_time: Some(self.created_at_time),
            }),
        }
    }

    fn payload_match(&self, sender: Principal) -> PayloadMatch {
        PayloadMatch {
            from: self.from(sender),
            to: self.to(),
            amount: self.amount(),
            memo: self.memo(),
            created_at_time: self.created_at_time,
        }
    }
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OutboxError {
    #[error("the memo is longer than {max} bytes")]
    MemoTooLong { max: u64 },
    #[error("the amount {amount} does not exceed the ledger fee {fee}")]
    AmountBelowFee { amount: u128, fee: u128 },
    #[error("the amount plus the fee overflows")]
    Overflow,
    #[error("the fee {fee} is above the intent's limit {limit}")]
    FeeAboveLimit { fee: u128, limit: u128 },
}

/// How a failure reason starts when the ledger's fee rose above an intent's limit.
pub const FEE_ABOVE_LIMIT: &str = "fee above limit";

/// What to do after an answer.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Next {
    /// Resolved, or a new payload was built: look again.
    Continue,
    /// The same payload must be sent again.
    Resend,
    /// A definite refusal after an unknown outcome: search the blocks, then apply `outcome`.
    Reconcile(TransferOutcome),
}

pub struct Outbox {
    intents: StableBTreeMap<IntentId, Candid<TransferIntent>, Memory>,
    pending: StableBTreeMap<IntentId, (), Memory>,
    next_id: StableCell<u64, Memory>,
    /// Intents a [`drive`] is working on (heap only: after an upgrade nothing is in flight).
    driving: BTreeSet<IntentId>,
    /// The ledger's minting account once asked (heap only: asked again after an upgrade).
    minting_account: Option<Option<Account>>,
}

impl Outbox {
    pub fn init(intents: Memory, pending: Memory, counter: Memory) -> Self {
        Self {
            intents: StableBTreeMap::init(intents),
            pending: StableBTreeMap::init(pending),
            next_id: StableCell::init(counter, 0),
            driving: BTreeSet::new(),
            minting_account: None,
        }
    }

    /// Persists a transfer intent; nothing is sent yet. `fee` is the ledger fee as last known.
    pub fn enqueue(
        &mut self,
        kind: TransferKind,
        gross: u128,
        fee_policy: FeePolicy,
        base_memo: &[u8],
        fee: u128,
        now: u64,
    ) -> Result<TransferIntent, OutboxError> {
        self.enqueue_with_fee_limit(kind, gross, fee_policy, base_memo, fee, None, now)
    }

    /// [`Outbox::enqueue`] with a [`TransferIntent::fee_limit`].
    #[allow(clippy::too_many_arguments)]
    pub fn enqueue_with_fee_limit(
        &mut self,
        kind: TransferKind,
        gross: u128,
        fee_policy: FeePolicy,
        base_memo: &[u8],
        fee: u128,
        fee_limit: Option<u128>,
        now: u64,
    ) -> Result<TransferIntent, OutboxError> {
        if fee_limit.is_some_and(|limit| fee > limit) {
            return Err(OutboxError::FeeAboveLimit {
                fee,
                limit: fee_limit.unwrap_or_default(),
            });
        }
        if base_memo.len() > MAX_BASE_MEMO_LEN {
            return Err(OutboxError::MemoTooLong {
                max: MAX_BASE_MEMO_LEN as u64,
            });
        }
        match fee_policy {
            FeePolicy::DeductedFromAmount if gross <= fee => {
                return Err(OutboxError::AmountBelowFee { amount: gross, fee })
            }
            FeePolicy::PaidBySender if gross.checked_add(fee).is_none() => {
                return Err(OutboxError::Overflow)
            }
            _ => {}
        }
        let id = *self.next_id.get();
        self.next_id.set(id + 1);
        let intent = TransferIntent {
            id,
            kind,
            gross,
            fee_policy,
            base_memo: base_memo.to_vec(),
            enqueued_at: now,
            fee,
            created_at_time: now,
            generation: 0,
            sends: 0,
            maybe_executed: false,
            status: IntentStatus::Pending,
            fee_limit,
            learned_fee: None,
        };
        self.intents.insert(id, Candid(intent.clone()));
        self.pending.insert(id, ());
        Ok(intent)
    }

    pub fn get(&self, id: IntentId) -> Option<TransferIntent> {
        self.intents.get(&id).map(|c| c.0)
    }

    pub fn pending_ids(&self, limit: usize) -> Vec<IntentId> {
        self.pending.keys().take(limit).collect()
    }

    pub fn pending_count(&self) -> u64 {
        self.pending.len()
    }

    fn expect(&self, id: IntentId) -> TransferIntent {
        self.get(id)
            .unwrap_or_else(|| panic!("BUG: unknown intent {id}"))
    }

    fn put(&mut self, intent: TransferIntent) {
        if intent.status != IntentStatus::Pending {
            self.pending.remove(&intent.id);
        }
        self.intents.insert(intent.id, Candid(intent));
    }

    /// Persists that a send is about to leave: until its answer arrives it may execute.
    fn begin_send(&mut self, id: IntentId) -> (Payload, bool) {
        let mut intent = self.expect(id);
        let prior_unknown = intent.maybe_executed;
        intent.sends += 1;
        intent.maybe_executed = true;
        let payload = intent.payload();
        self.put(intent);
        (payload, prior_unknown)
    }

    fn after_answer(
        &mut self,
        id: IntentId,
        outcome: TransferOutcome,
        send_fate_known: bool,
        prior_unknown: bool,
        now: u64,
    ) -> Next {
        let mut intent = self.expect(id);
        if send_fate_known {
            // The ledger answered this send (or it never left), so it did not execute unless the
            // answer says so.
            intent.maybe_executed = prior_unknown;
        }
        match outcome {
            TransferOutcome::Completed { block_index } => {
                self.complete(intent, block_index);
                Next::Continue
            }
            TransferOutcome::RetrySamePayload { .. } => {
                self.put(intent);
                Next::Resend
            }
            definite if intent.maybe_executed => {
                self.put(intent);
                Next::Reconcile(definite)
            }
            definite => {
                self.apply_definite(intent, definite, now);
                Next::Continue
            }
        }
    }

    fn complete(&mut self, mut intent: TransferIntent, block_index: Nat) {
        intent.maybe_executed = false;
        intent.status = IntentStatus::Completed {
            block_index,
            fee: intent.fee,
            amount: intent.amount(),
        };
        self.put(intent);
    }

    /// Every payload so far is known not to have executed: rebuild, or fail for good.
    fn apply_definite(&mut self, mut intent: TransferIntent, outcome: TransferOutcome, now: u64) {
        intent.maybe_executed = false;
        let new_fee = match outcome {
            TransferOutcome::FeeChanged { expected_fee } => {
                let Some(fee) = crate::nat_to_u128_checked(&expected_fee) else {
                    return self.fail(intent, format!("ledger fee {expected_fee} too large"));
                };
                intent.learned_fee = Some(fee);
                if let Some(limit) = intent.fee_limit.filter(|limit| fee > *limit) {
                    return self.fail(
                        intent,
                        format!("{FEE_ABOVE_LIMIT}: the ledger fee is now {fee}, this transfer's limit {limit}"),
                    );
                }
                fee
            }
            TransferOutcome::Expired => intent.fee,
            TransferOutcome::Rejected { reason } | TransferOutcome::Bug { reason } => {
                return self.fail(intent, reason)
            }
            TransferOutcome::Completed { .. } | TransferOutcome::RetrySamePayload { .. } => {
                unreachable!("not a definite refusal")
            }
        };
        if intent.fee_policy == FeePolicy::DeductedFromAmount && intent.gross <= new_fee {
            return self.fail(
                intent,
                format!("the amount no longer covers the ledger fee {new_fee}"),
            );
        }
        intent.fee = new_fee;
        intent.created_at_time = now;
        intent.generation += 1;
        self.put(intent);
    }

    fn fail(&mut self, mut intent: TransferIntent, reason: String) {
        intent.status = IntentStatus::Failed { reason };
        self.put(intent);
    }

    /// The block search found the current payload in `block_index`.
    fn reconciled_found(&mut self, id: IntentId, block_index: u64) {
        let intent = self.expect(id);
        self.complete(intent, block_index.into());
    }

    /// The block search proved the current payload never executed.
    fn reconciled_absent(&mut self, id: IntentId, outcome: TransferOutcome, now: u64) {
        let intent = self.expect(id);
        self.apply_definite(intent, outcome, now);
    }
}

/// The canister state that holds the outbox.
pub trait OutboxHost {
    fn outbox(&mut self) -> &mut Outbox;
}

/// Drives intent `id` towards resolution: at most [`SENDS_PER_DRIVE`] sends and [`REBUILDS_PER_DRIVE`]
/// new payloads, then returns the intent as it stands (still `Pending` if it needs another drive).
/// A drive of an intent already being driven returns at once. No borrow is held across an await.
pub async fn drive<R: LedgerRuntime, H: OutboxHost>(
    runtime: &R,
    host: &RefCell<H>,
    id: IntentId,
) -> TransferIntent {
    {
        let mut h = host.borrow_mut();
        let outbox = h.outbox();
        let intent = outbox.expect(id);
        if intent.status != IntentStatus::Pending || !outbox.driving.insert(id) {
            return intent;
        }
    }
    // Released however the drive ends, a trap in a later callback included.
    let _driving = OnDrop::new(|| {
        if let Ok(mut h) = host.try_borrow_mut() {
            h.outbox().driving.remove(&id);
        }
    });
    drive_guarded(runtime, host, id).await
}

async fn drive_guarded<R: LedgerRuntime, H: OutboxHost>(
    runtime: &R,
    host: &RefCell<H>,
    id: IntentId,
) -> TransferIntent {
    let mut sends = 0;
    let first_generation = host.borrow_mut().outbox().expect(id).generation;
    loop {
        let intent = host.borrow_mut().outbox().expect(id);
        if intent.status != IntentStatus::Pending
            || sends >= SENDS_PER_DRIVE
            || intent.generation >= first_generation + REBUILDS_PER_DRIVE
        {
            return intent;
        }
        let (payload, prior_unknown) = host.borrow_mut().outbox().begin_send(id);
        sends += 1;
        let (outcome, known) = send(runtime, payload).await;
        let now = runtime.now();
        let next = host
            .borrow_mut()
            .outbox()
            .after_answer(id, outcome, known, prior_unknown, now);
        if let Next::Reconcile(outcome) = next {
            let intent = host.borrow_mut().outbox().expect(id);
            match find_block(runtime, &intent.payload_match(runtime.caller())).await {
                Ok(Some(block)) => host.borrow_mut().outbox().reconciled_found(id, block),
                Ok(None) => {
                    host.borrow_mut()
                        .outbox()
                        .reconciled_absent(id, outcome, runtime.now())
                }
                // The log could not be read: the intent stays as it is until the next drive.
                Err(_) => return intent,
            }
        }
    }
}

/// Sends a payload; returns the classified outcome and whether this send's fate is known (the ledger
/// answered, or the call was never sent).
async fn send<R: LedgerRuntime>(runtime: &R, payload: Payload) -> (TransferOutcome, bool) {
    let known = |failure: &CallFailure| !failure.outcome_unknown();
    match payload {
        Payload::Transfer(arg) => {
            let result = runtime.icrc1_transfer(arg).await;
            let fate_known = result.as_ref().err().is_none_or(known);
            (classify_transfer(result), fate_known)
        }
        Payload::TransferFrom(arg) => match runtime.icrc2_transfer_from(arg).await {
            Ok(Ok(block_index)) => (TransferOutcome::Completed { block_index }, true),
            Ok(Err(e)) => (classify_transfer_from_error(e), true),
            Err(failure) => {
                let fate_known = known(&failure);
                (
                    TransferOutcome::RetrySamePayload {
                        reason: failure.to_string(),
                    },
                    fate_known,
                )
            }
        },
    }
}

/// Whether `to` is the ledger's minting account: a transfer there is a burn (fee 0, no `to` in its
/// block), which no payment of ours may be. The minting account is asked once and kept; ledgers
/// treat `None` and the zero subaccount alike.
pub async fn is_minting_account<R: LedgerRuntime, H: OutboxHost>(
    runtime: &R,
    host: &RefCell<H>,
    to: &Account,
) -> Result<bool, CallFailure> {
    let known = host.borrow_mut().outbox().minting_account;
    let minting = match known {
        Some(minting) => minting,
        None => {
            let minting = runtime.icrc1_minting_account().await?;
            host.borrow_mut().outbox().minting_account = Some(minting);
            minting
        }
    };
    let zero = [0u8; 32];
    let sub = |a: &Account| a.subaccount.unwrap_or(zero);
    Ok(minting.is_some_and(|m| m.owner == to.owner && sub(&m) == sub(to)))
}
