//! Transfers, mints and burns (`icrc1_transfer`, `icrc2_transfer_from`), and the memo and fee
//! checks they share with approvals.

use super::refusal::{generic, Refusal};
use super::{error_code, nat_to_u128, Ledger};
use crate::block::{Operation, Transaction};
use candid::{Nat, Principal};
use icrc_ledger_types::icrc1::account::Account;
use icrc_ledger_types::icrc1::transfer::{TransferArg, TransferError};
use icrc_ledger_types::icrc2::transfer_from::{TransferFromArgs, TransferFromError};
use neuranft_types::account_key;

impl Ledger {
    pub(super) fn check_memo(&self, memo: Option<&[u8]>) -> Result<(), Refusal> {
        let max = self.config().max_memo_length as usize;
        match memo {
            Some(m) if m.len() > max => Err(generic(
                error_code::MEMO_TOO_LONG,
                format!("the memo is {} bytes; at most {max} are allowed", m.len()),
            )),
            _ => Ok(()),
        }
    }

    /// A named fee must equal `expected`.
    pub(super) fn check_fee(given: Option<&Nat>, expected: u128) -> Result<(), Refusal> {
        match given {
            Some(f) if nat_to_u128(f) != Some(expected) => Err(Refusal::BadFee(expected)),
            _ => Ok(()),
        }
    }

    pub fn transfer(
        &mut self,
        caller: Principal,
        arg: &TransferArg,
        now: u64,
    ) -> Result<u64, TransferError> {
        let from = Account {
            owner: caller,
            subaccount: arg.from_subaccount,
        };
        let identity = Self::payload_identity("icrc1_transfer", caller, arg);
        self.execute_transfer(
            from,
            arg.to,
            None,
            &arg.amount,
            arg.fee.as_ref(),
            arg.memo.as_ref().map(|m| m.0.as_slice()),
            arg.created_at_time,
            &identity,
            now,
        )
        .map_err(TransferError::from)
    }

    pub fn transfer_from(
        &mut self,
        caller: Principal,
        arg: &TransferFromArgs,
        now: u64,
    ) -> Result<u64, TransferFromError> {
        let spender = Account {
            owner: caller,
            subaccount: arg.spender_subaccount,
        };
        let identity = Self::payload_identity("icrc2_transfer_from", caller, arg);
        // Spending from one's own account needs no allowance (ICRC-2).
        let spender = (account_key(&spender) != account_key(&arg.from)).then_some(spender);
        if self.is_minting_account(&arg.from) {
            return Err(generic(
                error_code::MINTING_ACCOUNT_MISUSE,
                "transfer_from cannot mint",
            )
            .into());
        }
        self.execute_transfer(
            arg.from,
            arg.to,
            spender,
            &arg.amount,
            arg.fee.as_ref(),
            arg.memo.as_ref().map(|m| m.0.as_slice()),
            arg.created_at_time,
            &identity,
            now,
        )
        .map_err(TransferFromError::from)
    }

    /// Transfers, mints and burns, with or without a spender. Every check precedes every write.
    #[allow(clippy::too_many_arguments)]
    fn execute_transfer(
        &mut self,
        from: Account,
        to: Account,
        spender: Option<Account>,
        amount: &Nat,
        fee: Option<&Nat>,
        memo: Option<&[u8]>,
        created_at_time: Option<u64>,
        identity: &[u8],
        now: u64,
    ) -> Result<u64, Refusal> {
        self.check_memo(memo)?;
        let minting_from = self.is_minting_account(&from);
        let minting_to = self.is_minting_account(&to);
        if minting_from && minting_to {
            return Err(generic(
                error_code::MINTING_ACCOUNT_MISUSE,
                "the minting account cannot send to itself",
            ));
        }
        let transfer_fee = self.fee();
        // Mints and burns carry no fee; a named fee must then be 0.
        let effective_fee = if minting_from || minting_to {
            0
        } else {
            transfer_fee
        };
        Self::check_fee(fee, effective_fee)?;
        let amount_u128 = nat_to_u128(amount);
        if minting_to {
            let min = self.config().min_burn_amount;
            if amount_u128.is_none_or(|a| a < min) {
                return Err(Refusal::BadBurn(min));
            }
        }
        let dedup = self.check_dedup(created_at_time, identity, now)?;
        let tx = Transaction {
            operation: if minting_from {
                Operation::Mint { to }
            } else if minting_to {
                Operation::Burn { from, spender }
            } else {
                Operation::Transfer { from, to, spender }
            },
            amount: 0,
            fee: fee.and_then(nat_to_u128),
            memo: memo.map(<[u8]>::to_vec),
            created_at_time,
        };
        let index = if minting_from {
            let amount = amount_u128
                .filter(|a| self.total_supply().checked_add(*a).is_some())
                .ok_or_else(|| {
                    generic(error_code::AMOUNT_OVERFLOW, "the mint overflows the supply")
                })?;
            self.prune_dedup(now);
            self.credit(&to, amount);
            self.append(&Transaction { amount, ..tx }, now, 0, |t| {
                t.minted += amount;
                t.total_supply += amount;
            })
        } else {
            let balance = self.balance_of(&from);
            let debit = amount_u128.and_then(|a| a.checked_add(effective_fee));
            let Some(debit) = debit.filter(|d| *d <= balance) else {
                return Err(Refusal::InsufficientFunds(balance));
            };
            if let Some(spender) = &spender {
                let allowance = self.current_allowance(&from, spender, now);
                if allowance < debit {
                    return Err(Refusal::InsufficientAllowance(allowance));
                }
                self.set_allowance_amount(&from, spender, allowance - debit);
            }
            let amount = debit - effective_fee;
            self.prune_dedup(now);
            self.debit(&from, debit);
            let burned = if minting_to {
                debit
            } else {
                self.credit(&to, amount);
                effective_fee
            };
            self.append(&Transaction { amount, ..tx }, now, effective_fee, |t| {
                t.burned += burned;
                t.total_supply -= burned;
            })
        };
        self.record_dedup(dedup, index);
        Ok(index)
    }

    /// Mints `amount` to `to` as the minting account would (tests and localnet set-up).
    pub fn mint(&mut self, to: Account, amount: u128, now: u64) -> Result<u64, TransferError> {
        let minter = self.config().minting_account;
        let arg = TransferArg {
            from_subaccount: minter.subaccount,
            to,
            fee: None,
            created_at_time: None,
            memo: None,
            amount: amount.into(),
        };
        self.transfer(minter.owner, &arg, now)
    }
}
