//! The inference-proxy canister shell: decode, check callers, call the state, make the outcalls and
//! ledger calls, run the flush timer.

use candid::Principal;
use ic_cdk::api::{canister_liquid_cycle_balance, canister_self, msg_caller, time};
use ic_cdk::{init, inspect_message, post_upgrade, query, update};
use ic_cdk_management_canister::{
    transform_context_from_query, HttpMethod, HttpRequest, HttpRequestResult, TransformArgs,
};
use inference_proxy::api::{ApplyNodeRequest, FlushView, ProxyArg, ProxyAudit};
use inference_proxy::flows::{self, FlushReport, RoyaltiesClient};
use inference_proxy::infer::{self, InferArgs, InferError, InferOk, NodeTransport};
use inference_proxy::metering::{BatchRecord, Liabilities, UserBalance};
use inference_proxy::registry::{
    ModelEntry, NodeAction, NodeId, NodeRecord, ProposalId, RegistryError,
};
use inference_proxy::state::{MoneyError, ProxyConfig, ProxyState};
use ledger_adapter::ic::IcLedger;
use ledger_adapter::{CallFailure, LedgerRuntime};
use neuranft_types::royalties::{Receipt, SettleArgs, SettleError, SettleOk, SplitVersion};
use neuranft_types::Account;
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

/// A node's answer may be at most this large (the outcall's `max_response_bytes`).
const MAX_NODE_RESPONSE_BYTES: u64 = 64 * 1024;
/// Bytes an ingress message may carry beyond the prompt limit (Candid and the other fields).
const INGRESS_SLACK_BYTES: u64 = 8 * 1024;

thread_local! {
    static STATE: Rc<RefCell<ProxyState>> =
        Rc::new(RefCell::new(ProxyState::open(ic_stable_structures::DefaultMemoryImpl::default())));
}

fn state() -> Rc<RefCell<ProxyState>> {
    STATE.with(Rc::clone)
}

fn read<R>(f: impl FnOnce(&ProxyState) -> R) -> R {
    STATE.with(|s| f(&s.borrow()))
}

fn mutate<R>(f: impl FnOnce(&mut ProxyState) -> R) -> R {
    STATE.with(|s| f(&mut s.borrow_mut()))
}

fn ledger() -> IcLedger {
    IcLedger(read(|s| s.config().ledger))
}

struct IcNodes;

/// The cycles one outcall of `request_bytes` may cost.
fn outcall_cost(request_bytes: u64) -> u128 {
    HttpRequest::new("https://node.invalid/v1/infer")
        .with_method(HttpMethod::POST)
        .with_body(vec![0; request_bytes as usize])
        .with_max_response_bytes(MAX_NODE_RESPONSE_BYTES)
        .non_replicated()
        .get_cost()
}

impl NodeTransport for IcNodes {
    async fn post(&self, node: &NodeRecord, body: Vec<u8>) -> Result<(u16, Vec<u8>), String> {
        let key = read(|s| s.node_api_key(node.id)).unwrap_or_default();
        let response = HttpRequest::new(node.endpoint.clone())
            .with_method(HttpMethod::POST)
            .with_header("Content-Type", "application/json")
            .with_header("Authorization", format!("Bearer {key}"))
            .with_body(body)
            .with_max_response_bytes(MAX_NODE_RESPONSE_BYTES)
            .non_replicated()
            .with_transform(transform_context_from_query(
                "strip_node_headers".into(),
                vec![],
            ))
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let status = u16::try_from(&response.status.0).map_err(|e| e.to_string())?;
        Ok((status, response.body))
    }

    fn now(&self) -> u64 {
        time()
    }
}

/// Headers differ between answers and are not needed: only status and body pass.
#[query]
fn strip_node_headers(args: TransformArgs) -> HttpRequestResult {
    HttpRequestResult {
        status: args.response.status,
        headers: vec![],
        body: args.response.body,
    }
}

struct IcRoyalties(Principal);

impl RoyaltiesClient for IcRoyalties {
    async fn settle(&self, args: SettleArgs) -> Result<Result<SettleOk, SettleError>, CallFailure> {
        ledger_adapter::ic::call(self.0, "settle", (args,)).await
    }
}

fn start_timers() {
    let interval = read(|s| s.config().flush_interval_seconds).max(1);
    ic_cdk_timers::set_timer_interval(Duration::from_secs(interval), || async {
        let royalties = IcRoyalties(read(|s| s.config().royalties));
        flows::flush(&state(), &ledger(), &royalties, true).await;
    });
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
    let request_bytes = args.prompt.as_ref().map_or(0, String::len) as u64
        + args
            .messages
            .as_ref()
            .map_or(0, |m| m.iter().map(|m| m.content.len() + 32).sum::<usize>()) as u64
        + 512;
    let needed = outcall_cost(request_bytes) * max_nodes;
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
    let bytes = args.prompt.as_ref().map_or(0, String::len) as u64 + 512;
    outcall_cost(bytes)
}

#[update]
fn update_model(entry: ModelEntry) -> Result<bool, RegistryError> {
    if msg_caller() != read(|s| s.config().royalties) {
        return Err(RegistryError::NotRoyalties);
    }
    Ok(mutate(|s| s.registry.upsert_model(entry)))
}

/// Royalties tells the proxy the split version to stamp on receipts (newer only).
#[update]
fn set_split_version(version: SplitVersion) -> Result<(), RegistryError> {
    if msg_caller() != read(|s| s.config().royalties) {
        return Err(RegistryError::NotRoyalties);
    }
    mutate(|s| s.set_split_version(version));
    Ok(())
}

#[update]
fn apply_node(request: ApplyNodeRequest) -> Result<NodeId, RegistryError> {
    if !(16..=128).contains(&request.api_key.len()) {
        return Err(RegistryError::InvalidArgument {
            field: "api_key".into(),
            reason: "16–128 bytes".into(),
        });
    }
    mutate(|s| {
        let id = s.registry.apply_node(msg_caller(), request.node)?;
        s.set_node_api_key(id, request.api_key);
        Ok(id)
    })
}

#[update]
fn decide_node(
    proposal: ProposalId,
    node: NodeId,
    action: NodeAction,
) -> Result<NodeRecord, RegistryError> {
    if msg_caller() != read(|s| s.config().governance) {
        return Err(RegistryError::NotGovernance);
    }
    mutate(|s| s.registry.decide_node(proposal, node, action))
}

/// Governance sets the per-call fee, once per proposal id.
#[update]
fn set_call_fee(proposal: ProposalId, call_fee: u128) -> Result<(), RegistryError> {
    if msg_caller() != read(|s| s.config().governance) {
        return Err(RegistryError::NotGovernance);
    }
    mutate(|s| s.set_call_fee(proposal, call_fee))
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
async fn audit() -> Result<ProxyAudit, String> {
    if msg_caller() == Principal::anonymous() {
        return Err("the anonymous caller may not audit (it costs a ledger call)".into());
    }
    let own = Account {
        owner: canister_self(),
        subaccount: None,
    };
    let balance = ledger()
        .icrc1_balance_of(own)
        .await
        .map_err(|e| e.to_string())?;
    let ledger_balance = u128::try_from(&balance.0).map_err(|e| e.to_string())?;
    Ok(read(|s| {
        let liabilities = s.metering.liabilities();
        let unresolved_transfers = s.unresolved_count();
        let (set_aside_batches, set_aside_total) = s.set_aside_summary();
        ProxyAudit {
            agrees: ledger_balance == liabilities.total,
            ledger_balance,
            liabilities,
            unresolved_transfers,
            set_aside_batches,
            set_aside_total,
        }
    }))
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
