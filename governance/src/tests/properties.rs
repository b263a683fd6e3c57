//! Property tests: random operations keep tallies, ballots, following and fees consistent.

use super::*;
use crate::power::voting_power;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Propose {
        neuron: usize,
        critical: bool,
    },
    Vote {
        neuron: usize,
        proposal: usize,
        yes: bool,
    },
    Follow {
        neuron: usize,
        followees: Vec<usize>,
        catch_all: bool,
    },
    AddStake {
        neuron: usize,
        tokens: u64,
    },
    Advance {
        hours: u64,
        budget: u64,
    },
}

fn op(neurons: usize) -> impl Strategy<Value = Op> {
    prop_oneof![
        1 => (0..neurons, any::<bool>()).prop_map(|(neuron, critical)| Op::Propose { neuron, critical }),
        4 => (0..neurons, 0..6usize, any::<bool>())
            .prop_map(|(neuron, proposal, yes)| Op::Vote { neuron, proposal, yes }),
        2 => (0..neurons, proptest::collection::vec(0..neurons, 1..4), any::<bool>())
            .prop_map(|(neuron, followees, catch_all)| Op::Follow { neuron, followees, catch_all }),
        1 => (0..neurons, 1..500u64).prop_map(|(neuron, tokens)| Op::AddStake { neuron, tokens }),
        2 => (0..48u64, 1..40u64).prop_map(|(hours, budget)| Op::Advance { hours, budget }),
    ]
}

