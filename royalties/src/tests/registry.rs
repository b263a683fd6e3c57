//! Registry tests: model queries, share transfers, and bad input refused without a trace.

use super::*;

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
