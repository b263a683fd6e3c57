//! Native tests of the royalties state machine and its payout flows.

use crate::payouts::{self, PayoutJobReport};
use crate::state::*;
use candid::{Nat, Principal};
use futures::executor::block_on;
use ic_stable_structures::DefaultMemoryImpl;
use icrc_ledger_types::icrc1::account::Account;
use ledger_adapter::book::BookHost;
use ledger_adapter::memory::{Fault, MemoryLedger};
use ledger_adapter::{LedgerRuntime, TRANSACTION_WINDOW_NANOS};
use neuranft_types::royalties::*;
use proptest::prelude::*;
use serde_bytes::ByteBuf;
use std::cell::RefCell;
use std::collections::BTreeMap;

const SEC: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * SEC;
const FEE: u128 = 10_000;

fn p(n: u8) -> Principal {
    Principal::from_slice(&[n; 29])
}
fn acc(n: u8) -> Account {
    Account {
        owner: p(n),
        subaccount: None,
    }
}
fn proxy() -> Principal {
    p(200)
}
fn governance() -> Principal {
    p(201)
}
fn royalties_id() -> Principal {
    p(202)
}
fn treasury() -> Account {
    acc(203)
}

fn split(host: u16, owners: u16, data: u16, treasury: u16) -> SplitConfig {
    SplitConfig {
        host_bps: host,
        model_owners_bps: owners,
        data_owners_bps: data,
        treasury_bps: treasury,
    }
}

fn fresh_with(memory: DefaultMemoryImpl) -> State {
    let mut s = State::open_small(memory);
    s.initialize(
        InitArgs {
            ledger: p(204),
            governance: governance(),
            inference_proxy: proxy(),
            treasury: treasury(),
            split: split(3_000, 5_000, 1_000, 1_000),
            auto_payout_fee_multiple: 10,
            payout_interval_seconds: 60,
        },
        T0,
    )
    .unwrap();
    s
}

fn fresh() -> State {
    fresh_with(DefaultMemoryImpl::default())
}

fn metadata() -> ModelMetadata {
    ModelMetadata {
        name: "medical-llama".into(),
        base_model: "llama3.1:8b".into(),
        architecture: "transformer decoder, 8B".into(),
        datasets: vec![DatasetRef {
            uri: "ipfs://bafy-medqa".into(),
            sha256: ByteBuf::from(vec![7u8; 32]),
        }],
        training_params: vec![TrainingParam {
            key: "lora_rank".into(),
            value: "16".into(),
        }],
        licence: "llama3.1-community".into(),
    }
}

fn register(s: &mut State, owners: &[(u8, u64)], data: &[(u8, u64)]) -> ModelId {
    s.register_model(
        p(owners[0].0),
        RegisterModelArgs {
            metadata: metadata(),
            price: Price {
                per_1k_input_tokens: 100,
                per_1k_output_tokens: 300,
            },
            owners: owners
                .iter()
                .map(|(o, u)| ShareHolding {
                    account: acc(*o),
                    units: *u,
                })
                .collect(),
            data_owners: data
                .iter()
                .map(|(o, w)| DataOwner {
                    account: acc(*o),
                    weight: *w,
                })
                .collect(),
        },
        T0,
    )
    .unwrap()
}

fn receipt(
    id: u64,
    model: ModelId,
    host: u8,
    amount: u64,
    version: SplitVersion,
    at: u64,
) -> Receipt {
    Receipt {
        id,
        user: p(99),
        model,
        node_operator: acc(host),
        input_tokens: 100,
        output_tokens: 200,
        amount,
        split_version: version,
        metered_at: at,
    }
}

fn batch(id: u64, receipts: Vec<Receipt>) -> SettleArgs {
    SettleArgs {
        batch_id: id,
        funding_block: Nat::from(id),
        receipts,
    }
}

/// Internal consistency: O(1) counters equal what the maps say, and money is conserved.
fn assert_consistent(s: &State) {
    let l = s.liabilities();
    let (available, in_flight, undistributed) = s.recompute_totals();
    assert_eq!(l.available, available);
    assert_eq!(l.in_flight, in_flight);
    assert_eq!(l.undistributed, undistributed);
    assert_eq!(
        l.settled_total,
        l.available + l.in_flight + l.paid_total + l.undistributed
    );
}

