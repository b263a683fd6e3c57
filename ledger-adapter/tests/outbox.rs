//! The outbox against the in-memory ICRC ledger with injected faults: every intent completes exactly
//! once or fails having moved nothing.
#![cfg(feature = "memory-ledger")]

use candid::Principal;
use futures::executor::block_on;
use ic_stable_structures::memory_manager::{MemoryId, MemoryManager};
use ic_stable_structures::DefaultMemoryImpl;
use icrc_ledger_types::icrc1::account::Account;
use icrc_ledger_types::icrc2::approve::ApproveArgs;
use ledger_adapter::memory::{Fault, MemoryLedger};
use ledger_adapter::outbox::*;
use ledger_adapter::{LedgerRuntime, PERMITTED_DRIFT_NANOS, TRANSACTION_WINDOW_NANOS};
use proptest::prelude::*;
use std::cell::RefCell;

const SEC: u64 = 1_000_000_000;
const START: u64 = 1_750_000_000 * SEC;
const FEE: u128 = 10;

struct Host {
    outbox: Outbox,
}

impl OutboxHost for Host {
    fn outbox(&mut self) -> &mut Outbox {
        &mut self.outbox
    }
}

/// Opens the outbox in `memory`: a fresh canister, or the same one after an upgrade.
fn host_in(memory: &DefaultMemoryImpl) -> RefCell<Host> {
    let mm = MemoryManager::init_with_bucket_size(memory.clone(), 1);
    RefCell::new(Host {
        outbox: Outbox::init(
            mm.get(MemoryId::new(0)),
            mm.get(MemoryId::new(1)),
            mm.get(MemoryId::new(2)),
        ),
    })
}

fn canister() -> Principal {
    Principal::from_slice(&[1; 10])
}

fn acc(n: u8) -> Account {
    Account {
        owner: Principal::from_slice(&[n; 29]),
        subaccount: None,
    }
}

fn own() -> Account {
    Account {
        owner: canister(),
        subaccount: None,
    }
}

fn setup(balance: u128) -> (MemoryLedger, DefaultMemoryImpl) {
    let ledger = MemoryLedger::new(FEE, START);
    ledger.mint(own(), balance);
    (ledger, DefaultMemoryImpl::default())
}

fn pay(host: &RefCell<Host>, to: Account, gross: u128, memo: u64, fee: u128) -> IntentId {
    host.borrow_mut()
        .outbox
        .enqueue(
            TransferKind::Transfer {
                from_subaccount: None,
                to,
            },
            gross,
            FeePolicy::DeductedFromAmount,
            &memo.to_be_bytes(),
            fee,
            START,
        )
        .unwrap()
        .id
}

/// Blocks whose memo starts with the intent's base memo: the times it executed.
fn executions(ledger: &MemoryLedger, base_memo: &[u8]) -> usize {
    ledger.blocks_with_memo_prefix(base_memo)
}

fn drive_now(ledger: &MemoryLedger, host: &RefCell<Host>, id: IntentId) -> TransferIntent {
    block_on(drive(&ledger.client(canister()), host, id))
}

fn completed(intent: &TransferIntent) -> (u128, u128) {
    match &intent.status {
        IntentStatus::Completed { fee, amount, .. } => (*amount, *fee),
        other => panic!("intent {} not completed: {other:?}", intent.id),
    }
}

#[test]
fn an_unknown_outcome_is_resolved_by_resending_the_identical_payload() {
    for fault in [
        Fault::UnknownAfterExecution,
        Fault::UnknownBeforeExecution,
        Fault::TemporarilyUnavailable,
    ] {
        let (ledger, memory) = setup(1_000);
        let host = host_in(&memory);
        let id = pay(&host, acc(2), 500, 1, FEE);
        ledger.inject(fault.clone());
        let intent = drive_now(&ledger, &host, id);
        assert_eq!(completed(&intent), (490, FEE), "{fault:?}");
        assert_eq!(intent.generation, 0, "the payload never changed");
        assert_eq!(ledger.balance(&acc(2)), 490);
        assert_eq!(ledger.balance(&own()), 500);
        assert_eq!(executions(&ledger, &1u64.to_be_bytes()), 1);
        ledger.check_invariants().unwrap();
    }
}

