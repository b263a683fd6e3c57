//! Making a proposal: the one flow of it that awaits (a generic function's validator).

use super::Targets;
use crate::state::{Budget, Governance};
use candid::Principal;
use neuranft_types::governance::*;
use std::cell::RefCell;

/// Makes a proposal. A generic function's registration is refused for a target no generic function
/// may call; a generic call is made only after the function's validator accepted the payload, its
/// text what voters read (the proposer's checks come first, so only a neuron that may propose makes
/// governance call a validator, and all of them again after the validator answered).
pub async fn make_proposal<T: Targets>(
    governance: &RefCell<Governance>,
    targets: &T,
    caller: Principal,
    args: MakeProposalArgs,
    now: impl Fn() -> u64,
    budget: Budget,
) -> Result<ProposalId, GovernanceError> {
    if let Action::RegisterGenericFunction { target, .. } = &args.action {
        if let Some(what) = targets.generic_target_refusal(*target) {
            return Err(GovernanceError::InvalidArgument {
                field: "target".into(),
                reason: format!("{what} may not be a generic function's target"),
            });
        }
    }
    let Action::ExecuteGenericFunction { function, payload } = &args.action else {
        return governance
            .borrow_mut()
            .make_proposal(caller, args, now(), budget);
    };
    let f = {
        let g = governance.borrow();
        g.check_proposal(caller, &args, now())?;
        g.check_generic_call(*function, payload)?
    };
    governance.borrow_mut().begin_validation(args.neuron)?;
    let neuron = args.neuron;
    // Released however the call ends, a trap in the validator's callback included.
    let _validating =
        neuranft_types::guard::OnDrop::new(|| governance.borrow_mut().end_validation(neuron));
    let text = targets
        .validate_generic(&f, payload)
        .await
        .map_err(|outcome| GovernanceError::GenericValidationFailed {
            reason: outcome.reason(),
        })?;
    // Bound first: the guard's release borrows governance when it drops, after this borrow ends.
    let made =
        governance
            .borrow_mut()
            .make_validated_proposal(caller, args, Some(text), now(), budget);
    made
}
