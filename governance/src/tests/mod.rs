//! Scenarios with a controlled clock, and property tests of the voting invariants.
//! This file holds the shared set-up and the reopening test; each sibling tests one concept.

mod execution;
mod listing;
mod neurons;
mod parameters;
mod properties;
mod proposals;
mod voting;

use crate::power::NANOS_PER_SECOND;
use crate::state::Governance;
use candid::Principal;
use ic_stable_structures::DefaultMemoryImpl;
use neuranft_types::governance::*;
use neuranft_types::royalties::SplitConfig;

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
