//! Approvals and allowances (ICRC-2): what a spender may take from an account, until when.

use super::refusal::{generic, Refusal};
use super::{error_code, nat_to_u128, Ledger};
use crate::block::{Operation, Transaction};
use candid::{CandidType, Deserialize, Principal};
use icrc_ledger_types::icrc1::account::Account;
use icrc_ledger_types::icrc2::allowance::{Allowance, AllowanceArgs};
use icrc_ledger_types::icrc2::approve::{ApproveArgs, ApproveError};
use neuranft_types::account_key;
use neuranft_types::storable::Candid;

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub(super) struct AllowanceRecord {
    amount: u128,
    expires_at: Option<u64>,
}

impl Ledger {
    fn allowance_key(owner: &Account, spender: &Account) -> [u8; 124] {
        let mut key = [0u8; 124];
        key[..62].copy_from_slice(&account_key(owner));
        key[62..].copy_from_slice(&account_key(spender));
        key
    }

    pub(super) fn current_allowance(&self, owner: &Account, spender: &Account, now: u64) -> u128 {
        self.allowance_record(owner, spender, now)
            .map_or(0, |r| r.amount)
    }

    fn allowance_record(
        &self,
        owner: &Account,
        spender: &Account,
        now: u64,
    ) -> Option<AllowanceRecord> {
        self.allowances
            .get(&Self::allowance_key(owner, spender))
            .map(|c| c.0)
            .filter(|r| r.expires_at.is_none_or(|e| e > now))
    }

    pub(super) fn set_allowance_amount(
        &mut self,
        owner: &Account,
        spender: &Account,
        amount: u128,
    ) {
        let key = Self::allowance_key(owner, spender);
        if amount == 0 {
            self.allowances.remove(&key);
        } else if let Some(mut record) = self.allowances.get(&key) {
            record.0.amount = amount;
            self.allowances.insert(key, record);
        }
    }

    pub fn allowance(&self, args: &AllowanceArgs, now: u64) -> Allowance {
        match self.allowance_record(&args.account, &args.spender, now) {
            Some(r) => Allowance {
                allowance: r.amount.into(),
                expires_at: r.expires_at,
            },
            None => Allowance {
                allowance: 0u8.into(),
                expires_at: None,
            },
        }
    }

    pub fn approve(
        &mut self,
        caller: Principal,
        arg: &ApproveArgs,
        now: u64,
    ) -> Result<u64, ApproveError> {
        self.execute_approve(caller, arg, now)
            .map_err(ApproveError::from)
    }

    fn execute_approve(
        &mut self,
        caller: Principal,
        arg: &ApproveArgs,
        now: u64,
    ) -> Result<u64, Refusal> {
        let from = Account {
            owner: caller,
            subaccount: arg.from_subaccount,
        };
        let memo = arg.memo.as_ref().map(|m| m.0.as_slice());
        self.check_memo(memo)?;
        if arg.spender.owner == caller {
            return Err(generic(
                error_code::SELF_APPROVAL,
                "an account cannot approve its own owner",
            ));
        }
        if self.is_minting_account(&from) {
            return Err(generic(
                error_code::MINTING_ACCOUNT_MISUSE,
                "the minting account cannot approve",
            ));
        }
        let fee = self.fee();
        Self::check_fee(arg.fee.as_ref(), fee)?;
        if arg.expires_at.is_some_and(|e| e <= now) {
            return Err(Refusal::Expired(now));
        }
        let identity = Self::payload_identity("icrc2_approve", caller, arg);
        let dedup = self.check_dedup(arg.created_at_time, &identity, now)?;
        let current = self.current_allowance(&from, &arg.spender, now);
        if let Some(expected) = &arg.expected_allowance {
            if nat_to_u128(expected) != Some(current) {
                return Err(Refusal::AllowanceChanged(current));
            }
        }
        let balance = self.balance_of(&from);
        if balance < fee {
            return Err(Refusal::InsufficientFunds(balance));
        }
        // An allowance larger than any supply can ever be is the same as the largest one.
        let amount = nat_to_u128(&arg.amount).unwrap_or(u128::MAX);
        self.prune_dedup(now);
        self.debit(&from, fee);
        let key = Self::allowance_key(&from, &arg.spender);
        if amount == 0 {
            self.allowances.remove(&key);
        } else {
            self.allowances.insert(
                key,
                Candid(AllowanceRecord {
                    amount,
                    expires_at: arg.expires_at,
                }),
            );
        }
        let tx = Transaction {
            operation: Operation::Approve {
                from,
                spender: arg.spender,
                expected_allowance: arg.expected_allowance.as_ref().and_then(nat_to_u128),
                expires_at: arg.expires_at,
            },
            amount,
            fee: arg.fee.as_ref().and_then(nat_to_u128),
            memo: memo.map(<[u8]>::to_vec),
            created_at_time: arg.created_at_time,
        };
        let index = self.append(&tx, now, fee, |t| {
            t.burned += fee;
            t.total_supply -= fee;
        });
        self.record_dedup(dedup, index);
        Ok(index)
    }
}
