//! Metering natively: holds, charges, batches, and the property test over random operations.

use super::*;

#[test]
fn prices_round_up_exactly() {
    assert_eq!(price_of(&PRICE, 0, 0), Some(0));
    assert_eq!(price_of(&PRICE, 1, 0), Some(2));
    assert_eq!(price_of(&PRICE, 500, 700), Some(1_000 + 4_200));
    assert_eq!(price_of(&PRICE, 1, 1), Some(8));
    let huge = Price {
        per_1k_input_tokens: u64::MAX,
        per_1k_output_tokens: u64::MAX,
    };
    assert_eq!(price_of(&huge, u64::MAX, u64::MAX), None);
    assert!(price_of(&huge, u64::MAX, 0).unwrap() > u64::MAX as u128);
}

#[test]
fn a_call_holds_the_maximum_charges_the_usage_and_releases_the_rest() {
    let memory = DefaultMemoryImpl::default();
    let mut m = metering(&memory);
    m.credit_deposit(&user(1), 100_000).unwrap();
    let hold = m.hold(&user(1), 0, 20_000, 1).unwrap();
    assert_eq!(
        m.balance(&user(1)),
        UserBalance {
            available: 80_000,
            held: 20_000
        }
    );
    let charged = m
        .charge(hold.id, &usage(500, 700), &PRICE, CALL_FEE, node(), 0, 2)
        .unwrap();
    assert_eq!(charged.charged, 5_200 + CALL_FEE);
    assert_eq!(charged.released, 20_000 - 5_250);
    assert_eq!(charged.receipt.map(|r| r.amount), Some(5_200));
    assert_eq!(
        m.balance(&user(1)),
        UserBalance {
            available: 100_000 - 5_250,
            held: 0
        }
    );
    let l = m.liabilities();
    assert_eq!(
        (l.unsettled, l.fee_reserve, l.total),
        (5_200, CALL_FEE, 100_000)
    );
    // Charging the same hold twice is impossible: it is gone.
    assert_eq!(
        m.charge(hold.id, &usage(1, 1), &PRICE, CALL_FEE, node(), 0, 3),
        Err(MeteringError::UnknownHold { hold: hold.id })
    );
}

/// A signed usage above the hold is charged the hold, the most the user agreed to: the node did the
/// work and is not at fault; a usage priced 0 (a free model) leaves no receipt, only the call fee.
#[test]
fn usage_above_the_hold_charges_the_hold_and_free_usage_leaves_no_receipt() {
    let memory = DefaultMemoryImpl::default();
    let mut m = metering(&memory);
    m.credit_deposit(&user(1), 10_000).unwrap();
    let hold = m.hold(&user(1), 0, 100 + CALL_FEE, 0).unwrap();
    let charged = m
        .charge(
            hold.id,
            &usage(1_000, 1_000),
            &PRICE,
            CALL_FEE,
            node(),
            0,
            1,
        )
        .unwrap();
    assert_eq!((charged.charged, charged.released), (100 + CALL_FEE, 0));
    assert_eq!(charged.receipt.map(|r| r.amount), Some(100));
    let free = Price {
        per_1k_input_tokens: 0,
        per_1k_output_tokens: 0,
    };
    let hold = m.hold(&user(1), 0, 1_000, 2).unwrap();
    let charged = m
        .charge(hold.id, &usage(10, 10), &free, CALL_FEE, node(), 0, 3)
        .unwrap();
    assert_eq!(charged.receipt, None);
    assert_eq!(
        (charged.charged, charged.released),
        (CALL_FEE, 1_000 - CALL_FEE)
    );
    assert_eq!(m.open_receipt_count(), 1);
    let l = m.liabilities();
    assert_eq!(
        (l.unsettled, l.fee_reserve, l.total),
        (100, 2 * CALL_FEE, 10_000)
    );
}

