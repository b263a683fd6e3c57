//! Balances and payouts: each stakeholder's exact accrual, the payouts that pay it out, the book that
//! executes each payout's transfer exactly once, and the claims in progress.

use super::{hash_map, AccountKey, Memory, MAX_PAGE};
use crate::memory::*;
use crate::storable::{Balance, Candid};
use candid::{Nat, Principal};
use ic_stable_structures::memory_manager::MemoryManager;
use ic_stable_structures::{DefaultMemoryImpl, StableBTreeMap};
use icrc_ledger_types::icrc1::account::Account;
use ledger_adapter::book::{Book, Transfer};
use ledger_adapter::outbox::{FeePolicy, TransferIntent, TransferKind};
use neuranft_types::guard::{InFlight, Refusal};
use neuranft_types::royalties::*;
use neuranft_types::{account_from_key, account_key, normalize_account};
use serde_bytes::ByteBuf;
use sha2::{Digest, Sha256};

use std::collections::BTreeMap;
use std::ops::Bound;

pub const PAYOUT_MEMO_TAG: &[u8; 8] = b"NNFT-PAY";

pub struct Balances {
    balances: StableBTreeMap<AccountKey, Balance, Memory>,
    payouts: StableBTreeMap<PayoutId, Candid<Payout>, Memory>,
    /// Retired: pending payouts are the unresolved ops of `book` (emptied into it on open).
    retired_pending_payouts: StableBTreeMap<PayoutId, (), Memory>,
    payouts_by_account: StableBTreeMap<(AccountKey, PayoutId), (), Memory>,
    /// Payout transfers, each executed exactly once, and the payout each one pays.
    book: Book<PayoutId>,
    /// Principals with a claim in progress (heap only: no call is in flight across an upgrade).
    claims_in_progress: InFlight<Principal>,
}

/// Claims in flight at most (each holds a ledger call).
pub const MAX_CLAIMS_IN_FLIGHT: u32 = 100;

