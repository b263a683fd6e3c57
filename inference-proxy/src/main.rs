//! The inference-proxy canister shell: decode, call the state machine (which checks callers), and
//! hand I/O to `ic.rs`.

mod ic;

use candid::Principal;
use ic::*;
use ic_cdk::api::{canister_liquid_cycle_balance, msg_caller, time};
use ic_cdk::{init, inspect_message, post_upgrade, query, update};
use ic_cdk_management_canister::{HttpRequestResult, TransformArgs};
use inference_proxy::flows::{self, FlushReport};
use inference_proxy::infer;
use neuranft_types::proxy::*;
use neuranft_types::royalties::{ModelEntry, Receipt, SplitVersion};
use neuranft_types::Account;

/// Headers differ between answers and are not needed: only status and body pass.
#[query]
fn strip_node_headers(args: TransformArgs) -> HttpRequestResult {
    HttpRequestResult {
        status: args.response.status,
        headers: vec![],
        body: args.response.body,
    }
}

#[init]
fn init(arg: ProxyArg) {
    let ProxyArg::Init(config) = arg else {
        ic_cdk::trap("install the proxy with ProxyArg::Init");
    };
    if let Err(e) = mutate(|s| s.initialize(config)) {
        ic_cdk::trap(format!("invalid configuration: {e}"));
    }
    start_timers();
}

#[post_upgrade]
fn post_upgrade(arg: Option<ProxyArg>) {
    match arg {
        None | Some(ProxyArg::Upgrade(None)) => {}
        Some(ProxyArg::Upgrade(Some(config))) => {
            if let Err(e) = mutate(|s| s.initialize(config)) {
                ic_cdk::trap(format!("invalid configuration: {e}"));
            }
        }
        Some(ProxyArg::Init(_)) => ic_cdk::trap("upgrade the proxy with ProxyArg::Upgrade"),
    }
    let (holds, amount) = mutate(|s| s.metering.release_all_holds());
    if holds > 0 {
        ic_cdk::println!("released {holds} holds of calls cut by the upgrade ({amount} units)");
    }
    start_timers();
}

/// Drops anonymous and oversize ingress before it costs anything; the methods check again.
#[inspect_message]
fn inspect_message() {
    let limit = read(|s| s.config().max_prompt_bytes) + INGRESS_SLACK_BYTES;
    if msg_caller() != Principal::anonymous() && ic_cdk::api::msg_arg_data().len() as u64 <= limit {
        ic_cdk::api::accept_message();
    }
}

#[update]
async fn deposit(amount: u128) -> Result<(), MoneyError> {
    flows::deposit(&state(), &ledger(), msg_caller(), amount, time()).await
}

#[update]
async fn withdraw(amount: u128, to: Option<Account>) -> Result<(), MoneyError> {
    flows::withdraw(&state(), &ledger(), msg_caller(), amount, to, time()).await
}

#[query]
fn balance_of(user: Principal) -> UserBalance {
    read(|s| s.metering.balance(&user))
}

#[update]
async fn infer(args: InferArgs) -> Result<InferOk, InferError> {
    let max_nodes = read(|s| s.config().max_nodes_per_call) as u128;
    let needed = outcall_cost(infer::request_bytes(&args)) * max_nodes;
    let available = canister_liquid_cycle_balance();
    if available < needed {
        return Err(InferError::InsufficientCycles { needed, available });
    }
    let entropy = time() ^ ic_cdk::api::instruction_counter();
    infer::infer(&state(), &IcNodes, msg_caller(), args, entropy).await
}

/// The most a call with these arguments can be charged (its hold), in the payment token.
#[query]
fn infer_quote(args: InferArgs) -> Result<u128, InferError> {
    read(|s| infer::quote(s, &args))
}

/// The cycles the proxy reserves for one outcall of a call with these arguments.
#[query]
fn infer_outcall_cost(args: InferArgs) -> u128 {
    outcall_cost(infer::request_bytes(&args))
}

#[update]
fn update_model(entry: ModelEntry) -> Result<bool, RegistryError> {
    mutate(|s| s.update_model_from(msg_caller(), entry))
}

