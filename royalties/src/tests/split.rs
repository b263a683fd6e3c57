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
