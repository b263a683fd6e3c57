//! An in-memory ICRC-1 ledger with the deduplication semantics of DFINITY's ledgers, and fault
//! injection, for native tests and the simulation.

use crate::{CallFailure, LedgerRuntime};
use candid::{Nat, Principal};
use icrc_ledger_types::icrc1::account::Account;
use icrc_ledger_types::icrc1::transfer::{TransferArg, TransferError};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, VecDeque};

/// Deduplication window of ICRC ledgers.
pub const TRANSACTION_WINDOW_NANOS: u64 = 24 * 60 * 60 * 1_000_000_000;
/// How far ahead of the ledger's clock `created_at_time` may be.
pub const PERMITTED_DRIFT_NANOS: u64 = 60 * 1_000_000_000;
pub const MAX_MEMO_LENGTH: usize = 32;

/// A fault the next `icrc1_transfer` suffers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The transfer executes, but the caller sees a timeout (reject code 6, SYS_UNKNOWN).
    UnknownAfterExecution,
    /// The call fails before reaching the ledger but the caller cannot tell (reject code 6).
    UnknownBeforeExecution,
    TemporarilyUnavailable,
    /// The ledger's fee changes just before the transfer is processed.
    SetFee(u128),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Block {
    pub from: Account,
    pub to: Account,
    pub amount: u128,
    pub fee: u128,
    pub memo: Option<Vec<u8>>,
    pub created_at_time: Option<u64>,
    pub timestamp: u64,
}

#[derive(Default)]
struct Inner {
    balances: BTreeMap<Account, u128>,
    fee: u128,
    now: u64,
    blocks: Vec<Block>,
    dedup: HashMap<[u8; 32], (u64, u64)>,
    faults: VecDeque<Fault>,
    minted: u128,
    burned_fees: u128,
}

/// The ledger; reach it as a caller through [`MemoryLedger::client`].
pub struct MemoryLedger {
    inner: RefCell<Inner>,
}

fn canonical(account: &Account) -> Account {
    Account {
        owner: account.owner,
        subaccount: account.subaccount.filter(|s| s != &[0u8; 32]),
    }
}

/// Dedup identity: the caller and the whole payload as sent. Candid keeps `None` and `Some([0; 32])`
/// apart, as real ledgers do.
fn payload_hash(caller: Principal, arg: &TransferArg) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(caller.as_slice());
    hasher.update(candid::encode_one(arg).expect("transfer arg encodes"));
    hasher.finalize().into()
}

impl MemoryLedger {
    pub fn new(fee: u128, now: u64) -> Self {
        Self {
            inner: RefCell::new(Inner {
                fee,
                now,
                ..Default::default()
            }),
        }
    }