#[test]
fn bad_requests_are_typed_errors_and_change_nothing() {
    let memory = DefaultMemoryImpl::default();
    let mut m = metering(&memory);
    m.credit_deposit(&user(1), 1_000).unwrap();
    let before = m.liabilities();
    assert_eq!(
        m.hold(&Principal::anonymous(), 0, 10, 0),
        Err(MeteringError::AnonymousCaller)
    );
    assert_eq!(m.hold(&user(1), 0, 0, 0), Err(MeteringError::ZeroAmount));
    assert_eq!(
        m.hold(&user(1), 0, 1_001, 0),
        Err(MeteringError::InsufficientBalance {
            available: 1_000,
            needed: 1_001
        })
    );
    assert_eq!(
        m.credit_deposit(&user(1), 0),
        Err(MeteringError::ZeroAmount)
    );
    assert_eq!(
        m.credit_deposit(&user(1), u128::MAX),
        Err(MeteringError::Overflow)
    );
    assert_eq!(
        m.begin_withdrawal(&user(1), 5_000),
        Err(MeteringError::InsufficientBalance {
            available: 1_000,
            needed: 5_000
        })
    );
    assert_eq!(m.liabilities(), before);
    // No batch without receipts; no batch while the reserve cannot pay the transfer fee.
    assert_eq!(m.close_batch(10, 10, 0), Ok(None));
}

#[test]
fn batches_take_each_receipt_once_and_reserve_the_transfer_fee() {
    let memory = DefaultMemoryImpl::default();
    let mut m = metering(&memory);
    m.credit_deposit(&user(1), 1_000_000).unwrap();
    for _ in 0..5 {
        let h = m.hold(&user(1), 0, 50_000, 0).unwrap();
        m.charge(h.id, &usage(100, 100), &PRICE, CALL_FEE, node(), 0, 0)
            .unwrap();
    }
    assert_eq!(
        m.close_batch(3, 1_000, 0),
        Err(MeteringError::FeeReserveTooLow {
            reserve: 250,
            fee: 1_000
        })
    );
    let b0 = m.close_batch(3, 100, 0).unwrap().unwrap();
    let b1 = m.close_batch(3, 100, 0).unwrap().unwrap();
    assert_eq!((b0.receipts.len(), b1.receipts.len()), (3, 2));
    assert_eq!(m.close_batch(3, 10, 0), Ok(None));
    let ids: Vec<u64> = b0
        .receipts
        .iter()
        .chain(&b1.receipts)
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, vec![0, 1, 2, 3, 4]);
    // The transfer completes with a fee that rose: the reserve covers the difference.
    let t = m.batch_transferred(b0.id, Nat::from(7u8), 110).unwrap();
    assert!(matches!(t.status, BatchStatus::Transferred { .. }));
    assert_eq!(
        m.batch_transferred(b0.id, Nat::from(7u8), 110).unwrap(),
        t,
        "idempotent"
    );
    assert_eq!(m.liabilities().fee_reserve, 250 - 200 - 10);
    assert_eq!(m.batch_settled(b0.id).unwrap().status, BatchStatus::Settled);
    assert_eq!(m.batch_settled(b0.id).unwrap().status, BatchStatus::Settled);
}

#[test]
fn all_state_survives_reopening_stable_memory() {
    let memory = DefaultMemoryImpl::default();
    let (liabilities, hold) = {
        let mut m = metering(&memory);
        m.credit_deposit(&user(1), 10_000).unwrap();
        let h = m.hold(&user(1), 3, 4_000, 9).unwrap();
        let h2 = m.hold(&user(1), 3, 1_000, 9).unwrap();
        m.charge(h2.id, &usage(10, 10), &PRICE, CALL_FEE, node(), 1, 10)
            .unwrap();
        (m.liabilities(), h)
    };
    let m = metering(&memory);
    assert_eq!(m.liabilities(), liabilities);
    assert_eq!(m.get_hold(hold.id), Some(hold));
    assert_eq!(m.open_receipt_count(), 1);
}

