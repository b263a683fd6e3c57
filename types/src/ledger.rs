//! Init and upgrade arguments of the NeuraNFT icrc-ledger canister (shaped like a production ICRC
//! ledger's), and the ICRC-1 supported-standard record.

use candid::{CandidType, Deserialize, Nat};
use icrc_ledger_types::icrc1::account::Account;

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LedgerInitArgs {
    pub token_name: String,
    pub token_symbol: String,
    pub decimals: u8,
    pub transfer_fee: Nat,
    /// Transfers from this account mint; transfers to it burn. It never holds a balance.
    pub minting_account: Account,
    pub initial_balances: Vec<(Account, Nat)>,
    /// Longest memo accepted, in bytes; at least 32 (ICRC-1), 32 when absent.
    pub max_memo_length: Option<u16>,
    /// Smallest amount a burn may destroy; the transfer fee when absent.
    pub min_burn_amount: Option<Nat>,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct LedgerUpgradeArgs {
    pub transfer_fee: Option<Nat>,
    pub token_name: Option<String>,
    pub token_symbol: Option<String>,
    pub max_memo_length: Option<u16>,
}

/// The canister's single init/upgrade argument, as production ICRC ledgers take it.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum LedgerArg {
    Init(LedgerInitArgs),
    Upgrade(Option<LedgerUpgradeArgs>),
}

/// An entry of `icrc1_supported_standards` / `icrc10_supported_standards`.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SupportedStandard {
    pub name: String,
    pub url: String,
}
