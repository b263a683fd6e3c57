//! The icrc-ledger wasm in localnet: the public ICRC-1/2 acceptance suite, ICRC-3 blocks, upgrade.

use candid::{Encode, Nat};
use icrc_ledger_types::icrc1::transfer::{TransferArg, TransferError};
use localnet::LocalNet;
use std::cell::RefCell;
use std::rc::Rc;
use tests::*;

#[test]
fn the_ledger_wasm_passes_the_icrc1_and_icrc2_acceptance_suite() {
    let mut net = LocalNet::new(1);
    let funded = principal(1);
    let ledger = deploy_ledger(
        &mut net,
        "NNT",
        10_000,
        vec![(account(funded), 1_000_000_000_000)],
    );
    let env = LocalnetLedgerEnv {
        net: Rc::new(RefCell::new(net)),
        ledger,
        caller: funded,
        next_principal: Rc::new(RefCell::new(1_000)),
    };
    let tests = futures::executor::block_on(icrc1_test_suite::test_suite(env));
    let count = tests.len();
    assert_eq!(count, 16, "8 ICRC-1 and 8 ICRC-2 tests");
    assert!(
        futures::executor::block_on(icrc1_test_suite::execute_tests(tests)),
        "the acceptance suite failed against the wasm (TAP output above)"
    );
    println!("acceptance suite against the icrc-ledger wasm: {count}/{count} passed");
}

#[test]
fn ledger_upgrade_keeps_balances_and_dedup_and_applies_the_new_fee() {
    let mut net = LocalNet::new(2);
    let alice = principal(1);
    let ledger = deploy_ledger(&mut net, "NNT", 10_000, vec![(account(alice), 1_000_000)]);
    let arg = TransferArg {
        from_subaccount: None,
        to: account(principal(2)),
        fee: None,
        created_at_time: Some(net.time()),
        memo: None,
        amount: Nat::from(5_000u32),
    };
    let (first,): (Result<Nat, TransferError>,) = net
        .update(ledger, alice, "icrc1_transfer", (arg.clone(),))
        .unwrap();
    let index = first.unwrap();
    let upgrade = neuranft_types::ledger::LedgerArg::Upgrade(Some(
        neuranft_types::ledger::LedgerUpgradeArgs {
            transfer_fee: Some(Nat::from(20_000u32)),
            ..Default::default()
        },
    ));
    net.upgrade_canister(
        ledger,
        &canister_wasm("icrc-ledger"),
        Encode!(&Some(upgrade)).unwrap(),
        admin(),
    )
    .unwrap();
    let (balance,): (Nat,) = net
        .query(ledger, alice, "icrc1_balance_of", (account(alice),))
        .unwrap();
    assert_eq!(balance, Nat::from(1_000_000u32 - 5_000 - 10_000));
    let (fee,): (Nat,) = net.query(ledger, alice, "icrc1_fee", ()).unwrap();
    assert_eq!(fee, Nat::from(20_000u32));
    let (again,): (Result<Nat, TransferError>,) =
        net.update(ledger, alice, "icrc1_transfer", (arg,)).unwrap();
    assert_eq!(
        again,
        Err(TransferError::Duplicate {
            duplicate_of: index
        })
    );
}
