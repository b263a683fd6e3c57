//! A canister's book on one ledger: the one way money moves exactly once.
//!
//! A book owns the [`Outbox`] of the canister's transfers on that ledger, the record of what each
//! unresolved transfer is for (an `Op` of the canister's own), and the ledger's fee as last known.
//! Every money path is the same four steps: learn the fee ([`ledger_fee`]), enqueue the transfer with
//! its op in one state change ([`Book::enqueue`]), drive it ([`resolve`], at once and again from a
//! timer), and apply the op exactly once when the transfer resolved — the op's record is removed in
//! the same state change that applies it, so no retry, timer or upgrade can apply it twice.

use crate::outbox::{
    self, FeePolicy, IntentId, IntentStatus, Memory, Outbox, OutboxError, OutboxHost,
    TransferIntent, TransferKind,
};
use crate::{fetch_fee, CallFailure, LedgerRuntime};
use candid::CandidType;
use ic_stable_structures::StableBTreeMap;
use neuranft_types::storable::Candid;
use serde::de::DeserializeOwned;
use std::cell::RefCell;

/// What a book's op must be to live in stable memory.
pub trait BookOp: CandidType + DeserializeOwned + Clone {}
impl<T: CandidType + DeserializeOwned + Clone> BookOp for T {}

pub struct Book<Op: BookOp> {
    outbox: Outbox,
    ops: StableBTreeMap<IntentId, Candid<Op>, Memory>,
    /// The ledger's fee as last learnt (from `icrc1_fee` or a `BadFee` answer). Heap only: after an
    /// upgrade it is asked again.
    fee: Option<u128>,
}

/// The canister state that holds a book: the state itself, or the book alone in its own cell.
pub trait BookHost {
    type Op: BookOp;
    fn book(&mut self) -> &mut Book<Self::Op>;
}

impl<Op: BookOp> BookHost for Book<Op> {
    type Op = Op;
    fn book(&mut self) -> &mut Book<Op> {
        self
    }
}

impl<H: BookHost> OutboxHost for H {
    fn outbox(&mut self) -> &mut Outbox {
        &mut self.book().outbox
    }
}

/// A transfer to enqueue: what [`Outbox::enqueue_with_fee_limit`] takes, with the fee filled in by
/// the book from what it knows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub kind: TransferKind,
    pub gross: u128,
    pub fee_policy: FeePolicy,
    pub memo: Vec<u8>,
    /// See [`TransferIntent::fee_limit`].
    pub fee_limit: Option<u128>,
}

impl<Op: BookOp> Book<Op> {
    /// Opens the book over the outbox's three memories and the ops' memory: empty on a fresh
    /// canister, as it was after an upgrade.
    pub fn init(intents: Memory, pending: Memory, counter: Memory, ops: Memory) -> Self {
        Self {
            outbox: Outbox::init(intents, pending, counter),
            ops: StableBTreeMap::init(ops),
            fee: None,
        }
    }

    /// Persists the transfer and what it is for, together; nothing is sent yet.
    pub fn enqueue(
        &mut self,
        transfer: Transfer,
        fee: u128,
        now: u64,
        op: Op,
    ) -> Result<TransferIntent, OutboxError> {
        let intent = self.outbox.enqueue_with_fee_limit(
            transfer.kind,
            transfer.gross,
            transfer.fee_policy,
            &transfer.memo,
            fee,
            transfer.fee_limit,
            now,
        )?;
        self.ops.insert(intent.id, Candid(op));
        Ok(intent)
    }

    /// Records what an intent already in the outbox is for (a state an earlier version kept
    /// elsewhere, brought into the book once).
    pub fn adopt(&mut self, intent: IntentId, op: Op) {
        self.ops.insert(intent, Candid(op));
    }

    /// Drops what an intent is for without applying it: only for tests that rebuild an earlier
    /// version's state.
    #[doc(hidden)]
    pub fn forget_op(&mut self, intent: IntentId) {
        self.ops.remove(&intent);
    }

    pub fn intent(&self, id: IntentId) -> Option<TransferIntent> {
        self.outbox.get(id)
    }

    /// What an unresolved intent is for (`None` once it was applied).
    pub fn op(&self, intent: IntentId) -> Option<Op> {
        self.ops.get(&intent).map(|c| c.0)
    }

    /// Unresolved intents and their ops, oldest first.
    pub fn unresolved(&self, limit: usize) -> Vec<(IntentId, Op)> {
        self.ops
            .iter()
            .take(limit)
            .map(|entry| {
                let (id, op) = entry.into_pair();
                (id, op.0)
            })
            .collect()
    }

