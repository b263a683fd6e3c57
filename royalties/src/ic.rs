//! The royalties canister's I/O: its state cell, the ledger, the pushes to the inference proxy, and
//! the payout timer.

use candid::Principal;
use ic_cdk::api::time;
use ledger_adapter::ic::{call, IcLedger};
use neuranft_types::royalties::{CertifiedLogTip, LogTip, ModelEntry, SplitVersion};
use royalties::flows::{payouts, push};
use royalties::State;
use std::time::Duration;

neuranft_types::canister_state!(
    pub(crate) royalties_cell: State = State::open(ic_stable_structures::DefaultMemoryImpl::default());
);
pub(crate) use royalties_cell::{mutate, read, shared as state};

pub(crate) fn ledger() -> IcLedger {
    IcLedger(read(|s| s.config().ledger))
}

/// The inference proxy, reached by bounded-wait calls.
pub(crate) struct IcProxy(Principal);

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

pub(crate) async fn push_to_proxy() {
    let proxy = IcProxy(read(|s| s.config().inference_proxy));
    push::run_push_job(&state(), &proxy).await;
}

/// Pushes changes to the proxy in the next round instead of waiting for the payout timer (which
/// retries whatever a push could not deliver). One job for all changes: a timer is set only when
/// none is scheduled.
pub(crate) fn push_soon() {
    if mutate(|s| s.schedule_push_job()) {
        ic_cdk_timers::set_timer(Duration::ZERO, push_to_proxy());
    }
}

thread_local! {
    static PAYOUT_TIMER: std::cell::Cell<Option<ic_cdk_timers::TimerId>> = const { std::cell::Cell::new(None) };
}

/// Starts the payout timer at the configured interval, replacing the one running (if any).
pub(crate) fn start_payout_timer() {
    let interval = read(|s| s.config().payout_interval_seconds);
    let timer = ic_cdk_timers::set_timer_interval(Duration::from_secs(interval), || async {
        payouts::run_payout_job(&state(), &ledger(), time()).await;
        certify_log_tip();
        push_to_proxy().await;
    });
    if let Some(old) = PAYOUT_TIMER.with(|t| t.replace(Some(timer))) {
        ic_cdk_timers::clear_timer(old);
    }
}

thread_local! {
    /// The log tip last given to `certified_data_set` (heap: `post_upgrade` certifies again).
    static CERTIFIED_TIP: std::cell::RefCell<Option<LogTip>> = const { std::cell::RefCell::new(None) };
}

/// Certifies the log's tip (its last entry's hash) when it moved since the last time. Called at the
/// end of every update and timer job that may append: until then `certified_log_tip` serves the
/// tip certified before, which is a prefix of the log and verifies as one.
pub(crate) fn certify_log_tip() {
    let tip = read(|s| s.log_tip());
    CERTIFIED_TIP.with(|c| {
        let mut certified = c.borrow_mut();
        if certified.as_ref() != Some(&tip) {
            ic_cdk::api::certified_data_set(&tip.hash);
            *certified = Some(tip);
        }
    });
}

/// The certified tip with the IC's certificate of it (in a non-replicated query only).
pub(crate) fn certified_log_tip() -> CertifiedLogTip {
    let tip = CERTIFIED_TIP
        .with(|c| c.borrow().clone())
        .unwrap_or_else(|| read(|s| s.log_tip()));
    CertifiedLogTip {
        length: tip.length,
        hash: tip.hash,
        certificate: ic_cdk::api::data_certificate().map(serde_bytes::ByteBuf::from),
    }
}
