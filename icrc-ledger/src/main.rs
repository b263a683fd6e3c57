//! The icrc-ledger canister shell: decode, call the state machine, certify the tip.

use candid::Nat;
use ic_cdk::api::{certified_data_set, data_certificate, msg_caller, time};
use ic_cdk::{init, post_upgrade, query, update};
use icrc_ledger::{api, Ledger};
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
use neuranft_types::ledger::{LedgerArg, SupportedStandard};

neuranft_types::canister_state!(
    ledger: Ledger = Ledger::open(ic_stable_structures::DefaultMemoryImpl::default());
);
use ledger::read;

/// Runs a ledger transaction and re-certifies the tip.
fn mutate<R>(f: impl FnOnce(&mut Ledger) -> R) -> R {
    ledger::mutate(|l| {
        let result = f(l);
        certified_data_set(api::certified_data(l));
        result
    })
}

#[init]
fn init(arg: LedgerArg) {
    let LedgerArg::Init(args) = arg else {
        ic_cdk::trap("install the ledger with LedgerArg::Init");
    };
    mutate(|l| l.initialize(&args, time()))
        .unwrap_or_else(|e| ic_cdk::trap(format!("invalid init arguments: {e}")));
}

#[post_upgrade]
fn post_upgrade(arg: Option<LedgerArg>) {
    match arg {
        None | Some(LedgerArg::Upgrade(None)) => mutate(|_| ()),
        Some(LedgerArg::Upgrade(Some(args))) => mutate(|l| l.upgrade(&args))
            .unwrap_or_else(|e| ic_cdk::trap(format!("invalid upgrade arguments: {e}"))),
        Some(LedgerArg::Init(_)) => ic_cdk::trap("upgrade the ledger with LedgerArg::Upgrade"),
    }
}

#[update]
fn icrc1_transfer(arg: TransferArg) -> Result<Nat, TransferError> {
    mutate(|l| api::icrc1_transfer(l, msg_caller(), arg, time()))
}

#[update]
fn icrc2_approve(arg: ApproveArgs) -> Result<Nat, ApproveError> {
    mutate(|l| api::icrc2_approve(l, msg_caller(), arg, time()))
}

#[update]
fn icrc2_transfer_from(arg: TransferFromArgs) -> Result<Nat, TransferFromError> {
    mutate(|l| api::icrc2_transfer_from(l, msg_caller(), arg, time()))
}

#[query]
fn icrc2_allowance(arg: AllowanceArgs) -> Allowance {
    read(|l| api::icrc2_allowance(l, arg, time()))
}

#[query]
fn icrc1_balance_of(account: Account) -> Nat {
    read(|l| api::icrc1_balance_of(l, account))
}

#[query]
fn icrc1_total_supply() -> Nat {
    read(api::icrc1_total_supply)
}

#[query]
fn icrc1_fee() -> Nat {
    read(api::icrc1_fee)
}

#[query]
fn icrc1_name() -> String {
    read(api::icrc1_name)
}

#[query]
fn icrc1_symbol() -> String {
    read(api::icrc1_symbol)
}

#[query]
fn icrc1_decimals() -> u8 {
    read(api::icrc1_decimals)
}

#[query]
fn icrc1_metadata() -> Vec<(String, MetadataValue)> {
    read(api::icrc1_metadata)
}

#[query]
fn icrc1_minting_account() -> Option<Account> {
    read(api::icrc1_minting_account)
}

#[query]
fn icrc1_supported_standards() -> Vec<SupportedStandard> {
    api::icrc1_supported_standards()
}

#[query]
fn icrc10_supported_standards() -> Vec<SupportedStandard> {
    api::icrc1_supported_standards()
}

#[query]
fn icrc3_get_blocks(args: Vec<GetBlocksRequest>) -> GetBlocksResult {
    read(|l| api::icrc3_get_blocks(l, args))
}

#[query]
fn icrc3_get_archives(args: GetArchivesArgs) -> Vec<ICRC3ArchiveInfo> {
    api::icrc3_get_archives(args)
}

#[query]
fn icrc3_supported_block_types() -> Vec<SupportedBlockType> {
    api::icrc3_supported_block_types()
}

#[query]
fn icrc3_get_tip_certificate() -> Option<ICRC3DataCertificate> {
    read(|l| api::icrc3_get_tip_certificate(l, data_certificate()))
}

ic_cdk::export_candid!();

fn main() {}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn did_path() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("icrc_ledger.did")
    }

    #[test]
    fn did_file_matches_exported_interface() {
        neuranft_types::did::assert_did_matches(&did_path(), &super::__export_service());
    }

    /// Every dfx command the docs show for the ledger type-checks against icrc_ledger.did.
    #[test]
    fn readme_dfx_arguments_typecheck() {
        neuranft_types::did::assert_readme_dfx_commands(
            &neuranft_types::did::documented_dfx_commands(),
            "icrc_ledger",
            &did_path(),
            6,
        );
    }
}
