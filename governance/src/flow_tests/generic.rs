//! Generic functions: registration, validation at submission and execution, the call.

use super::*;

fn propose_generic(
    w: &World,
    targets: &RecordingTargets,
    function: u64,
    payload: &[u8],
    now: u64,
) -> Result<ProposalId, GovernanceError> {
    let neuron = w.governance.borrow().neurons_of(user(0))[0].id;
    block_on(flows::make_proposal(
        &w.governance,
        targets,
        user(0),
        MakeProposalArgs {
            action: Action::ExecuteGenericFunction {
                function,
                payload: ByteBuf::from(payload.to_vec()),
            },
            ..crate::tests::motion(neuron)
        },
        || now,
        1_000,
    ))
}

#[test]
fn a_generic_function_is_registered_validated_at_submission_and_execution_and_called() {
    let w = world();
    w.stake(0, 100).unwrap();
    let targets = RecordingTargets::default();
    let register = |target: Principal, name: &str| Action::RegisterGenericFunction {
        name: name.into(),
        description: "sets the proxy's limits".into(),
        target,
        method: "set_limits".into(),
        validator: "validate_limits".into(),
    };
    let neuron = w.governance.borrow().neurons_of(user(0))[0].id;
    let make = |action: Action| {
        block_on(flows::make_proposal(
            &w.governance,
            &targets,
            user(0),
            MakeProposalArgs {
                action,
                ..crate::tests::motion(neuron)
            },
            || T0,
            1_000,
        ))
    };
    // The management canister may not be a generic function's target.
    assert!(matches!(
        make(register(Principal::management_canister(), "bad")),
        Err(GovernanceError::InvalidArgument { field, .. }) if field == "target"
    ));
    // No function registered yet.
    assert_eq!(
        propose_generic(&w, &targets, 0, b"ok", T0),
        Err(GovernanceError::GenericFunctionNotFound { function: 0 })
    );
    let proxy = Principal::from_slice(&[7; 10]);
    let id = make(register(proxy, "proxy limits")).unwrap();
    execute(&w, &targets, T0);
    let functions = w.governance.borrow().generic_functions();
    assert_eq!(functions.len(), 1);
    assert_eq!((functions[0].id, functions[0].target), (id, proxy));
    // A second function of the same name is refused.
    assert!(matches!(
        make(register(proxy, "proxy limits")),
        Err(GovernanceError::InvalidArgument { field, .. }) if field == "name"
    ));

    let fees_before = w.governance.borrow().neuron(neuron).unwrap().fees;
    let proposals_before = w
        .governance
        .borrow()
        .list_proposals(None, 1_000, None, None)
        .len();
    // The validator refuses: a typed error, no proposal, no reject cost.
    assert_eq!(
        propose_generic(&w, &targets, id, b"no", T0),
        Err(GovernanceError::GenericValidationFailed {
            reason: "payload must start with ok".into()
        })
    );
    // Over the payload limit: refused before the validator is asked.
    let calls_before = targets.calls.borrow().len();
    let huge = [b'o'; MAX_GENERIC_PAYLOAD_BYTES + 1];
    assert!(matches!(
        propose_generic(&w, &targets, id, &huge, T0),
        Err(GovernanceError::InvalidArgument { field, .. }) if field == "payload"
    ));
    assert_eq!(
        targets.calls.borrow().len(),
        calls_before,
        "no validator call"
    );
    assert_eq!(
        w.governance.borrow().neuron(neuron).unwrap().fees,
        fees_before
    );
    assert_eq!(
        w.governance
            .borrow()
            .list_proposals(None, 1_000, None, None)
            .len(),
        proposals_before
    );

    let call = propose_generic(&w, &targets, id, b"ok: max_prompt_bytes = 5000", T0).unwrap();
    let info = w.governance.borrow().proposal(call).unwrap();
    assert!(
        info.rendered_action
            .contains(r#"validated: "ok: max_prompt_bytes = 5000""#),
        "voters read the validator's text: {}",
        info.rendered_action
    );
    assert!(info.rendered_action.contains("method: set_limits"));
    execute(&w, &targets, T0);
    assert_eq!(
        w.governance.borrow().proposal(call).unwrap().status,
        ProposalStatus::Executed
    );
    let calls = targets.calls.borrow().clone();
    assert_eq!(
        calls[calls.len() - 2..],
        [
            format!("validate {id} validate_limits"),
            format!("call {id} set_limits ok: max_prompt_bytes = 5000"),
        ],
        "validated again at execution, then called"
    );

    // A call proposed before its function is removed fails at execution, uncalled: its first
    // attempt has no definite answer, the removal executes, and the retry finds no function.
    let orphan = propose_generic(&w, &targets, id, b"ok again", T0).unwrap();
    *targets.answer.borrow_mut() = Some(TargetOutcome::Unknown("timeout".into()));
    execute(&w, &targets, T0);
    *targets.answer.borrow_mut() = None;
    let removal = make(Action::RemoveGenericFunction { function: id }).unwrap();
    execute(&w, &targets, T0);
    let calls_before = targets.calls.borrow().len();
    let retry_at = T0 + crate::state::FIRST_RETRY_DELAY_SECONDS * NANOS_PER_SECOND;
    execute(&w, &targets, retry_at);
    assert_eq!(
        w.governance.borrow().proposal(removal).unwrap().status,
        ProposalStatus::Executed
    );
    assert!(w.governance.borrow().generic_functions().is_empty());
    assert!(matches!(
        w.governance.borrow().proposal(orphan).unwrap().status,
        ProposalStatus::Failed { .. }
    ));
    assert!(
        !targets.calls.borrow()[calls_before..]
            .iter()
            .any(|c| c.starts_with("call")),
        "the removed function was not called"
    );
}
