//! Inference end to end in the state machine: checks, holds, failover, receipts verified, charges.

use super::inference_support::*;
use crate::infer::{infer, InferArgs, InferError};
use crate::registry::{NodeId, NodeStatus};
use crate::state::ProxyState;
use candid::Principal;
use futures::executor::block_on;
use ic_stable_structures::DefaultMemoryImpl;
use neuranft_types::proxy::ProxyLimits;
use neuranft_types::royalties::ModelStatus;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

fn user() -> Principal {
    Principal::from_slice(&[0xA1; 29])
}

struct World {
    state: RefCell<ProxyState>,
    nodes: Nodes,
    ids: Vec<NodeId>,
}

fn world(behaviours: &[Behaviour], per_minute: u32) -> World {
    let mut s = ProxyState::open_small(DefaultMemoryImpl::default());
    s.initialize(config(Principal::from_slice(&[0x20; 10]), per_minute))
        .unwrap();
    add_models(&mut s);
    s.metering.credit_deposit(&user(), 1_000_000).unwrap();
    let mut keys = HashMap::new();
    let mut behaviour = HashMap::new();
    let mut ids = Vec::new();
    for (i, b) in behaviours.iter().enumerate() {
        let id = add_node(&mut s, &mut keys, i as u8);
        behaviour.insert(id, *b);
        ids.push(id);
    }
    World {
        state: RefCell::new(s),
        nodes: Nodes {
            keys,
            behaviour: RefCell::new(behaviour),
            calls: RefCell::default(),
            clock: Cell::new(1_750_000_000_000_000_000),
        },
        ids,
    }
}

fn args(prompt: &str, max_tokens: u32) -> InferArgs {
    InferArgs {
        model: 0,
        prompt: Some(prompt.into()),
        messages: None,
        max_tokens,
        temperature: None,
        seed: Some(1),
    }
}

impl World {
    fn infer(&self, args: InferArgs) -> Result<crate::infer::InferOk, InferError> {
        block_on(infer(&self.state, &self.nodes, user(), args, 7))
    }
    fn balance(&self) -> (u128, u128) {
        let b = self.state.borrow().metering.balance(&user());
        (b.available, b.held)
    }
    fn total(&self) -> u128 {
        self.state.borrow().metering.liabilities().total
    }
}

#[test]
fn a_call_is_charged_exactly_what_the_signed_usage_costs() {
    let w = world(&[Behaviour::Honest], 60);
    let ok = w
        .infer(args("Summarise the patient's history.", 64))
        .unwrap();
    let price = crate::metering::price_of(&PRICE, ok.input_tokens, ok.output_tokens).unwrap();
    assert_eq!(ok.charged, price + 50);
    assert_eq!(w.balance(), (1_000_000 - ok.charged, 0));
    assert_eq!(w.state.borrow().metering.open_receipt_count(), 1);
    assert_eq!(w.total(), 1_000_000, "money only moved between buckets");
    assert_eq!(
        w.state
            .borrow()
            .registry
            .node(w.ids[0])
            .unwrap()
            .stats
            .successes,
        1
    );
}

#[test]
fn a_failing_node_is_skipped_and_nothing_is_charged_for_it() {
    let w = world(&[Behaviour::Down, Behaviour::Honest], 60);
    // Whichever node is picked first, the call ends on the honest one.
    let ok = w.infer(args("hello", 32)).unwrap();
    assert_eq!(ok.node, w.ids[1]);
    assert_eq!(w.state.borrow().metering.open_receipt_count(), 1);
    assert_eq!(w.balance().1, 0);
}

#[test]
fn when_every_node_fails_the_hold_is_released_in_full() {
    for bad in [
        Behaviour::Down,
        Behaviour::Http500,
        Behaviour::ForgedSignature,
        Behaviour::InflatedUsage,
    ] {
        let w = world(&[bad, bad], 60);
        let err = w.infer(args("hello", 32)).unwrap_err();
        assert!(
            matches!(err, InferError::AllNodesFailed { ref failures } if failures.len() == 2),
            "{err:?}"
        );
        assert_eq!(w.balance(), (1_000_000, 0));
        assert_eq!(
            w.state.borrow().metering.open_receipt_count(),
            0,
            "no charge without a verified receipt"
        );
    }
    let w = world(&[], 60);
    assert_eq!(w.infer(args("hello", 32)), Err(InferError::NoNodeAvailable));
    assert_eq!(w.balance(), (1_000_000, 0));
}

#[test]
fn a_node_that_keeps_failing_is_suspended() {
    let w = world(&[Behaviour::Down, Behaviour::Honest], 60);
    for _ in 0..6 {
        w.infer(args("hello", 32)).unwrap();
    }
    let down = w.state.borrow().registry.node(w.ids[0]).unwrap();
    assert!(
        matches!(
            down.status,
            NodeStatus::Suspended {
                by_proposal: None,
                ..
            }
        ),
        "{:?}",
        down.status
    );
    let calls_before = w.nodes.calls.borrow().len();
    w.infer(args("hello", 32)).unwrap();
    assert_eq!(
        w.nodes.calls.borrow().len(),
        calls_before + 1,
        "the suspended node is not tried"
    );
}

