//! Split tests: only governance sets the split, once per proposal.

use super::*;

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

/// Before payloads were bound, a second split under an applied proposal id answered "already
/// applied": governance then showed Executed for an effect that never happened.
#[test]
fn another_split_under_an_applied_proposal_id_is_a_conflict_and_changes_nothing() {
    let mut s = fresh();
    let first = SetSplitArgs {
        proposal_id: 1,
        split: split(2_000, 6_000, 1_000, 1_000),
    };
    assert_eq!(s.set_split(governance(), first.clone(), T0), Ok(1));
    let before = s.fingerprint();
    let other = SetSplitArgs {
        proposal_id: 1,
        split: split(1_000, 7_000, 1_000, 1_000),
    };
    assert_eq!(
        s.set_split(governance(), other, T0),
        Err(SplitError::ProposalConflict { proposal_id: 1 })
    );
    assert_eq!(s.fingerprint(), before, "nothing changed");
    assert_eq!(
        s.set_split(governance(), first, T0),
        Err(SplitError::ProposalAlreadyApplied {
            proposal_id: 1,
            version: 1
        }),
        "the same payload again is done"
    );
    assert_eq!(s.current_split().split, split(2_000, 6_000, 1_000, 1_000));
}
