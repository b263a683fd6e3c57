//! Every setting governable, on the real wasm: the DAO suspends, delists and reinstates a model with
//! the reason in royalties' log (the proxy refuses a moderated model and charges nothing), sets
//! royalties' payout settings and the proxy's limits by typed proposals; settings out of bounds are
//! refused when proposed, and nobody but governance calls the targets themselves.

use candid::Principal;
use neuranft_types::governance::*;
use neuranft_types::proxy::{InferArgs, InferError, ProxyConfig, ProxyLimits, RegistryError};
use neuranft_types::royalties::ModelStatus;
use neuranft_types::royalties::RegistryError as ModelError;
use neuranft_types::royalties::*;
use tests::*;

const PRICE: Price = Price {
    per_1k_input_tokens: 200_000,
    per_1k_output_tokens: 600_000,
};

struct System {
    w: NeuraNft,
    owner: Principal,
    alice: Principal,
    model: ModelId,
}

/// The founder's neuron alone (every vote of it an absolute majority), one model of `owner`, one
/// admitted hpc-node, and alice with 2 NUSD deposited in the proxy.
fn up() -> System {
    let alice = principal(0xA1);
    let owner = principal(0x0E);
    let mut w = NeuraNft::deploy(41, vec![(account(alice), 10_000_000)], vec![], 10);
    let (model, _) = w.register_model(owner, sole_owner_model(owner, "medical-llama", PRICE));
    let model = model.unwrap();
    w.add_node(0, principal(0x0B));
    w.deposit(alice, 2_000_000).0.unwrap();
    System {
        w,
        owner,
        alice,
        model,
    }
}

impl System {
    fn infer(&mut self) -> Result<u128, InferError> {
        let args = InferArgs {
            model: self.model,
            prompt: Some("Is this mole benign?".into()),
            messages: None,
            max_tokens: 32,
            temperature: None,
            seed: Some(1),
        };
        self.w.infer(self.alice, args).0.map(|ok| ok.charged)
    }

    fn model(&mut self) -> Model {
        let (view,): (Option<ModelView>,) = self
            .w
            .net
            .query(self.w.royalties, admin(), "get_model", (self.model,))
            .unwrap();
        view.unwrap().model
    }

    fn moderate(&mut self, action: ModerationAction, reason: &str) -> ProposalInfo {
        let info = self.w.adopt(
            &format!("{action:?} model {}", self.model),
            Action::ModerateModel {
                model: self.model,
                action,
                reason: reason.into(),
            },
        );
        // Royalties pushes the new status to the proxy in the next rounds.
        self.w.ticks(3);
        info
    }

    fn listed(&mut self) -> Vec<ModelId> {
        let (page,): (ModelPage,) = self
            .w
            .net
            .query(
                self.w.royalties,
                admin(),
                "list_models",
                (None::<ModelId>, 100u32),
            )
            .unwrap();
        page.models.into_iter().map(|v| v.model.id).collect()
    }
}

fn founder_fees(w: &mut NeuraNft) -> u64 {
    let (n,): (Option<Neuron>,) = w
        .net
        .query(w.governance, admin(), "get_neuron", (FOUNDER_NEURON,))
        .unwrap();
    n.unwrap().fees
}

