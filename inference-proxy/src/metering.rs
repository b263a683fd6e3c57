//! Prepaid balances, holds, charges and batches, with exact integer money.
//!
//! Where the proxy's ledger balance goes, at every moment (`liabilities()`):
//! `available + held` (users) `+ unsettled` (charged receipts not yet in a batch) `+ batched` (batches
//! whose transfer to royalties has not completed, with the ledger fee reserved for it) `+ fee_reserve`
//! (per-call fees, which pay the batch transfers' ledger fees) `+ withdrawals_in_flight`. A deposit
//! adds to the ledger balance and to `available` at once; a completed withdrawal or batch transfer
//! removes the same amount from both. So the ledger balance equals the total exactly whenever no
//! transfer is in flight, and the property tests check it after every step.

use crate::memory::*;
use crate::signed_usage::VerifiedUsage;
use candid::{CandidType, Deserialize, Nat, Principal};
use ic_stable_structures::memory_manager::{MemoryManager, VirtualMemory};
use ic_stable_structures::{DefaultMemoryImpl, StableBTreeMap, StableCell};
pub use neuranft_types::proxy::{
    BatchId, BatchRecord, BatchStatus, HoldId, Liabilities, MeteringError, UserBalance,
};
pub use neuranft_types::royalties::price_of;
use neuranft_types::royalties::{ModelId, Price, Receipt, ReceiptId, SplitVersion};
use neuranft_types::storable::Candid;
use neuranft_types::Account;

type Mem = VirtualMemory<DefaultMemoryImpl>;

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    pub id: HoldId,
    pub user: Principal,
    pub model: ModelId,
    pub amount: u128,
    pub created_at: u64,
}

#[derive(CandidType, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
struct Totals {
    available: u128,
    held: u128,
    unsettled: u128,
    batched: u128,
    fee_reserve: u128,
    withdrawals_in_flight: u128,
    next_hold: u64,
    next_receipt: u64,
    next_batch: u64,
}

fn principal_key(p: &Principal) -> [u8; 30] {
    let mut key = [0u8; 30];
    let bytes = p.as_slice();
    key[0] = bytes.len() as u8;
    key[1..1 + bytes.len()].copy_from_slice(bytes);
    key
}

/// What a charge did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Charged {
    /// `None` when the usage price is 0 (a free model): there is nothing to settle, so no receipt.
    pub receipt: Option<Receipt>,
    /// Price of the usage plus the call fee.
    pub charged: u128,
    pub released: u128,
}

pub struct Metering {
    users: StableBTreeMap<[u8; 30], Candid<UserBalance>, Mem>,
    holds: StableBTreeMap<HoldId, Candid<Hold>, Mem>,
    open_receipts: StableBTreeMap<ReceiptId, Candid<Receipt>, Mem>,
    batches: StableBTreeMap<BatchId, Candid<BatchRecord>, Mem>,
    totals: StableCell<Candid<Totals>, Mem>,
}

impl Metering {
    /// Opens the metering state in `mm` (its ids in [`crate::memory`]).
    pub fn init(mm: &MemoryManager<DefaultMemoryImpl>) -> Self {
        Self {
            users: StableBTreeMap::init(mm.get(USERS_MEMORY_ID)),
            holds: StableBTreeMap::init(mm.get(HOLDS_MEMORY_ID)),
            open_receipts: StableBTreeMap::init(mm.get(OPEN_RECEIPTS_MEMORY_ID)),
            batches: StableBTreeMap::init(mm.get(BATCHES_MEMORY_ID)),
            totals: StableCell::init(mm.get(METERING_TOTALS_MEMORY_ID), Candid(Totals::default())),
        }
    }

    fn totals(&self) -> Totals {
        self.totals.get().0.clone()
    }

    fn update_totals(&mut self, f: impl FnOnce(&mut Totals)) {
        let mut t = self.totals();
        f(&mut t);
        self.totals.set(Candid(t));
    }

    pub fn balance(&self, user: &Principal) -> UserBalance {
        self.users
            .get(&principal_key(user))
            .map(|c| c.0)
            .unwrap_or_default()
    }

    fn set_balance(&mut self, user: &Principal, balance: UserBalance) {
        let key = principal_key(user);
        if balance == UserBalance::default() {
            self.users.remove(&key);
        } else {
            self.users.insert(key, Candid(balance));
        }
    }

