//! Governance parameters: the recommended ones, their bounds (issue 13), the products they keep from
//! overflowing, and adopted ones applying only to later proposals.

use super::*;
use crate::power::voting_power;

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
fn the_recommended_parameters_are_valid() {
    crate::state::validate_parameters(&Parameters::default()).unwrap();
    let mut bad = Parameters::default();
    bad.critical.majority_bps = 4_000;
    assert!(crate::state::validate_parameters(&bad).is_err());
}

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