#[test]
fn governance_sets_the_call_fee_once_per_proposal() {
    let w = world(&[Behaviour::Honest], 60);
    let governance = w.state.borrow().config().governance;
    w.state
        .borrow_mut()
        .set_call_fee(governance, 7, 70)
        .unwrap();
    assert_eq!(
        w.state.borrow_mut().set_call_fee(governance, 7, 70),
        Err(crate::registry::RegistryError::ProposalAlreadyExecuted { proposal: 7 }),
        "a replay is done"
    );
    // Before payloads were bound this answered "already executed": governance showed Executed.
    assert_eq!(
        w.state.borrow_mut().set_call_fee(governance, 7, 90),
        Err(crate::registry::RegistryError::ProposalConflict { proposal: 7 })
    );
    assert_eq!(w.state.borrow().config().call_fee, 70);
    let ok = w.infer(args("hello", 8)).unwrap();
    let price = crate::metering::price_of(&PRICE, ok.input_tokens, ok.output_tokens).unwrap();
    assert_eq!(ok.charged, price + 70);
}

#[test]
fn governance_sets_the_limits_once_per_proposal_and_a_late_retry_changes_nothing() {
    use crate::registry::RegistryError;
    let w = world(&[Behaviour::Honest], 60);
    let governance = w.state.borrow().config().governance;
    let before = w.state.borrow().config().limits();
    let older = ProxyLimits {
        max_output_tokens: 100,
        ..before.clone()
    };
    let newer = ProxyLimits {
        max_output_tokens: 200,
        ..before.clone()
    };
    let set = |proposal, limits: &ProxyLimits| {
        w.state
            .borrow_mut()
            .set_limits_by_proposal(governance, proposal, limits.clone())
    };
    assert_eq!(set(7, &older), Ok(false));
    assert_eq!(set(8, &newer), Ok(false));
    // Proposal 7's retry (its first answer was lost) does not put the older limits back.
    assert_eq!(
        set(7, &older),
        Err(RegistryError::ProposalAlreadyExecuted { proposal: 7 })
    );
    assert_eq!(
        set(8, &older),
        Err(RegistryError::ProposalConflict { proposal: 8 })
    );
    assert_eq!(w.state.borrow().config().max_output_tokens, 200);
    // Only governance, and only limits in bounds (refused before the proposal id is used).
    let stranger = candid::Principal::from_slice(&[0x77; 29]);
    assert_eq!(
        w.state
            .borrow_mut()
            .set_limits_by_proposal(stranger, 9, older.clone()),
        Err(RegistryError::NotGovernance)
    );
    let zero = ProxyLimits {
        max_nodes_per_call: 0,
        ..before
    };
    assert!(matches!(
        set(9, &zero),
        Err(RegistryError::InvalidArgument { .. })
    ));
    assert_eq!(set(9, &older), Ok(false), "9 was not used by the refusals");
}

#[test]
fn receipts_carry_the_split_version_royalties_pushed_last() {
    let w = world(&[Behaviour::Honest], 60);
    let stamped = |w: &World| {
        let s = w.state.borrow();
        s.metering
            .unsettled_receipts(100)
            .last()
            .unwrap()
            .split_version
    };
    w.infer(args("hello", 8)).unwrap();
    assert_eq!(stamped(&w), 0);
    w.state.borrow_mut().set_split_version(3);
    w.infer(args("hello", 8)).unwrap();
    assert_eq!(stamped(&w), 3);
    // A late, older push does not move the proxy back.
    w.state.borrow_mut().set_split_version(2);
    w.infer(args("hello", 8)).unwrap();
    assert_eq!(stamped(&w), 3);
    let versions: Vec<u32> = w
        .state
        .borrow()
        .metering
        .unsettled_receipts(100)
        .iter()
        .map(|r| r.split_version)
        .collect();
    assert_eq!(
        versions,
        vec![0, 3, 3],
        "earlier receipts keep their version"
    );
}

#[test]
fn holds_cut_by_an_upgrade_are_released_in_full() {
    let w = world(&[Behaviour::Honest], 60);
    w.infer(args("hello", 8)).unwrap();
    let (available, _) = w.balance();
    // Two calls in flight when the canister is upgraded: their futures are gone with the heap.
    for _ in 0..2 {
        w.state
            .borrow_mut()
            .metering
            .hold(&user(), 0, 1_000, 0)
            .unwrap();
    }
    assert_eq!(w.balance(), (available - 2_000, 2_000));
    let total = w.total();
    assert_eq!(
        w.state.borrow_mut().metering.release_all_holds(),
        (2, 2_000)
    );
    assert_eq!(w.balance(), (available, 0));
    assert_eq!(
        w.total(),
        total,
        "releasing moves money between buckets only"
    );
    assert_eq!(
        w.state.borrow().metering.open_receipt_count(),
        1,
        "charged calls stay charged"
    );
    assert_eq!(w.state.borrow_mut().metering.release_all_holds(), (0, 0));
}

