//! A neuron's life beyond staking on the ledger state machine: split, merge and delegated
//! permissions, each played by the owner and by an attacker.

use super::*;

impl World {
    fn split(
        &self,
        caller: Principal,
        neuron: NeuronId,
        tokens: u64,
    ) -> Result<NeuronId, GovernanceError> {
        block_on(flows::split_neuron(
            &self.governance,
            &self.stakes,
            &self.nng.client(gov_principal()),
            caller,
            SplitNeuronArgs {
                neuron,
                amount: tokens * E8S,
            },
            self.nng.time(),
        ))
    }

    fn merge(
        &self,
        caller: Principal,
        target: NeuronId,
        source: NeuronId,
    ) -> Result<Neuron, GovernanceError> {
        block_on(flows::merge_neurons(
            &self.governance,
            &self.stakes,
            &self.nng.client(gov_principal()),
            caller,
            MergeNeuronsArgs { target, source },
            self.nng.time(),
        ))
    }

    fn neuron(&self, id: NeuronId) -> Option<Neuron> {
        self.governance.borrow().neuron(id)
    }

    /// The ledger's view of everything: users' accounts and every neuron subaccount up to `ids`.
    fn total_held(&self, ids: NeuronId) -> u128 {
        let users: u128 = (0..6).map(|u| self.nng.balance(&acc(user(u)))).sum();
        users + (0..ids).map(|n| self.subaccount_balance(n)).sum::<u128>()
    }
}

#[test]
fn a_split_moves_part_of_the_stake_into_a_neuron_like_its_parent() {
    let w = world();
    let parent = w.stake(0, 100).unwrap();
    let other = w.stake(1, 10).unwrap();
    {
        let mut g = w.governance.borrow_mut();
        g.follow(user(0), parent, Topic::CatchAll, vec![other], T0)
            .unwrap();
        g.add_hot_key(user(0), parent, user(4)).unwrap();
        g.set_permissions(user(0), parent, user(5), vec![NeuronPermission::Vote])
            .unwrap();
    }
    // A proposal made before the split: its ballot froze the parent's whole stake.
    let proposer = w.stake(2, 10).unwrap();
    let before = w
        .governance
        .borrow_mut()
        .make_proposal(user(2), crate::tests::motion(proposer), T0, 1_000)
        .unwrap();
    let total = w.total_held(3);
    let later = T0 + DAY * NANOS_PER_SECOND;
    w.nng.set_time(later);

    let child = w.split(user(0), parent, 30).unwrap();
    let (p, c) = (w.neuron(parent).unwrap(), w.neuron(child).unwrap());
    assert_eq!(p.stake, 70 * E8S - FEE as u64, "the parent pays the fee");
    assert_eq!(c.stake, 30 * E8S);
    assert_eq!(w.total_held(4), total - FEE, "only the fee left");
    w.assert_stakes_backed(&[parent, child]);
    assert_eq!(
        (
            c.controller,
            &c.hot_keys,
            &c.grants,
            &c.followees,
            c.dissolve,
            c.aging_since
        ),
        (
            p.controller,
            &p.hot_keys,
            &p.grants,
            &p.followees,
            p.dissolve,
            p.aging_since
        ),
        "the child is like its parent"
    );
    assert_eq!(
        (c.created_at, c.fees),
        (later + 1, 0),
        "created after every proposal till now"
    );
    assert!(w
        .governance
        .borrow()
        .neurons_of(user(5))
        .iter()
        .any(|n| n.id == child));
    // The child's stake voted in the parent's ballot: the child has none on the older proposal.
    assert_eq!(
        w.governance
            .borrow_mut()
            .register_vote(user(0), child, before, Vote::Yes, later, 1_000),
        Err(GovernanceError::NoBallot)
    );
    w.governance
        .borrow_mut()
        .register_vote(user(0), parent, before, Vote::Yes, later, 1_000)
        .unwrap();
}

