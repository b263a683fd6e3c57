//! The DAO's moderation of models and its payout settings: only governance, once per proposal
//! bound to the payload, with every decision in the log.

use super::*;

fn moderation(proposal_id: u64, model: ModelId, action: ModerationAction) -> ModerateModelArgs {
    ModerateModelArgs {
        proposal_id,
        model,
        action,
        reason: "serves medical advice without the licence it claims".into(),
    }
}

fn last_event(s: &State) -> LogEvent {
    let length = s.log_tip().length;
    s.log_page(length - 1, 1).entries.remove(0).event
}

#[test]
fn only_governance_moderates_a_model_and_bad_input_changes_nothing() {
    let mut s = fresh();
    let m = register(&mut s, &[(1, SHARE_UNITS_PER_MODEL)], &[]);
    let before = s.fingerprint();
    let suspend = moderation(4, m, ModerationAction::Suspend);
    assert_eq!(
        s.moderate_model(p(1), suspend.clone(), T0),
        Err(GovernedError::NotGovernance),
        "not even the model's manager"
    );
    assert_eq!(
        s.moderate_model(
            governance(),
            moderation(4, 99, ModerationAction::Suspend),
            T0
        ),
        Err(GovernedError::UnknownModel { model: 99 })
    );
    for reason in ["", "   ", &"x".repeat(MAX_MODERATION_REASON_BYTES + 1)] {
        let args = ModerateModelArgs {
            reason: reason.into(),
            ..suspend.clone()
        };
        assert!(matches!(
            s.moderate_model(governance(), args, T0),
            Err(GovernedError::InvalidArgument { field, .. }) if field == "reason"
        ));
    }
    assert!(
        matches!(
            s.moderate_model(governance(), moderation(4, m, ModerationAction::Reinstate), T0),
            Err(GovernedError::InvalidArgument { field, .. }) if field == "action"
        ),
        "an active model cannot be reinstated"
    );
    assert_eq!(s.fingerprint(), before, "nothing changed");
    assert!(s
        .pending_model_pushes(10)
        .iter()
        .all(|e| e.status == ModelStatus::Active));
}

#[test]
fn a_suspended_model_is_pushed_logged_and_out_of_its_managers_hands_until_reinstated() {
    let mut s = fresh();
    let m = register(&mut s, &[(1, SHARE_UNITS_PER_MODEL)], &[]);
    let suspend = moderation(4, m, ModerationAction::Suspend);
    assert_eq!(
        s.moderate_model(governance(), suspend.clone(), T0 + 1),
        Ok(ModelStatus::Suspended)
    );
    let model = s.get_model(m).unwrap().model;
    assert_eq!(model.status, ModelStatus::Suspended);
    assert_eq!(model.moderation.as_ref().unwrap().reason, suspend.reason);
    assert_eq!(
        last_event(&s),
        LogEvent::ModelModerated {
            model: m,
            status: ModelStatus::Suspended,
            moderation: Moderation {
                action: ModerationAction::Suspend,
                reason: suspend.reason.clone(),
                proposal_id: 4,
                at: T0 + 1,
                status_before: ModelStatus::Active,
            },
        }
    );
    let pushed = s.pending_model_pushes(10);
    assert_eq!(pushed.len(), 1);
    assert_eq!(
        pushed[0].status,
        ModelStatus::Suspended,
        "the proxy learns it"
    );
    for status in [ModelStatus::Active, ModelStatus::Paused] {
        assert_eq!(
            s.set_status(p(1), m, status, T0 + 2),
            Err(RegistryError::Moderated {
                model: m,
                status: ModelStatus::Suspended
            }),
            "the manager cannot lift the DAO's decision"
        );
    }
    assert!(
        s.set_status(p(1), m, ModelStatus::Delisted, T0 + 2)
            .is_err(),
        "nor take the DAO's statuses"
    );

    // The same proposal again is a replay; another payload under its id a conflict.
    let before = s.fingerprint();
    assert_eq!(
        s.moderate_model(governance(), suspend.clone(), T0 + 3),
        Err(GovernedError::ProposalAlreadyApplied { proposal_id: 4 })
    );
    assert_eq!(
        s.moderate_model(
            governance(),
            moderation(4, m, ModerationAction::Delist),
            T0 + 3
        ),
        Err(GovernedError::ProposalConflict { proposal_id: 4 })
    );
    assert_eq!(s.fingerprint(), before);

    // Delisted: not offered by list_models, still readable; reinstated: active and listed again.
    assert_eq!(
        s.moderate_model(
            governance(),
            moderation(5, m, ModerationAction::Delist),
            T0 + 4
        ),
        Ok(ModelStatus::Delisted)
    );
    assert!(s.list_models(None, 10).models.is_empty());
    assert_eq!(s.get_model(m).unwrap().model.status, ModelStatus::Delisted);
    assert_eq!(
        s.moderate_model(
            governance(),
            moderation(6, m, ModerationAction::Reinstate),
            T0 + 5
        ),
        Ok(ModelStatus::Active)
    );
    assert_eq!(s.list_models(None, 10).models.len(), 1);
    assert_eq!(s.set_status(p(1), m, ModelStatus::Paused, T0 + 6), Ok(()));
    // A model its manager had paused comes back paused: Reinstate restores the manager's status,
    // through two decisions in a row.
    for (id, action) in [
        (7, ModerationAction::Suspend),
        (8, ModerationAction::Delist),
    ] {
        s.moderate_model(governance(), moderation(id, m, action), T0 + 7)
            .unwrap();
    }
    assert_eq!(
        s.moderate_model(
            governance(),
            moderation(9, m, ModerationAction::Reinstate),
            T0 + 8
        ),
        Ok(ModelStatus::Paused)
    );
}

