//! Execution of adopted proposals: the treasury cap checked twice, outcomes recorded once, and the
//! bounded retries of unknown outcomes.

use super::*;
use neuranft_types::Account;

#[test]
fn a_failed_execution_is_recorded_once_and_treasury_limits_are_checked_twice() {
    let (mut g, [a, b, _]) = three();
    let transfer = |amount| MakeProposalArgs {
        action: Action::TransferTreasury {
            to: Account {
                owner: p(70),
                subaccount: None,
            },
            amount,
        },
        ..motion(a)
    };
    assert_eq!(
        g.make_proposal(p(0), transfer(1_000_001), T0, BIG),
        Err(GovernanceError::TreasuryCapExceeded {
            cap: 1_000_000,
            used: 0,
            requested: 1_000_001
        })
    );
    let first = g.make_proposal(p(0), transfer(600_000), T0, BIG).unwrap();
    let second = g.make_proposal(p(0), transfer(600_000), T0, BIG).unwrap();
    for id in [first, second] {
        g.register_vote(p(1), b, id, Vote::Yes, T0 + 1, BIG)
            .unwrap();
        assert_eq!(status(&g, id), ProposalStatus::Adopted);
    }
    assert_eq!(g.executions_due(10, T0 + 1).len(), 2);
    assert_eq!(g.check_before_execution(first, T0 + 2, 0), Ok(()));
    g.record_execution(first, Ok(()), T0 + 2);
    assert_eq!(g.treasury_used(T0 + 3), 600_000);
    // Both fitted when made; together they do not: the second is refused at execution.
    assert!(matches!(
        g.check_before_execution(second, T0 + 3, 0),
        Err(GovernanceError::TreasuryCapExceeded { used: 600_000, .. })
    ));
    g.record_execution(
        second,
        Err("treasury cap exceeded at execution".into()),
        T0 + 3,
    );
    assert_eq!(
        status(&g, second),
        ProposalStatus::Failed {
            reason: "treasury cap exceeded at execution".into()
        }
    );
    g.record_execution(second, Ok(()), T0 + 4);
    assert!(
        matches!(status(&g, second), ProposalStatus::Failed { .. }),
        "recorded once"
    );
    assert!(g.executions_due(10, T0 + 4).is_empty());
    // Seven days later the cap is free again.
    assert_eq!(g.treasury_used(T0 + days(7) + 3), 0);
}

#[test]
fn an_execution_without_a_definite_answer_is_failed_after_the_bounded_attempts() {
    use crate::state::{FIRST_RETRY_DELAY_SECONDS, MAX_EXECUTION_ATTEMPTS};
    let memory = DefaultMemoryImpl::default();
    let mut g = Governance::open_small(memory.clone());
    g.initialize(parameters()).unwrap();
    let a = neuron(&mut g, 0, 100);
    let id = g
        .make_proposal(
            p(0),
            MakeProposalArgs {
                action: Action::AdmitNode { node: 7 },
                ..motion(a)
            },
            T0,
            BIG,
        )
        .unwrap();
    assert_eq!(status(&g, id), ProposalStatus::Adopted);
    let mut now = T0;
    for attempt in 1..MAX_EXECUTION_ATTEMPTS {
        assert_eq!(g.executions_due(10, now).len(), 1, "attempt {attempt}");
        g.record_unknown_outcome(id, format!("stop_canister: timeout {attempt}"), now);
        assert_eq!(status(&g, id), ProposalStatus::Adopted);
        let delay = (FIRST_RETRY_DELAY_SECONDS * NANOS_PER_SECOND) << (attempt - 1);
        assert_eq!(g.execution_attempts(id), (attempt, now + delay));
        assert!(
            g.executions_due(10, now + delay - 1).is_empty(),
            "not before the delay"
        );
        now += delay;
        // The count is in stable memory: an upgrade of governance does not reset it.
        g = Governance::open_small(memory.clone());
    }
    g.record_unknown_outcome(id, "stop_canister: timeout 10".into(), now);
    assert_eq!(
        status(&g, id),
        ProposalStatus::Failed {
            reason: "no definite answer after 10 attempts; the last: stop_canister: timeout 10"
                .into()
        }
    );
    assert_eq!(g.proposal(id).unwrap().executed_at, Some(now));
    assert!(g.executions_due(10, u64::MAX).is_empty());
    assert_eq!(g.execution_attempts(id), (0, 0), "forgotten once final");
    // About 85 minutes from the first attempt to giving up.
    assert_eq!((now - T0) / NANOS_PER_SECOND, 5_110);
}
