//! The ledger's public interface as plain functions over the state: the canister's endpoints and the
//! native test harness both call these, so they cannot disagree.

use crate::block::BLOCK_TYPES;
use crate::certification::tip_hash_tree_cbor;
use crate::state::Ledger;
use candid::{Nat, Principal};
use icrc_ledger_types::icrc::generic_metadata_value::MetadataValue;
use icrc_ledger_types::icrc1::account::Account;
use icrc_ledger_types::icrc1::transfer::{TransferArg, TransferError};
use icrc_ledger_types::icrc2::allowance::{Allowance, AllowanceArgs};
use icrc_ledger_types::icrc2::approve::{ApproveArgs, ApproveError};
use icrc_ledger_types::icrc2::transfer_from::{TransferFromArgs, TransferFromError};
use icrc_ledger_types::icrc3::archive::{GetArchivesArgs, ICRC3ArchiveInfo};
use icrc_ledger_types::icrc3::blocks::{
    GetBlocksRequest, GetBlocksResult, ICRC3DataCertificate, SupportedBlockType,
};
use neuranft_types::ledger::SupportedStandard;

pub fn icrc1_transfer(
    ledger: &mut Ledger,
    caller: Principal,
    arg: TransferArg,
    now: u64,
) -> Result<Nat, TransferError> {
    ledger.transfer(caller, &arg, now).map(Nat::from)
}

pub fn icrc2_approve(
    ledger: &mut Ledger,
    caller: Principal,
    arg: ApproveArgs,
    now: u64,
) -> Result<Nat, ApproveError> {
    ledger.approve(caller, &arg, now).map(Nat::from)
}

pub fn icrc2_transfer_from(
    ledger: &mut Ledger,
    caller: Principal,
    arg: TransferFromArgs,
    now: u64,
) -> Result<Nat, TransferFromError> {
    ledger.transfer_from(caller, &arg, now).map(Nat::from)
}

pub fn icrc2_allowance(ledger: &Ledger, arg: AllowanceArgs, now: u64) -> Allowance {
    ledger.allowance(&arg, now)
}

pub fn icrc1_balance_of(ledger: &Ledger, account: Account) -> Nat {
    ledger.balance_of(&account).into()
}

pub fn icrc1_total_supply(ledger: &Ledger) -> Nat {
    ledger.total_supply().into()
}

pub fn icrc1_fee(ledger: &Ledger) -> Nat {
    ledger.fee().into()
}

pub fn icrc1_name(ledger: &Ledger) -> String {
    ledger.config().token_name.clone()
}

pub fn icrc1_symbol(ledger: &Ledger) -> String {
    ledger.config().token_symbol.clone()
}

pub fn icrc1_decimals(ledger: &Ledger) -> u8 {
    ledger.config().decimals
}

pub fn icrc1_metadata(ledger: &Ledger) -> Vec<(String, MetadataValue)> {
    ledger.metadata()
}

pub fn icrc1_minting_account(ledger: &Ledger) -> Option<Account> {
    Some(ledger.config().minting_account)
}

pub fn icrc1_supported_standards() -> Vec<SupportedStandard> {
    Ledger::supported_standards()
}

pub fn icrc3_get_blocks(ledger: &Ledger, args: Vec<GetBlocksRequest>) -> GetBlocksResult {
    ledger.get_blocks(&args)
}

/// This ledger never archives: every block stays in the ledger.
pub fn icrc3_get_archives(_args: GetArchivesArgs) -> Vec<ICRC3ArchiveInfo> {
    vec![]
}

pub fn icrc3_supported_block_types() -> Vec<SupportedBlockType> {
    BLOCK_TYPES
        .iter()
        .map(|(block_type, url)| SupportedBlockType {
            block_type: block_type.to_string(),
            url: url.to_string(),
        })
        .collect()
}

/// The tip certificate, given the system's certificate for the current certified data (`None`
/// outside a query, or when the log is empty).
pub fn icrc3_get_tip_certificate(
    ledger: &Ledger,
    certificate: Option<Vec<u8>>,
) -> Option<ICRC3DataCertificate> {
    let (index, hash) = ledger.tip()?;
    Some(ICRC3DataCertificate {
        certificate: serde_bytes::ByteBuf::from(certificate?),
        hash_tree: serde_bytes::ByteBuf::from(tip_hash_tree_cbor(index, hash)),
    })
}

/// The data the canister certifies: the root hash of the tip tree, or nothing before the first block.
pub fn certified_data(ledger: &Ledger) -> Vec<u8> {
    ledger
        .tip()
        .map(|(i, h)| crate::certification::tip_root_hash(i, h).to_vec())
        .unwrap_or_default()
}