#[derive(Clone, Debug)]
enum Op {
    Deposit(u8, u128),
    Hold(u8, u128),
    Charge(usize, u64, u64),
    Release(usize),
    Close(usize, u128),
    Transfer(usize, u128),
    Rearm(usize, u128),
    Settle(usize),
    Withdraw(u8, u128, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..3, 1u128..50_000).prop_map(|(u, a)| Op::Deposit(u, a)),
        (0u8..3, 1u128..30_000).prop_map(|(u, a)| Op::Hold(u, a)),
        (0usize..8, 0u64..3_000, 0u64..3_000).prop_map(|(h, i, o)| Op::Charge(h, i, o)),
        (0usize..8).prop_map(Op::Release),
        (1usize..5, 0u128..120).prop_map(|(n, f)| Op::Close(n, f)),
        (0usize..6, 0u128..140).prop_map(|(b, f)| Op::Transfer(b, f)),
        (0usize..6, 0u128..140).prop_map(|(b, f)| Op::Rearm(b, f)),
        (0usize..6).prop_map(Op::Settle),
        (0u8..3, 1u128..20_000, any::<bool>()).prop_map(|(u, a, ok)| Op::Withdraw(u, a, ok)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Random deposits, holds, charges, releases, batches, transfers (with changing fees), settlements
    /// and withdrawals: the ledger balance equals what the proxy owes after every step; the stored
    /// records add up to the totals; every receipt lands in exactly one batch; nothing is charged
    /// without a hold.
    #[test]
    fn conservation_holds_at_every_step(ops in proptest::collection::vec(op(), 1..60)) {
        let memory = DefaultMemoryImpl::default();
        let mut m = metering(&memory);
        let mut ledger: u128 = 0;
        let mut holds: Vec<u64> = vec![];
        let mut batches: Vec<u64> = vec![];
        let mut charged_receipts = 0u64;
        for op in ops {
            match op {
                Op::Deposit(u, a) => {
                    m.credit_deposit(&user(u), a).unwrap();
                    ledger += a;
                }
                Op::Hold(u, a) => {
                    if let Ok(h) = m.hold(&user(u), 0, a, 0) { holds.push(h.id); }
                }
                Op::Charge(i, input, output) => {
                    if let Some(&h) = holds.get(i) {
                        if let Ok(c) = m.charge(h, &usage(input, output), &PRICE, CALL_FEE, node(), 0, 0) {
                            holds.retain(|x| *x != h);
                            charged_receipts += u64::from(c.receipt.is_some());
                        }
                    }
                }
                Op::Release(i) => {
                    if let Some(&h) = holds.get(i) {
                        m.release(h).unwrap();
                        holds.retain(|x| *x != h);
                    }
                }
                Op::Close(n, fee) => {
                    if let Ok(Some(b)) = m.close_batch(n, fee, 0) { batches.push(b.id); }
                }
                Op::Transfer(i, fee) => {
                    if let Some(&b) = batches.get(i) {
                        let before = m.batch(b).unwrap();
                        if let BatchStatus::AwaitingTransfer { .. } = before.status {
                            if m.batch_transferred(b, Nat::from(0u8), fee).is_ok() {
                                ledger -= before.total + fee;
                            }
                        }
                    }
                }
                Op::Rearm(i, fee) => {
                    // A failed transfer goes out again with another fee, from the reserve.
                    if let Some(&b) = batches.get(i) { let _ = m.rearm_batch(b, fee); }
                }
                Op::Settle(i) => {
                    if let Some(&b) = batches.get(i) { m.batch_settled(b).unwrap(); }
                }
                Op::Withdraw(u, a, completes) => {
                    if m.begin_withdrawal(&user(u), a).is_ok() {
                        prop_assert_eq!(m.liabilities().total, ledger);
                        m.end_withdrawal(&user(u), a, completes);
                        if completes { ledger -= a; }
                    }
                }
            }
            let l = m.liabilities();
            prop_assert_eq!(l.total, ledger, "ledger balance = what the proxy owes");
            prop_assert_eq!(m.recount(), (l.available, l.held, l.unsettled, l.batched));
        }
        let mut seen = std::collections::BTreeSet::new();
        for b in &batches {
            for r in m.batch(*b).unwrap().receipts {
                prop_assert!(seen.insert(r.id), "receipt in two batches");
            }
        }
        prop_assert_eq!(seen.len() as u64 + m.open_receipt_count(), charged_receipts);
    }
}

// ------------------------------------------------------------------ deposits and withdrawals
