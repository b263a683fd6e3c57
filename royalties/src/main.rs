//! The royalties canister shell: decode, call the state machine (which checks callers), and hand
//! I/O to `ic.rs`.

mod ic;

use candid::Principal;
use ic::*;
use ic_cdk::api::{msg_caller, time};
use ic_cdk::{init, inspect_message, post_upgrade, query, update};
use icrc_ledger_types::icrc1::account::Account;
use neuranft_types::royalties::*;
use royalties::flows::payouts;

#[init]
fn init(arg: RoyaltiesArg) {
    let RoyaltiesArg::Init(args) = arg else {
        ic_cdk::trap("install royalties with RoyaltiesArg::Init");
    };
    if let Err(e) = mutate(|s| s.initialize(args, time())) {
        ic_cdk::trap(format!("invalid init arguments: {e:?}"));
    }
    certify_log_tip();
    start_payout_timer();
}

#[post_upgrade]
fn post_upgrade(arg: Option<RoyaltiesArg>) {
    match arg {
        None | Some(RoyaltiesArg::Upgrade(None)) => {}
        Some(RoyaltiesArg::Upgrade(Some(args))) => mutate(|s| s.upgrade(args)),
        Some(RoyaltiesArg::Init(_)) => ic_cdk::trap("upgrade royalties with RoyaltiesArg::Upgrade"),
    }
    certify_log_tip();
    start_payout_timer();
}

/// Drops anonymous ingress before it costs anything; the methods check again.
#[inspect_message]
fn inspect_message() {
    if msg_caller() != Principal::anonymous() {
        ic_cdk::api::accept_message();
    }
}

#[update]
fn register_model(args: RegisterModelArgs) -> Result<ModelId, RegistryError> {
    let id = mutate(|s| s.register_model(msg_caller(), args, time()))?;
    certify_log_tip();
    push_soon();
    Ok(id)
}

#[update]
fn set_model_price(model: ModelId, price: Price) -> Result<(), RegistryError> {
    mutate(|s| s.set_price(msg_caller(), model, price, time()))?;
    push_soon();
    Ok(())
}

#[update]
fn set_model_status(model: ModelId, status: ModelStatus) -> Result<(), RegistryError> {
    mutate(|s| s.set_status(msg_caller(), model, status, time()))?;
    push_soon();
    Ok(())
}

#[update]
fn transfer_shares(args: TransferSharesArgs) -> Result<u64, RegistryError> {
    let epoch = mutate(|s| s.transfer_shares(msg_caller(), args, time()))?;
    certify_log_tip();
    Ok(epoch)
}

#[query]
fn get_model(model: ModelId) -> Option<ModelView> {
    read(|s| s.get_model(model))
}

#[query]
fn list_models(start: Option<ModelId>, limit: u32) -> ModelPage {
    read(|s| s.list_models(start, limit as usize))
}

#[query]
fn models_of(account: Account) -> Vec<HeldShares> {
    read(|s| s.models_of(&account))
}

#[query]
fn get_share_table(model: ModelId, epoch: u64) -> Option<ShareTable> {
    read(|s| s.share_table(model, epoch))
}

#[update]
fn set_split(args: SetSplitArgs) -> Result<SplitVersion, SplitError> {
    let version = mutate(|s| s.set_split(msg_caller(), args, time()))?;
    certify_log_tip();
    push_soon();
    Ok(version)
}

/// The DAO suspends, delists or reinstates a model (once per proposal), with the reason in the log.
#[update]
fn moderate_model(args: ModerateModelArgs) -> Result<ModelStatus, GovernedError> {
    let status = mutate(|s| s.moderate_model(msg_caller(), args, time()))?;
    certify_log_tip();
    push_soon();
    Ok(status)
}

/// The DAO sets how payouts are pushed (once per proposal); the payout timer follows a new interval.
#[update]
fn set_payout_settings(args: SetPayoutSettingsArgs) -> Result<(), GovernedError> {
    if mutate(|s| s.set_payout_settings(msg_caller(), args, time()))? {
        start_payout_timer();
    }
    certify_log_tip();
    Ok(())
}

/// The split of `version`, or the one in force when `None`.
#[query]
fn get_split(version: Option<SplitVersion>) -> Option<SplitRecord> {
    read(|s| match version {
        Some(v) => s.split(v),
        None => Some(s.current_split()),
    })
}

#[update]
fn settle(args: SettleArgs) -> Result<SettleOk, SettleError> {
    let ok = mutate(|s| s.settle(msg_caller(), args, time()))?;
    certify_log_tip();
    Ok(ok)
}

#[query]
fn get_batch(batch: BatchId) -> Option<SettleOk> {
    read(|s| s.batch(batch))
}

#[query]
fn balance_of(account: Account) -> StakeholderBalance {
    read(|s| s.balance_of(&account))
}

#[update]
async fn claim(args: ClaimArgs) -> Result<Payout, ClaimError> {
    let payout = payouts::claim(&state(), &ledger(), msg_caller(), args, time()).await;
    certify_log_tip();
    payout
}

#[query]
fn get_payout(payout: PayoutId) -> Option<Payout> {
    read(|s| s.payout(payout))
}

#[query]
fn payouts_of(account: Account, limit: u32) -> Vec<Payout> {
    read(|s| s.payouts_of(&account, limit as usize))
}

#[query]
fn get_log(start: u64, limit: u32) -> LogPage {
    read(|s| s.log_page(start, limit as usize))
}

/// The entries as hashed, for verifying: each event's Candid bytes as the hash covers them.
#[query]
fn get_log_encoded(start: u64, limit: u32) -> EncodedLogPage {
    read(|s| s.encoded_log_page(start, limit as usize))
}

#[query]
fn log_tip() -> LogTip {
    read(|s| s.log_tip())
}

/// The tip the IC certifies, with its certificate (call it as a query, not replicated).
#[query]
fn certified_log_tip() -> CertifiedLogTip {
    ic::certified_log_tip()
}

#[query]
fn liabilities() -> Liabilities {
    read(|s| s.liabilities())
}

/// Reads the canister's ledger balance and compares it with what the canister owes.
#[update]
async fn audit() -> Result<AuditReport, AuditError> {
    payouts::audit(&state(), &ledger(), msg_caller()).await
}

#[query]
fn get_config() -> RoyaltiesConfig {
    read(|s| s.config_view())
}

ic_cdk::export_candid!();

fn main() {}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn did_path() -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("royalties.did")
    }

    #[test]
    fn did_file_matches_exported_interface() {
        neuranft_types::did::assert_did_matches(&did_path(), &super::__export_service());
    }

    /// Every dfx command the docs show for royalties type-checks against royalties.did.
    #[test]
    fn readme_dfx_arguments_typecheck() {
        neuranft_types::did::assert_readme_dfx_commands(
            &neuranft_types::did::documented_dfx_commands(),
            "royalties",
            &did_path(),
            10,
        );
    }
}