    pub fn client(&self, caller: Principal) -> LedgerClient<'_> {
        LedgerClient {
            ledger: self,
            caller,
        }
    }

    pub fn set_time(&self, now: u64) {
        self.inner.borrow_mut().now = now;
    }

    pub fn time(&self) -> u64 {
        self.inner.borrow().now
    }

    pub fn set_fee(&self, fee: u128) {
        self.inner.borrow_mut().fee = fee;
    }

    pub fn fee(&self) -> u128 {
        self.inner.borrow().fee
    }

    pub fn inject(&self, fault: Fault) {
        self.inner.borrow_mut().faults.push_back(fault);
    }

    pub fn pending_faults(&self) -> usize {
        self.inner.borrow().faults.len()
    }

    pub fn mint(&self, to: Account, amount: u128) {
        let mut inner = self.inner.borrow_mut();
        *inner.balances.entry(canonical(&to)).or_default() += amount;
        inner.minted += amount;
    }

    pub fn balance(&self, account: &Account) -> u128 {
        self.inner
            .borrow()
            .balances
            .get(&canonical(account))
            .copied()
            .unwrap_or_default()
    }

    pub fn blocks(&self) -> Vec<Block> {
        self.inner.borrow().blocks.clone()
    }

    pub fn total_supply(&self) -> u128 {
        self.inner.borrow().balances.values().sum()
    }

    /// Minted minus fees burned: equals `total_supply()` at every step.
    pub fn expected_supply(&self) -> u128 {
        let inner = self.inner.borrow();
        inner.minted - inner.burned_fees
    }

    /// Executes a transfer as `caller`, with the ledger's semantics and no fault.
    pub fn transfer(&self, caller: Principal, arg: &TransferArg) -> Result<Nat, TransferError> {
        let mut inner = self.inner.borrow_mut();
        let now = inner.now;
        let fee = inner.fee;
        if let Some(given) = &arg.fee {
            if crate::nat_to_u128_checked(given) != Some(fee) {
                return Err(TransferError::BadFee {
                    expected_fee: Nat::from(fee),
                });
            }
        }
        let amount =
            crate::nat_to_u128_checked(&arg.amount).ok_or(TransferError::GenericError {
                error_code: Nat::from(1u8),
                message: "amount too large".into(),
            })?;
        if arg
            .memo
            .as_ref()
            .is_some_and(|m| m.0.len() > MAX_MEMO_LENGTH)
        {
            return Err(TransferError::GenericError {
                error_code: Nat::from(2u8),
                message: format!("memo longer than {MAX_MEMO_LENGTH} bytes"),
            });
        }
        let key = payload_hash(caller, arg);
        if let Some(created) = arg.created_at_time {
            if created.saturating_add(TRANSACTION_WINDOW_NANOS + PERMITTED_DRIFT_NANOS) < now {
                return Err(TransferError::TooOld);
            }
            if created > now.saturating_add(PERMITTED_DRIFT_NANOS) {
                return Err(TransferError::CreatedInFuture { ledger_time: now });
            }
            inner.dedup.retain(|_, (_, t)| {
                t.saturating_add(TRANSACTION_WINDOW_NANOS + PERMITTED_DRIFT_NANOS) >= now
            });
            if let Some((block, _)) = inner.dedup.get(&key) {
                return Err(TransferError::Duplicate {
                    duplicate_of: Nat::from(*block),
                });
            }
        }
        let from = canonical(&Account {
            owner: caller,
            subaccount: arg.from_subaccount,
        });
        let to = canonical(&arg.to);
        let balance = inner.balances.get(&from).copied().unwrap_or_default();
        let debit = amount.checked_add(fee).ok_or(TransferError::GenericError {
            error_code: Nat::from(1u8),
            message: "amount overflows".into(),
        })?;
        if balance < debit {
            return Err(TransferError::InsufficientFunds {
                balance: Nat::from(balance),
            });
        }
        inner.balances.insert(from, balance - debit);
        *inner.balances.entry(to).or_default() += amount;
        inner.burned_fees += fee;
        let index = inner.blocks.len() as u64;
        inner.blocks.push(Block {
            from,
            to,
            amount,
            fee,
            memo: arg.memo.as_ref().map(|m| m.0.to_vec()),
            created_at_time: arg.created_at_time,
            timestamp: now,
        });
        if let Some(created) = arg.created_at_time {
            inner.dedup.insert(key, (index, created));
        }
        Ok(Nat::from(index))
    }
}

/// A caller's view of a [`MemoryLedger`].
pub struct LedgerClient<'a> {
    ledger: &'a MemoryLedger,
    caller: Principal,
}

fn timeout() -> CallFailure {
    CallFailure::Rejected {
        code: 6,
        message: "deadline expired".into(),
    }
}

