//! The inference proxy's I/O: its state cell, the ledger, the outcalls to nodes, royalties' `settle`,
//! and the flush timer.

use candid::Principal;
use ic_cdk::api::time;
use ic_cdk_management_canister::{transform_context_from_query, HttpMethod, HttpRequest};
use inference_proxy::flows::{self, RoyaltiesClient};
use inference_proxy::infer::NodeTransport;
use inference_proxy::state::ProxyState;
use ledger_adapter::ic::IcLedger;
use ledger_adapter::CallFailure;
use neuranft_types::proxy::NodeRecord;
use neuranft_types::royalties::{SettleArgs, SettleError, SettleOk};
use std::time::Duration;

/// A node's answer may be at most this large (the outcall's `max_response_bytes`).
pub(crate) const MAX_NODE_RESPONSE_BYTES: u64 = 64 * 1024;
/// Bytes an ingress message may carry beyond the prompt limit (Candid and the other fields).
pub(crate) const INGRESS_SLACK_BYTES: u64 = 8 * 1024;

neuranft_types::canister_state!(
    pub(crate) proxy: ProxyState = ProxyState::open(ic_stable_structures::DefaultMemoryImpl::default());
);
pub(crate) use proxy::{mutate, read, shared as state};

pub(crate) fn ledger() -> IcLedger {
    IcLedger(read(|s| s.config().ledger))
}

pub(crate) struct IcNodes;

/// The cycles one outcall of `request_bytes` may cost.
pub(crate) fn outcall_cost(request_bytes: u64) -> u128 {
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

pub(crate) struct IcRoyalties(pub(crate) Principal);

impl RoyaltiesClient for IcRoyalties {
    async fn settle(&self, args: SettleArgs) -> Result<Result<SettleOk, SettleError>, CallFailure> {
        ledger_adapter::ic::call(self.0, "settle", (args,)).await
    }
}

thread_local! {
    static FLUSH_TIMER: std::cell::Cell<Option<ic_cdk_timers::TimerId>> = const { std::cell::Cell::new(None) };
}

/// (Re)starts the flush timer at the configured interval (after install, upgrade, and a change of
/// the interval by governance).
pub(crate) fn start_timers() {
    if let Some(old) = FLUSH_TIMER.with(|t| t.take()) {
        ic_cdk_timers::clear_timer(old);
    }
    let interval = read(|s| s.config().flush_interval_seconds).max(1);
    let id = ic_cdk_timers::set_timer_interval(Duration::from_secs(interval), || async {
        let royalties = IcRoyalties(read(|s| s.config().royalties));
        flows::flush(&state(), &ledger(), &royalties, true).await;
    });
    FLUSH_TIMER.with(|t| t.set(Some(id)));
}
