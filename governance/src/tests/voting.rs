//! Voting: early and deadline decisions, critical topics, wait-for-quiet, following and single votes.

use super::*;

#[test]
fn adopted_by_absolute_majority_before_the_deadline_and_the_cost_refunded() {
    let (mut g, [a, b, _]) = three();
    let id = g.make_proposal(p(0), motion(a), T0, BIG).unwrap();
    assert_eq!(status(&g, id), ProposalStatus::Open);
    assert_eq!(g.neuron(a).unwrap().fees, E8S, "the reject cost is charged");
    let info = g.proposal(id).unwrap();
    assert_eq!(
        info.tally.yes,
        g.ballot(id, a).unwrap().voting_power,
        "the proposer voted yes"
    );
    g.register_vote(p(1), b, id, Vote::Yes, T0 + 1, BIG)
        .unwrap();
    // A motion executes when adopted.
    assert_eq!(status(&g, id), ProposalStatus::Executed);
    assert_eq!(g.proposal(id).unwrap().decided_at, Some(T0 + 1));
    assert_eq!(g.neuron(a).unwrap().fees, 0, "refunded on adoption");
    assert_eq!(
        g.register_vote(p(2), 2, id, Vote::No, T0 + 2, BIG),
        Err(GovernanceError::VotingClosed)
    );
}

#[test]
fn rejected_early_when_yes_can_no_longer_win_and_the_cost_kept() {
    let (mut g, [a, b, c]) = three();
    let id = g.make_proposal(p(0), split_proposal(a), T0, BIG).unwrap();
    // Critical: 35% no leaves yes at most 65% of all power, below 67%.
    g.register_vote(p(1), b, id, Vote::No, T0 + 1, BIG).unwrap();
    assert_eq!(status(&g, id), ProposalStatus::Rejected);
    assert_eq!(
        g.neuron(a).unwrap().fees,
        E8S,
        "the reject cost stays charged"
    );
    assert!(g.executions_due(10, T0 + 1).is_empty());
    assert_eq!(
        g.register_vote(p(2), c, id, Vote::Yes, T0 + 2, BIG),
        Err(GovernanceError::VotingClosed)
    );
}

#[test]
fn decided_at_the_deadline_by_quorum_and_majority_of_votes_cast() {
    let (mut g, [a, _, c]) = three();
    let id = g.make_proposal(p(0), motion(a), T0, BIG).unwrap();
    g.register_vote(p(2), c, id, Vote::No, T0 + 1, BIG).unwrap();
    // 40 yes, 25 no, 35 silent: no early decision.
    g.advance(T0 + days(4) - 1, BIG);
    assert_eq!(status(&g, id), ProposalStatus::Open);
    let progress = g.advance(T0 + days(4), BIG);
    assert_eq!(progress.decided, vec![id]);
    assert_eq!(status(&g, id), ProposalStatus::Executed);
}

#[test]
fn critical_topics_need_the_larger_majority_and_quorum() {
    // 40 yes vs 25 no: 61.5% of the votes cast, below 67%.
    let (mut g, [a, _, c]) = three();
    let id = g.make_proposal(p(0), split_proposal(a), T0, BIG).unwrap();
    g.register_vote(p(2), c, id, Vote::No, T0 + 1, BIG).unwrap();
    assert_eq!(status(&g, id), ProposalStatus::Open);
    g.advance(T0 + days(5), BIG);
    assert_eq!(status(&g, id), ProposalStatus::Rejected);
    // 75% yes decides early and queues the execution.
    let (mut g, [a, b, _]) = three();
    let id = g.make_proposal(p(0), split_proposal(a), T0, BIG).unwrap();
    g.register_vote(p(1), b, id, Vote::Yes, T0 + 1, BIG)
        .unwrap();
    assert_eq!(status(&g, id), ProposalStatus::Adopted);
    assert!(matches!(
        g.executions_due(10, T0 + 1).as_slice(),
        [(pid, Action::SetRoyaltySplit { .. })] if *pid == id
    ));
    // A small neuron alone: 100% of the votes cast but below the 20% quorum.
    let mut g = fresh();
    let small = neuron(&mut g, 0, 10);
    neuron(&mut g, 1, 90);
    let id = g
        .make_proposal(p(0), split_proposal(small), T0, BIG)
        .unwrap();
    g.advance(T0 + days(5), BIG);
    assert_eq!(status(&g, id), ProposalStatus::Rejected);
    // The same share passes a normal topic's 3% quorum.
    let id = g
        .make_proposal(p(0), motion(small), T0 + days(6), BIG)
        .unwrap();
    g.advance(T0 + days(10), BIG);
    assert_eq!(status(&g, id), ProposalStatus::Executed);
}