#[test]
fn bad_splits_are_typed_errors_that_move_nothing() {
    let w = world();
    let parent = w.stake(0, 100).unwrap();
    w.governance
        .borrow_mut()
        .add_hot_key(user(0), parent, user(4))
        .unwrap();
    let total = w.total_held(4);
    let before = w.neuron(parent).unwrap();
    assert_eq!(
        w.split(user(0), parent, 0),
        Err(GovernanceError::StakeBelowMinimum { minimum: E8S })
    );
    // The parent must keep the minimum free after the amount and the fee.
    assert!(matches!(
        w.split(user(0), parent, 100),
        Err(GovernanceError::InvalidArgument { field, .. }) if field == "amount"
    ));
    assert!(matches!(
        w.split(user(0), parent, 99),
        Err(GovernanceError::InvalidArgument { .. })
    ));
    // A hot key votes; it does not move stake. Nor does anyone else, or the anonymous principal.
    assert_eq!(
        w.split(user(4), parent, 10),
        Err(GovernanceError::NotAuthorized)
    );
    assert_eq!(
        w.split(user(1), parent, 10),
        Err(GovernanceError::NotAuthorized)
    );
    assert_eq!(
        w.split(Principal::anonymous(), parent, 10),
        Err(GovernanceError::AnonymousCaller)
    );
    assert_eq!(
        w.split(user(0), 77, 10),
        Err(GovernanceError::NeuronNotFound { neuron: 77 })
    );
    assert_eq!(w.neuron(parent).unwrap(), before);
    assert_eq!(w.total_held(4), total);
    assert_eq!(w.governance.borrow().neuron_count(), 1);
}

#[test]
fn a_split_whose_reply_is_lost_completes_once_by_the_timer() {
    let w = world();
    let parent = w.stake(0, 100).unwrap();
    w.nng.inject(Fault::UnknownAfterExecution);
    for _ in 0..3 {
        w.nng.inject(Fault::UnknownBeforeExecution);
    }
    assert_eq!(w.split(user(0), parent, 40), Err(GovernanceError::Pending));
    // Busy meanwhile: no second split, no proposal charging a reject cost the check did not see.
    assert_eq!(w.split(user(0), parent, 10), Err(GovernanceError::Busy));
    assert_eq!(
        w.governance
            .borrow_mut()
            .make_proposal(user(0), crate::tests::motion(parent), T0, 1_000),
        Err(GovernanceError::Busy)
    );
    // Nor may its dissolve state change under the check (a merge's would set the delay).
    assert_eq!(
        w.governance
            .borrow_mut()
            .start_dissolving(user(0), parent, T0)
            .map(|_| ()),
        Err(GovernanceError::Busy)
    );
    // An upgrade forgets the busy set (heap); it is restored from the staking book's open transfers.
    w.governance.borrow_mut().end_transfer(parent);
    w.governance.borrow_mut().end_transfer(1);
    flows::restore_busy(&w.governance, &w.stakes);
    assert_eq!(w.split(user(0), parent, 10), Err(GovernanceError::Busy));
    w.drain();
    assert_eq!(w.neuron(parent).unwrap().stake, 60 * E8S - FEE as u64);
    assert_eq!(w.neuron(1).unwrap().stake, 40 * E8S, "created once");
    // Resolved: free again.
    w.governance
        .borrow_mut()
        .start_dissolving(user(0), parent, T0)
        .unwrap();
    w.assert_stakes_backed(&[0, 1]);
    assert_eq!(w.governance.borrow().neuron_count(), 2);
}

#[test]
fn a_merge_moves_the_whole_stake_and_keeps_the_longer_delay_and_the_weighted_age() {
    let w = world();
    let target = w.stake(0, 100).unwrap();
    let later = T0 + 100 * DAY * NANOS_PER_SECOND;
    w.nng.set_time(later);
    let source = w.stake(0, 50).unwrap();
    w.governance
        .borrow_mut()
        .increase_dissolve_delay(user(0), source, 365 * DAY, later)
        .unwrap();
    // The source's rejected proposal left a reject cost in its subaccount: it moves too.
    let motion = w
        .governance
        .borrow_mut()
        .make_proposal(user(0), crate::tests::motion(source), later, 1_000)
        .unwrap();
    let decided = later + 30 * DAY * NANOS_PER_SECOND;
    w.nng.set_time(decided);
    w.governance.borrow_mut().advance(decided, 10_000);
    assert!(!matches!(
        w.governance.borrow().proposal(motion).unwrap().status,
        ProposalStatus::Open | ProposalStatus::Preparing
    ));
    let fees = w.neuron(source).unwrap().fees;
    let total = w.total_held(2);
    let at = decided;

    let merged = w.merge(user(0), target, source).unwrap();
    assert_eq!(merged.stake, 150 * E8S - FEE as u64);
    assert_eq!(merged.fees, fees);
    assert_eq!(
        merged.dissolve,
        DissolveState::NotDissolving {
            dissolve_delay_seconds: 730 * DAY
        }
    );
    // Ages: the target 130 days, the source 30 days, weighted by stake (100 and 50 − fee).
    let age = |days: u64| (days * DAY * NANOS_PER_SECOND) as u128;
    let moved = (50 * E8S - FEE as u64) as u128;
    let expected =
        (age(130) * (100 * E8S) as u128 + age(30) * moved) / (150 * E8S - FEE as u64) as u128;
    assert_eq!((at - merged.aging_since) as u128, expected);
    assert_eq!(w.neuron(source), None, "the source is removed");
    assert_eq!(w.subaccount_balance(source), 0);
    w.assert_stakes_backed(&[target]);
    assert_eq!(w.total_held(2), total - FEE);
}

