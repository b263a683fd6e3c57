//! Attacks on governance itself, played on the real wasm (issue 13 of the adversarial review): one
//! adopted `SetGovernanceParameters` must not be able to disable governance. A reject cost above every
//! stake would leave nobody able to propose (the fix included), and a voting period of 584 years
//! wraps to 0.29 s once multiplied into nanoseconds. Both are refused when proposed, nothing is
//! charged, and governance keeps adopting and executing proposals afterwards.

use neuranft_types::governance::*;
use tests::*;

const E8S: u64 = 100_000_000;

/// The whole system with the founder's neuron alone (500 NNG, so every vote of it is an absolute
/// majority).
fn up(seed: u64) -> NeuraNft {
    NeuraNft::deploy(seed, vec![], vec![], 10)
}

fn parameters(w: &mut NeuraNft) -> Parameters {
    let (p,): (Parameters,) = w
        .net
        .query(w.governance, admin(), "get_parameters", ())
        .expect("get_parameters answers");
    p
}

fn founder_neuron(w: &mut NeuraNft) -> Neuron {
    let (n,): (Option<Neuron>,) = w
        .net
        .query(w.governance, admin(), "get_neuron", (FOUNDER_NEURON,))
        .expect("get_neuron answers");
    n.expect("the founder's neuron exists")
}

fn proposal_count(w: &mut NeuraNft) -> usize {
    w.list_proposals(ListProposalsArgs {
        before: None,
        limit: 100,
        topic: None,
        status: None,
    })
    .len()
}

fn assert_refused_on(r: &Result<ProposalId, GovernanceError>, expected_field: &str) {
    match r {
        Err(GovernanceError::InvalidArgument { field, reason }) if field == expected_field => {
            assert!(!reason.is_empty(), "the refusal says why");
        }
        other => panic!(
            "a SetGovernanceParameters with an out-of-range {expected_field} must be refused at \
             submission with InvalidArgument {{ field: {expected_field:?} }}, got {other:?}"
        ),
    }
}

/// After a refused attack: nothing charged, nothing recorded, the parameters unchanged, and
/// governance still adopts and executes a motion and a valid parameter change.
fn governance_still_works(w: &mut NeuraNft, before: &Parameters) {
    assert_eq!(
        founder_neuron(w).fees,
        0,
        "a refused proposal charges nothing"
    );
    assert_eq!(proposal_count(w), 0, "a refused proposal is not recorded");
    assert_eq!(&parameters(w), before);

    let motion = w.adopt(
        "The DAO keeps governing",
        Action::Motion {
            text: "Governance still adopts proposals after the attack.".into(),
        },
    );
    assert_eq!(motion.status, ProposalStatus::Executed, "{motion:?}");

    // A larger minimum stake and the largest reject cost it allows: every neuron that can be staked
    // can still pay it.
    let mut changed = before.clone();
    changed.min_stake = 2 * before.min_stake;
    changed.reject_cost = changed.min_stake;
    let info = w.adopt(
        "Reject cost up to the minimum stake",
        Action::SetGovernanceParameters {
            parameters: changed.clone(),
        },
    );
    assert_eq!(info.status, ProposalStatus::Executed, "{info:?}");
    assert_eq!(parameters(w), changed);
    let (id, _) = w.propose(
        founder(),
        FOUNDER_NEURON,
        "Proposing still works under the new parameters",
        Action::Motion {
            text: "Still here.".into(),
        },
    );
    let info = w.proposal(id.expect("the founder can still propose"));
    assert_eq!(info.reject_cost, changed.min_stake);
    assert!(
        info.deadline > info.created_at,
        "a real voting period: {info:?}"
    );
}

#[test]
fn a_reject_cost_above_every_stake_is_refused_and_governance_keeps_working() {
    let mut w = up(1301);
    let before = parameters(&mut w);
    // Every NNG in existence is 1,000 (the founder's 500 staked and 500 on the ledger): a reject
    // cost of 1,000,000 NNG would leave no neuron able to propose again, the fix included.
    let mut attack = before.clone();
    attack.reject_cost = 1_000_000 * E8S;
    let (r, _) = w.propose(
        founder(),
        FOUNDER_NEURON,
        "Raise the reject cost",
        Action::SetGovernanceParameters { parameters: attack },
    );
    assert_refused_on(&r, "reject_cost");
    // Just above the minimum stake is already out of range: a neuron of the minimum stake could not
    // propose.
    let mut attack = before.clone();
    attack.reject_cost = before.min_stake + 1;
    let (r, _) = w.propose(
        founder(),
        FOUNDER_NEURON,
        "Raise the reject cost a little",
        Action::SetGovernanceParameters { parameters: attack },
    );
    assert_refused_on(&r, "reject_cost");
    governance_still_works(&mut w, &before);
}

#[test]
fn a_584_year_voting_period_is_refused_and_governance_keeps_working() {
    let mut w = up(1302);
    let before = parameters(&mut w);
    // u64::MAX ns is 18,446,744,073.7 s: one second more wraps, in the release wasm, to a deadline
    // 0.29 s after the proposal is made, so the next critical proposal would be decided by its
    // proposer alone.
    let seconds = u64::MAX / 1_000_000_000 + 1;
    assert_eq!(
        seconds.wrapping_mul(1_000_000_000),
        290_448_384,
        "the period the attack wraps to, in nanoseconds"
    );
    let mut attack = before.clone();
    attack.critical.voting_period_seconds = seconds;
    attack.critical.max_extension_seconds = seconds;
    let (r, _) = w.propose(
        founder(),
        FOUNDER_NEURON,
        "Vote on critical topics for 584 years",
        Action::SetGovernanceParameters { parameters: attack },
    );
    assert_refused_on(&r, "critical.voting_period_seconds");
    // The same on normal topics (critical ones must stay at least as long).
    let mut attack = before.clone();
    attack.normal.voting_period_seconds = seconds;
    attack.critical.voting_period_seconds = seconds;
    let (r, _) = w.propose(
        founder(),
        FOUNDER_NEURON,
        "Vote for 584 years",
        Action::SetGovernanceParameters { parameters: attack },
    );
    assert_refused_on(&r, "normal.voting_period_seconds");
    governance_still_works(&mut w, &before);
}