/// Checks every invariant over the whole state.
fn check_invariants(g: &Governance, proposals: &[(ProposalId, Vec<Neuron>)], stakes_at: &[u64]) {
    for (id, snapshot) in proposals {
        let info = g.proposal(*id).unwrap();
        let ballots = g.ballots(*id, 0, usize::MAX);
        if info.status == ProposalStatus::Preparing {
            continue;
        }
        // The tally is the sum of its ballots.
        let sum = |v: Vote| -> u128 {
            ballots
                .iter()
                .filter(|(_, b)| b.vote == v)
                .map(|(_, b)| b.voting_power)
                .sum()
        };
        assert_eq!(info.tally.yes, sum(Vote::Yes), "proposal {id}");
        assert_eq!(info.tally.no, sum(Vote::No), "proposal {id}");
        assert_eq!(
            info.tally.total,
            ballots.iter().map(|(_, b)| b.voting_power).sum::<u128>()
        );
        // Frozen: each ballot has the power of the neuron as it was when the proposal was made.
        if info.ballots_from.is_none() {
            for (n, b) in &ballots {
                let then = snapshot.iter().find(|x| x.id == *n).expect("existed then");
                assert_eq!(
                    Some(b.voting_power),
                    voting_power(then, &parameters(), info.created_at),
                    "proposal {id} neuron {n}"
                );
            }
            assert_eq!(
                ballots.len(),
                snapshot
                    .iter()
                    .filter(|x| voting_power(x, &parameters(), info.created_at).is_some())
                    .count()
            );
        }
    }
    // Reject costs: charged once per proposal, refunded once per adoption.
    for (i, stake) in stakes_at.iter().enumerate() {
        let n = g.neuron(i as u64).unwrap();
        assert_eq!(n.stake, *stake);
        let expected_fees: u64 = proposals
            .iter()
            .filter_map(|(id, _)| g.proposal(*id))
            .filter(|info| info.proposer == n.id)
            .filter(|info| {
                !matches!(
                    info.status,
                    ProposalStatus::Adopted
                        | ProposalStatus::Executed
                        | ProposalStatus::Failed { .. }
                )
            })
            .map(|info| info.reject_cost)
            .sum();
        assert_eq!(n.fees, expected_fees, "neuron {i}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    #[test]
    fn tallies_ballots_following_and_fees_stay_consistent(
        stakes in proptest::collection::vec(1..200u64, 3..9),
        ops in proptest::collection::vec(op(8), 1..60),
    ) {
        let mut g = fresh();
        let n = stakes.len();
        let mut stakes_at: Vec<u64> = Vec::new();
        for (i, s) in stakes.iter().enumerate() {
            neuron(&mut g, i as u64, *s);
            stakes_at.push(s * E8S);
        }
        let mut now = T0;
        let mut proposals: Vec<(ProposalId, Vec<Neuron>)> = Vec::new();
        for op in ops {
            match op {
                Op::Propose { neuron, critical } => {
                    let neuron = (neuron % n) as u64;
                    let snapshot: Vec<Neuron> = (0..n as u64).filter_map(|i| g.neuron(i)).collect();
                    let args = if critical { split_proposal(neuron) } else { motion(neuron) };
                    if let Ok(id) = g.make_proposal(p(neuron), args, now, 5) {
                        // The reject cost is charged before the ballots are written.
                        let mut snapshot = snapshot;
                        for x in snapshot.iter_mut().filter(|x| x.id == neuron) {
                            x.fees += parameters().reject_cost;
                        }
                        proposals.push((id, snapshot));
                    }
                }
                Op::Vote { neuron, proposal, yes } => {
                    let neuron = (neuron % n) as u64;
                    if let Some((id, _)) = proposals.get(proposal) {
                        let before = g.ballot(*id, neuron);
                        let vote = if yes { Vote::Yes } else { Vote::No };
                        let result = g.register_vote(p(neuron), neuron, *id, vote, now, 5);
                        if let Some(b) = before.filter(|b| b.vote != Vote::Unspecified) {
                            prop_assert!(result.is_err(), "voted twice");
                            prop_assert_eq!(g.ballot(*id, neuron), Some(b));
                        }
                    }
                }
                Op::Follow { neuron, followees, catch_all } => {
                    let neuron = (neuron % n) as u64;
                    let followees: Vec<u64> = followees.iter().map(|f| (*f % n) as u64).collect();
                    let topic = if catch_all { Topic::CatchAll } else { Topic::RoyaltySplit };
                    let _ = g.follow(p(neuron), neuron, topic, followees, now);
                }
                Op::AddStake { neuron, tokens } => {
                    let neuron = neuron % n;
                    g.add_stake(neuron as u64, tokens * E8S, now).unwrap();
                    stakes_at[neuron] += tokens * E8S;
                }
                Op::Advance { hours, budget } => {
                    now += hours * 3_600 * NANOS_PER_SECOND;
                    g.advance(now, budget);
                }
            }
        }
        // Let every pending piece of work finish: following then agrees with its rule.
        while !g.advance(now, 7).finished {}
        prop_assert_eq!(g.pending_follow_work(), 0);
        for (id, _) in &proposals {
            let info = g.proposal(*id).unwrap();
            if info.status != ProposalStatus::Open {
                continue;
            }
            for (follower, ballot) in g.ballots(*id, 0, usize::MAX) {
                if ballot.vote != Vote::Unspecified {
                    continue;
                }
                let neuron = g.neuron(follower).unwrap();
                let on = |t: Topic| neuron.followees.iter().find(|(x, _)| *x == t).map(|(_, f)| f.clone());
                let followees = on(info.topic).or_else(|| (!info.topic.is_critical()).then(|| on(Topic::CatchAll)).flatten());
                if let Some(f) = followees {
                    let yes = f.iter().filter(|x| g.ballot(*id, **x).map(|b| b.vote) == Some(Vote::Yes)).count();
                    let no = f.iter().filter(|x| g.ballot(*id, **x).map(|b| b.vote) == Some(Vote::No)).count();
                    prop_assert!(yes * 2 <= f.len() && no * 2 < f.len(), "follower {follower} should have voted on {id}");
                }
            }
        }
        check_invariants(&g, &proposals, &stakes_at);
        // Every proposal is eventually decided.
        now += days(20);
        while !g.advance(now, 1_000).finished {}
        for (id, _) in &proposals {
            prop_assert!(!matches!(g.proposal(*id).unwrap().status, ProposalStatus::Open | ProposalStatus::Preparing));
        }
        check_invariants(&g, &proposals, &stakes_at);
    }
}
