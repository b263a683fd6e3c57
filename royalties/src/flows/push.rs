//! Keeping the inference proxy current: every model's price and status, and the split version it
//! stamps on receipts. Each change is queued with a new version and pushed until the proxy
//! acknowledges it (the proxy ignores an older version arriving late, so resending is safe).

use crate::state::State;
use neuranft_types::guard::OnDrop;
use neuranft_types::royalties::{ModelEntry, SplitVersion};
use std::cell::RefCell;

/// Pushes per round of the push job.
pub const PUSHES_PER_RUN: usize = 50;
/// Rounds per push job at most: a stream of changes cannot keep one job going for ever.
pub const ROUNDS_PER_JOB: usize = 10;

#[allow(async_fn_in_trait)]
pub trait ProxyClient {
    /// `Ok` when the proxy accepted the entry (applied, or already had it or something newer).
    async fn update_model(&self, entry: ModelEntry) -> Result<(), String>;
    /// `Ok` when the proxy meters under `version` (or a newer one) from now on.
    async fn set_split_version(&self, version: SplitVersion) -> Result<(), String>;
}

/// Pushes the pending split version, then pending model changes; stops at the first failure (the
/// proxy is unreachable or refuses). Returns how many pushes were acknowledged.
pub async fn push_to_proxy<P: ProxyClient>(state: &RefCell<State>, proxy: &P) -> usize {
    let mut acknowledged = 0;
    let split = state.borrow().pending_split_push();
    if let Some(version) = split {
        if proxy.set_split_version(version).await.is_err() {
            return acknowledged;
        }
        state.borrow_mut().split_push_acknowledged(version);
        acknowledged += 1;
    }
    let pending = state.borrow().pending_model_pushes(PUSHES_PER_RUN);
    for entry in pending {
        if proxy.update_model(entry.clone()).await.is_err() {
            break;
        }
        state
            .borrow_mut()
            .model_push_acknowledged(entry.model, entry.version);
        acknowledged += 1;
    }
    acknowledged
}

/// The one push job: single-flight, each pending change pushed once per round, rounds until nothing
/// is pending (at most [`ROUNDS_PER_JOB`]). However many changes arrive while it runs, each costs one
/// push — never a push of every pending change per change, as one job per change would.
pub async fn run_push_job<P: ProxyClient>(state: &RefCell<State>, proxy: &P) -> usize {
    if !state.borrow_mut().begin_push_job() {
        return 0;
    }
    let _running = OnDrop::new(|| {
        if let Ok(mut s) = state.try_borrow_mut() {
            s.end_push_job();
        }
    });
    let mut acknowledged = 0;
    for _ in 0..ROUNDS_PER_JOB {
        let pushed = push_to_proxy(state, proxy).await;
        acknowledged += pushed;
        if pushed == 0 || !state.borrow().has_pending_pushes() {
            break;
        }
    }
    acknowledged
}
