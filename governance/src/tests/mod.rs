//! Scenarios with a controlled clock, and property tests of the voting invariants.

use crate::power::{voting_power, NANOS_PER_SECOND};
use crate::state::{Governance, Progress};
use candid::Principal;
use ic_stable_structures::DefaultMemoryImpl;
use neuranft_types::governance::*;
use neuranft_types::royalties::SplitConfig;
use neuranft_types::Account;
use proptest::prelude::*;
use serde_bytes::ByteBuf;

const DAY: u64 = 24 * 3_600;
const T0: u64 = 1_750_000_000 * NANOS_PER_SECOND;
const E8S: u64 = 100_000_000;
const BIG: u64 = 1_000_000;

fn p(n: u64) -> Principal {
    let mut bytes = n.to_be_bytes().to_vec();
    bytes.push(0x01);
    Principal::from_slice(&bytes)
}

fn days(n: u64) -> u64 {
    n * DAY * NANOS_PER_SECOND
}

pub(crate) fn parameters() -> Parameters {
    Parameters {
        min_stake: E8S,
        min_dissolve_delay_seconds: 180 * DAY,
        max_dissolve_delay_seconds: 8 * 365 * DAY,
        max_dissolve_delay_bonus_bps: 10_000,
        max_age_for_bonus_seconds: 4 * 365 * DAY,
        max_age_bonus_bps: 2_500,
        reject_cost: E8S,
        max_open_proposals_per_neuron: 2,
        max_followees_per_topic: 15,
        normal: VotingRules {
            voting_period_seconds: 4 * DAY,
            quorum_bps: 300,
            majority_bps: 5_000,
            wait_for_quiet_seconds: DAY,
            max_extension_seconds: 4 * DAY,
        },
        critical: VotingRules {
            voting_period_seconds: 5 * DAY,
            quorum_bps: 2_000,
            majority_bps: 6_700,
            wait_for_quiet_seconds: 2 * DAY,
            max_extension_seconds: 5 * DAY,
        },
        treasury_cap_per_7_days: 1_000_000,
        voting_power_spike_bps: 15_000,
    }
}

fn fresh() -> Governance {
    let mut g = Governance::open_small(DefaultMemoryImpl::default());
    g.initialize(parameters()).unwrap();
    g
}

/// A neuron of controller `p(n)` with `stake` whole tokens and a one-year dissolve delay.
fn neuron(g: &mut Governance, n: u64, stake: u64) -> NeuronId {
    let id = g.allocate_neuron_id();
    g.create_neuron(id, p(n), stake * E8S, 365 * DAY, T0)
        .unwrap();
    id
}

pub(crate) fn motion(neuron: NeuronId) -> MakeProposalArgs {
    MakeProposalArgs {
        neuron,
        title: "Adopt the medical data charter".into(),
        summary: "…".into(),
        url: "https://forum.example/t/1".into(),
        action: Action::Motion {
            text: "We adopt the charter.".into(),
        },
    }
}

fn split_proposal(neuron: NeuronId) -> MakeProposalArgs {
    MakeProposalArgs {
        action: Action::SetRoyaltySplit {
            split: SplitConfig {
                host_bps: 2_500,
                model_owners_bps: 5_500,
                data_owners_bps: 1_000,
                treasury_bps: 1_000,
            },
        },
        ..motion(neuron)
    }
}

fn status(g: &Governance, id: ProposalId) -> ProposalStatus {
    g.proposal(id).unwrap().status
}

/// Neurons 0, 1, 2 of controllers 0, 1, 2 with 40, 35 and 25 tokens (equal delays, so equal bonuses).
fn three() -> (Governance, [NeuronId; 3]) {
    let mut g = fresh();
    let ids = [
        neuron(&mut g, 0, 40),
        neuron(&mut g, 1, 35),
        neuron(&mut g, 2, 25),
    ];
    (g, ids)
}

