//! Keeping the inference proxy's copy of every model's price and status current: each change is
//! queued with a new version and pushed until the proxy acknowledges it (an older version arriving late
//! is ignored by the proxy, so resending is safe).

use crate::state::State;
use neuranft_types::royalties::ModelEntry;
use std::cell::RefCell;

/// Pushes per timer run.
pub const PUSHES_PER_RUN: usize = 50;

#[allow(async_fn_in_trait)]
pub trait ProxyClient {
    /// `Ok` when the proxy accepted the entry (applied, or already had it or something newer).
    async fn update_model(&self, entry: ModelEntry) -> Result<(), String>;
}

/// Pushes pending model changes; stops at the first failure (the proxy is unreachable or refuses).
/// Returns how many were acknowledged.
pub async fn push_models<P: ProxyClient>(state: &RefCell<State>, proxy: &P) -> usize {
    let pending = state.borrow().pending_model_pushes(PUSHES_PER_RUN);
    let mut acknowledged = 0;
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