#[test]
fn bad_fee_after_an_unknown_outcome_is_settled_from_the_block_log_not_paid_twice() {
    let (ledger, memory) = setup(1_000);
    let host = host_in(&memory);
    let id = pay(&host, acc(2), 500, 7, FEE);
    // The first send executes but its reply is lost; then the fee rises, so the identical resend is
    // refused with BadFee (ledgers check the fee before deduplication).
    ledger.inject(Fault::UnknownAfterExecution);
    ledger.inject(Fault::SetFee(25));
    let intent = drive_now(&ledger, &host, id);
    assert_eq!(completed(&intent), (490, FEE));
    assert_eq!(ledger.balance(&acc(2)), 490);
    assert_eq!(executions(&ledger, &7u64.to_be_bytes()), 1);
    ledger.check_invariants().unwrap();
}

#[test]
fn bad_fee_after_a_send_that_never_arrived_rebuilds_with_the_new_fee() {
    let (ledger, memory) = setup(1_000);
    let host = host_in(&memory);
    let id = pay(&host, acc(2), 500, 8, FEE);
    ledger.inject(Fault::UnknownBeforeExecution);
    ledger.inject(Fault::SetFee(25));
    let intent = drive_now(&ledger, &host, id);
    // The sender's debit stays the gross amount; the recipient bears the new fee.
    assert_eq!(completed(&intent), (475, 25));
    assert_eq!(intent.generation, 1);
    assert_eq!(ledger.balance(&acc(2)), 475);
    assert_eq!(ledger.balance(&own()), 500);
    assert_eq!(executions(&ledger, &8u64.to_be_bytes()), 1);
}

#[test]
fn a_fee_above_the_amount_fails_the_intent_and_moves_nothing() {
    let (ledger, memory) = setup(1_000);
    let host = host_in(&memory);
    let id = pay(&host, acc(2), 30, 9, FEE);
    ledger.set_fee(40);
    let intent = drive_now(&ledger, &host, id);
    assert!(matches!(intent.status, IntentStatus::Failed { .. }));
    assert_eq!(ledger.balance(&own()), 1_000);
    assert_eq!(host.borrow_mut().outbox.pending_count(), 0);
}

#[test]
fn insufficient_funds_fails_definitely() {
    let (ledger, memory) = setup(100);
    let host = host_in(&memory);
    let id = pay(&host, acc(2), 500, 1, FEE);
    let intent = drive_now(&ledger, &host, id);
    assert!(
        matches!(intent.status, IntentStatus::Failed { ref reason } if reason.contains("insufficient"))
    );
    assert_eq!(ledger.balance(&own()), 100);
}

#[test]
fn past_the_window_an_unknown_outcome_is_reconciled_before_anything_new_is_built() {
    for executed in [true, false] {
        let (ledger, memory) = setup(1_000);
        let host = host_in(&memory);
        let id = pay(&host, acc(2), 500, 3, FEE);
        let fault = if executed {
            Fault::UnknownAfterExecution
        } else {
            Fault::UnknownBeforeExecution
        };
        for _ in 0..SENDS_PER_DRIVE {
            ledger.inject(fault.clone());
        }
        if executed {
            // Only the first send executes; the resends see Duplicate but their replies are lost too.
            let intent = drive_now(&ledger, &host, id);
            assert_eq!(intent.status, IntentStatus::Pending);
        } else {
            assert_eq!(drive_now(&ledger, &host, id).status, IntentStatus::Pending);
        }
        ledger.advance(TRANSACTION_WINDOW_NANOS + PERMITTED_DRIFT_NANOS + SEC);
        let intent = drive_now(&ledger, &host, id);
        assert_eq!(completed(&intent).0, 490, "executed = {executed}");
        // Executed: found in the log, same payload. Not executed: a new payload after the search.
        assert_eq!(intent.generation, if executed { 0 } else { 1 });
        assert_eq!(ledger.balance(&acc(2)), 490);
        assert_eq!(executions(&ledger, &3u64.to_be_bytes()), 1);
    }
}

