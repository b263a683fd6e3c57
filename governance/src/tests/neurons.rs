//! Neurons: their voting power, dissolving, disbursing and added stake.

use super::*;
use crate::power::voting_power;

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

/// A neuron as stored before grants existed still decodes after an upgrade: with no grants.
#[test]
fn a_neuron_stored_before_grants_existed_decodes_with_none() {
    #[derive(candid::CandidType)]
    struct NeuronBeforeGrants {
        id: NeuronId,
        controller: Principal,
        hot_keys: Vec<Principal>,
        stake: u64,
        fees: u64,
        dissolve: DissolveState,
        aging_since: u64,
        created_at: u64,
        followees: Vec<(Topic, Vec<NeuronId>)>,
    }
    let old = NeuronBeforeGrants {
        id: 4,
        controller: Principal::from_slice(&[1; 29]),
        hot_keys: vec![Principal::from_slice(&[2; 29])],
        stake: 7 * E8S,
        fees: E8S,
        dissolve: DissolveState::NotDissolving {
            dissolve_delay_seconds: 1_000,
        },
        aging_since: T0,
        created_at: T0,
        followees: vec![(Topic::CatchAll, vec![1, 2])],
    };
    let bytes = candid::encode_one(&old).unwrap();
    let stored: Neuron = candid::decode_one(&bytes).unwrap();
    assert_eq!(stored.grants, None);
    assert_eq!(
        (stored.id, stored.stake, &stored.hot_keys),
        (4, 7 * E8S, &old.hot_keys)
    );
    // No grant means only the controller and hot keys act.
    assert!(stored.allows(old.controller, None));
    assert!(stored.allows(
        Principal::from_slice(&[2; 29]),
        Some(NeuronPermission::Vote)
    ));
    assert!(!stored.allows(
        Principal::from_slice(&[3; 29]),
        Some(NeuronPermission::Vote)
    ));
}