#[test]
fn receipts_metered_before_a_suspension_still_settle() {
    let mut s = fresh();
    let m = register(&mut s, &[(1, SHARE_UNITS_PER_MODEL)], &[]);
    s.moderate_model(
        governance(),
        moderation(1, m, ModerationAction::Suspend),
        T0 + 2,
    )
    .unwrap();
    let ok = s
        .settle(
            proxy(),
            batch(1, vec![receipt(1, m, 50, 1_000, 0, T0 + 1)]),
            T0 + 3,
        )
        .unwrap();
    assert_eq!(ok.settled_amount, 1_000);
    assert!(s.balance_of(&acc(1)).available > 0, "the owners are paid");
    assert_consistent(&s);
}

#[test]
fn only_governance_sets_the_payout_settings_within_their_bounds_once_per_proposal() {
    let mut s = fresh();
    let settings = PayoutSettings {
        auto_payout_fee_multiple: 50,
        payout_interval_seconds: 3_600,
    };
    let args = SetPayoutSettingsArgs {
        proposal_id: 9,
        settings,
    };
    let before = s.fingerprint();
    assert_eq!(
        s.set_payout_settings(p(1), args.clone(), T0),
        Err(GovernedError::NotGovernance)
    );
    for bad in [(0, 60), (1_000_001, 60), (10, 9), (10, 7 * 86_400 + 1)] {
        let bad = SetPayoutSettingsArgs {
            proposal_id: 9,
            settings: PayoutSettings {
                auto_payout_fee_multiple: bad.0,
                payout_interval_seconds: bad.1,
            },
        };
        assert!(matches!(
            s.set_payout_settings(governance(), bad, T0),
            Err(GovernedError::InvalidArgument { .. })
        ));
    }
    assert_eq!(s.fingerprint(), before);
    assert_eq!(
        s.set_payout_settings(governance(), args.clone(), T0),
        Ok(true)
    );
    assert_eq!(s.payout_settings(), settings);
    assert_eq!(s.config_view().payout_interval_seconds, 3_600);
    assert_eq!(
        last_event(&s),
        LogEvent::PayoutSettingsSet {
            proposal_id: 9,
            settings
        }
    );
    assert_eq!(
        s.set_payout_settings(governance(), args, T0),
        Err(GovernedError::ProposalAlreadyApplied { proposal_id: 9 })
    );
    let same_interval = SetPayoutSettingsArgs {
        proposal_id: 10,
        settings: PayoutSettings {
            auto_payout_fee_multiple: 20,
            ..settings
        },
    };
    assert_eq!(
        s.set_payout_settings(governance(), same_interval, T0),
        Ok(false),
        "the timer is restarted only for a new interval"
    );
}