impl Balances {
    /// Opens the balances and payouts in `mm` (their ids in [`crate::memory`]).
    pub fn init(mm: &MemoryManager<DefaultMemoryImpl>) -> Self {
        Self {
            balances: StableBTreeMap::init(mm.get(BALANCES_MEMORY_ID)),
            payouts: StableBTreeMap::init(mm.get(PAYOUTS_MEMORY_ID)),
            retired_pending_payouts: StableBTreeMap::init(mm.get(PENDING_PAYOUTS_MEMORY_ID)),
            payouts_by_account: StableBTreeMap::init(mm.get(PAYOUTS_BY_ACCOUNT_MEMORY_ID)),
            book: Book::init(
                mm.get(OUTBOX_INTENTS_MEMORY_ID),
                mm.get(OUTBOX_PENDING_MEMORY_ID),
                mm.get(OUTBOX_COUNTER_MEMORY_ID),
                mm.get(PAYOUT_OPS_MEMORY_ID),
            ),
            claims_in_progress: InFlight::new(MAX_CLAIMS_IN_FLIGHT),
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

    /// Puts a pending payout back the way the version before the book kept it (listed in the
    /// retired map, no op in the book): the upgrade test starts from there.
    #[cfg(test)]
    pub(crate) fn put_back_as_before_the_book(&mut self, id: PayoutId) {
        let intent = self.payout(id).expect("a payout").intent;
        self.retired_pending_payouts.insert(id, ());
        self.book.forget_op(intent);
    }

    pub fn book(&mut self) -> &mut Book<PayoutId> {
        &mut self.book
    }

    pub fn balance_of(&self, account: &Account) -> StakeholderBalance {
        self.balances
            .get(&account_key(account))
            .map(|b| b.0)
            .unwrap_or_default()
    }

    /// Adds each account's accrual (over [`ENTITLEMENT_DENOMINATOR`]) to its remainder and credits
    /// the whole units in it: one read and one write per account. Returns the accounts credited a
    /// whole unit or more, and the units credited in all.
    pub fn credit_accruals(
        &mut self,
        accruals: &BTreeMap<AccountKey, u128>,
    ) -> (Vec<AccountCredit>, u128) {
        let mut credits = Vec::new();
        let mut credited: u128 = 0;
        for (key, &accrual) in accruals {
            let mut balance = self.balances.get(key).map(|b| b.0).unwrap_or_default();
            // remainder < 2^47 and accrual < 2^124: no overflow.
            let accrued = balance.entitlement_remainder + accrual;
            let whole = accrued / ENTITLEMENT_DENOMINATOR;
            balance.entitlement_remainder = accrued % ENTITLEMENT_DENOMINATOR;
            balance.available += whole;
            balance.credited_total += whole;
            credited += whole;
            self.balances.insert(*key, Balance(balance));
            if whole > 0 {
                credits.push(AccountCredit {
                    account: account_from_key(key),
                    amount: whole,
                });
            }
        }
        (credits, credited)
    }

    pub fn ledger_fee(&self) -> Option<u128> {
        self.book.fee()
    }

    /// Takes the per-caller guard; refused when a claim by `caller` is already in progress or the
    /// most claims are.
    pub fn try_begin_claim(&mut self, caller: Principal) -> Result<(), Refusal> {
        self.claims_in_progress.try_begin(caller)
    }

    pub fn end_claim(&mut self, caller: Principal) {
        self.claims_in_progress.end(&caller);
    }

    /// Debits the whole available accrual of `account` and records payout `id` of it, the transfer's
    /// intent (memo, `created_at_time`, fee) persisted in the outbox before any ledger call.
    pub fn record_payout(
        &mut self,
        id: PayoutId,
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

    fn payout_balance(&self, payout: &Payout) -> (AccountKey, StakeholderBalance) {
        let key = account_key(&payout.account);
        let balance = self
            .balances
            .get(&key)
            .expect("BUG: payout without balance")
            .0;
        (key, balance)
    }

    /// The ledger moved `amount` (and took `fee`): the payout's gross is paid.
    pub fn complete_payout(
        &mut self,
        id: PayoutId,
        block_index: Nat,
        amount: u128,
        fee: u128,
    ) -> Payout {
        let mut payout = self.finish_payout(id, PayoutStatus::Completed { block_index });
        debug_assert_eq!(amount + fee, payout.gross);
        payout.amount = amount;
        payout.fee = fee;
        self.payouts.insert(id, Candid(payout.clone()));
        let debit = payout.gross;
        let (key, mut balance) = self.payout_balance(&payout);
        balance.in_flight -= debit;
        balance.paid_total += debit;
        self.balances.insert(key, Balance(balance));
        payout
    }

    /// The ledger definitely did not execute the payout: the accrual comes back.
    pub fn fail_payout(&mut self, id: PayoutId, reason: String) -> Payout {
        let payout = self.finish_payout(id, PayoutStatus::Failed { reason });
        let debit = payout.gross;
        let (key, mut balance) = self.payout_balance(&payout);
        balance.in_flight -= debit;
        balance.available += debit;
        self.balances.insert(key, Balance(balance));
        payout
    }

    /// Accounts whose accrual reached `threshold`, scanning at most `max_scan` balances after `cursor`,
    /// and the key the scan stopped at (`None`: it reached the end).
    pub fn auto_payout_candidates(
        &self,
        cursor: Option<AccountKey>,
        threshold: u128,
        limit: usize,
        max_scan: usize,
    ) -> (Vec<Account>, Option<AccountKey>) {
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
        (found, stopped_at)
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

    /// Hashes the balances, as `State::fingerprint` always has between the splits and the batches.
    pub fn fingerprint_balances(&self, h: &mut Sha256) {
        hash_map(h, &self.balances);
    }

    /// Hashes the payouts and the book's unresolved ops, as `State::fingerprint` always has after the
    /// settled receipts.
    pub fn fingerprint_payouts(&self, h: &mut Sha256) {
        hash_map(h, &self.payouts);
        hash_map(h, &self.retired_pending_payouts);
        for (intent, payout) in self.book.unresolved(usize::MAX) {
            h.update(intent.to_be_bytes());
            h.update(payout.to_be_bytes());
        }
        hash_map(h, &self.payouts_by_account);
    }
}
