//! Accounts and balances: what each account holds, credited and debited by the transactions.

use super::Ledger;
use icrc_ledger_types::icrc1::account::Account;
use neuranft_types::account_key;

impl Ledger {
    pub fn balance_of(&self, account: &Account) -> u128 {
        self.balances.get(&account_key(account)).unwrap_or(0)
    }

    /// The sum of every balance, by a full scan (for audits and tests).
    pub fn sum_of_balances(&self) -> u128 {
        self.balances.iter().map(|e| e.value()).sum()
    }

    pub(super) fn is_minting_account(&self, account: &Account) -> bool {
        account_key(account) == account_key(&self.config().minting_account)
    }

    pub(super) fn credit(&mut self, account: &Account, amount: u128) {
        let key = account_key(account);
        let balance = self.balances.get(&key).unwrap_or(0);
        // Supply is checked when minting, so no balance can overflow.
        self.balances.insert(key, balance + amount);
    }

    pub(super) fn debit(&mut self, account: &Account, amount: u128) {
        let key = account_key(account);
        let balance = self.balances.get(&key).unwrap_or(0);
        let rest = balance
            .checked_sub(amount)
            .expect("BUG: debit beyond a checked balance");
        if rest == 0 {
            self.balances.remove(&key);
        } else {
            self.balances.insert(key, rest);
        }
    }
}