#[test]
fn a_late_flip_extends_the_deadline_wait_for_quiet() {
    let mut g = fresh();
    let ids: Vec<NeuronId> = [30, 20, 25, 25]
        .iter()
        .enumerate()
        .map(|(i, s)| neuron(&mut g, i as u64, *s))
        .collect();
    let id = g.make_proposal(p(0), motion(ids[0]), T0, BIG).unwrap();
    let original = g.proposal(id).unwrap().deadline;
    assert_eq!(original, T0 + days(4));
    // 30 yes vs 20 no: yes is winning; no change of deadline.
    g.register_vote(p(1), ids[1], id, Vote::No, T0 + days(1), BIG)
        .unwrap();
    assert_eq!(g.proposal(id).unwrap().deadline, original);
    // An hour before the deadline no overtakes (45 vs 30): the deadline moves to a day from now.
    let late = original - days(1) / 24;
    g.register_vote(p(2), ids[2], id, Vote::No, late, BIG)
        .unwrap();
    assert_eq!(g.proposal(id).unwrap().deadline, late + days(1));
    // After the original deadline, the extension lets the last neuron vote and flip it back.
    g.advance(original + 1, BIG);
    assert_eq!(status(&g, id), ProposalStatus::Open);
    g.register_vote(p(3), ids[3], id, Vote::Yes, original + 2, BIG)
        .unwrap();
    // 55 yes vs 45 no of 100: more than half of all power — adopted at once.
    assert_eq!(status(&g, id), ProposalStatus::Executed);
}

#[test]
fn wait_for_quiet_never_extends_beyond_its_cap() {
    let mut g = fresh();
    let ids: Vec<NeuronId> = (0..12).map(|i| neuron(&mut g, i, 10)).collect();
    let id = g.make_proposal(p(0), motion(ids[0]), T0, BIG).unwrap();
    // Each vote, a moment before the deadline, flips the outcome; nobody reaches an absolute majority.
    let cap = T0 + days(4 + 4);
    let (mut yes, mut no) = (1u32, 0u32);
    for (i, n) in ids.iter().enumerate().skip(1).take(9) {
        let now = g.proposal(id).unwrap().deadline - 1;
        let vote = if yes > no { Vote::No } else { Vote::Yes };
        if vote == Vote::No {
            no += 1;
        } else {
            yes += 1;
        }
        g.register_vote(p(i as u64), *n, id, vote, now, BIG)
            .unwrap();
        assert!(g.proposal(id).unwrap().deadline <= cap);
    }
    assert_eq!(
        g.proposal(id).unwrap().deadline,
        cap,
        "extended up to the cap"
    );
    g.advance(cap, BIG);
    assert_ne!(status(&g, id), ProposalStatus::Open);
}

#[test]
fn following_cascades_by_topic_and_critical_topics_ignore_the_catch_all() {
    let mut g = fresh();
    let leader = neuron(&mut g, 0, 10);
    let by_topic = neuron(&mut g, 1, 10);
    let by_catch_all = neuron(&mut g, 2, 10);
    let second_hand = neuron(&mut g, 3, 10);
    let undecided = neuron(&mut g, 4, 10);
    let other = neuron(&mut g, 5, 100);
    g.follow(p(1), by_topic, Topic::Motion, vec![leader], T0)
        .unwrap();
    g.follow(p(1), by_topic, Topic::RoyaltySplit, vec![leader], T0)
        .unwrap();
    g.follow(p(2), by_catch_all, Topic::CatchAll, vec![leader], T0)
        .unwrap();
    g.follow(p(3), second_hand, Topic::CatchAll, vec![by_topic], T0)
        .unwrap();
    g.follow(p(4), undecided, Topic::Motion, vec![leader, other], T0)
        .unwrap();
    let m = g.make_proposal(p(0), motion(leader), T0, BIG).unwrap();
    let vote = |g: &Governance, pid, n| g.ballot(pid, n).unwrap().vote;
    assert_eq!(vote(&g, m, by_topic), Vote::Yes);
    assert_eq!(vote(&g, m, by_catch_all), Vote::Yes);
    assert_eq!(vote(&g, m, second_hand), Vote::Yes, "the cascade goes on");
    assert_eq!(
        vote(&g, m, undecided),
        Vote::Unspecified,
        "1 of 2 is not a majority"
    );
    // No from `other` settles `undecided`: at least half of its followees said no.
    g.register_vote(p(5), other, m, Vote::No, T0 + 1, BIG)
        .unwrap();
    assert_eq!(vote(&g, m, undecided), Vote::No);

    let s = g
        .make_proposal(p(0), split_proposal(leader), T0 + 2, BIG)
        .unwrap();
    assert_eq!(
        vote(&g, s, by_topic),
        Vote::Yes,
        "explicit followee on the critical topic"
    );
    assert_eq!(
        vote(&g, s, by_catch_all),
        Vote::Unspecified,
        "catch-all ignored"
    );
    assert_eq!(vote(&g, s, second_hand), Vote::Unspecified);
}