    /// A completed deposit (the ledger already moved `amount` to the proxy).
    pub fn credit_deposit(&mut self, user: &Principal, amount: u128) -> Result<(), MeteringError> {
        if amount == 0 {
            return Err(MeteringError::ZeroAmount);
        }
        let mut b = self.balance(user);
        let t = self.totals();
        b.available = b
            .available
            .checked_add(amount)
            .ok_or(MeteringError::Overflow)?;
        t.available
            .checked_add(amount)
            .ok_or(MeteringError::Overflow)?;
        self.set_balance(user, b);
        self.update_totals(|t| t.available += amount);
        Ok(())
    }

    /// The user's balance with `amount` taken from `available` (not yet stored), or why it cannot be.
    fn take_available(&self, user: &Principal, amount: u128) -> Result<UserBalance, MeteringError> {
        if *user == Principal::anonymous() {
            return Err(MeteringError::AnonymousCaller);
        }
        if amount == 0 {
            return Err(MeteringError::ZeroAmount);
        }
        let mut b = self.balance(user);
        if b.available < amount {
            return Err(MeteringError::InsufficientBalance {
                available: b.available,
                needed: amount,
            });
        }
        b.available -= amount;
        Ok(b)
    }

    /// Takes `amount` from the user's balance for a withdrawal about to be sent.
    pub fn begin_withdrawal(
        &mut self,
        user: &Principal,
        amount: u128,
    ) -> Result<(), MeteringError> {
        let b = self.take_available(user, amount)?;
        self.set_balance(user, b);
        self.update_totals(|t| {
            t.available -= amount;
            t.withdrawals_in_flight += amount;
        });
        Ok(())
    }

    /// The withdrawal's transfer completed (the ledger moved `amount`), or definitely failed
    /// (the amount comes back).
    pub fn end_withdrawal(&mut self, user: &Principal, amount: u128, completed: bool) {
        if !completed {
            let mut b = self.balance(user);
            b.available += amount;
            self.set_balance(user, b);
            self.update_totals(|t| t.available += amount);
        }
        self.update_totals(|t| t.withdrawals_in_flight -= amount);
    }

    /// Holds the quoted maximum of a call.
    pub fn hold(
        &mut self,
        user: &Principal,
        model: ModelId,
        amount: u128,
        now: u64,
    ) -> Result<Hold, MeteringError> {
        let mut b = self.take_available(user, amount)?;
        b.held += amount;
        self.set_balance(user, b);
        let id = self.totals().next_hold;
        let hold = Hold {
            id,
            user: *user,
            model,
            amount,
            created_at: now,
        };
        self.holds.insert(id, Candid(hold.clone()));
        self.update_totals(|t| {
            t.available -= amount;
            t.held += amount;
            t.next_hold += 1;
        });
        Ok(hold)
    }

    pub fn get_hold(&self, id: HoldId) -> Option<Hold> {
        self.holds.get(&id).map(|c| c.0)
    }

    /// Gives the whole hold back (the call failed: no charge).
    pub fn release(&mut self, id: HoldId) -> Result<u128, MeteringError> {
        let hold = self
            .holds
            .remove(&id)
            .ok_or(MeteringError::UnknownHold { hold: id })?
            .0;
        let mut b = self.balance(&hold.user);
        b.held -= hold.amount;
        b.available += hold.amount;
        self.set_balance(&hold.user, b);
        self.update_totals(|t| {
            t.held -= hold.amount;
            t.available += hold.amount;
        });
        Ok(hold.amount)
    }

    /// Releases every hold: after an upgrade no call that made one can go on (its future was in the old
    /// heap), so none would ever be charged or released otherwise. Returns how many and how much.
    pub fn release_all_holds(&mut self) -> (u64, u128) {
        let ids: Vec<HoldId> = self.holds.keys().collect();
        let mut amount = 0;
        for id in &ids {
            amount += self.release(*id).expect("BUG: a listed hold exists");
        }
        (ids.len() as u64, amount)
    }