#[test]
fn bad_input_is_a_typed_error_and_holds_nothing() {
    let w = world(&[Behaviour::Honest], 60);
    let cases = vec![
        (
            InferArgs {
                model: 9,
                ..args("x", 8)
            },
            "unknown",
        ),
        (
            InferArgs {
                model: 1,
                ..args("x", 8)
            },
            "paused",
        ),
        (args("", 8), "empty"),
        (args(&"x".repeat(10_001), 8), "too large"),
        (args("x", 0), "zero tokens"),
        (args("x", 513), "too many tokens"),
        (
            InferArgs {
                prompt: None,
                ..args("x", 8)
            },
            "no input",
        ),
        (
            InferArgs {
                temperature: Some(9.0),
                ..args("x", 8)
            },
            "temperature",
        ),
    ];
    for (a, what) in cases {
        assert!(w.infer(a).is_err(), "{what}");
    }
    for (model, status) in [(2, ModelStatus::Suspended), (3, ModelStatus::Delisted)] {
        let moderated = w.infer(InferArgs {
            model,
            ..args("x", 8)
        });
        assert_eq!(
            moderated.map(|_| ()),
            Err(InferError::ModelModerated { model, status }),
            "the DAO's decision, not the owner's pause"
        );
    }
    assert!(matches!(
        block_on(infer(
            &w.state,
            &w.nodes,
            Principal::anonymous(),
            args("x", 8),
            0
        )),
        Err(InferError::AnonymousCaller)
    ));
    // More than the balance can hold.
    let poor = world(&[Behaviour::Honest], 60);
    poor.state
        .borrow_mut()
        .metering
        .begin_withdrawal(&user(), 999_990)
        .unwrap();
    assert!(matches!(
        poor.infer(args("hello", 512)),
        Err(InferError::Metering(
            crate::metering::MeteringError::InsufficientBalance { .. }
        ))
    ));
    assert_eq!(w.balance(), (1_000_000, 0));
    assert!(w.nodes.calls.borrow().is_empty());
}

#[test]
fn each_user_is_rate_limited_per_minute() {
    let w = world(&[Behaviour::Honest], 2);
    w.infer(args("a", 8)).unwrap();
    w.infer(args("b", 8)).unwrap();
    assert_eq!(
        w.infer(args("c", 8)),
        Err(InferError::RateLimited {
            calls_per_minute: 2
        })
    );
    w.nodes.clock.set(w.nodes.clock.get() + 61_000_000_000);
    w.infer(args("d", 8)).unwrap();
}

/// A node that never answers: the call's future waits on it until it is dropped, as ic-cdk drops
/// it when the callback after the outcall traps.
struct Silent(Cell<u64>);

impl crate::infer::NodeTransport for Silent {
    async fn post(
        &self,
        _node: &crate::registry::NodeRecord,
        _body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>), String> {
        std::future::pending().await
    }
    fn now(&self) -> u64 {
        self.0.get()
    }
}

/// Before the guard, a trap after the outcall left the call's hold in place for ever: the user's
/// funds could no longer be withdrawn.
#[test]
fn a_call_dropped_after_its_outcall_leaves_nothing_held_or_in_flight() {
    use futures::FutureExt;
    let w = world(&[Behaviour::Honest], 60);
    let before = w.balance();
    let silent = Silent(Cell::new(w.nodes.clock.get()));
    let call = infer(&w.state, &silent, user(), args("hello", 8), 7);
    let mut call = Box::pin(call);
    assert!((&mut call).now_or_never().is_none(), "waiting on the node");
    assert!(w.balance().1 > 0, "held while in flight");
    assert_eq!(w.state.borrow().calls_in_flight.len(), 1);
    assert_eq!(
        w.state
            .borrow()
            .registry
            .node(w.ids[0])
            .unwrap()
            .stats
            .in_flight,
        1
    );
    drop(call);
    assert_eq!(w.balance(), before, "the hold is released");
    assert!(w.state.borrow().calls_in_flight.is_empty());
    assert_eq!(
        w.state
            .borrow()
            .registry
            .node(w.ids[0])
            .unwrap()
            .stats
            .in_flight,
        0
    );
    // A charged call leaves nothing in flight either.
    w.infer(args("hello", 8)).unwrap();
    assert!(w.state.borrow().calls_in_flight.is_empty());
    assert_eq!(w.balance().1, 0);
}

#[test]
fn calls_beyond_the_cap_are_refused_before_anything_is_held() {
    let w = world(&[Behaviour::Honest], u32::MAX);
    // Other calls in flight up to the cap (a node's capacity bounds how many one test node takes).
    for k in 0..crate::state::MAX_CALLS_IN_FLIGHT {
        w.state
            .borrow_mut()
            .calls_in_flight
            .try_begin(u64::MAX - k as u64)
            .unwrap();
    }
    let before = (w.balance(), w.total());
    assert_eq!(
        w.infer(args("hello", 8)),
        Err(InferError::Busy {
            cap: crate::state::MAX_CALLS_IN_FLIGHT
        })
    );
    assert_eq!((w.balance(), w.total()), before, "nothing held");
    w.state.borrow_mut().calls_in_flight.end(&u64::MAX);
    w.infer(args("hello", 8)).unwrap();
}