impl LedgerRuntime for LedgerClient<'_> {
    async fn icrc1_transfer(
        &self,
        arg: TransferArg,
    ) -> Result<Result<Nat, TransferError>, CallFailure> {
        let fault = self.ledger.inner.borrow_mut().faults.pop_front();
        match fault {
            None => Ok(self.ledger.transfer(self.caller, &arg)),
            Some(Fault::UnknownAfterExecution) => {
                let _ = self.ledger.transfer(self.caller, &arg);
                Err(timeout())
            }
            Some(Fault::UnknownBeforeExecution) => Err(timeout()),
            Some(Fault::TemporarilyUnavailable) => Ok(Err(TransferError::TemporarilyUnavailable)),
            Some(Fault::SetFee(fee)) => {
                self.ledger.set_fee(fee);
                Ok(self.ledger.transfer(self.caller, &arg))
            }
        }
    }

    async fn icrc1_fee(&self) -> Result<Nat, CallFailure> {
        Ok(Nat::from(self.ledger.fee()))
    }

    async fn icrc1_balance_of(&self, account: Account) -> Result<Nat, CallFailure> {
        Ok(Nat::from(self.ledger.balance(&account)))
    }

    fn caller(&self) -> Principal {
        self.caller
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use icrc_ledger_types::icrc1::transfer::Memo;
    use proptest::prelude::*;

    const SEC: u64 = 1_000_000_000;

    fn principal(n: u8) -> Principal {
        Principal::from_slice(&[n; 29])
    }

    fn acc(n: u8) -> Account {
        Account {
            owner: principal(n),
            subaccount: None,
        }
    }

    fn arg(to: Account, amount: u64, created: Option<u64>, memo: u64) -> TransferArg {
        TransferArg {
            from_subaccount: None,
            to,
            fee: Some(Nat::from(10u8)),
            created_at_time: created,
            memo: Some(Memo::from(memo)),
            amount: Nat::from(amount),
        }
    }

    #[test]
    fn dedup_window_drift_and_payload_identity() {
        let now = 1_000_000 * SEC;
        let ledger = MemoryLedger::new(10, now);
        ledger.mint(acc(1), 1_000);
        let a = arg(acc(2), 100, Some(now), 1);
        assert_eq!(ledger.transfer(principal(1), &a), Ok(Nat::from(0u8)));
        assert_eq!(
            ledger.transfer(principal(1), &a),
            Err(TransferError::Duplicate {
                duplicate_of: Nat::from(0u8)
            })
        );
        // The same payload from another caller is another transaction.
        ledger.mint(acc(3), 1_000);
        assert!(ledger.transfer(principal(3), &a).is_ok());
        // `None` and `Some([0; 32])` are different payloads even though they name the same account.
        let mut zero_sub = a.clone();
        zero_sub.from_subaccount = Some([0; 32]);
        assert!(ledger.transfer(principal(1), &zero_sub).is_ok());
        assert_eq!(ledger.balance(&acc(1)), 1_000 - 2 * 110);
        // No created_at_time: no dedup at all.
        let plain = arg(acc(2), 1, None, 1);
        assert!(ledger.transfer(principal(1), &plain).is_ok());
        assert!(ledger.transfer(principal(1), &plain).is_ok());
        let future = arg(acc(2), 1, Some(now + PERMITTED_DRIFT_NANOS + 1), 2);
        assert_eq!(
            ledger.transfer(principal(1), &future),
            Err(TransferError::CreatedInFuture { ledger_time: now })
        );
        ledger.set_time(now + TRANSACTION_WINDOW_NANOS + PERMITTED_DRIFT_NANOS + 1);
        assert_eq!(
            ledger.transfer(principal(1), &a),
            Err(TransferError::TooOld)
        );
        assert_eq!(ledger.total_supply(), ledger.expected_supply());
    }

    #[test]
    fn faults_behave_as_documented() {
        let ledger = MemoryLedger::new(10, SEC);
        ledger.mint(acc(1), 1_000);
        let client = ledger.client(principal(1));
        let a = arg(acc(2), 100, Some(SEC), 9);
        ledger.inject(Fault::UnknownAfterExecution);
        assert!(block_on(client.icrc1_transfer(a.clone())).is_err());
        assert_eq!(ledger.balance(&acc(2)), 100);
        assert_eq!(
            block_on(client.icrc1_transfer(a.clone())),
            Ok(Err(TransferError::Duplicate {
                duplicate_of: Nat::from(0u8)
            }))
        );
        ledger.inject(Fault::SetFee(20));
        let b = arg(acc(2), 100, Some(SEC), 10);
        assert_eq!(
            block_on(client.icrc1_transfer(b)),
            Ok(Err(TransferError::BadFee {
                expected_fee: Nat::from(20u8)
            }))
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]
        /// Supply equals minted minus burned fees at every step, and a payload is never executed twice
        /// inside the window however often it is sent.
        #[test]
        fn supply_is_conserved_and_dedup_holds(ops in proptest::collection::vec((0u8..4, 0u8..4, 0u64..500, 0u64..6, 0u64..3), 1..60)) {
            let start = 10 * TRANSACTION_WINDOW_NANOS;
            let ledger = MemoryLedger::new(10, start);
            for n in 0..4 { ledger.mint(acc(n), 2_000); }
            let mut executed: std::collections::HashSet<(u8, u64, u8, u64)> = Default::default();
            for (from, to, amount, memo, advance) in ops {
                ledger.set_time(start + advance * SEC);
                let a = arg(acc(to), amount, Some(start), memo);
                let result = ledger.transfer(principal(from), &a);
                let id = (from, memo, to, amount);
                if result.is_ok() {
                    prop_assert!(executed.insert(id), "payload executed twice");
                } else if let Err(TransferError::Duplicate { .. }) = result {
                    prop_assert!(executed.contains(&id));
                }
                prop_assert_eq!(ledger.total_supply(), ledger.expected_supply());
            }
        }
    }
}