#[test]
fn voting_power_is_stake_times_the_capped_bonuses() {
    let params = parameters();
    let mut g = fresh();
    let id = neuron(&mut g, 0, 100);
    let mut n = g.neuron(id).unwrap();
    n.dissolve = DissolveState::NotDissolving {
        dissolve_delay_seconds: params.max_dissolve_delay_seconds,
    };
    // Maximum delay and age: ×2 × 1.25.
    let old = T0 + days(4 * 365);
    assert_eq!(voting_power(&n, &params, old), Some(250 * E8S as u128));
    assert_eq!(voting_power(&n, &params, T0), Some(200 * E8S as u128));
    // Beyond the caps nothing more.
    assert_eq!(
        voting_power(&n, &params, old + days(1_000)),
        Some(250 * E8S as u128)
    );
    // Half the maximum delay: ×1.5, no age.
    n.dissolve = DissolveState::NotDissolving {
        dissolve_delay_seconds: params.max_dissolve_delay_seconds / 2,
    };
    assert_eq!(voting_power(&n, &params, T0), Some(150 * E8S as u128));
    // Below the minimum delay: no vote at all. Dissolving: no age.
    n.dissolve = DissolveState::NotDissolving {
        dissolve_delay_seconds: params.min_dissolve_delay_seconds - 1,
    };
    assert_eq!(voting_power(&n, &params, old), None);
    n.dissolve = DissolveState::Dissolving {
        dissolved_at: old + days(4 * 365),
    };
    assert_eq!(voting_power(&n, &params, old), Some(150 * E8S as u128));
    // Fees do not vote.
    n.fees = 50 * E8S;
    assert_eq!(voting_power(&n, &params, old), Some(75 * E8S as u128));
}

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
fn voting_power_is_frozen_when_the_proposal_is_made() {
    let (mut g, [a, b, _]) = three();
    let id = g.make_proposal(p(0), split_proposal(a), T0, BIG).unwrap();
    let frozen = g.ballot(id, b).unwrap().voting_power;
    g.add_stake(b, 1_000 * E8S, T0 + 1).unwrap();
    g.increase_dissolve_delay(p(1), b, 365 * DAY, T0 + 1)
        .unwrap();
    assert_eq!(g.ballot(id, b).unwrap().voting_power, frozen);
    let late = neuron(&mut g, 9, 1_000);
    assert_eq!(
        g.register_vote(p(9), late, id, Vote::Yes, T0 + 2, BIG),
        Err(GovernanceError::NoBallot),
        "a neuron made after the proposal has no ballot"
    );
    let total = g.proposal(id).unwrap().tally.total;
    g.register_vote(p(1), b, id, Vote::Yes, T0 + 3, BIG)
        .unwrap();
    let tally = g.proposal(id).unwrap().tally;
    assert_eq!(tally.total, total);
    assert_eq!(tally.yes, g.ballot(id, a).unwrap().voting_power + frozen);
}

#[test]
fn ballots_are_written_in_bounded_chunks_and_frozen_before_a_change() {
    let mut g = fresh();
    let ids: Vec<NeuronId> = (0..1_000).map(|i| neuron(&mut g, i, 1 + i % 7)).collect();
    let id = g.make_proposal(p(0), motion(ids[0]), T0, 100).unwrap();
    let expected: u128 = ids
        .iter()
        .map(|n| voting_power(&g.neuron(*n).unwrap(), &parameters(), T0).unwrap())
        .sum();
    assert_eq!(status(&g, id), ProposalStatus::Preparing);
    assert_eq!(
        g.register_vote(p(1), ids[1], id, Vote::Yes, T0 + 1, 100),
        Err(GovernanceError::VotingClosed)
    );
    // A neuron the writer has not reached yet changes: its ballot keeps the power it had.
    let before = voting_power(&g.neuron(ids[900]).unwrap(), &parameters(), T0).unwrap();
    g.add_stake(ids[900], 10_000 * E8S, T0 + 1).unwrap();
    let mut steps = 0;
    while status(&g, id) == ProposalStatus::Preparing {
        let Progress {
            ballots_written, ..
        } = g.advance(T0 + 2, 100);
        assert!(ballots_written <= 100);
        steps += 1;
    }
    assert!(steps >= 9, "{steps} steps");
    assert_eq!(g.ballot(id, ids[900]).unwrap().voting_power, before);
    assert_eq!(g.proposal(id).unwrap().tally.total, expected);
    assert_eq!(g.ballots(id, 0, 2_000).len(), 1_000);
}