// ------------------------------------------------------------------ registry

#[test]
fn registry_queries_and_share_transfers() {
    let mut s = fresh();
    let m = register(&mut s, &[(1, 600_000), (2, 400_000)], &[(5, 10_000)]);
    let view = s.get_model(m).unwrap();
    assert_eq!(view.model.metadata.base_model, "llama3.1:8b");
    assert_eq!(view.model.status, ModelStatus::Active);
    assert_eq!(view.holders.len(), 2);
    assert_eq!(s.models_of(&acc(1))[0].units, 600_000);

    let epoch = s
        .transfer_shares(
            p(1),
            TransferSharesArgs {
                model: m,
                from_subaccount: None,
                to: acc(3),
                units: 600_000,
            },
            T0 + 5 * SEC,
        )
        .unwrap();
    assert_eq!(epoch, 1);
    assert!(s.models_of(&acc(1)).is_empty());
    assert_eq!(s.models_of(&acc(3))[0].units, 600_000);
    assert_eq!(s.share_table(m, 0).unwrap().holders.len(), 2);
    assert_eq!(s.share_table(m, 1).unwrap().starts_at, T0 + 5 * SEC);

    s.set_price(
        p(1),
        m,
        Price {
            per_1k_input_tokens: 1,
            per_1k_output_tokens: 2,
        },
        T0,
    )
    .unwrap();
    s.set_status(p(1), m, ModelStatus::Paused, T0).unwrap();
    assert_eq!(s.get_model(m).unwrap().model.status, ModelStatus::Paused);

    for n in 0..150u8 {
        let _ = register(&mut s, &[(10 + (n % 50), 1_000_000)], &[]);
    }
    let first = s.list_models(None, 100);
    assert_eq!(first.models.len(), 100);
    let second = s.list_models(first.next, 100);
    assert_eq!(second.models.len(), 51);
    assert_eq!(second.next, None);
}