/// Royalties tells the proxy the split version to stamp on receipts (newer only).
#[update]
fn set_split_version(version: SplitVersion) -> Result<(), RegistryError> {
    mutate(|s| s.set_split_version_from(msg_caller(), version))
}

#[update]
fn apply_node(request: ApplyNodeRequest) -> Result<NodeId, RegistryError> {
    mutate(|s| s.apply_node_from(msg_caller(), request))
}

#[update]
fn decide_node(
    proposal: ProposalId,
    node: NodeId,
    action: NodeAction,
) -> Result<NodeRecord, RegistryError> {
    mutate(|s| s.decide_node_from(msg_caller(), proposal, node, action))
}

/// Governance's generic function for the proxy's limits (`validate_limits` is its validator).
#[update]
fn set_limits(limits: ProxyLimits) -> Result<(), RegistryError> {
    if mutate(|s| s.set_limits_from(msg_caller(), limits))? {
        start_timers();
    }
    Ok(())
}

/// Governance's adopted `SetProxyLimits` proposal sets the limits, once per proposal id.
#[update]
fn set_limits_by_proposal(proposal: ProposalId, limits: ProxyLimits) -> Result<(), RegistryError> {
    if mutate(|s| s.set_limits_by_proposal(msg_caller(), proposal, limits))? {
        start_timers();
    }
    Ok(())
}

/// What `set_limits(limits)` would change, as voters read it (`name: now → then` per limit), or
/// why the limits are refused.
#[query]
fn validate_limits(limits: ProxyLimits) -> Result<String, String> {
    read(|s| s.config().describe_limits(&limits))
}

/// Governance sets the per-call fee, once per proposal id.
#[update]
fn set_call_fee(proposal: ProposalId, call_fee: u128) -> Result<(), RegistryError> {
    mutate(|s| s.set_call_fee_from(msg_caller(), proposal, call_fee))
}

#[query]
fn nodes() -> Vec<NodeRecord> {
    read(|s| s.registry.nodes())
}

#[query]
fn model(id: u64) -> Option<ModelEntry> {
    read(|s| s.registry.model(id))
}

/// Flushes now what the timer would flush (anyone may ask; it only moves money as the books say).
#[update]
async fn flush() -> FlushView {
    if msg_caller() == Principal::anonymous() {
        return FlushView {
            closed: vec![],
            settled: vec![],
            waiting: vec!["the anonymous caller may not flush".into()],
        };
    }
    let royalties = IcRoyalties(read(|s| s.config().royalties));
    let FlushReport {
        closed,
        settled,
        waiting,
    } = flows::flush(&state(), &ledger(), &royalties, true).await;
    FlushView {
        closed,
        settled,
        waiting,
    }
}

#[query]
fn unsettled_receipts(limit: u32) -> Vec<Receipt> {
    read(|s| s.metering.unsettled_receipts(limit.min(1_000) as usize))
}

#[query]
fn batch(id: u64) -> Option<BatchRecord> {
    read(|s| s.metering.batch(id))
}

#[query]
fn liabilities() -> Liabilities {
    read(|s| s.metering.liabilities())
}

/// Compares the proxy's ledger balance with what it owes.
#[update]
async fn audit() -> Result<ProxyAudit, ProxyAuditError> {
    flows::audit(&state(), &ledger(), msg_caller()).await
}

/// The royalty split version receipts are metered under now.
#[query]
fn split_version() -> SplitVersion {
    read(|s| s.split_version())
}

#[query]
fn get_config() -> ProxyConfig {
    read(|s| s.config())
}

ic_cdk::export_candid!();

fn main() {}

#[cfg(test)]
mod tests {
    fn did_path() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("inference_proxy.did")
    }

    #[test]
    fn did_file_matches_exported_interface() {
        neuranft_types::did::assert_did_matches(&did_path(), &super::__export_service());
    }

    /// Every dfx command the docs show for the proxy type-checks against inference_proxy.did.
    #[test]
    fn readme_dfx_arguments_typecheck() {
        neuranft_types::did::assert_readme_dfx_commands(
            &neuranft_types::did::documented_dfx_commands(),
            "inference_proxy",
            &did_path(),
            18,
        );
    }
}