#[test]
fn spam_limits_and_bad_callers_are_typed_errors_that_change_nothing() {
    let (mut g, [a, b, _]) = three();
    g.add_hot_key(p(0), a, p(50)).unwrap();
    let before = g.neuron(a).unwrap();
    assert_eq!(
        g.make_proposal(Principal::anonymous(), motion(a), T0, BIG),
        Err(GovernanceError::AnonymousCaller)
    );
    assert_eq!(
        g.make_proposal(p(1), motion(a), T0, BIG),
        Err(GovernanceError::NotAuthorized)
    );
    assert!(matches!(
        g.make_proposal(
            p(0),
            MakeProposalArgs {
                title: String::new(),
                ..motion(a)
            },
            T0,
            BIG
        ),
        Err(GovernanceError::InvalidArgument { .. })
    ));
    let bad_split = MakeProposalArgs {
        action: Action::SetRoyaltySplit {
            split: SplitConfig {
                host_bps: 1,
                model_owners_bps: 1,
                data_owners_bps: 1,
                treasury_bps: 1,
            },
        },
        ..motion(a)
    };
    assert!(matches!(
        g.make_proposal(p(0), bad_split, T0, BIG),
        Err(GovernanceError::InvalidArgument { .. })
    ));
    let not_wasm = MakeProposalArgs {
        action: Action::UpgradeCanister {
            target: UpgradeTarget::Royalties,
            wasm: ByteBuf::from(b"not a wasm".to_vec()),
            arg: ByteBuf::new(),
        },
        ..motion(a)
    };
    assert!(matches!(
        g.make_proposal(p(0), not_wasm, T0, BIG),
        Err(GovernanceError::InvalidArgument { .. })
    ));
    assert_eq!(g.neuron(a).unwrap(), before, "nothing charged");
    // A hot key may propose and vote, never move stake or the dissolve state.
    g.make_proposal(p(50), motion(a), T0, BIG).unwrap();
    assert_eq!(
        g.start_dissolving(p(50), a, T0),
        Err(GovernanceError::NotAuthorized)
    );
    // At most two open proposals per neuron.
    let second = g.make_proposal(p(0), split_proposal(a), T0, BIG).unwrap();
    assert_eq!(
        g.make_proposal(p(0), motion(a), T0, BIG),
        Err(GovernanceError::TooManyOpenProposals { max: 2 })
    );
    // A neuron below the minimum delay cannot propose; one without free stake cannot pay the cost.
    let short = g.allocate_neuron_id();
    g.create_neuron(short, p(7), 10 * E8S, DAY, T0).unwrap();
    assert!(matches!(
        g.make_proposal(p(7), motion(short), T0, BIG),
        Err(GovernanceError::DissolveDelayTooShort { .. })
    ));
    let poor = g.allocate_neuron_id();
    g.create_neuron(poor, p(8), E8S, 365 * DAY, T0).unwrap();
    g.make_proposal(p(8), motion(poor), T0, BIG).unwrap();
    assert!(matches!(
        g.make_proposal(p(8), motion(poor), T0, BIG),
        Err(GovernanceError::InsufficientStakeForRejectCost { .. })
    ));
    assert_eq!(
        g.register_vote(p(1), b, second, Vote::Unspecified, T0, BIG),
        Err(GovernanceError::InvalidArgument {
            field: "vote".into(),
            reason: "Yes or No".into()
        })
    );
    g.register_vote(p(1), b, second, Vote::No, T0, BIG).unwrap();
    assert_eq!(
        g.register_vote(p(1), b, second, Vote::Yes, T0, BIG),
        Err(GovernanceError::VotingClosed)
    );
    assert_eq!(
        g.check_new_stake(p(9), 1),
        Err(GovernanceError::StakeBelowMinimum { minimum: E8S })
    );
    assert_eq!(
        g.check_new_stake(Principal::anonymous(), E8S),
        Err(GovernanceError::AnonymousCaller)
    );
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
fn new_parameters_never_change_an_open_proposal() {
    let (mut g, [a, b, c]) = three();
    let open = g.make_proposal(p(2), motion(c), T0, BIG).unwrap();
    let rules = g.proposal(open).unwrap().rules;
    let mut stricter = parameters();
    stricter.normal.voting_period_seconds = 10 * DAY;
    stricter.normal.majority_bps = 8_000;
    stricter.normal.quorum_bps = 5_000;
    stricter.critical.majority_bps = 9_000;
    stricter.critical.quorum_bps = 5_000;
    stricter.critical.voting_period_seconds = 10 * DAY;
    stricter.min_stake = 2 * E8S;
    stricter.reject_cost = 2 * E8S;
    let change = g
        .make_proposal(
            p(0),
            MakeProposalArgs {
                action: Action::SetGovernanceParameters {
                    parameters: stricter.clone(),
                },
                ..motion(a)
            },
            T0,
            BIG,
        )
        .unwrap();
    g.register_vote(p(1), b, change, Vote::Yes, T0 + 1, BIG)
        .unwrap();
    g.record_execution(change, Ok(()), T0 + 2);
    assert_eq!(g.parameters(), stricter);
    assert_eq!(g.proposal(open).unwrap().rules, rules);
    assert_eq!(g.proposal(open).unwrap().reject_cost, E8S);
    // The open proposal is still judged by its own rules: 25% yes alone passes its 3% quorum.
    g.advance(T0 + days(4), BIG);
    assert_eq!(status(&g, open), ProposalStatus::Executed);
    let later = g.make_proposal(p(1), motion(b), T0 + days(5), BIG).unwrap();
    assert_eq!(g.proposal(later).unwrap().rules, stricter.normal);
    assert_eq!(g.neuron(b).unwrap().fees, 2 * E8S);
}

#[test]
fn a_spike_of_voting_power_is_judged_with_an_earlier_snapshot() {
    let (mut g, [a, b, _]) = three();
    let first = g.make_proposal(p(0), motion(a), T0, BIG).unwrap();
    let before = g.proposal(first).unwrap().tally.total;
    // A whale stakes ten times the existing power and proposes the next day.
    let whale = neuron(&mut g, 9, 1_000);
    let spiked = g
        .make_proposal(p(9), motion(whale), T0 + days(1), BIG)
        .unwrap();
    let info = g.proposal(spiked).unwrap();
    assert_eq!(info.ballots_from, Some(first));
    assert_eq!(info.tally.total, before, "judged with the earlier ballots");
    assert_eq!(g.ballot(spiked, whale).unwrap().voting_power, 0);
    assert_eq!(
        info.status,
        ProposalStatus::Open,
        "the whale's yes weighs nothing"
    );
    g.register_vote(p(1), b, spiked, Vote::No, T0 + days(1), BIG)
        .unwrap();
    // A growth below the factor is not a spike.
    let (mut g, [a, _, _]) = three();
    g.make_proposal(p(0), motion(a), T0, BIG).unwrap();
    let newcomer = neuron(&mut g, 9, 40);
    let normal = g
        .make_proposal(p(9), motion(newcomer), T0 + days(1), BIG)
        .unwrap();
    assert_eq!(g.proposal(normal).unwrap().ballots_from, None);
}

#[test]
fn dissolving_and_disbursing() {
    let (mut g, [a, _, _]) = three();
    assert!(matches!(
        g.check_disburse(p(0), a, T0),
        Err(GovernanceError::NotDissolved { dissolved_at: None })
    ));
    g.start_dissolving(p(0), a, T0).unwrap();
    assert!(matches!(
        g.check_disburse(p(0), a, T0 + days(364)),
        Err(GovernanceError::NotDissolved {
            dissolved_at: Some(_)
        })
    ));
    // Stopping keeps the remaining delay and restarts aging.
    g.stop_dissolving(p(0), a, T0 + days(100)).unwrap();
    assert_eq!(
        g.neuron(a).unwrap().dissolve,
        DissolveState::NotDissolving {
            dissolve_delay_seconds: 265 * DAY
        }
    );
    g.start_dissolving(p(0), a, T0 + days(100)).unwrap();
    assert_eq!(g.check_disburse(p(0), a, T0 + days(365)).unwrap().id, a);
    assert_eq!(
        g.check_disburse(p(1), a, T0 + days(365)),
        Err(GovernanceError::NotAuthorized)
    );
    g.remove_neuron(a).unwrap();
    assert!(g.neuron(a).is_none());
    assert!(g.neurons_of(p(0)).is_empty());
}

#[test]
fn adding_stake_dilutes_the_age() {
    let mut g = fresh();
    let a = neuron(&mut g, 0, 100);
    g.add_stake(a, 100 * E8S, T0 + days(200)).unwrap();
    assert_eq!(g.neuron(a).unwrap().aging_since, T0 + days(100));
}

#[test]
fn all_state_survives_reopening_stable_memory() {
    let memory = DefaultMemoryImpl::default();
    let mut g = Governance::open_small(memory.clone());
    g.initialize(parameters()).unwrap();
    let a = neuron(&mut g, 0, 40);
    let b = neuron(&mut g, 1, 60);
    g.follow(p(1), b, Topic::CatchAll, vec![a], T0).unwrap();
    g.add_hot_key(p(0), a, p(50)).unwrap();
    let id = g.make_proposal(p(0), split_proposal(a), T0, BIG).unwrap();
    let info = g.proposal(id).unwrap();
    let reopened = Governance::open_small(memory);
    assert_eq!(reopened.parameters(), parameters());
    assert_eq!(reopened.neuron(a), g.neuron(a));
    assert_eq!(reopened.neuron(b), g.neuron(b));
    assert_eq!(reopened.proposal(id), Some(info));
    assert_eq!(reopened.ballots(id, 0, 10), g.ballots(id, 0, 10));
    assert_eq!(reopened.neurons_of(p(50)).len(), 1);
}

// ------------------------------------------------------------------ properties

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

#[test]
fn the_recommended_parameters_are_valid() {
    crate::state::validate_parameters(&Parameters::default()).unwrap();
    let mut bad = Parameters::default();
    bad.critical.majority_bps = 4_000;
    assert!(crate::state::validate_parameters(&bad).is_err());
}

// ------------------------------------------------------------------ parameter bounds (issue 13)

const HOUR: u64 = 3_600;
/// Eight years of 365.25 days.
const EIGHT_YEARS: u64 = 2_922 * DAY;
/// u64::MAX nanoseconds is 18,446,744,073.7 s: this many seconds wraps to 0.29 s in the release wasm.
const WRAPPING_SECONDS: u64 = u64::MAX / NANOS_PER_SECOND + 1;

fn field_of(r: Result<(), GovernanceError>) -> Option<String> {
    match r {
        Ok(()) => None,
        Err(GovernanceError::InvalidArgument { field, .. }) => Some(field),
        Err(other) => panic!("not an InvalidArgument: {other:?}"),
    }
}

type Change = fn(&mut Parameters);

/// For each parameter: a change just inside its range, and changes just outside with the field they
/// must be refused on.
#[allow(clippy::type_complexity)]
fn bounds() -> Vec<(&'static str, Change, Vec<Change>)> {
    vec![
        (
            "normal.voting_period_seconds",
            |p| {
                p.normal.voting_period_seconds = HOUR;
                p.normal.wait_for_quiet_seconds = HOUR;
            },
            vec![|p| {
                p.normal.voting_period_seconds = HOUR - 1;
                p.normal.wait_for_quiet_seconds = 0;
            }],
        ),
        (
            "critical.voting_period_seconds",
            |p| p.critical.voting_period_seconds = 30 * DAY,
            vec![
                |p| p.critical.voting_period_seconds = 30 * DAY + 1,
                |p| p.critical.voting_period_seconds = WRAPPING_SECONDS,
                |p| p.critical.voting_period_seconds = u64::MAX,
            ],
        ),
        (
            "normal.wait_for_quiet_seconds",
            |p| p.normal.wait_for_quiet_seconds = p.normal.voting_period_seconds,
            vec![|p| p.normal.wait_for_quiet_seconds = p.normal.voting_period_seconds + 1],
        ),
        (
            "critical.max_extension_seconds",
            |p| p.critical.max_extension_seconds = 30 * DAY,
            vec![|p| p.critical.max_extension_seconds = 30 * DAY + 1, |p| {
                p.critical.max_extension_seconds = u64::MAX
            }],
        ),
        (
            "normal.majority_bps",
            |p| p.normal.majority_bps = 5_000,
            vec![|p| p.normal.majority_bps = 4_999],
        ),
        (
            "critical.majority_bps",
            |p| p.critical.majority_bps = 9_000,
            vec![|p| p.critical.majority_bps = 9_001, |p| {
                p.critical.majority_bps = 10_000
            }],
        ),
        (
            "critical.quorum_bps",
            |p| p.critical.quorum_bps = 5_000,
            vec![|p| p.critical.quorum_bps = 5_001],
        ),
        (
            "max_dissolve_delay_seconds",
            |p| p.max_dissolve_delay_seconds = EIGHT_YEARS,
            vec![|p| p.max_dissolve_delay_seconds = EIGHT_YEARS + 1, |p| {
                p.max_dissolve_delay_seconds = WRAPPING_SECONDS
            }],
        ),
        (
            "min_dissolve_delay_seconds",
            |p| p.min_dissolve_delay_seconds = p.max_dissolve_delay_seconds,
            vec![|p| p.min_dissolve_delay_seconds = p.max_dissolve_delay_seconds + 1],
        ),
        (
            "max_age_for_bonus_seconds",
            |p| p.max_age_for_bonus_seconds = EIGHT_YEARS,
            vec![|p| p.max_age_for_bonus_seconds = EIGHT_YEARS + 1],
        ),
        (
            "max_dissolve_delay_bonus_bps",
            |p| p.max_dissolve_delay_bonus_bps = 10_000,
            vec![|p| p.max_dissolve_delay_bonus_bps = 10_001],
        ),
        (
            "max_age_bonus_bps",
            |p| p.max_age_bonus_bps = 10_000,
            vec![|p| p.max_age_bonus_bps = u16::MAX],
        ),
        (
            "min_stake",
            |p| p.min_stake = 1_000 * E8S,
            vec![|p| p.min_stake = 1_000 * E8S + 1, |p| {
                p.min_stake = 0;
                p.reject_cost = 0;
            }],
        ),
        (
            "reject_cost",
            |p| {
                p.min_stake = 7 * E8S;
                p.reject_cost = 7 * E8S;
            },
            vec![
                |p| {
                    p.min_stake = 7 * E8S;
                    p.reject_cost = 7 * E8S + 1;
                },
                |p| p.reject_cost = 0,
                |p| p.reject_cost = u64::MAX,
            ],
        ),
        ("reject_cost", |p| p.reject_cost = 1, vec![]),
        (
            "max_open_proposals_per_neuron",
            |p| p.max_open_proposals_per_neuron = 50,
            vec![|p| p.max_open_proposals_per_neuron = 51, |p| {
                p.max_open_proposals_per_neuron = 0
            }],
        ),
        (
            "max_followees_per_topic",
            |p| p.max_followees_per_topic = 50,
            vec![|p| p.max_followees_per_topic = 51, |p| {
                p.max_followees_per_topic = 0
            }],
        ),
        (
            "treasury_cap_per_7_days",
            |p| p.treasury_cap_per_7_days = 1,
            vec![|p| p.treasury_cap_per_7_days = 0],
        ),
        (
            "voting_power_spike_bps",
            |p| p.voting_power_spike_bps = 100_000,
            vec![|p| p.voting_power_spike_bps = 100_001, |p| {
                p.voting_power_spike_bps = 9_999
            }],
        ),
        (
            "voting_power_spike_bps",
            |p| p.voting_power_spike_bps = 10_000,
            vec![],
        ),
    ]
}

#[test]
fn every_parameter_is_bounded_just_inside_passes_and_just_outside_is_refused_on_its_field() {
    for (field, inside, outside) in bounds() {
        let mut p = parameters();
        inside(&mut p);
        assert_eq!(
            field_of(crate::state::validate_parameters(&p)),
            None,
            "{field} just inside its range: {p:?}"
        );
        for change in outside {
            let mut p = parameters();
            change(&mut p);
            assert_eq!(
                field_of(crate::state::validate_parameters(&p)).as_deref(),
                Some(field),
                "{p:?}"
            );
        }
    }
}

#[test]
fn an_out_of_range_parameters_proposal_is_refused_at_submission_and_charges_nothing() {
    let (mut g, [a, _, _]) = three();
    let before = g.neuron(a).unwrap();
    for (field, _, outside) in bounds() {
        for change in outside {
            let mut bad = parameters();
            change(&mut bad);
            let r = g.make_proposal(
                p(0),
                MakeProposalArgs {
                    action: Action::SetGovernanceParameters { parameters: bad },
                    ..motion(a)
                },
                T0,
                BIG,
            );
            assert!(
                matches!(&r, Err(GovernanceError::InvalidArgument { field: f, .. }) if f == field),
                "{field}: {r:?}"
            );
        }
    }
    assert_eq!(g.neuron(a).unwrap(), before, "nothing charged");
    assert!(g.list_proposals(None, 10, None, None).is_empty());
    assert_eq!(g.parameters(), parameters());
}

/// A call fee of 0 would leave the proxy no reserve to pay batch transfers (settlement stops); a huge
/// one overflows every quote: both refused when proposed.
#[test]
fn a_call_fee_outside_the_proxys_range_is_refused_at_submission() {
    let (mut g, [a, _, _]) = three();
    for call_fee in [0, 1_000_000_000_001, u128::MAX] {
        let r = g.make_proposal(
            p(0),
            MakeProposalArgs {
                action: Action::SetCallFee { call_fee },
                ..motion(a)
            },
            T0,
            BIG,
        );
        assert!(
            matches!(&r, Err(GovernanceError::InvalidArgument { field, .. }) if field == "call_fee"),
            "{call_fee}: {r:?}"
        );
    }
    let ok = g.make_proposal(
        p(0),
        MakeProposalArgs {
            action: Action::SetCallFee { call_fee: 1 },
            ..motion(a)
        },
        T0,
        BIG,
    );
    assert!(ok.is_ok(), "{ok:?}");
}

#[test]
fn a_neuron_of_the_minimum_stake_can_always_pay_the_largest_reject_cost() {
    let mut g = fresh();
    let mut largest = parameters();
    largest.min_stake = 1_000 * E8S;
    largest.reject_cost = largest.min_stake;
    let whale = neuron(&mut g, 0, 2_000);
    let change = g
        .make_proposal(
            p(0),
            MakeProposalArgs {
                action: Action::SetGovernanceParameters {
                    parameters: largest.clone(),
                },
                ..motion(whale)
            },
            T0,
            BIG,
        )
        .unwrap();
    assert_eq!(status(&g, change), ProposalStatus::Adopted);
    g.record_execution(change, Ok(()), T0 + 1);
    assert_eq!(g.parameters(), largest);
    let id = g.allocate_neuron_id();
    g.check_new_stake(p(1), largest.min_stake).unwrap();
    g.create_neuron(id, p(1), largest.min_stake, 365 * DAY, T0 + 2)
        .unwrap();
    g.make_proposal(p(1), motion(id), T0 + 2, BIG).unwrap();
}

#[test]
fn time_and_power_products_saturate_at_the_largest_values_instead_of_wrapping() {
    assert_eq!(crate::power::nanos(WRAPPING_SECONDS), u64::MAX);
    assert_eq!(
        crate::power::nanos(30 * DAY),
        30 * DAY * NANOS_PER_SECOND,
        "exact within range"
    );
    // The longest rules the bounds allow, near the end of time: the deadline saturates, it does
    // not wrap to before the proposal was made.
    let mut longest = parameters();
    for rules in [&mut longest.normal, &mut longest.critical] {
        rules.voting_period_seconds = 30 * DAY;
        rules.wait_for_quiet_seconds = 30 * DAY;
        rules.max_extension_seconds = 30 * DAY;
    }
    longest.max_dissolve_delay_seconds = EIGHT_YEARS;
    longest.max_dissolve_delay_bonus_bps = 10_000;
    longest.max_age_for_bonus_seconds = EIGHT_YEARS;
    longest.max_age_bonus_bps = 10_000;
    crate::state::validate_parameters(&longest).unwrap();
    let mut g = Governance::open_small(DefaultMemoryImpl::default());
    g.initialize(longest.clone()).unwrap();
    let late = u64::MAX - days(1);
    let ids: Vec<NeuronId> = (0..3)
        .map(|n| {
            let id = g.allocate_neuron_id();
            g.create_neuron(id, p(n), [40, 25, 35][n as usize] * E8S, u64::MAX, late)
                .unwrap();
            id
        })
        .collect();
    assert_eq!(
        g.neuron(ids[0]).unwrap().dissolve,
        DissolveState::NotDissolving {
            dissolve_delay_seconds: EIGHT_YEARS
        },
        "capped at the maximum"
    );
    let id = g.make_proposal(p(0), motion(ids[0]), late, BIG).unwrap();
    assert_eq!(g.proposal(id).unwrap().deadline, u64::MAX);
    // 40 yes, then 25 no (still winning), then 35 no: the flip applies wait-for-quiet, saturating.
    g.register_vote(p(1), ids[1], id, Vote::No, late + 1, BIG)
        .unwrap();
    g.register_vote(p(2), ids[2], id, Vote::No, late + 2, BIG)
        .unwrap();
    let info = g.proposal(id).unwrap();
    assert_eq!(info.deadline, u64::MAX);
    assert_eq!(info.status, ProposalStatus::Rejected);
    // The longest dissolve delay started near the end of time ends at the end of time.
    let dissolving = g.start_dissolving(p(1), ids[1], late).unwrap();
    assert_eq!(
        dissolving.dissolve,
        DissolveState::Dissolving {
            dissolved_at: u64::MAX
        }
    );
    // The largest stake with both bonuses at their largest: ×4, exactly.
    let mut n = g.neuron(ids[0]).unwrap();
    n.stake = u64::MAX;
    n.fees = 0;
    n.aging_since = 0;
    assert_eq!(
        voting_power(&n, &longest, u64::MAX),
        Some(4 * u64::MAX as u128)
    );

    // Parameters an earlier version stored without bounds: every product saturates (the debug build
    // of this test would panic on an overflow, the release wasm would wrap).
    let mut g = Governance::open_small(DefaultMemoryImpl::default());
    let mut wild = parameters();
    for rules in [&mut wild.normal, &mut wild.critical] {
        rules.voting_period_seconds = u64::MAX;
        rules.wait_for_quiet_seconds = u64::MAX;
        rules.max_extension_seconds = u64::MAX;
    }
    wild.max_dissolve_delay_seconds = u64::MAX;
    g.set_parameters_unchecked(wild);
    let ids: Vec<NeuronId> = (0..3)
        .map(|n| {
            let id = g.allocate_neuron_id();
            g.create_neuron(id, p(n), [40, 25, 35][n as usize] * E8S, u64::MAX, T0)
                .unwrap();
            id
        })
        .collect();
    let id = g.make_proposal(p(0), motion(ids[0]), T0, BIG).unwrap();
    assert_eq!(g.proposal(id).unwrap().deadline, u64::MAX);
    g.register_vote(p(1), ids[1], id, Vote::No, T0 + 1, BIG)
        .unwrap();
    g.register_vote(p(2), ids[2], id, Vote::No, T0 + 2, BIG)
        .unwrap();
    assert_eq!(g.proposal(id).unwrap().deadline, u64::MAX);
    let dissolving = g.start_dissolving(p(1), ids[1], T0).unwrap();
    assert_eq!(
        dissolving.dissolve,
        DissolveState::Dissolving {
            dissolved_at: u64::MAX
        }
    );
    let extended = g
        .increase_dissolve_delay(p(1), ids[1], u64::MAX, T0)
        .unwrap();
    assert_eq!(extended.dissolve, dissolving.dissolve);
}

fn upgrade_to(arg: Vec<u8>) -> Action {
    Action::UpgradeCanister {
        target: UpgradeTarget::Royalties,
        wasm: ByteBuf::from(b"\0asm\x01\0\0\0".to_vec()),
        arg: ByteBuf::from(arg),
    }
}

#[test]
fn an_upgrade_shows_its_argument_as_candid_so_a_new_principal_is_visible() {
    use neuranft_types::royalties::{RoyaltiesArg, UpgradeArgs};
    use sha2::Digest;
    let attacker = Principal::from_text("2chl6-4hpzw-vqaaa-aaaaa-c").unwrap();
    let arg = Some(RoyaltiesArg::Upgrade(Some(UpgradeArgs {
        inference_proxy: Some(attacker),
        ..UpgradeArgs::default()
    })));
    let bytes = candid::encode_one(&arg).unwrap();
    let shown = crate::state::render_action(&upgrade_to(bytes.clone()));
    assert!(
        shown.contains(&format!("principal \"{attacker}\"")),
        "{shown}"
    );
    assert!(shown.contains(&format!(
        "arg: {} bytes, sha256 {}",
        bytes.len(),
        hex::encode(sha2::Sha256::digest(&bytes))
    )));
    assert!(shown.contains(&format!(
        "wasm: 8 bytes, sha256 {}",
        hex::encode(sha2::Sha256::digest(b"\0asm\x01\0\0\0"))
    )));
    // Stored as shown on the proposal voters read.
    let (mut g, [a, _, _]) = three();
    let id = g
        .make_proposal(
            p(0),
            MakeProposalArgs {
                action: upgrade_to(bytes),
                ..motion(a)
            },
            T0,
            BIG,
        )
        .unwrap();
    assert_eq!(g.proposal(id).unwrap().rendered_action, shown);

    // Not Candid, or too long to show whole: said plainly, the hash kept.
    let junk = b"DIDL-but-not-really".to_vec();
    let shown = crate::state::render_action(&upgrade_to(junk.clone()));
    assert!(
        shown.contains("NOT SHOWN: it does not decode as Candid"),
        "{shown}"
    );
    assert!(shown.contains(&hex::encode(sha2::Sha256::digest(&junk))));
    let long = candid::encode_one("x".repeat(crate::state::MAX_RENDERED_ARG_BYTES)).unwrap();
    let shown = crate::state::render_action(&upgrade_to(long));
    assert!(shown.contains("NOT SHOWN: its Candid text has"), "{shown}");
    assert!(!shown.contains("xxxx"), "nothing of a cut text");
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
