//! The typed settings actions: each adopted one calls its target once with the proposal's payload,
//! a replay answered as done is Executed, a refusal Failed with the target's reason.

use super::*;
use neuranft_types::royalties::ModerationAction;

#[test]
fn typed_settings_call_their_targets_and_take_the_answer_as_the_result() {
    let w = world();
    w.stake(0, 100).unwrap();
    let targets = RecordingTargets::default();
    let moderation = adopt(
        &w,
        Action::ModerateModel {
            model: 7,
            action: ModerationAction::Delist,
            reason: "trained on data without consent".into(),
        },
        T0,
    );
    assert_eq!(execute(&w, &targets, T0), vec![moderation]);
    let settings = PayoutSettings {
        auto_payout_fee_multiple: 20,
        payout_interval_seconds: 600,
    };
    let payouts = adopt(&w, Action::SetPayoutSettings { settings }, T0);
    // The target already applied it (an earlier attempt whose answer was lost): done.
    *targets.answer.borrow_mut() = Some(TargetOutcome::AlreadyDone);
    assert_eq!(execute(&w, &targets, T0), vec![payouts]);
    let limits = ProxyLimits {
        max_prompt_bytes: 5_000,
        max_output_tokens: 256,
        calls_per_user_per_minute: 10,
        max_nodes_per_call: 2,
        failures_before_suspension: 3,
        flush_interval_seconds: 60,
        max_receipts_per_batch: 100,
    };
    let proxy = adopt(&w, Action::SetProxyLimits { limits }, T0);
    *targets.answer.borrow_mut() = Some(TargetOutcome::Refused("UnknownModel".into()));
    assert_eq!(execute(&w, &targets, T0), vec![proxy]);
    assert_eq!(
        *targets.calls.borrow(),
        vec![
            format!("moderate {moderation} 7 Delist trained on data without consent"),
            format!("payouts {payouts} 600"),
            format!("limits {proxy} 5000"),
        ]
    );
    let status = |id| w.governance.borrow().proposal(id).unwrap().status;
    assert_eq!(status(moderation), ProposalStatus::Executed);
    assert_eq!(status(payouts), ProposalStatus::Executed);
    assert_eq!(
        status(proxy),
        ProposalStatus::Failed {
            reason: "UnknownModel".into()
        }
    );
    assert!(execute(&w, &targets, T0 + 1).is_empty(), "each once");
}