    /// Charges a held call for the usage its node signed: `price(usage) + call_fee`, at most the hold
    /// (the most the user agreed to pay; a node that counts more than the quote's bound did the work
    /// all the same and is not at fault), the rest of the hold released, a receipt for the usage part
    /// appended (none when it is 0), the call fee kept in the fee reserve.
    /// On an error nothing changes and the hold stays.
    #[allow(clippy::too_many_arguments)]
    pub fn charge(
        &mut self,
        hold_id: HoldId,
        usage: &VerifiedUsage,
        price: &Price,
        call_fee: u128,
        node_operator: Account,
        split_version: SplitVersion,
        now: u64,
    ) -> Result<Charged, MeteringError> {
        let hold = self
            .get_hold(hold_id)
            .ok_or(MeteringError::UnknownHold { hold: hold_id })?;
        let u = usage.usage();
        // A hold always covers the call fee (every quote adds it); the usage gets the rest at most.
        let usage_cap = hold.amount.saturating_sub(call_fee);
        let amount = price_of(price, u.input_tokens, u.output_tokens)
            .unwrap_or(u128::MAX)
            .min(usage_cap);
        let call_fee = call_fee.min(hold.amount);
        let charge = amount + call_fee;
        let amount_u64 =
            u64::try_from(amount).map_err(|_| MeteringError::ReceiptTooLarge { amount })?;
        let released = hold.amount - charge;
        let receipt = (amount > 0).then(|| Receipt {
            id: self.totals().next_receipt,
            user: hold.user,
            model: hold.model,
            node_operator,
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
            amount: amount_u64,
            split_version,
            metered_at: now,
        });
        self.holds.remove(&hold_id);
        let mut b = self.balance(&hold.user);
        b.held -= hold.amount;
        b.available += released;
        self.set_balance(&hold.user, b);
        if let Some(receipt) = &receipt {
            self.open_receipts
                .insert(receipt.id, Candid(receipt.clone()));
        }
        self.update_totals(|t| {
            t.held -= hold.amount;
            t.available += released;
            t.unsettled += amount;
            t.fee_reserve += call_fee;
            t.next_receipt += u64::from(receipt.is_some());
        });
        Ok(Charged {
            receipt,
            charged: charge,
            released,
        })
    }

    pub fn open_receipt_count(&self) -> u64 {
        self.open_receipts.len()
    }

    /// Receipts charged but not yet in a batch, oldest first.
    pub fn unsettled_receipts(&self, limit: usize) -> Vec<Receipt> {
        self.open_receipts
            .values()
            .take(limit)
            .map(|c| c.0)
            .collect()
    }

    /// Closes a batch of at most `max_receipts` open receipts (oldest first), reserving `ledger_fee`
    /// for its transfer from the fee reserve. `None` when nothing is open.
    pub fn close_batch(
        &mut self,
        max_receipts: usize,
        ledger_fee: u128,
        now: u64,
    ) -> Result<Option<BatchRecord>, MeteringError> {
        if self.open_receipts.is_empty() || max_receipts == 0 {
            return Ok(None);
        }
        let reserve = self.totals().fee_reserve;
        if reserve < ledger_fee {
            return Err(MeteringError::FeeReserveTooLow {
                reserve,
                fee: ledger_fee,
            });
        }
        let receipts: Vec<Receipt> = self
            .open_receipts
            .values()
            .take(max_receipts)
            .map(|c| c.0)
            .collect();
        for r in &receipts {
            self.open_receipts.remove(&r.id);
        }
        let total: u128 = receipts.iter().map(|r| r.amount as u128).sum();
        let id = self.totals().next_batch;
        let batch = BatchRecord {
            id,
            receipts,
            total,
            status: BatchStatus::AwaitingTransfer { fee: ledger_fee },
            created_at: now,
        };
        self.batches.insert(id, Candid(batch.clone()));
        self.update_totals(|t| {
            t.unsettled -= total;
            t.fee_reserve -= ledger_fee;
            t.batched += total + ledger_fee;
            t.next_batch += 1;
        });
        Ok(Some(batch))
    }

    /// The id the next batch closed gets.
    pub fn next_batch_id(&self) -> BatchId {
        self.totals().next_batch
    }

    pub fn batch(&self, id: BatchId) -> Option<BatchRecord> {
        self.batches.get(&id).map(|c| c.0)
    }

    /// The batch's transfer completed in `block`, charged `fee_charged` (the reserved fee, unless the
    /// ledger fee changed meanwhile: the difference comes from or goes back to the reserve).
    /// Idempotent.
    pub fn batch_transferred(
        &mut self,
        id: BatchId,
        block: Nat,
        fee_charged: u128,
    ) -> Result<BatchRecord, MeteringError> {
        let mut batch = self
            .batch(id)
            .ok_or(MeteringError::UnknownBatch { batch: id })?;
        let BatchStatus::AwaitingTransfer { fee } = batch.status else {
            return Ok(batch);
        };
        let reserve = self.totals().fee_reserve;
        if fee_charged > fee && reserve < fee_charged - fee {
            return Err(MeteringError::FeeReserveTooLow {
                reserve,
                fee: fee_charged - fee,
            });
        }
        batch.status = BatchStatus::Transferred { block };
        self.batches.insert(id, Candid(batch.clone()));
        let total = batch.total;
        self.update_totals(|t| {
            t.batched -= total + fee;
            t.fee_reserve = t.fee_reserve + fee - fee_charged;
        });
        Ok(batch)
    }

