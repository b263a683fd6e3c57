//! Settlement tests: exact crediting, idempotence, and property tests of conservation and exactness.

use super::*;
use proptest::prelude::*;

#[test]
fn settlement_credits_exactly_and_is_idempotent() {
    let mut s = fresh();
    // host 30%, owners 50% (60/40), data 10% (one data owner), treasury 10%.
    let m = register(&mut s, &[(1, 600_000), (2, 400_000)], &[(5, 10_000)]);
    let ok = s
        .settle(
            proxy(),
            batch(1, vec![receipt(1, m, 9, 1_000_000, 0, T0)]),
            T0,
        )
        .unwrap();
    assert_eq!(ok.settled_receipts, 1);
    assert_eq!(s.balance_of(&acc(9)).available, 300_000);
    assert_eq!(s.balance_of(&acc(1)).available, 300_000);
    assert_eq!(s.balance_of(&acc(2)).available, 200_000);
    assert_eq!(s.balance_of(&acc(5)).available, 100_000);
    assert_eq!(s.balance_of(&treasury()).available, 100_000);

    // Replaying the batch changes nothing and says so.
    let before = s.fingerprint();
    let again = s
        .settle(
            proxy(),
            batch(1, vec![receipt(1, m, 9, 1_000_000, 0, T0)]),
            T0,
        )
        .unwrap();
    assert!(again.already_settled);
    assert_eq!(again.log_index, ok.log_index);
    assert_eq!(s.fingerprint(), before);

    // A receipt already settled in another batch is skipped, the rest credited.
    let ok = s
        .settle(
            proxy(),
            batch(
                2,
                vec![
                    receipt(1, m, 9, 1_000_000, 0, T0),
                    receipt(2, m, 9, 3, 0, T0),
                ],
            ),
            T0,
        )
        .unwrap();
    assert_eq!(ok.duplicate_receipts, vec![1]);
    assert_eq!(ok.settled_amount, 3);
    assert_consistent(&s);
}

#[test]
fn tiny_receipts_accrue_exactly_instead_of_rounding_to_zero() {
    let mut s = fresh();
    let m = register(&mut s, &[(1, 999_999), (2, 1)], &[]);
    for i in 0..1_000u64 {
        s.settle(proxy(), batch(i, vec![receipt(i, m, 9, 1, 0, T0)]), T0)
            .unwrap();
    }
    // 1,000 units: host 300, treasury 100, owners 600 split 999,999 : 1 of a million.
    assert_eq!(s.balance_of(&acc(9)).credited_total, 300);
    assert_eq!(s.balance_of(&treasury()).credited_total, 100);
    assert_eq!(s.balance_of(&acc(1)).credited_total, 599); // floor(599.9994)
    assert_eq!(s.balance_of(&acc(2)).credited_total, 0); // 0.0006 accrued, not lost
    assert_eq!(
        s.balance_of(&acc(2)).entitlement_remainder,
        6_000 * 10_000 * 1_000
    );
    assert_eq!(s.liabilities().undistributed, 1);
    assert_consistent(&s);
}

#[test]
fn shares_and_splits_changed_later_affect_only_later_receipts() {
    let mut s = fresh();
    let m = register(&mut s, &[(1, 1_000_000)], &[]);
    s.transfer_shares(
        p(1),
        TransferSharesArgs {
            model: m,
            from_subaccount: None,
            to: acc(2),
            units: 1_000_000,
        },
        T0 + 10 * SEC,
    )
    .unwrap();
    s.set_split(
        governance(),
        SetSplitArgs {
            proposal_id: 1,
            split: split(0, 10_000, 0, 0),
        },
        T0 + 20 * SEC,
    )
    .unwrap();
    // Metered before the transfer, settled after both changes: old owner, old split.
    s.settle(
        proxy(),
        batch(
            1,
            vec![
                receipt(1, m, 9, 1_000, 0, T0 + 5 * SEC),
                receipt(2, m, 9, 1_000, 1, T0 + 30 * SEC),
            ],
        ),
        T0 + 40 * SEC,
    )
    .unwrap();
    assert_eq!(s.balance_of(&acc(1)).credited_total, 600);
    assert_eq!(s.balance_of(&acc(9)).credited_total, 300);
    assert_eq!(s.balance_of(&acc(2)).credited_total, 1_000);
}

