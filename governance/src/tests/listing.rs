//! `list_proposals` by status and topic from the indexes, equal to a filter over the whole history,
//! and the same after the indexes of an older state are backfilled in steps.

use super::*;
use crate::state::status_names;

/// Forty proposals by 40 equal neurons: thirty motions (normal) and splits (critical) decided at
/// their deadline (a split with its proposer's yes alone, 2.5% of the power, under its 20% quorum;
/// a motion with a second yes, over its 3%), then ten motions still open.
fn history() -> Governance {
    let mut g = fresh();
    let neurons: Vec<NeuronId> = (0..40).map(|i| neuron(&mut g, i, 10)).collect();
    for (i, n) in neurons.iter().enumerate().take(30) {
        if i % 3 == 0 {
            g.make_proposal(p(i as u64), split_proposal(*n), T0, BIG)
                .unwrap();
        } else {
            let id = g.make_proposal(p(i as u64), motion(*n), T0, BIG).unwrap();
            // A second yes: 5% of the power, over a motion's quorum.
            g.register_vote(p(39), neurons[39], id, Vote::Yes, T0, BIG)
                .unwrap();
        }
    }
    g.advance(T0 + days(30), BIG);
    for (i, n) in neurons.iter().enumerate().skip(30) {
        g.make_proposal(p(i as u64), motion(*n), T0 + days(30), BIG)
            .unwrap();
    }
    g
}

/// What `list_proposals` must answer: the whole history filtered, newest first.
fn naive(
    g: &Governance,
    before: Option<ProposalId>,
    limit: usize,
    topic: Option<Topic>,
    status: Option<&str>,
) -> Vec<ProposalInfo> {
    let all = g.list_proposals(None, usize::MAX, None, None);
    all.into_iter()
        .filter(|i| before.is_none_or(|b| i.id < b))
        .filter(|i| topic.is_none_or(|t| i.topic == t))
        .filter(|i| status.is_none_or(|s| crate::state::status_name(&i.status) == s))
        .take(limit)
        .collect()
}

fn assert_lists_match(g: &Governance) {
    let statuses = status_names();
    let mut checked = 0;
    for topic in [
        None,
        Some(Topic::Motion),
        Some(Topic::RoyaltySplit),
        Some(Topic::Treasury),
    ] {
        for status in std::iter::once(None)
            .chain(statuses.iter().map(|s| Some(s.as_str())))
            .chain([Some("NoSuchStatus")])
        {
            for (before, limit) in [(None, 100), (None, 3), (Some(25), 4), (Some(0), 10)] {
                let listed = g.list_proposals(before, limit, topic, status);
                assert_eq!(
                    listed,
                    naive(g, before, limit, topic, status),
                    "{topic:?} {status:?} {before:?}"
                );
                checked += listed.len();
            }
        }
    }
    assert!(checked > 100, "the cases list something: {checked}");
}

#[test]
fn filtered_lists_come_from_the_indexes_and_equal_the_filtered_history() {
    let g = history();
    let count = |status: &str| g.list_proposals(None, 100, None, Some(status)).len();
    assert_eq!(count("Open"), 10);
    // A motion has nothing to execute: adopted, it is Executed at once.
    assert_eq!((count("Rejected"), count("Executed")), (10, 20));
    assert_lists_match(&g);
}

#[test]
fn the_indexes_of_an_older_state_are_backfilled_in_steps() {
    let mut g = history();
    g.forget_proposal_indexes();
    // Until the backfill is done the filtered list scans, with the same answers.
    assert_lists_match(&g);
    let mut steps = 0;
    while g.index_history(7) > 0 {
        steps += 1;
        assert_lists_match(&g);
    }
    assert_eq!(steps, 6, "40 proposals, 7 per step");
    assert_eq!(g.index_history(7), 0);
    assert_lists_match(&g);
}