#[test]
fn an_upgrade_with_an_intent_in_flight_completes_it_exactly_once() {
    let (ledger, memory) = setup(1_000);
    let id = {
        let host = host_in(&memory);
        let id = pay(&host, acc(2), 500, 4, FEE);
        // The call executes; the canister is upgraded before the reply arrives.
        ledger.inject(Fault::LostReply);
        ledger.inject(Fault::UnknownBeforeExecution);
        ledger.inject(Fault::UnknownBeforeExecution);
        let intent = drive_now(&ledger, &host, id);
        assert_eq!(intent.status, IntentStatus::Pending);
        assert!(intent.maybe_executed);
        id
    };
    ledger.set_fee(15);
    let host = host_in(&memory);
    assert_eq!(host.borrow_mut().outbox.pending_ids(10), vec![id]);
    let intent = drive_now(&ledger, &host, id);
    assert_eq!(completed(&intent), (490, FEE));
    assert_eq!(executions(&ledger, &4u64.to_be_bytes()), 1);
    ledger.check_invariants().unwrap();
}

#[test]
fn a_concurrent_drive_of_the_same_intent_returns_at_once() {
    let (ledger, memory) = setup(1_000);
    let host = host_in(&memory);
    let id = pay(&host, acc(2), 500, 5, FEE);
    let client = ledger.client(canister());
    let open = ledger.hold_next_update();
    let first = drive(&client, &host, id);
    let second = async {
        // Runs while the first drive's send waits at the gate.
        let intent = drive(&client, &host, id).await;
        open.send(()).unwrap();
        intent
    };
    let (first, second) = block_on(futures::future::join(first, second));
    assert_eq!(second.status, IntentStatus::Pending);
    assert_eq!(second.sends, 1, "the second drive sent nothing");
    assert_eq!(completed(&first), (490, FEE));
    assert_eq!(executions(&ledger, &5u64.to_be_bytes()), 1);
}

#[test]
fn transfer_from_intents_spend_an_allowance_once() {
    let (ledger, memory) = setup(0);
    let user = acc(9);
    ledger.mint(user, 5_000);
    let approve = ApproveArgs {
        from_subaccount: None,
        spender: own(),
        amount: 1_000u32.into(),
        expected_allowance: None,
        expires_at: None,
        fee: None,
        memo: None,
        created_at_time: None,
    };
    block_on(ledger.client(user.owner).icrc2_approve(approve))
        .unwrap()
        .unwrap();
    let host = host_in(&memory);
    let kind = TransferKind::TransferFrom {
        spender_subaccount: None,
        from: user,
        to: own(),
    };
    let id = host
        .borrow_mut()
        .outbox
        .enqueue(
            kind.clone(),
            600,
            FeePolicy::PaidBySender,
            b"deposit1",
            FEE,
            START,
        )
        .unwrap()
        .id;
    ledger.inject(Fault::UnknownAfterExecution);
    let intent = drive_now(&ledger, &host, id);
    assert_eq!(completed(&intent), (600, FEE));
    assert_eq!(ledger.balance(&own()), 600);
    assert_eq!(ledger.balance(&user), 5_000 - 10 - 600 - 10);
    // The rest of the allowance (1_000 − 610) does not cover another 600 + fee.
    let id = host
        .borrow_mut()
        .outbox
        .enqueue(kind, 600, FeePolicy::PaidBySender, b"deposit2", FEE, START)
        .unwrap()
        .id;
    let intent = drive_now(&ledger, &host, id);
    assert!(
        matches!(intent.status, IntentStatus::Failed { ref reason } if reason.contains("allowance"))
    );
    assert_eq!(ledger.balance(&own()), 600);
}