#[test]
fn bad_settlement_input_is_a_typed_error_and_changes_nothing() {
    let mut s = fresh();
    let m = register(&mut s, &[(1, 1_000_000)], &[]);
    let before = s.fingerprint();
    let ok = |id| receipt(id, m, 9, 10, 0, T0);
    let cases = vec![
        (p(1), batch(1, vec![ok(1)]), SettleError::NotInferenceProxy),
        (
            Principal::anonymous(),
            batch(1, vec![ok(1)]),
            SettleError::NotInferenceProxy,
        ),
        (proxy(), batch(1, vec![]), SettleError::EmptyBatch),
        (
            proxy(),
            batch(1, (0..MAX_RECEIPTS_PER_BATCH as u64 + 1).map(ok).collect()),
            SettleError::TooManyReceipts {
                max: MAX_RECEIPTS_PER_BATCH as u32,
            },
        ),
        (
            proxy(),
            batch(1, vec![ok(1), ok(1)]),
            SettleError::DuplicateReceiptInBatch { receipt: 1 },
        ),
        (
            proxy(),
            batch(1, vec![ok(2), ok(1)]),
            SettleError::ReceiptsOutOfOrder {
                receipt: 1,
                after: 2,
            },
        ),
        (
            proxy(),
            batch(1, vec![receipt(3, m, 9, 10, 0, T0 + 3_600 * SEC)]),
            SettleError::MeteredInFuture {
                receipt: 3,
                metered_at: T0 + 3_600 * SEC,
                now: T0,
            },
        ),
    ];
    for (caller, args, expected) in cases {
        assert_eq!(s.settle(caller, args, T0), Err(expected));
        assert_eq!(s.fingerprint(), before);
    }
}

/// A receipt royalties cannot attribute must not make the batch refused (every other receipt of it
/// would go unpaid): it is credited whole to the treasury; a zero amount credits nothing; a receipt
/// metered just before the model's registration (clocks apart) belongs to its first epoch.
#[test]
fn no_receipt_can_poison_a_batch() {
    let mut s = fresh();
    let m = register(&mut s, &[(1, 1_000_000)], &[]);
    let receipts = vec![
        receipt(1, m, 9, 1_000, 0, T0),
        receipt(2, 42, 9, 500, 0, T0),
        receipt(3, m, 9, 300, 5, T0),
        receipt(4, m, 9, 0, 0, T0),
        receipt(5, m, 9, 200, 0, T0 - SEC),
    ];
    let ok = s.settle(proxy(), batch(1, receipts), T0).unwrap();
    assert_eq!(ok.settled_receipts, 5);
    assert_eq!(ok.settled_amount, 2_000);
    let split = s.current_split().split;
    let part = |amount: u128, bps: u16| amount * bps as u128 / 10_000;
    let attributed = 1_000 + 200;
    let owners_bps = split.model_owners_bps + split.data_owners_bps;
    assert_eq!(
        s.balance_of(&acc(1)).credited_total,
        part(attributed, owners_bps)
    );
    assert_eq!(
        s.balance_of(&treasury()).credited_total,
        part(attributed, split.treasury_bps) + 500 + 300
    );
    assert_eq!(
        s.balance_of(&acc(9)).credited_total,
        part(attributed, split.host_bps)
    );
    assert_consistent(&s);
}

// ------------------------------------------------------------------ property tests

#[derive(Clone, Debug)]
enum Op {
    Settle(Vec<(u8, u8, u64)>), // (model index, host, amount)
    Transfer(u8, u8, u8, u32),  // model index, from holder slot, to account, units (scaled)
    SetSplit([u16; 3]),
    Replay(u8),
}

fn arb_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => proptest::collection::vec((0u8..3, 50u8..53, 1u64..2_000_000), 1..6).prop_map(Op::Settle),
        1 => (0u8..3, 0u8..6, 1u8..8, 1u32..1_000_000).prop_map(|(m, f, t, u)| Op::Transfer(m, f, t, u)),
        1 => [0u16..10_001, 0u16..10_001, 0u16..10_001].prop_map(Op::SetSplit),
        1 => (0u8..20).prop_map(Op::Replay),
    ]
}

fn arb_holders() -> impl Strategy<Value = Vec<(u8, u64)>> {
    proptest::collection::vec((1u8..8, 1u64..1_000), 1..6).prop_map(|raw| {
        let total: u64 = raw.iter().map(|(_, w)| w).sum();
        let mut out: Vec<(u8, u64)> = raw
            .iter()
            .map(|(a, w)| (*a, w * 1_000_000 / total))
            .filter(|(_, u)| *u > 0)
            .collect();
        let assigned: u64 = out.iter().map(|(_, u)| u).sum();
        out[0].1 += 1_000_000 - assigned;
        out
    })
}

