//! Voting power and the dissolve clock, as pure functions of a neuron, the parameters and the time.

use neuranft_types::governance::{DissolveState, Neuron, Parameters};

pub const NANOS_PER_SECOND: u64 = 1_000_000_000;
const BPS: u128 = 10_000;

/// Seconds until the neuron is dissolved (its full delay while not dissolving).
pub fn dissolve_delay_seconds(neuron: &Neuron, now: u64) -> u64 {
    match neuron.dissolve {
        DissolveState::NotDissolving {
            dissolve_delay_seconds,
        } => dissolve_delay_seconds,
        DissolveState::Dissolving { dissolved_at } => {
            dissolved_at.saturating_sub(now) / NANOS_PER_SECOND
        }
    }
}

/// Seconds the neuron has been aging (0 while dissolving).
pub fn age_seconds(neuron: &Neuron, now: u64) -> u64 {
    match neuron.dissolve {
        DissolveState::NotDissolving { .. } => {
            now.saturating_sub(neuron.aging_since) / NANOS_PER_SECOND
        }
        DissolveState::Dissolving { .. } => 0,
    }
}

pub fn is_dissolved(neuron: &Neuron, now: u64) -> bool {
    matches!(neuron.dissolve, DissolveState::Dissolving { dissolved_at } if dissolved_at <= now)
        || matches!(
            neuron.dissolve,
            DissolveState::NotDissolving {
                dissolve_delay_seconds: 0
            }
        )
}

/// The neuron's stake that votes and can pay a reject cost.
pub fn free_stake(neuron: &Neuron) -> u64 {
    neuron.stake.saturating_sub(neuron.fees)
}

/// `free stake × (1 + delay bonus) × (1 + age bonus)`, rounded down, with both bonuses linear up to
/// their caps; `None` when the neuron's dissolve delay is below the minimum to vote.
pub fn voting_power(neuron: &Neuron, parameters: &Parameters, now: u64) -> Option<u128> {
    let delay = dissolve_delay_seconds(neuron, now);
    if delay < parameters.min_dissolve_delay_seconds {
        return None;
    }
    let bonus = |value: u64, cap: u64, max_bps: u16| -> u128 {
        if cap == 0 {
            return 0;
        }
        max_bps as u128 * value.min(cap) as u128 / cap as u128
    };
    let delay_bonus = bonus(
        delay,
        parameters.max_dissolve_delay_seconds,
        parameters.max_dissolve_delay_bonus_bps,
    );
    let age_bonus = bonus(
        age_seconds(neuron, now),
        parameters.max_age_for_bonus_seconds,
        parameters.max_age_bonus_bps,
    );
    Some(free_stake(neuron) as u128 * (BPS + delay_bonus) * (BPS + age_bonus) / (BPS * BPS))
}