#[test]
fn bad_merges_are_typed_errors_that_move_nothing() {
    let w = world();
    let a = w.stake(0, 100).unwrap();
    let b = w.stake(0, 20).unwrap();
    let theirs = w.stake(1, 20).unwrap();
    let total = w.total_held(3);
    let refuse =
        |caller: u8, target: NeuronId, source: NeuronId| w.merge(user(caller), target, source);
    assert!(matches!(
        refuse(0, a, a),
        Err(GovernanceError::InvalidArgument { .. })
    ));
    assert_eq!(
        refuse(0, a, theirs),
        Err(GovernanceError::NotAuthorized),
        "another's neuron"
    );
    assert_eq!(refuse(1, theirs, a), Err(GovernanceError::NotAuthorized));
    assert_eq!(
        refuse(0, a, 99),
        Err(GovernanceError::NeuronNotFound { neuron: 99 })
    );
    assert_eq!(w.total_held(3), total);
    // A source with an undecided proposal (its reject cost is not settled).
    w.governance
        .borrow_mut()
        .make_proposal(user(0), crate::tests::motion(b), T0, 1_000)
        .unwrap();
    assert!(matches!(
        refuse(0, a, b),
        Err(GovernanceError::InvalidArgument { field, .. }) if field == "source"
    ));
    // A dissolving neuron, either side.
    w.governance
        .borrow_mut()
        .start_dissolving(user(0), a, T0)
        .unwrap();
    let c = w.stake(0, 20).unwrap();
    let total = w.total_held(4);
    for (target, source) in [(c, a), (a, c)] {
        assert!(matches!(
            refuse(0, target, source),
            Err(GovernanceError::InvalidArgument { field, .. }) if field == "neuron"
        ));
    }
    assert_eq!(w.total_held(4), total);
    w.assert_stakes_backed(&[a, b, c, theirs]);
}