    pub fn unresolved_ids(&self, limit: usize) -> Vec<IntentId> {
        self.ops.keys().take(limit).collect()
    }

    pub fn unresolved_count(&self) -> u64 {
        self.ops.len()
    }

    /// The oldest unresolved intent whose op satisfies `matches`.
    pub fn find(&self, matches: impl Fn(&Op) -> bool) -> Option<IntentId> {
        self.ops.iter().find_map(|entry| {
            let (id, op) = entry.into_pair();
            matches(&op.0).then_some(id)
        })
    }

    pub fn fee(&self) -> Option<u128> {
        self.fee
    }

    /// A fee just read from the ledger (`icrc1_fee`).
    pub fn set_fee(&mut self, fee: u128) {
        self.fee = Some(fee);
    }
}

/// The ledger's fee: as last learnt, or asked of the ledger (and kept).
pub async fn ledger_fee<R: LedgerRuntime, H: BookHost>(
    runtime: &R,
    host: &RefCell<H>,
) -> Result<u128, CallFailure> {
    if let Some(fee) = host.borrow_mut().book().fee {
        return Ok(fee);
    }
    let fee = fetch_fee(runtime).await?;
    host.borrow_mut().book().fee = Some(fee);
    Ok(fee)
}

/// Drives intent `id` (see [`outbox::drive`]) and, once it resolved, applies what it was for,
/// exactly once: `apply` receives the host, the op and the resolved intent, and the op's record is
/// removed in the same state change when `apply` succeeds. An op that cannot be applied keeps its
/// record (and changes nothing, if `apply` keeps its promise): a later call tries again. Returns the
/// intent as it stands (still `Pending` if it needs another drive), or `apply`'s error.
pub async fn resolve<R, H, E>(
    runtime: &R,
    host: &RefCell<H>,
    id: IntentId,
    apply: impl FnOnce(&mut H, H::Op, &TransferIntent) -> Result<(), E>,
) -> Result<TransferIntent, E>
where
    R: LedgerRuntime,
    H: BookHost,
{
    let intent = outbox::drive(runtime, host, id).await;
    if intent.status == IntentStatus::Pending {
        return Ok(intent);
    }
    let mut h = host.borrow_mut();
    let Some(op) = h.book().op(id) else {
        return Ok(intent);
    };
    // Learnt once, as the intent resolves: a fee answered long ago must not overwrite a newer one
    // (and only a `BadFee` answer teaches: a payload's own fee may be a burn's 0). While a rebuilt
    // intent is still pending, new transfers may go out with the old fee; a `BadFee` rebuilds them.
    if let Some(fee) = intent.learned_fee {
        h.book().fee = Some(fee);
    }
    apply(&mut h, op, &intent)?;
    h.book().ops.remove(&id);
    Ok(intent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ic_stable_structures::memory_manager::{MemoryId, MemoryManager};
    use ic_stable_structures::DefaultMemoryImpl;
    use icrc_ledger_types::icrc1::account::Account;

    fn book() -> Book<String> {
        let mm = MemoryManager::init_with_bucket_size(DefaultMemoryImpl::default(), 1);
        let m = |i| mm.get(MemoryId::new(i));
        Book::init(m(0), m(1), m(2), m(3))
    }

    fn payment(gross: u128) -> Transfer {
        Transfer {
            kind: TransferKind::Transfer {
                from_subaccount: None,
                to: Account {
                    owner: candid::Principal::from_slice(&[7; 29]),
                    subaccount: None,
                },
            },
            gross,
            fee_policy: FeePolicy::DeductedFromAmount,
            memo: b"TEST".to_vec(),
            fee_limit: None,
        }
    }

    #[test]
    fn an_op_is_recorded_with_its_transfer_or_not_at_all() {
        let mut book = book();
        let refused = book.enqueue(payment(10), 10, 1, "refused".into());
        assert_eq!(
            refused,
            Err(OutboxError::AmountBelowFee {
                amount: 10,
                fee: 10
            })
        );
        assert_eq!(book.unresolved_count(), 0, "no op without its transfer");
        let a = book.enqueue(payment(100), 10, 1, "a".into()).unwrap();
        let b = book.enqueue(payment(200), 10, 1, "b".into()).unwrap();
        assert_eq!(
            book.unresolved(10),
            vec![(a.id, "a".to_string()), (b.id, "b".to_string())]
        );
        assert_eq!(book.find(|op| op == "b"), Some(b.id));
        assert_eq!(book.find(|op| op == "c"), None);
        assert_eq!(book.intent(a.id).unwrap().amount(), 90);
    }
}