fn arb_data_owners() -> impl Strategy<Value = Vec<(u8, u64)>> {
    proptest::collection::vec((20u8..24, 1u64..100), 0..4).prop_map(|raw| {
        if raw.is_empty() {
            return raw;
        }
        let total: u64 = raw.iter().map(|(_, w)| w).sum();
        let mut out: Vec<(u8, u64)> = raw
            .iter()
            .map(|(a, w)| (*a, w * 10_000 / total))
            .filter(|(_, u)| *u > 0)
            .collect();
        let assigned: u64 = out.iter().map(|(_, u)| u).sum();
        out[0].1 += 10_000 - assigned;
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Conservation and exactness under random receipts, share tables, split changes, share transfers
    /// and replayed batches: each account holds floor(exact entitlement), never off by a unit or more;
    /// the credits of a receipt plus the change of the undistributed remainder equal its amount.
    #[test]
    fn settlement_is_exact_conserving_and_idempotent(
        models in proptest::collection::vec((arb_holders(), arb_data_owners()), 3),
        ops in proptest::collection::vec(arb_op(), 1..25),
    ) {
        let mut s = fresh();
        let ids: Vec<ModelId> = models.iter().map(|(h, d)| register(&mut s, h, d)).collect();
        let mut now = T0;
        let mut next_receipt = 0u64;
        let mut batches: Vec<SettleArgs> = vec![];
        let mut proposal = 0u64;
        for op in ops {
            now += SEC;
            match op {
                Op::Settle(rs) => {
                    let version = s.current_split().version;
                    let receipts = rs.into_iter().map(|(m, host, amount)| {
                        next_receipt += 1;
                        receipt(next_receipt, ids[m as usize], host, amount, version, now)
                    }).collect();
                    let args = batch(batches.len() as u64, receipts);
                    let settled_before = s.liabilities().settled_total;
                    let ok = s.settle(proxy(), args.clone(), now).unwrap();
                    let total: u128 = args.receipts.iter().map(|r| r.amount as u128).sum();
                    prop_assert_eq!(ok.settled_amount, total);
                    prop_assert_eq!(s.liabilities().settled_total, settled_before + total);
                    batches.push(args);
                }
                Op::Transfer(m, from, to, units) => {
                    let model = ids[m as usize];
                    let holders = s.get_model(model).unwrap().holders;
                    let h = &holders[from as usize % holders.len()];
                    let units = (units as u64 % h.units) + 1;
                    let _ = s.transfer_shares(h.account.owner, TransferSharesArgs {
                        model, from_subaccount: h.account.subaccount, to: acc(to), units }, now);
                }
                Op::SetSplit([a, b, c]) => {
                    let mut parts = [a, b, c];
                    parts.sort();
                    let sp = split(parts[0], parts[1] - parts[0], parts[2] - parts[1], 10_000 - parts[2]);
                    proposal += 1;
                    let set = s.set_split(governance(), SetSplitArgs { proposal_id: proposal, split: sp }, now);
                    prop_assert!(set.is_ok());
                }
                Op::Replay(i) => {
                    if !batches.is_empty() {
                        let before = s.fingerprint();
                        let args = batches[i as usize % batches.len()].clone();
                        let ok = s.settle(proxy(), args, now).unwrap();
                        prop_assert!(ok.already_settled);
                        prop_assert_eq!(s.fingerprint(), before);
                    }
                }
            }
            assert_consistent(&s);
        }
        // Exactness: every account holds floor(exact entitlement), recomputed from the log alone.
        let replay = replay_and_compare(&s);
        prop_assert_eq!(replay.receipts, next_receipt);
    }

    /// The same batches, replayed and reordered, end in the same state as settling each once in order.
    #[test]
    fn replayed_and_reordered_batches_settle_once(
        amounts in proptest::collection::vec(proptest::collection::vec(1u64..10_000, 1..5), 1..8),
        order in proptest::collection::vec(0usize..64, 1..30),
    ) {
        let build = |s: &mut State| register(s, &[(1, 333_333), (2, 666_667)], &[(5, 7_000), (6, 3_000)]);
        let mut next = 0u64;
        let batches: Vec<SettleArgs> = amounts.iter().enumerate().map(|(i, b)| {
            batch(i as u64, b.iter().map(|a| { next += 1; receipt(next, 0, 9, *a, 0, T0) }).collect())
        }).collect();
        let mut once = fresh();
        build(&mut once);
        for b in &batches {
            once.settle(proxy(), b.clone(), T0).unwrap();
        }
        let mut replayed = fresh();
        build(&mut replayed);
        for i in order.iter().copied().chain(0..batches.len()).map(|i| i % batches.len()) {
            replayed.settle(proxy(), batches[i].clone(), T0).unwrap();
        }
        for n in [1u8, 2, 5, 6, 9, 203] {
            prop_assert_eq!(once.balance_of(&acc(n)), replayed.balance_of(&acc(n)));
        }
        prop_assert_eq!(once.liabilities(), replayed.liabilities());
    }
}

/// A batch settles the ids from its first new receipt to its last: a later batch meeting those
/// ranges has its receipts inside them skipped, the others credited, and its new runs recorded
/// without spanning the settled ranges.
#[test]
fn overlapping_batches_settle_each_receipt_once() {
    let mut s = fresh();
    let m = register(&mut s, &[(1, 1_000_000)], &[]);
    let r = |id| receipt(id, m, 9, 1_000, 0, T0);
    s.settle(proxy(), batch(1, vec![r(10), r(11), r(12)]), T0)
        .unwrap();
    s.settle(proxy(), batch(2, vec![r(20), r(21)]), T0).unwrap();
    let ok = s
        .settle(
            proxy(),
            batch(3, vec![r(5), r(11), r(13), r(19), r(20), r(22)]),
            T0,
        )
        .unwrap();
    assert_eq!(ok.duplicate_receipts, vec![11, 20]);
    assert_eq!(ok.settled_receipts, 4);
    // 13..19 was recorded as one run between the ranges: 15 lies in it, 30 is new.
    let ok = s.settle(proxy(), batch(4, vec![r(15), r(30)]), T0).unwrap();
    assert_eq!(ok.duplicate_receipts, vec![15]);
    assert_eq!(s.liabilities().settled_total, 10 * 1_000);
    assert_consistent(&s);
    replay_and_compare(&s);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// Crediting a batch at once gives every account exactly what crediting its receipts one by one
    /// gives: the same credited totals, remainders and liabilities, for random receipts over models
    /// with different owners, data owners and hosts, share transfers between them, and any cut of the
    /// receipts into batches.
    #[test]
    fn per_batch_crediting_equals_per_receipt_crediting(
        models in proptest::collection::vec((arb_holders(), arb_data_owners()), 1..4),
        receipts in proptest::collection::vec((0u8..4, 50u8..54, 0u64..u32::MAX as u64, 0u64..40), 1..60),
        cuts in proptest::collection::vec(1usize..12, 1..20),
        transfer in (0u8..4, 1u64..999_999),
    ) {
        let setup = |s: &mut State| -> Vec<ModelId> {
            let ids: Vec<ModelId> = models.iter().map(|(h, d)| register(s, h, d)).collect();
            // A transfer 20 s in: receipts metered after it are shared by the new table.
            let model = ids[transfer.0 as usize % ids.len()];
            let holder = s.get_model(model).unwrap().holders[0].clone();
            let units = transfer.1 % holder.units + 1;
            s.transfer_shares(holder.account.owner, TransferSharesArgs {
                model, from_subaccount: None, to: acc(30), units }, T0 + 20 * SEC).unwrap();
            ids
        };
        let mut batched = fresh();
        let mut one_by_one = fresh();
        let ids = setup(&mut batched);
        setup(&mut one_by_one);
        let all: Vec<Receipt> = receipts.iter().enumerate().map(|(i, (m, host, amount, at))| {
            receipt(i as u64, ids[*m as usize % ids.len()], *host, *amount, 0, T0 + at * SEC)
        }).collect();
        let now = T0 + 60 * SEC;
        let (mut start, mut batch_id) = (0, 0);
        for cut in cuts.iter().cycle() {
            if start >= all.len() { break; }
            let end = (start + cut).min(all.len());
            batched.settle(proxy(), batch(batch_id, all[start..end].to_vec()), now).unwrap();
            start = end;
            batch_id += 1;
        }
        for (i, r) in all.iter().enumerate() {
            one_by_one.settle(proxy(), batch(i as u64, vec![r.clone()]), now).unwrap();
        }
        let replay = replay_and_compare(&batched);
        replay_and_compare(&one_by_one);
        for (account, _) in replay.accounts() {
            prop_assert_eq!(batched.balance_of(account), one_by_one.balance_of(account));
        }
        prop_assert_eq!(batched.liabilities(), one_by_one.liabilities());
    }
}