#[test]
fn a_following_cycle_terminates() {
    let mut g = fresh();
    let ids: Vec<NeuronId> = (0..5).map(|i| neuron(&mut g, i, 10)).collect();
    for i in 0..5 {
        g.follow(
            p(i),
            ids[i as usize],
            Topic::CatchAll,
            vec![ids[((i + 1) % 5) as usize]],
            T0,
        )
        .unwrap();
    }
    let id = g.make_proposal(p(0), motion(ids[0]), T0, BIG).unwrap();
    // Everyone follows around the ring to the proposer's yes, and the proposal passes.
    for n in &ids {
        assert_eq!(g.ballot(id, *n).unwrap().vote, Vote::Yes);
    }
    assert_eq!(status(&g, id), ProposalStatus::Executed);
    assert_eq!(g.pending_follow_work(), 0);
}

#[test]
fn a_neuron_votes_once() {
    let mut g = fresh();
    let ids: Vec<NeuronId> = [10, 10, 10, 70]
        .iter()
        .enumerate()
        .map(|(i, s)| neuron(&mut g, i as u64, *s))
        .collect();
    let id = g.make_proposal(p(0), motion(ids[0]), T0, BIG).unwrap();
    g.register_vote(p(1), ids[1], id, Vote::No, T0, BIG)
        .unwrap();
    assert_eq!(
        g.register_vote(p(1), ids[1], id, Vote::Yes, T0, BIG),
        Err(GovernanceError::AlreadyVoted)
    );
    assert_eq!(
        g.register_vote(p(0), ids[0], id, Vote::No, T0, BIG),
        Err(GovernanceError::AlreadyVoted),
        "the proposer voted yes by proposing"
    );
}

#[test]
fn ballots_of_final_proposals_are_pruned_after_the_retention_period_in_bounded_steps() {
    let (mut g, [a, b, _]) = three();
    let rejected = g.make_proposal(p(0), split_proposal(a), T0, BIG).unwrap();
    g.register_vote(p(1), b, rejected, Vote::No, T0 + 1, BIG)
        .unwrap();
    assert_eq!(status(&g, rejected), ProposalStatus::Rejected);
    let open = g.make_proposal(p(1), motion(b), T0 + 2, BIG).unwrap();
    let tally = g.proposal(rejected).unwrap().tally;
    assert_eq!(g.ballots(rejected, 0, 10).len(), 3);
    let retention = days(crate::state::BALLOT_RETENTION_SECONDS / DAY);
    // Within the retention period nothing goes.
    assert_eq!(g.prune_ballots(T0 + retention, BIG), 0);
    assert_eq!(g.ballots(rejected, 0, 10).len(), 3);
    // After it, in steps of the budget: two, then the last one.
    let later = T0 + 1 + retention;
    assert_eq!(g.prune_ballots(later, 2), 2);
    assert_eq!(g.ballots(rejected, 0, 10).len(), 1);
    assert_eq!(g.prune_ballots(later, 2), 1);
    assert_eq!(g.prune_ballots(later, 2), 0, "nothing left to prune");
    assert!(g.ballots(rejected, 0, 10).is_empty());
    // The proposal and its tally stay; an undecided proposal keeps its ballots.
    assert_eq!(g.proposal(rejected).unwrap().tally, tally);
    assert_eq!(g.ballots(open, 0, 10).len(), 3);
}