    /// A batch whose transfer definitely failed goes out again with the ledger's fee as it is now:
    /// the difference to the fee reserved when it closed comes from (or goes back to) the fee reserve.
    /// Refused, changing nothing, while the reserve cannot pay a higher fee.
    pub fn rearm_batch(&mut self, id: BatchId, ledger_fee: u128) -> Result<(), MeteringError> {
        let mut batch = self
            .batch(id)
            .ok_or(MeteringError::UnknownBatch { batch: id })?;
        let BatchStatus::AwaitingTransfer { fee } = batch.status else {
            return Err(MeteringError::UnknownBatch { batch: id });
        };
        let reserve = self.totals().fee_reserve;
        if ledger_fee > fee && reserve < ledger_fee - fee {
            return Err(MeteringError::FeeReserveTooLow {
                reserve,
                fee: ledger_fee - fee,
            });
        }
        batch.status = BatchStatus::AwaitingTransfer { fee: ledger_fee };
        self.batches.insert(id, Candid(batch));
        self.update_totals(|t| {
            t.fee_reserve = t.fee_reserve + fee - ledger_fee;
            t.batched = t.batched - fee + ledger_fee;
        });
        Ok(())
    }

    /// Royalties refused the transferred batch: it is set aside (or, when it already was, one more
    /// attempt is counted).
    pub fn batch_set_aside(&mut self, id: BatchId, reason: String) -> Result<(), MeteringError> {
        let mut batch = self
            .batch(id)
            .ok_or(MeteringError::UnknownBatch { batch: id })?;
        batch.status = match batch.status {
            BatchStatus::Transferred { block } => BatchStatus::SetAside {
                block,
                reason,
                attempts: 1,
            },
            BatchStatus::SetAside {
                block, attempts, ..
            } => BatchStatus::SetAside {
                block,
                reason,
                attempts: attempts.saturating_add(1),
            },
            _ => return Err(MeteringError::UnknownBatch { batch: id }),
        };
        self.batches.insert(id, Candid(batch));
        Ok(())
    }

    /// Royalties accepted the batch. Idempotent.
    pub fn batch_settled(&mut self, id: BatchId) -> Result<BatchRecord, MeteringError> {
        let mut batch = self
            .batch(id)
            .ok_or(MeteringError::UnknownBatch { batch: id })?;
        if matches!(
            batch.status,
            BatchStatus::Transferred { .. } | BatchStatus::SetAside { .. }
        ) {
            batch.status = BatchStatus::Settled;
            self.batches.insert(id, Candid(batch.clone()));
        }
        Ok(batch)
    }

    pub fn liabilities(&self) -> Liabilities {
        let t = self.totals();
        Liabilities {
            available: t.available,
            held: t.held,
            unsettled: t.unsettled,
            batched: t.batched,
            fee_reserve: t.fee_reserve,
            withdrawals_in_flight: t.withdrawals_in_flight,
            total: t.available
                + t.held
                + t.unsettled
                + t.batched
                + t.fee_reserve
                + t.withdrawals_in_flight,
        }
    }

    /// The totals recomputed by scanning every record (tests and audits): must equal `liabilities()`
    /// except for the reserve and in-flight withdrawals, which only the totals carry.
    pub fn recount(&self) -> (u128, u128, u128, u128) {
        let (mut available, mut held) = (0, 0);
        for e in self.users.iter() {
            let b = e.value().0;
            available += b.available;
            held += b.held;
        }
        let holds: u128 = self.holds.values().map(|h| h.0.amount).sum();
        assert_eq!(holds, held, "holds agree with users' held amounts");
        let unsettled: u128 = self
            .open_receipts
            .values()
            .map(|r| r.0.amount as u128)
            .sum();
        let batched: u128 = self
            .batches
            .values()
            .map(|b| match b.0.status {
                BatchStatus::AwaitingTransfer { fee } => b.0.total + fee,
                _ => 0,
            })
            .sum();
        (available, held, unsettled, batched)
    }
}