#[test]
fn bad_intents_are_refused_before_anything_is_stored() {
    let memory = DefaultMemoryImpl::default();
    let host = host_in(&memory);
    let kind = TransferKind::Transfer {
        from_subaccount: None,
        to: acc(2),
    };
    let mut h = host.borrow_mut();
    assert_eq!(
        h.outbox.enqueue(
            kind.clone(),
            10,
            FeePolicy::DeductedFromAmount,
            b"m",
            10,
            START
        ),
        Err(OutboxError::AmountBelowFee {
            amount: 10,
            fee: 10
        })
    );
    assert_eq!(
        h.outbox.enqueue(
            kind.clone(),
            100,
            FeePolicy::DeductedFromAmount,
            &[0; 29],
            10,
            START
        ),
        Err(OutboxError::MemoTooLong { max: 28 })
    );
    assert_eq!(
        h.outbox
            .enqueue(kind, u128::MAX, FeePolicy::PaidBySender, b"m", 10, START),
        Err(OutboxError::Overflow)
    );
    assert_eq!(h.outbox.pending_count(), 0);
}

fn fault_strategy() -> impl Strategy<Value = Option<Fault>> {
    prop_oneof![
        4 => Just(None),
        2 => Just(Some(Fault::UnknownAfterExecution)),
        2 => Just(Some(Fault::UnknownBeforeExecution)),
        1 => Just(Some(Fault::TemporarilyUnavailable)),
        1 => Just(Some(Fault::LostReply)),
        1 => (5u128..40).prop_map(|f| Some(Fault::SetFee(f))),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Several intents, random faults on every send, random clock jumps (some past the window),
    /// upgrades between drives: each intent ends executed exactly once (Completed) or never (Failed),
    /// and the ledger's balances agree with the outbox's record of what was paid.
    #[test]
    fn every_intent_executes_exactly_once_under_random_faults(
        grosses in proptest::collection::vec(20u128..400, 1..5),
        faults in proptest::collection::vec(fault_strategy(), 0..30),
        jumps in proptest::collection::vec(prop_oneof![3 => Just(0u64), 1 => Just(SEC), 1 => Just(TRANSACTION_WINDOW_NANOS + 2 * PERMITTED_DRIFT_NANOS)], 1..12),
        upgrades in proptest::collection::vec(any::<bool>(), 12),
    ) {
        let (ledger, memory) = setup(10_000);
        let mut host = host_in(&memory);
        let ids: Vec<IntentId> = grosses
            .iter()
            .enumerate()
            .map(|(i, g)| pay(&host, acc(2), *g, i as u64, FEE))
            .collect();
        for fault in faults.into_iter().flatten() {
            ledger.inject(fault);
        }
        let mut round = 0;
        while host.borrow_mut().outbox.pending_count() > 0 {
            prop_assert!(round < 60, "intents never resolved");
            for id in &ids {
                drive_now(&ledger, &host, *id);
            }
            ledger.advance(jumps[round % jumps.len()]);
            if upgrades[round % upgrades.len()] {
                host = host_in(&memory);
            }
            round += 1;
        }
        let mut paid_to_recipient = 0;
        let mut debited = 0;
        for (i, id) in ids.iter().enumerate() {
            let intent = host.borrow_mut().outbox.get(*id).unwrap();
            let runs = executions(&ledger, &(i as u64).to_be_bytes());
            match intent.status {
                IntentStatus::Completed { fee, amount, .. } => {
                    prop_assert_eq!(runs, 1);
                    prop_assert_eq!(amount + fee, intent.gross);
                    paid_to_recipient += amount;
                    debited += amount + fee;
                }
                IntentStatus::Failed { .. } => prop_assert_eq!(runs, 0),
                IntentStatus::Pending => unreachable!(),
            }
        }
        prop_assert_eq!(ledger.balance(&acc(2)), paid_to_recipient);
        prop_assert_eq!(ledger.balance(&own()), 10_000 - debited);
        prop_assert!(ledger.check_invariants().is_ok());
    }
}
