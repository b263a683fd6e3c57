//! Voting power and the dissolve clock, as pure functions of a neuron, the parameters and the time.

use neuranft_types::governance::{DissolveState, Neuron, Parameters};

pub const NANOS_PER_SECOND: u64 = 1_000_000_000;
const BPS: u128 = 10_000;

/// `seconds` as nanoseconds, saturating: the release wasm wraps on overflow, and a wrapped product
/// would turn a period of centuries into a fraction of a second.
pub fn nanos(seconds: u64) -> u64 {
    seconds.saturating_mul(NANOS_PER_SECOND)
}

/// Seconds until the neuron is dissolved (its full delay while not dissolving).
pub fn dissolve_delay_seconds(neuron: &Neuron, now: u64) -> u64 {
    delay_of(neuron.dissolve, now)
}

fn delay_of(dissolve: DissolveState, now: u64) -> u64 {
    match dissolve {
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

/// What voting power depends on, in a fixed 41-byte form: ballots are written from it without
/// decoding the whole neuron.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VotingState {
    pub stake: u64,
    pub fees: u64,
    pub dissolve: DissolveState,
    pub aging_since: u64,
    pub created_at: u64,
}

impl VotingState {
    pub fn of(neuron: &Neuron) -> Self {
        Self {
            stake: neuron.stake,
            fees: neuron.fees,
            dissolve: neuron.dissolve,
            aging_since: neuron.aging_since,
            created_at: neuron.created_at,
        }
    }

    pub fn encode(&self) -> [u8; 41] {
        let mut out = [0u8; 41];
        let (tag, value) = match self.dissolve {
            DissolveState::NotDissolving {
                dissolve_delay_seconds,
            } => (0, dissolve_delay_seconds),
            DissolveState::Dissolving { dissolved_at } => (1, dissolved_at),
        };
        out[0] = tag;
        for (i, v) in [
            self.stake,
            self.fees,
            value,
            self.aging_since,
            self.created_at,
        ]
        .iter()
        .enumerate()
        {
            out[1 + 8 * i..9 + 8 * i].copy_from_slice(&v.to_be_bytes());
        }
        out
    }

    pub fn decode(bytes: &[u8; 41]) -> Self {
        let word =
            |i: usize| u64::from_be_bytes(bytes[1 + 8 * i..9 + 8 * i].try_into().expect("8 bytes"));
        Self {
            stake: word(0),
            fees: word(1),
            dissolve: if bytes[0] == 0 {
                DissolveState::NotDissolving {
                    dissolve_delay_seconds: word(2),
                }
            } else {
                DissolveState::Dissolving {
                    dissolved_at: word(2),
                }
            },
            aging_since: word(3),
            created_at: word(4),
        }
    }
}

/// `free stake × (1 + delay bonus) × (1 + age bonus)`, rounded down, with both bonuses linear up to
/// their caps; `None` when the neuron's dissolve delay is below the minimum to vote.
pub fn voting_power(neuron: &Neuron, parameters: &Parameters, now: u64) -> Option<u128> {
    voting_power_of(&VotingState::of(neuron), parameters, now)
}

/// [`voting_power`] from the voting state alone.
pub fn voting_power_of(neuron: &VotingState, parameters: &Parameters, now: u64) -> Option<u128> {
    let delay = delay_of(neuron.dissolve, now);
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
    let age = match neuron.dissolve {
        DissolveState::NotDissolving { .. } => {
            now.saturating_sub(neuron.aging_since) / NANOS_PER_SECOND
        }
        DissolveState::Dissolving { .. } => 0,
    };
    let age_bonus = bonus(
        age,
        parameters.max_age_for_bonus_seconds,
        parameters.max_age_bonus_bps,
    );
    let free = neuron.stake.saturating_sub(neuron.fees) as u128;
    Some(free * (BPS + delay_bonus) * (BPS + age_bonus) / (BPS * BPS))
}