#[test]
fn bad_registry_input_is_a_typed_error_and_changes_nothing() {
    let mut s = fresh();
    let m = register(&mut s, &[(1, 1_000_000)], &[]);
    let before = s.fingerprint();
    let good = RegisterModelArgs {
        metadata: metadata(),
        price: Price::default(),
        owners: vec![ShareHolding {
            account: acc(1),
            units: 1_000_000,
        }],
        data_owners: vec![],
    };
    let with = |f: &dyn Fn(&mut RegisterModelArgs)| {
        let mut a = good.clone();
        f(&mut a);
        a
    };
    let cases: Vec<(Principal, RegisterModelArgs)> = vec![
        (Principal::anonymous(), good.clone()),
        (p(1), with(&|a| a.metadata.name = String::new())),
        (
            p(1),
            with(&|a| a.metadata.name = "x".repeat(MAX_TEXT_BYTES + 1)),
        ),
        (
            p(1),
            with(&|a| a.metadata.datasets[0].sha256 = ByteBuf::from(vec![1u8; 31])),
        ),
        (
            p(1),
            with(&|a| {
                a.metadata.training_params = vec![
                    TrainingParam {
                        key: "k".into(),
                        value: "v".into()
                    };
                    MAX_TRAINING_PARAMS + 1
                ]
            }),
        ),
        (p(1), with(&|a| a.owners[0].units = 999_999)),
        (p(1), with(&|a| a.owners = vec![])),
        (
            p(1),
            with(&|a| {
                a.owners.push(ShareHolding {
                    account: acc(2),
                    units: 0,
                })
            }),
        ),
        (
            p(1),
            with(&|a| a.owners[0].account.owner = Principal::anonymous()),
        ),
        (
            p(1),
            with(&|a| {
                a.owners = vec![
                    ShareHolding {
                        account: acc(1),
                        units: u64::MAX,
                    },
                    ShareHolding {
                        account: acc(2),
                        units: 2,
                    },
                ]
            }),
        ),
        (
            p(1),
            with(&|a| {
                a.data_owners = vec![DataOwner {
                    account: acc(3),
                    weight: 9_999,
                }]
            }),
        ),
        (
            p(1),
            with(&|a| {
                a.owners = (0..=MAX_OWNERS as u32)
                    .map(|i| ShareHolding {
                        account: Account {
                            owner: p(1),
                            subaccount: Some([
                                i as u8,
                                (i >> 8) as u8,
                                1,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                                0,
                            ]),
                        },
                        units: if i == 0 {
                            1_000_000 - MAX_OWNERS as u64
                        } else {
                            1
                        },
                    })
                    .collect()
            }),
        ),
    ];
    for (caller, args) in cases {
        let err = s.register_model(caller, args.clone(), T0).unwrap_err();
        assert!(
            matches!(
                err,
                RegistryError::AnonymousCaller | RegistryError::InvalidArgument { .. }
            ),
            "{err:?}"
        );
        assert_eq!(s.fingerprint(), before, "state changed on {err:?}");
    }
    assert_eq!(
        s.set_price(p(2), m, Price::default(), T0),
        Err(RegistryError::NotModelManager { model: m })
    );
    assert_eq!(
        s.set_status(p(1), 77, ModelStatus::Paused, T0),
        Err(RegistryError::UnknownModel { model: 77 })
    );
    let transfer = |units, to: Account| TransferSharesArgs {
        model: m,
        from_subaccount: None,
        to,
        units,
    };
    assert_eq!(
        s.transfer_shares(p(1), transfer(1_000_001, acc(2)), T0),
        Err(RegistryError::InsufficientShares {
            held: 1_000_000,
            requested: 1_000_001
        })
    );
    assert!(s.transfer_shares(p(1), transfer(0, acc(2)), T0).is_err());
    assert!(s
        .transfer_shares(
            p(1),
            transfer(
                1,
                Account {
                    owner: Principal::anonymous(),
                    subaccount: None
                }
            ),
            T0
        )
        .is_err());
    assert!(s.transfer_shares(p(1), transfer(1, acc(1)), T0).is_err());
    assert_eq!(
        s.transfer_shares(Principal::anonymous(), transfer(1, acc(2)), T0),
        Err(RegistryError::AnonymousCaller)
    );
    assert_eq!(s.fingerprint(), before);
}

// ------------------------------------------------------------------ split

#[test]
fn split_is_set_only_by_governance_once_per_proposal() {
    let mut s = fresh();
    let before = s.fingerprint();
    let args = SetSplitArgs {
        proposal_id: 7,
        split: split(2_000, 6_000, 1_000, 1_000),
    };
    assert_eq!(
        s.set_split(p(1), args.clone(), T0),
        Err(SplitError::NotGovernance)
    );
    assert_eq!(
        s.set_split(
            governance(),
            SetSplitArgs {
                proposal_id: 7,
                split: split(2_000, 6_000, 1_000, 999)
            },
            T0
        ),
        Err(SplitError::InvalidSplit { total_bps: 9_999 })
    );
    assert_eq!(s.fingerprint(), before);
    assert_eq!(s.set_split(governance(), args.clone(), T0), Ok(1));
    assert_eq!(
        s.set_split(governance(), args, T0),
        Err(SplitError::ProposalAlreadyApplied {
            proposal_id: 7,
            version: 1
        })
    );
    assert_eq!(s.current_split().split, split(2_000, 6_000, 1_000, 1_000));
    assert_eq!(s.split(0).unwrap().proposal_id, None);
}

// ------------------------------------------------------------------ settlement

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