#[test]
fn the_dao_suspends_delists_and_reinstates_a_model_with_the_reason_in_the_log() {
    let mut s = up();
    let charged = s.infer().expect("an active model answers");
    assert!(charged > 0);

    let reason = "Gives dosage advice without a disclaimer (report #12).";
    let info = s.moderate(ModerationAction::Suspend, reason);
    assert_eq!(info.status, ProposalStatus::Executed, "{info:?}");
    assert!(
        info.rendered_action.contains(reason),
        "{}",
        info.rendered_action
    );
    let model = s.model();
    assert_eq!(model.status, ModelStatus::Suspended);
    let moderation = model.moderation.expect("the decision is kept on the model");
    assert_eq!(
        (moderation.reason.as_str(), moderation.proposal_id),
        (reason, info.id)
    );

    // The proxy refuses the suspended model before any hold: nothing charged, nothing held.
    let before = s.w.user_balance(s.alice);
    assert_eq!(
        s.infer(),
        Err(InferError::ModelModerated {
            model: s.model,
            status: ModelStatus::Suspended
        })
    );
    assert_eq!(s.w.user_balance(s.alice), before);
    // The manager cannot lift the DAO's decision.
    let owner = s.owner;
    let (r, _) = s.w.call(
        s.w.royalties,
        owner,
        "set_model_status",
        (s.model, ModelStatus::Active),
    );
    let (refused,): (Result<(), ModelError>,) = r.unwrap();
    assert_eq!(
        refused,
        Err(ModelError::Moderated {
            model: s.model,
            status: ModelStatus::Suspended
        })
    );
    // Nobody but governance moderates.
    let (r, _) = s.w.call(
        s.w.royalties,
        owner,
        "moderate_model",
        (ModerateModelArgs {
            proposal_id: 99,
            model: s.model,
            action: ModerationAction::Reinstate,
            reason: "mine".into(),
        },),
    );
    let (refused,): (Result<ModelStatus, GovernedError>,) = r.unwrap();
    assert_eq!(refused, Err(GovernedError::NotGovernance));

    // Delisted: gone from the listing as well.
    assert!(s.listed().contains(&s.model));
    let delist = s.moderate(ModerationAction::Delist, "Trained on data without consent.");
    assert_eq!(delist.status, ProposalStatus::Executed, "{delist:?}");
    assert!(!s.listed().contains(&s.model));
    assert!(matches!(
        s.infer(),
        Err(InferError::ModelModerated {
            status: ModelStatus::Delisted,
            ..
        })
    ));

    let reinstate = s.moderate(ModerationAction::Reinstate, "The owners retrained it.");
    assert_eq!(reinstate.status, ProposalStatus::Executed, "{reinstate:?}");
    assert_eq!(s.model().status, ModelStatus::Active);
    assert_eq!(s.infer(), Ok(charged), "served and charged as before");

    // Every decision is in the settlement log, with its reason, and the chain verifies.
    let (log, verified) = s.w.settlement_log();
    verified.unwrap();
    let decisions: Vec<(ModelStatus, String, ProposalId)> = log
        .into_iter()
        .filter_map(|e| match e.event {
            LogEvent::ModelModerated {
                status, moderation, ..
            } => Some((status, moderation.reason, moderation.proposal_id)),
            _ => None,
        })
        .collect();
    assert_eq!(
        decisions,
        vec![
            (ModelStatus::Suspended, reason.to_string(), info.id),
            (
                ModelStatus::Delisted,
                "Trained on data without consent.".into(),
                delist.id
            ),
            (
                ModelStatus::Active,
                "The owners retrained it.".into(),
                reinstate.id
            ),
        ]
    );

    // Whether a model exists only royalties knows: the adopted proposal fails with its answer.
    let info = s.w.adopt(
        "Unknown",
        Action::ModerateModel {
            model: 404,
            action: ModerationAction::Suspend,
            reason: "x".into(),
        },
    );
    assert!(
        matches!(&info.status, ProposalStatus::Failed { reason } if reason.contains("UnknownModel")),
        "{info:?}"
    );
}

#[test]
fn payout_settings_and_proxy_limits_change_by_typed_proposal_within_their_bounds() {
    let mut s = up();
    let settings = PayoutSettings {
        auto_payout_fee_multiple: 50,
        payout_interval_seconds: 3_600,
    };
    let info =
        s.w.adopt("Hourly payouts", Action::SetPayoutSettings { settings });
    assert_eq!(info.status, ProposalStatus::Executed, "{info:?}");
    let (config,): (RoyaltiesConfig,) =
        s.w.net
            .query(s.w.royalties, admin(), "get_config", ())
            .unwrap();
    assert_eq!(
        (
            config.auto_payout_fee_multiple,
            config.payout_interval_seconds
        ),
        (50, 3_600)
    );

    let (before,): (ProxyConfig,) = s.w.net.query(s.w.proxy, admin(), "get_config", ()).unwrap();
    let limits = ProxyLimits {
        max_output_tokens: 16,
        calls_per_user_per_minute: 5,
        ..before.limits()
    };
    let info = s.w.adopt(
        "Short answers",
        Action::SetProxyLimits {
            limits: limits.clone(),
        },
    );
    assert_eq!(info.status, ProposalStatus::Executed, "{info:?}");
    let (after,): (ProxyConfig,) = s.w.net.query(s.w.proxy, admin(), "get_config", ()).unwrap();
    assert_eq!(after.limits(), limits);
    assert!(
        matches!(s.infer(), Err(InferError::InvalidInput { .. })),
        "32 tokens asked, 16 allowed"
    );

    // Out of bounds: refused when proposed, nothing recorded, nothing charged.
    let fees = founder_fees(&mut s.w);
    for action in [
        Action::SetPayoutSettings {
            settings: PayoutSettings {
                auto_payout_fee_multiple: 0,
                payout_interval_seconds: 3_600,
            },
        },
        Action::SetPayoutSettings {
            settings: PayoutSettings {
                auto_payout_fee_multiple: 50,
                payout_interval_seconds: 5,
            },
        },
        Action::SetProxyLimits {
            limits: ProxyLimits {
                max_nodes_per_call: 0,
                ..limits
            },
        },
    ] {
        let (refused, _) =
            s.w.propose(founder(), FOUNDER_NEURON, "Out of bounds", action);
        assert!(
            matches!(refused, Err(GovernanceError::InvalidArgument { .. })),
            "{refused:?}"
        );
    }
    assert_eq!(founder_fees(&mut s.w), fees);
    let (direct,): (Result<(), RegistryError>,) =
        s.w.net
            .update(s.w.proxy, s.alice, "set_limits", (before.limits(),))
            .unwrap();
    assert_eq!(direct, Err(RegistryError::NotGovernance));
}
