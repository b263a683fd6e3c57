//! Deposits and withdrawals through the outbox against the in-memory ledger.

use crate::flows;
use crate::state::{MoneyError, ProxyConfig, ProxyState};
use candid::{Nat, Principal};
use futures::executor::block_on;
use ic_stable_structures::DefaultMemoryImpl;
use icrc_ledger_types::icrc2::approve::ApproveArgs;
use ledger_adapter::memory::{Fault, MemoryLedger};
use ledger_adapter::LedgerRuntime;
use neuranft_types::Account;
use std::cell::RefCell;

const FEE: u128 = 10;

fn proxy() -> Principal {
    Principal::from_slice(&[0x70; 10])
}

fn alice() -> Principal {
    Principal::from_slice(&[0xA1; 29])
}

fn acc(p: Principal) -> Account {
    Account {
        owner: p,
        subaccount: None,
    }
}

fn setup() -> (RefCell<ProxyState>, MemoryLedger) {
    let mut s = ProxyState::open_small(DefaultMemoryImpl::default());
    s.initialize(ProxyConfig {
        ledger: Principal::from_slice(&[0x10; 10]),
        royalties: Principal::from_slice(&[0x20; 10]),
        governance: Principal::from_slice(&[0x30; 10]),
        call_fee: 50,
        max_prompt_bytes: 100_000,
        max_output_tokens: 4_096,
        max_receipts_per_batch: 500,
        flush_interval_seconds: 60,
        failures_before_suspension: 3,
        max_nodes_per_call: 3,
        calls_per_user_per_minute: 60,
    })
    .unwrap();
    let ledger = MemoryLedger::new(FEE, 1_750_000_000_000_000_000);
    ledger.mint(acc(alice()), 100_000);
    let approve = ApproveArgs {
        from_subaccount: None,
        spender: acc(proxy()),
        amount: Nat::from(100_000u32),
        expected_allowance: None,
        expires_at: None,
        fee: None,
        memo: None,
        created_at_time: None,
    };
    block_on(ledger.client(alice()).icrc2_approve(approve))
        .unwrap()
        .unwrap();
    (RefCell::new(s), ledger)
}

fn check_conservation(s: &RefCell<ProxyState>, ledger: &MemoryLedger) {
    assert_eq!(
        ledger.balance(&acc(proxy())),
        s.borrow().metering.liabilities().total
    );
    ledger.check_invariants().unwrap();
}

#[test]
fn deposit_then_withdraw_moves_exactly_what_the_balances_say() {
    let (s, ledger) = setup();
    let client = ledger.client(proxy());
    block_on(flows::deposit(&s, &client, alice(), 60_000, 0)).unwrap();
    assert_eq!(s.borrow().metering.balance(&alice()).available, 60_000);
    assert_eq!(ledger.balance(&acc(alice())), 100_000 - 10 - 60_000 - FEE);
    check_conservation(&s, &ledger);
    block_on(flows::withdraw(&s, &client, alice(), 20_000, None, 0)).unwrap();
    assert_eq!(s.borrow().metering.balance(&alice()).available, 40_000);
    assert_eq!(
        ledger.balance(&acc(alice())),
        100_000 - 10 - 60_000 - FEE + 20_000 - FEE
    );
    check_conservation(&s, &ledger);
}

#[test]
fn lost_replies_and_failures_move_money_exactly_once() {
    let (s, ledger) = setup();
    let client = ledger.client(proxy());
    // The pull executes but every reply is lost: the deposit stays pending, then the timer
    // completes it once.
    for _ in 0..ledger_adapter::outbox::SENDS_PER_DRIVE {
        ledger.inject(Fault::UnknownAfterExecution);
    }
    let pending = block_on(flows::deposit(&s, &client, alice(), 30_000, 0));
    assert!(
        matches!(pending, Err(MoneyError::Pending { .. })),
        "{pending:?}"
    );
    assert_eq!(s.borrow().metering.balance(&alice()).available, 0);
    assert_eq!(block_on(flows::drive_pending(&s, &client)), 1);
    assert_eq!(s.borrow().metering.balance(&alice()).available, 30_000);
    assert_eq!(ledger.blocks_with_memo_prefix(b"NNFT-DEP"), 1);
    check_conservation(&s, &ledger);
    // More than the allowance left: a definite failure credits nothing.
    let err = block_on(flows::deposit(&s, &client, alice(), 90_000, 0)).unwrap_err();
    assert!(matches!(err, MoneyError::TransferFailed { .. }), "{err:?}");
    check_conservation(&s, &ledger);
    // Withdrawals: below the fee, beyond the balance, anonymous — typed errors, nothing moves.
    assert_eq!(
        block_on(flows::withdraw(&s, &client, alice(), FEE, None, 0)),
        Err(MoneyError::BelowFee {
            amount: FEE,
            fee: FEE
        })
    );
    assert!(block_on(flows::withdraw(&s, &client, alice(), 30_001, None, 0)).is_err());
    assert_eq!(
        block_on(flows::withdraw(
            &s,
            &client,
            Principal::anonymous(),
            100,
            None,
            0
        )),
        Err(MoneyError::AnonymousCaller)
    );
    check_conservation(&s, &ledger);
}

#[test]
fn concurrent_money_calls_by_one_caller_are_refused() {
    let (s, ledger) = setup();
    let client = ledger.client(proxy());
    let open = ledger.hold_next_update();
    let first = flows::deposit(&s, &client, alice(), 1_000, 0);
    let second = async {
        let r = flows::deposit(&s, &client, alice(), 1_000, 0).await;
        open.send(()).unwrap();
        r
    };
    let (first, second) = block_on(futures::future::join(first, second));
    assert_eq!(second, Err(MoneyError::AlreadyProcessing));
    first.unwrap();
    assert_eq!(s.borrow().metering.balance(&alice()).available, 1_000);
}
