//! Push tests: model and split changes reach the proxy until it acknowledges them.

use super::*;
use crate::flows::push::{push_to_proxy, ProxyClient};
use futures::executor::block_on;
use std::cell::RefCell;

/// A proxy that accepts pushes (recording them) unless told to be unreachable.
struct FakeProxy {
    received: RefCell<Vec<ModelEntry>>,
    splits: RefCell<Vec<SplitVersion>>,
    reachable: std::cell::Cell<bool>,
}

impl FakeProxy {
    fn new(reachable: bool) -> Self {
        Self {
            received: RefCell::default(),
            splits: RefCell::default(),
            reachable: std::cell::Cell::new(reachable),
        }
    }
}

impl ProxyClient for FakeProxy {
    async fn update_model(&self, entry: ModelEntry) -> Result<(), String> {
        if !self.reachable.get() {
            return Err("unreachable".into());
        }
        self.received.borrow_mut().push(entry);
        Ok(())
    }

    async fn set_split_version(&self, version: SplitVersion) -> Result<(), String> {
        if !self.reachable.get() {
            return Err("unreachable".into());
        }
        self.splits.borrow_mut().push(version);
        Ok(())
    }
}

#[test]
fn model_changes_are_pushed_until_acknowledged_with_increasing_versions() {
    let mut s = fresh();
    let m = register(&mut s, &[(1, 1_000_000)], &[]);
    s.set_price(
        p(1),
        m,
        Price {
            per_1k_input_tokens: 5,
            per_1k_output_tokens: 7,
        },
        T0,
    )
    .unwrap();
    let state = RefCell::new(s);
    let proxy = FakeProxy::new(false);
    // Unreachable: the change stays pending.
    assert_eq!(block_on(push_to_proxy(&state, &proxy)), 0);
    assert_eq!(state.borrow().pending_model_pushes(10).len(), 1);
    proxy.reachable.set(true);
    assert_eq!(block_on(push_to_proxy(&state, &proxy)), 1);
    let first = proxy.received.borrow()[0].clone();
    assert_eq!(
        first.price.per_1k_input_tokens, 5,
        "the newest state is pushed"
    );
    assert!(state.borrow().pending_model_pushes(10).is_empty());
    // A later change gets a higher version; acknowledging an older version keeps it pending.
    state
        .borrow_mut()
        .set_status(p(1), m, ModelStatus::Paused, T0 + 1)
        .unwrap();
    let pending = state.borrow().pending_model_pushes(10);
    assert!(pending[0].version > first.version);
    state.borrow_mut().model_push_acknowledged(m, first.version);
    assert_eq!(state.borrow().pending_model_pushes(10).len(), 1);
    assert_eq!(block_on(push_to_proxy(&state, &proxy)), 1);
    assert_eq!(proxy.received.borrow()[1].status, ModelStatus::Paused);
    // Bad input does not queue anything.
    assert!(state
        .borrow_mut()
        .set_status(p(9), m, ModelStatus::Active, T0 + 2)
        .is_err());
    assert!(state.borrow().pending_model_pushes(10).is_empty());
}

#[test]
fn split_changes_are_pushed_until_acknowledged_and_only_forward() {
    let state = RefCell::new(fresh());
    let proxy = FakeProxy::new(true);
    assert_eq!(
        state.borrow().pending_split_push(),
        None,
        "version 0 is the proxy's default"
    );
    assert_eq!(block_on(push_to_proxy(&state, &proxy)), 0);
    for (proposal_id, version) in [(1, 1), (2, 2)] {
        let args = SetSplitArgs {
            proposal_id,
            split: split(2_000, 6_000, 1_000, 1_000),
        };
        assert_eq!(
            state.borrow_mut().set_split(governance(), args, T0),
            Ok(version)
        );
    }
    // Only the newest version is pushed: the proxy never meters under a superseded split.
    proxy.reachable.set(false);
    assert_eq!(block_on(push_to_proxy(&state, &proxy)), 0);
    assert_eq!(state.borrow().pending_split_push(), Some(2));
    proxy.reachable.set(true);
    assert_eq!(block_on(push_to_proxy(&state, &proxy)), 1);
    assert_eq!(*proxy.splits.borrow(), vec![2]);
    assert_eq!(state.borrow().pending_split_push(), None);
    // A late acknowledgement of an older version never moves the record back.
    state.borrow_mut().split_push_acknowledged(1);
    assert_eq!(state.borrow().pending_split_push(), None);
}