#[test]
fn delegated_permissions_allow_exactly_what_they_name() {
    let w = world();
    let n = w.stake(0, 100).unwrap();
    let other = w.stake(1, 10).unwrap();
    let voter = user(5);
    let mut g = w.governance.borrow_mut();
    let proposal = g
        .make_proposal(user(1), crate::tests::motion(other), T0, 1_000)
        .unwrap();
    assert_eq!(
        g.register_vote(voter, n, proposal, Vote::Yes, T0, 1_000),
        Err(GovernanceError::NotAuthorized)
    );
    // Only the controller grants, and never to itself or the anonymous principal.
    assert_eq!(
        g.set_permissions(voter, n, voter, vec![NeuronPermission::Vote]),
        Err(GovernanceError::NotAuthorized)
    );
    for bad in [user(0), Principal::anonymous()] {
        assert!(matches!(
            g.set_permissions(user(0), n, bad, vec![NeuronPermission::Vote]),
            Err(GovernanceError::InvalidArgument { .. })
        ));
    }
    let granted = g
        .set_permissions(
            user(0),
            n,
            voter,
            vec![NeuronPermission::Vote, NeuronPermission::Vote],
        )
        .unwrap();
    assert_eq!(
        granted.grants,
        Some(vec![NeuronGrant {
            principal: voter,
            permissions: vec![NeuronPermission::Vote]
        }])
    );
    assert_eq!(g.neurons_of(voter).len(), 1);
    // Vote only: it votes; it neither proposes, follows, dissolves nor grants.
    g.register_vote(voter, n, proposal, Vote::No, T0, 1_000)
        .unwrap();
    assert_eq!(
        g.make_proposal(voter, crate::tests::motion(n), T0, 1_000),
        Err(GovernanceError::NotAuthorized)
    );
    assert_eq!(
        g.follow(voter, n, Topic::CatchAll, vec![other], T0)
            .map(|_| ()),
        Err(GovernanceError::NotAuthorized)
    );
    assert_eq!(
        g.start_dissolving(voter, n, T0).map(|_| ()),
        Err(GovernanceError::NotAuthorized)
    );
    assert_eq!(
        g.set_permissions(voter, n, user(3), vec![NeuronPermission::Vote])
            .map(|_| ()),
        Err(GovernanceError::NotAuthorized)
    );
    // Managing followees, added: it follows; still no proposals.
    g.set_permissions(
        user(0),
        n,
        voter,
        vec![NeuronPermission::ManageFollowees, NeuronPermission::Vote],
    )
    .unwrap();
    g.follow(voter, n, Topic::CatchAll, vec![other], T0)
        .unwrap();
    assert_eq!(
        g.make_proposal(voter, crate::tests::motion(n), T0, 1_000),
        Err(GovernanceError::NotAuthorized)
    );
    // A hot key already has every permission: a grant to it is refused, and a grantee must lose its
    // grant before it becomes a hot key.
    g.add_hot_key(user(0), n, user(4)).unwrap();
    assert!(matches!(
        g.set_permissions(user(0), n, user(4), vec![NeuronPermission::Vote]),
        Err(GovernanceError::InvalidArgument { .. })
    ));
    assert!(matches!(
        g.add_hot_key(user(0), n, voter),
        Err(GovernanceError::InvalidArgument { .. })
    ));
    // Removing a "hot key" that is a grantee changes nothing (its index entry stays).
    g.remove_hot_key(user(0), n, voter).unwrap();
    assert_eq!(g.neurons_of(voter).len(), 1);
    g.remove_hot_key(user(0), n, user(0)).unwrap();
    assert_eq!(g.neurons_of(user(0)).len(), 1, "nor the controller's");
    // Withdrawn: it can do nothing and no longer lists the neuron.
    g.set_permissions(user(0), n, voter, vec![]).unwrap();
    assert!(g.neurons_of(voter).is_empty());
    assert_eq!(
        g.follow(voter, n, Topic::CatchAll, vec![], T0).map(|_| ()),
        Err(GovernanceError::NotAuthorized)
    );
    assert_eq!(g.neuron(n).unwrap().grants, Some(vec![]));
}

#[test]
fn a_split_in_the_round_a_proposal_is_made_counts_its_stake_once() {
    let w = world();
    let proposer = w.stake(2, 10).unwrap();
    let parent = w.stake(0, 100).unwrap();
    let others: Vec<NeuronId> = (0..3).map(|_| w.stake(1, 10).unwrap()).collect();
    let now = w.nng.time();
    let params = crate::tests::parameters();
    let power =
        |n: NeuronId| crate::power::voting_power(&w.neuron(n).unwrap(), &params, now).unwrap();
    // Ballots written one per call: the parent's is still to come when the split completes at the
    // same time (one round).
    let id = w
        .governance
        .borrow_mut()
        .make_proposal(user(2), crate::tests::motion(proposer), now, 1)
        .unwrap();
    // The proposer's power less its reject cost, as its ballot has it.
    let expected: u128 = [proposer, parent]
        .iter()
        .chain(&others)
        .map(|n| power(*n))
        .sum();
    let child = w.split(user(0), parent, 30).unwrap();
    w.governance.borrow_mut().advance(now, 1_000);
    let info = w.governance.borrow().proposal(id).unwrap();
    assert_eq!(
        info.tally.total, expected,
        "the parent's stake once, the child without a ballot"
    );
    assert_eq!(w.governance.borrow().ballot(id, child), None);
}

#[test]
fn a_split_fails_rather_than_pay_a_fee_that_would_leave_the_parent_under_the_minimum() {
    let w = world();
    let parent = w.stake(0, 100).unwrap();
    let total = w.total_held(2);
    // 98 of 100 tokens leave one token of headroom above the minimum (one token) for the fee.
    w.nng.set_fee(E8S as u128 + 1);
    let result = w.split(user(0), parent, 98);
    assert!(
        matches!(result, Err(GovernanceError::TransferFailed { .. })),
        "{result:?}"
    );
    assert_eq!(w.neuron(parent).unwrap().stake, 100 * E8S);
    assert_eq!(w.total_held(2), total, "nothing moved");
    assert_eq!(w.governance.borrow().neuron_count(), 1);
    // With two tokens of headroom the fee it learnt is covered; the ledger's fee is back to normal.
    w.nng.set_fee(FEE);
    let child = w.split(user(0), parent, 97).unwrap();
    assert_eq!(w.neuron(child).unwrap().stake, 97 * E8S);
    w.assert_stakes_backed(&[parent, child]);
}
