//! The royalties canister shell: decode, check the caller, call the state, perform ledger calls.

use candid::Principal;
use ic_cdk::api::{msg_caller, time};
use ic_cdk::{init, inspect_message, post_upgrade, query, update};
use icrc_ledger_types::icrc1::account::Account;
use ledger_adapter::ic::{call, IcLedger};
use neuranft_types::royalties::*;
use royalties::flows::{payouts, push};
use royalties::State;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

thread_local! {
    static STATE: Rc<RefCell<State>> =
        Rc::new(RefCell::new(State::open(ic_stable_structures::DefaultMemoryImpl::default())));
}

fn state() -> Rc<RefCell<State>> {
    STATE.with(Rc::clone)
}

fn read<R>(f: impl FnOnce(&State) -> R) -> R {
    STATE.with(|s| f(&s.borrow()))
}

fn mutate<R>(f: impl FnOnce(&mut State) -> R) -> R {
    STATE.with(|s| f(&mut s.borrow_mut()))
}

fn ledger() -> IcLedger {
    IcLedger(read(|s| s.config().ledger))
}

/// The inference proxy, reached by bounded-wait calls.
struct IcProxy(Principal);

impl push::ProxyClient for IcProxy {
    async fn update_model(&self, entry: ModelEntry) -> Result<(), String> {
        // The proxy's error type is its own: any `Err` means it refused.
        let answer: Result<bool, candid::Reserved> = call(self.0, "update_model", (entry,))
            .await
            .map_err(|e| e.to_string())?;
        answer
            .map(|_| ())
            .map_err(|_| "the proxy refused the model push".into())
    }

    async fn set_split_version(&self, version: SplitVersion) -> Result<(), String> {
        let answer: Result<(), candid::Reserved> = call(self.0, "set_split_version", (version,))
            .await
            .map_err(|e| e.to_string())?;
        answer.map_err(|_| "the proxy refused the split version".into())
    }
}

async fn push_to_proxy() {
    let proxy = IcProxy(read(|s| s.config().inference_proxy));
    push::run_push_job(&state(), &proxy).await;
}

/// Pushes changes to the proxy in the next round instead of waiting for the payout timer (which
/// retries whatever a push could not deliver). One job for all changes: a timer is set only when
/// none is scheduled.
fn push_soon() {
    if mutate(|s| s.schedule_push_job()) {
        ic_cdk_timers::set_timer(Duration::ZERO, push_to_proxy());
    }
}

fn start_payout_timer() {
    let interval = read(|s| s.config().payout_interval_seconds);
    ic_cdk_timers::set_timer_interval(Duration::from_secs(interval), || async {
        payouts::run_payout_job(&state(), &ledger(), time()).await;
        push_to_proxy().await;
    });
}

#[init]
fn init(arg: RoyaltiesArg) {
    let RoyaltiesArg::Init(args) = arg else {
        ic_cdk::trap("install royalties with RoyaltiesArg::Init");
    };
    if let Err(e) = mutate(|s| s.initialize(args, time())) {
        ic_cdk::trap(format!("invalid init arguments: {e:?}"));
    }
    start_payout_timer();
}

#[post_upgrade]
fn post_upgrade(arg: Option<RoyaltiesArg>) {
    match arg {
        None | Some(RoyaltiesArg::Upgrade(None)) => {}
        Some(RoyaltiesArg::Upgrade(Some(args))) => mutate(|s| s.upgrade(args)),
        Some(RoyaltiesArg::Init(_)) => ic_cdk::trap("upgrade royalties with RoyaltiesArg::Upgrade"),
    }
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
    mutate(|s| s.transfer_shares(msg_caller(), args, time()))
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
    push_soon();
    Ok(version)
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
    mutate(|s| s.settle(msg_caller(), args, time()))
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
    payouts::claim(&state(), &ledger(), msg_caller(), args, time()).await
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

#[query]
fn log_tip() -> LogTip {
    let (length, hash) = read(|s| s.log_tip());
    LogTip { length, hash }
}

#[query]
fn liabilities() -> Liabilities {
    read(|s| s.liabilities())
}

/// Reads the canister's ledger balance and compares it with what the canister owes.
#[update]
async fn audit() -> Result<AuditReport, AuditError> {
    if msg_caller() == Principal::anonymous() {
        return Err(AuditError::AnonymousCaller);
    }
    payouts::audit(&state(), &ledger()).await
}

#[query]
fn get_config() -> RoyaltiesConfig {
    read(|s| {
        let c = s.config();
        RoyaltiesConfig {
            ledger: c.ledger,
            governance: c.governance,
            inference_proxy: c.inference_proxy,
            treasury: c.treasury,
            auto_payout_fee_multiple: c.auto_payout_fee_multiple,
            payout_interval_seconds: c.payout_interval_seconds,
            ledger_fee: s.ledger_fee(),
            current_split: s.current_split(),
        }
    })
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