/// The exact entitlement of every account, recomputed from the settlement log alone with rationals
/// over the common denominator.
fn exact_entitlements(s: &State) -> BTreeMap<[u8; 62], u128> {
    let mut numerators: BTreeMap<[u8; 62], u128> = BTreeMap::new();
    let total = s.log_page(0, 1).total;
    let mut start = 0;
    while start < total {
        let page = s.log_page(start, 100);
        for e in &page.entries {
            if let LogEvent::BatchSettled { receipts, .. } = &e.event {
                for r in receipts {
                    let weight_sum: u128 = r.credits.iter().map(|c| c.weight as u128).sum();
                    assert_eq!(
                        weight_sum, ENTITLEMENT_DENOMINATOR,
                        "weights of a receipt cover it exactly"
                    );
                    for c in &r.credits {
                        *numerators
                            .entry(neuranft_types::account_key(&c.account))
                            .or_default() += r.receipt.amount as u128 * c.weight as u128;
                    }
                }
            }
        }
        start += page.entries.len() as u64;
    }
    numerators
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
        // Exactness: credited_total == floor(exact) for every account, and the remainders are the fractions.
        let exact = exact_entitlements(&s);
        for (key, numerator) in &exact {
            let b = s.balance_of(&neuranft_types::account_from_key(key));
            prop_assert_eq!(b.credited_total, numerator / ENTITLEMENT_DENOMINATOR);
            prop_assert_eq!(b.entitlement_remainder, numerator % ENTITLEMENT_DENOMINATOR);
        }
        // Per receipt: credits sum to the amount up to the fractions, which never exceed it.
        let page = s.log_page(0, 100);
        for e in page.entries {
            if let LogEvent::BatchSettled { receipts, .. } = e.event {
                for r in receipts {
                    let credited: u128 = r.credits.iter().map(|c| c.amount).sum();
                    prop_assert!(credited <= r.receipt.amount as u128 + r.credits.len() as u128);
                }
            }
        }
        let chain = s.log_page(0, 100).entries;
        prop_assert!(LogEntry::verify_chain(&[0u8; 32], &chain).is_ok());
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

// ------------------------------------------------------------------ payouts

struct Setup {
    state: RefCell<State>,
    ledger: MemoryLedger,
}

impl Setup {
    /// Royalties with `amount` settled for one model owned by `acc(1)` (host `acc(9)`), funded on the ledger.
    fn new(amount: u64) -> Self {
        let mut s = fresh();
        let m = register(&mut s, &[(1, 1_000_000)], &[]);
        let ledger = MemoryLedger::new(FEE, T0);
        ledger.mint(
            Account {
                owner: royalties_id(),
                subaccount: None,
            },
            amount as u128,
        );
        s.settle(proxy(), batch(1, vec![receipt(1, m, 9, amount, 0, T0)]), T0)
            .unwrap();
        Setup {
            state: RefCell::new(s),
            ledger,
        }
    }

    fn claim(&self, who: u8, to: Option<Account>) -> Result<Payout, ClaimError> {
        let client = self.ledger.client(royalties_id());
        block_on(payouts::claim(
            &self.state,
            &client,
            p(who),
            ClaimArgs {
                from_subaccount: None,
                to,
            },
            self.ledger.time(),
        ))
    }

    fn job(&self) -> PayoutJobReport {
        let client = self.ledger.client(royalties_id());
        block_on(payouts::run_payout_job(
            &self.state,
            &client,
            self.ledger.time(),
        ))
    }

    fn audit(&self) -> AuditReport {
        let client = self.ledger.client(royalties_id());
        block_on(payouts::audit(&self.state, &client)).unwrap()
    }
}

#[test]
fn claim_pays_the_whole_accrual_minus_fee_and_audit_agrees() {
    let t = Setup::new(10_000_000);
    assert!(t.audit().agrees);
    let payout = t.claim(1, Some(acc(77))).unwrap();
    assert!(matches!(payout.status, PayoutStatus::Completed { .. }));
    assert_eq!(t.ledger.balance(&acc(77)), 6_000_000 - FEE);
    let b = t.state.borrow().balance_of(&acc(1));
    assert_eq!((b.available, b.in_flight, b.paid_total), (0, 0, 6_000_000));
    assert!(t.audit().agrees);
    assert_eq!(t.claim(1, None), Err(ClaimError::NothingToClaim));
    assert_eq!(t.claim(0, None).unwrap_err(), ClaimError::NothingToClaim);
    let anon = block_on(payouts::claim(
        &t.state,
        &t.ledger.client(royalties_id()),
        Principal::anonymous(),
        ClaimArgs {
            from_subaccount: None,
            to: None,
        },
        T0,
    ));
    assert_eq!(anon, Err(ClaimError::AnonymousCaller));
    assert_consistent(&t.state.borrow());
}

#[test]
fn claim_below_fee_is_a_typed_error() {
    let t = Setup::new(10_000); // treasury gets 1,000 < fee
    t.state.borrow_mut().book().set_fee(FEE);
    let before = t.state.borrow().fingerprint();
    assert_eq!(
        t.claim(203, None),
        Err(ClaimError::BelowFee {
            available: 1_000,
            fee: FEE
        })
    );
    assert_eq!(t.state.borrow().fingerprint(), before);
}

#[test]
fn unknown_outcomes_are_resent_identically_and_pay_once() {
    let t = Setup::new(10_000_000);
    // Every send of the claim times out, the first after executing.
    t.ledger.inject(Fault::UnknownAfterExecution);
    t.ledger.inject(Fault::UnknownBeforeExecution);
    t.ledger.inject(Fault::UnknownBeforeExecution);
    let payout = t.claim(1, None).unwrap();
    assert_eq!(payout.status, PayoutStatus::Pending);
    assert_eq!(t.ledger.balance(&acc(1)), 6_000_000 - FEE);
    // Funds are reserved while pending, and the audit still agrees (the ledger already moved them).
    assert_eq!(t.state.borrow().balance_of(&acc(1)).in_flight, 6_000_000);
    // The timer resends the identical payload: the ledger answers Duplicate, which completes it.
    t.ledger.set_time(T0 + 60 * SEC);
    t.ledger.inject(Fault::TemporarilyUnavailable);
    t.job();
    let done = t.state.borrow().payout(payout.id).unwrap();
    assert!(
        matches!(done.status, PayoutStatus::Completed { .. }),
        "{done:?}"
    );
    assert_eq!(t.ledger.blocks_with_memo_prefix(&payout.memo), 1);
    assert_eq!(t.ledger.balance(&acc(1)), 6_000_000 - FEE);
    assert!(t.audit().agrees);
    assert_consistent(&t.state.borrow());
}

#[test]
fn fee_change_mid_flight_rebuilds_the_payout_once() {
    let t = Setup::new(10_000_000);
    t.ledger.inject(Fault::SetFee(20_000));
    let payout = t.claim(1, None).unwrap();
    assert!(matches!(payout.status, PayoutStatus::Completed { .. }));
    assert_eq!(payout.fee, 20_000);
    assert_eq!(t.ledger.balance(&acc(1)), 6_000_000 - 20_000);
    assert_eq!(t.state.borrow().ledger_fee(), Some(20_000));
    assert!(t.audit().agrees);
}

#[test]
fn definite_failure_restores_the_accrual() {
    let t = Setup::new(10_000_000);
    // The ledger holds less than we owe (a bug elsewhere): InsufficientFunds is definite.
    let drain = icrc_ledger_types::icrc1::transfer::TransferArg {
        from_subaccount: None,
        to: acc(250),
        fee: None,
        created_at_time: None,
        memo: None,
        amount: Nat::from(9_000_000u64),
    };
    block_on(t.ledger.client(royalties_id()).icrc1_transfer(drain))
        .unwrap()
        .unwrap();
    let err = t.claim(1, None).unwrap_err();
    assert!(matches!(err, ClaimError::TransferFailed { .. }), "{err:?}");
    let b = t.state.borrow().balance_of(&acc(1));
    assert_eq!((b.available, b.in_flight), (6_000_000, 0));
    assert!(!t.audit().agrees);
    assert_consistent(&t.state.borrow());
}

#[test]
fn outcome_unknown_past_the_window_is_settled_from_the_block_log() {
    let t = Setup::new(10_000_000);
    for _ in 0..ledger_adapter::outbox::SENDS_PER_DRIVE {
        t.ledger.inject(Fault::UnknownBeforeExecution);
    }
    let payout = t.claim(1, None).unwrap();
    assert_eq!(payout.status, PayoutStatus::Pending);
    assert_eq!(t.state.borrow().balance_of(&acc(1)).in_flight, 6_000_000);
    // Past the window the resend is TooOld; the block log shows it never executed; a new payload pays.
    t.ledger
        .set_time(T0 + TRANSACTION_WINDOW_NANOS + 3_600 * SEC);
    t.job();
    let p = t.state.borrow().payout(payout.id).unwrap();
    assert!(matches!(p.status, PayoutStatus::Completed { .. }), "{p:?}");
    assert_eq!(t.ledger.balance(&acc(1)), 6_000_000 - FEE);
    assert_eq!(t.ledger.blocks_with_memo_prefix(&payout.memo), 1);
    assert!(t.audit().agrees);
    assert_consistent(&t.state.borrow());
}

#[test]
fn concurrent_claims_by_one_caller_are_refused() {
    use std::future::Future;
    let t = Setup::new(10_000_000);
    let open = t.ledger.hold_next_update();
    let ledger = t.ledger.client(royalties_id());
    let args = || ClaimArgs {
        from_subaccount: None,
        to: None,
    };
    let mut first = std::pin::pin!(payouts::claim(&t.state, &ledger, p(1), args(), T0));
    let mut cx = std::task::Context::from_waker(futures::task::noop_waker_ref());
    assert!(
        first.as_mut().poll(&mut cx).is_pending(),
        "the first claim waits on the ledger"
    );
    // A second claim by the same caller is refused while the first is in flight; another caller is not.
    assert_eq!(
        block_on(payouts::claim(&t.state, &ledger, p(1), args(), T0)),
        Err(ClaimError::AlreadyProcessing)
    );
    assert!(block_on(payouts::claim(&t.state, &ledger, p(9), args(), T0)).is_ok());
    open.send(()).unwrap();
    let first = block_on(first);
    assert!(
        matches!(
            first,
            Ok(Payout {
                status: PayoutStatus::Completed { .. },
                ..
            })
        ),
        "{first:?}"
    );
    assert_eq!(t.ledger.balance(&acc(1)), 6_000_000 - FEE);
    assert_eq!(t.state.borrow().payouts_of(&acc(1), 10).len(), 1);
    assert!(
        block_on(payouts::claim(&t.state, &ledger, p(1), args(), T0))
            .is_err_and(|e| e == ClaimError::NothingToClaim)
    );
}

#[test]
fn payout_timer_pushes_accruals_above_k_times_fee() {
    let t = Setup::new(1_000_000); // owner 600,000 ≥ 10 × fee; host 300,000; treasury 100,000 ≥ 100,000
    let report = t.job();
    assert_eq!(report.started, 3);
    assert_eq!(t.ledger.balance(&acc(1)), 600_000 - FEE);
    assert_eq!(t.ledger.balance(&acc(9)), 300_000 - FEE);
    assert_eq!(t.ledger.balance(&treasury()), 100_000 - FEE);
    assert_eq!(t.job(), PayoutJobReport::default());
    assert!(t.audit().agrees);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Claims and timer runs under random faults: nothing is lost, nothing is paid twice.
    #[test]
    fn payouts_under_faults_pay_exactly_once(
        faults in proptest::collection::vec(0u8..6, 0..12),
        steps in proptest::collection::vec((0u8..3, 0u64..7_200), 1..12),
    ) {
        let t = Setup::new(50_000_000);
        for f in faults {
            t.ledger.inject(match f {
                0 => Fault::UnknownAfterExecution,
                1 => Fault::UnknownBeforeExecution,
                2 => Fault::TemporarilyUnavailable,
                3 => Fault::SetFee(FEE + 1_000),
                4 => Fault::SetFee(FEE),
                _ => Fault::UnknownAfterExecution,
            });
        }
        for (who, advance) in steps {
            t.ledger.set_time(t.ledger.time() + advance * SEC);
            match who {
                0 => { let _ = t.claim(1, None); }
                1 => { let _ = t.claim(9, Some(acc(60))); }
                _ => { t.job(); }
            }
            assert_consistent(&t.state.borrow());
        }
        // Let the timer finish every pending payout (each run consumes faults only by sending).
        for _ in 0..30 {
            if t.state.borrow().pending_payout_ids(1).is_empty() { break; }
            t.ledger.set_time(t.ledger.time() + 60 * SEC);
            t.job();
        }
        let s = t.state.borrow();
        // Every completed payout moved exactly once on the ledger; failed ones not at all.
        for id in 0..s.counters().next_payout_id {
            let payout = s.payout(id).unwrap();
            let moved = t.ledger.blocks_with_memo_prefix(&payout.memo);
            match payout.status {
                PayoutStatus::Completed { .. } => {
                    prop_assert_eq!(moved, 1);
                    prop_assert_eq!(payout.amount + payout.fee, payout.gross);
                }
                PayoutStatus::Failed { .. } => prop_assert_eq!(moved, 0),
                PayoutStatus::Pending => prop_assert!(false, "payout {} still pending", id),
            }
        }
        prop_assert_eq!(s.liabilities().in_flight, 0);
        drop(s);
        let audit = t.audit();
        prop_assert_eq!(audit.ledger_balance, audit.liabilities.total);
        prop_assert!(audit.agrees);
        prop_assert!(t.ledger.check_invariants().is_ok());
    }
}

// ------------------------------------------------------------------ upgrade

#[test]
fn whole_state_survives_reopening_stable_memory() {
    let memory = DefaultMemoryImpl::default();
    let (fingerprint, liabilities, model, log_tip, payout) = {
        let mut s = fresh_with(memory.clone());
        let m = register(&mut s, &[(1, 700_000), (2, 300_000)], &[(5, 10_000)]);
        s.settle(
            proxy(),
            batch(1, vec![receipt(1, m, 9, 1_234_567, 0, T0)]),
            T0,
        )
        .unwrap();
        s.transfer_shares(
            p(1),
            TransferSharesArgs {
                model: m,
                from_subaccount: None,
                to: acc(3),
                units: 100,
            },
            T0 + SEC,
        )
        .unwrap();
        s.set_split(
            governance(),
            SetSplitArgs {
                proposal_id: 9,
                split: split(1, 2, 3, 9_994),
            },
            T0 + SEC,
        )
        .unwrap();
        let payout = s
            .record_payout(&acc(1), &acc(1), PayoutKind::Claim, FEE, T0 + SEC)
            .unwrap();
        (
            s.fingerprint(),
            s.liabilities(),
            s.get_model(m),
            s.log_tip(),
            payout,
        )
    };
    let reopened = State::open(memory);
    assert_eq!(reopened.fingerprint(), fingerprint);
    assert_eq!(reopened.liabilities(), liabilities);
    assert_eq!(reopened.get_model(0), model);
    assert_eq!(reopened.log_tip(), log_tip);
    assert_eq!(reopened.payout(payout.id), Some(payout.clone()));
    assert_eq!(reopened.pending_payout_ids(10), vec![payout.id]);
    assert_eq!(reopened.current_split().proposal_id, Some(9));
    assert_consistent(&reopened);
}

// ------------------------------------------------------------------ model pushes to the proxy

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

impl crate::push::ProxyClient for FakeProxy {
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
    assert_eq!(block_on(crate::push::push_to_proxy(&state, &proxy)), 0);
    assert_eq!(state.borrow().pending_model_pushes(10).len(), 1);
    proxy.reachable.set(true);
    assert_eq!(block_on(crate::push::push_to_proxy(&state, &proxy)), 1);
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
    assert_eq!(block_on(crate::push::push_to_proxy(&state, &proxy)), 1);
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
    assert_eq!(block_on(crate::push::push_to_proxy(&state, &proxy)), 0);
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
    assert_eq!(block_on(crate::push::push_to_proxy(&state, &proxy)), 0);
    assert_eq!(state.borrow().pending_split_push(), Some(2));
    proxy.reachable.set(true);
    assert_eq!(block_on(crate::push::push_to_proxy(&state, &proxy)), 1);
    assert_eq!(*proxy.splits.borrow(), vec![2]);
    assert_eq!(state.borrow().pending_split_push(), None);
    // A late acknowledgement of an older version never moves the record back.
    state.borrow_mut().split_push_acknowledged(1);
    assert_eq!(state.borrow().pending_split_push(), None);
}
