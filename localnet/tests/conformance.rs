//! Conformance of localnet with the IC's execution semantics, on a canister written for the purpose.

use candid::Principal;
use localnet::{reject_code, LocalNet};

fn controller() -> Principal {
    Principal::from_slice(&[9; 29])
}

fn user() -> Principal {
    Principal::from_slice(&[7; 29])
}

fn wasm() -> Vec<u8> {
    wat::parse_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance.wat"
    ))
    .expect("conformance.wat parses")
}

fn setup() -> (LocalNet, Principal) {
    let mut net = LocalNet::new(3);
    let id = net.create_canister(controller());
    net.install_canister(id, &wasm(), vec![], controller())
        .unwrap();
    (net, id)
}

/// (global, heap[0], stable[0], cleanup marker, timer firings)
fn state(bytes: &[u8]) -> [i32; 5] {
    let word = |i: usize| i32::from_le_bytes(bytes[i * 4..i * 4 + 4].try_into().unwrap());
    [word(0), word(1), word(2), word(3), word(4)]
}

fn read(net: &mut LocalNet, id: Principal) -> [i32; 5] {
    state(&net.query_call(id, user(), "read", vec![]).unwrap())
}

#[test]
fn a_trap_rolls_back_heap_globals_stable_memory_timer_and_growth() {
    let (mut net, id) = setup();
    assert_eq!(
        state(&net.update_call(id, user(), "inc", vec![]).unwrap()),
        [1, 1, 1, 0, 0]
    );
    let err = net
        .update_call(id, user(), "inc_then_trap", vec![])
        .unwrap_err();
    assert_eq!(err.code, reject_code::CANISTER_ERROR);
    assert!(err.message.contains("oops"), "{err:?}");
    assert_eq!(read(&mut net, id), [1, 1, 1, 0, 0]);
    // The timer set by the trapped execution was rolled back: nothing fires.
    net.advance_time(std::time::Duration::from_secs(5));
    net.tick();
    assert_eq!(read(&mut net, id), [1, 1, 1, 0, 0]);
    // The canister keeps working after the heap growth was undone.
    assert_eq!(
        state(&net.update_call(id, user(), "inc", vec![]).unwrap()),
        [2, 2, 2, 0, 0]
    );
}

#[test]
fn query_state_is_discarded() {
    let (mut net, id) = setup();
    net.update_call(id, user(), "inc", vec![]).unwrap();
    let seen = state(&net.query_call(id, user(), "inc_in_query", vec![]).unwrap());
    assert_eq!(seen, [2, 2, 2, 0, 0]);
    assert_eq!(read(&mut net, id), [1, 1, 1, 0, 0]);
}

#[test]
fn a_trapping_reply_callback_is_rolled_back_and_its_cleanup_runs() {
    let (mut net, id) = setup();
    let err = net
        .update_call(id, user(), "call_self_trap_in_reply", vec![])
        .unwrap_err();
    assert_eq!(err.code, reject_code::CANISTER_ERROR);
    // The self-call's `inc` committed (+1); the callback's bump did not; the cleanup's marker did.
    assert_eq!(read(&mut net, id), [1, 1, 1, 7, 0]);
}

#[test]
fn the_global_timer_fires_once_when_due() {
    let (mut net, id) = setup();
    net.update_call(id, user(), "set_timer", vec![]).unwrap();
    net.tick();
    assert_eq!(read(&mut net, id)[4], 0, "not yet due");
    net.advance_time(std::time::Duration::from_secs(2));
    net.tick();
    net.tick();
    assert_eq!(read(&mut net, id)[4], 1, "fired once, and deactivated");
}

#[test]
fn upgrades_are_atomic_and_keep_only_stable_memory() {
    let (mut net, id) = setup();
    net.update_call(id, user(), "inc", vec![]).unwrap();
    net.update_call(id, user(), "inc", vec![]).unwrap();
    // post_upgrade traps: the old canister is restored exactly, heap included.
    let err = net
        .upgrade_canister(id, &wasm(), vec![1], controller())
        .unwrap_err();
    assert!(err.message.contains("oops"));
    assert_eq!(read(&mut net, id), [2, 2, 2, 0, 0]);
    // pre_upgrade traps: nothing changes either.
    net.update_call(id, user(), "arm_pre_upgrade_trap", vec![])
        .unwrap();
    assert!(net
        .upgrade_canister(id, &wasm(), vec![], controller())
        .is_err());
    assert_eq!(read(&mut net, id), [2, 2, 2, 0, 0]);
    // Disarm by reinstalling the heap through a successful upgrade of a canister without the flag.
    let (mut net, id) = setup();
    net.update_call(id, user(), "inc", vec![]).unwrap();
    net.update_call(id, user(), "set_timer", vec![]).unwrap();
    net.upgrade_canister(id, &wasm(), vec![], controller())
        .unwrap();
    // Fresh heap and globals, stable memory kept, timer cleared.
    assert_eq!(read(&mut net, id), [0, 0, 1, 0, 0]);
    net.advance_time(std::time::Duration::from_secs(5));
    net.tick();
    assert_eq!(read(&mut net, id)[4], 0);
    // Only controllers upgrade.
    assert!(net.upgrade_canister(id, &wasm(), vec![], user()).is_err());
}

#[test]
fn unknown_apis_missing_replies_and_runaway_loops_are_clear_errors() {
    let (mut net, id) = setup();
    let err = net
        .update_call(id, user(), "uses_unknown_api", vec![])
        .unwrap_err();
    assert!(
        err.message
            .contains("ic0.not_a_real_api is not implemented by localnet"),
        "{err:?}"
    );
    let err = net.update_call(id, user(), "no_reply", vec![]).unwrap_err();
    assert!(err.message.contains("did not reply"), "{err:?}");
    net.set_update_instruction_limit(50_000_000);
    let err = net.update_call(id, user(), "burn", vec![]).unwrap_err();
    assert!(err.message.contains("instruction limit"), "{err:?}");
    let err = net.update_call(id, user(), "missing", vec![]).unwrap_err();
    assert_eq!(err.code, reject_code::DESTINATION_INVALID);
    // The canister is unharmed.
    assert_eq!(read(&mut net, id), [0, 0, 0, 0, 0]);
}

#[test]
fn instruction_counts_follow_the_ic_weights_and_are_deterministic() {
    let (mut net, id) = setup();
    let (_, empty) = net.update_call_with_report(id, user(), "no_reply", vec![]);
    assert_eq!(empty.instructions(), 0);
    let (_, calls) = net.update_call_with_report(id, user(), "weigh_calls", vec![]);
    assert_eq!(
        calls.instructions(),
        11 * 5 + localnet::cost::SYSTEM_API_OVERHEAD
    );
    let (_, weighed) = net.update_call_with_report(id, user(), "weigh", vec![]);
    assert_eq!(
        weighed.instructions(),
        1 + 1 + 10 + 1 + 5 + localnet::cost::SYSTEM_API_OVERHEAD,
        "{weighed:?}"
    );
    net.update_call(id, user(), "inc", vec![]).unwrap();
    let (_, first) = net.update_call_with_report(id, user(), "inc", vec![]);
    let (_, second) = net.update_call_with_report(id, user(), "inc", vec![]);
    assert_eq!(first.executions.len(), 1);
    assert_eq!(first.instructions(), second.instructions());
    assert!(
        first.instructions() > 100 && first.instructions() < 100_000,
        "{first:?}"
    );
    assert_eq!(
        first.cycles(),
        localnet::cost::UPDATE_MESSAGE_FEE + first.instructions() as u128
    );
}
