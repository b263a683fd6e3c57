//! The bounds of the governance parameters and their validation.

use super::*;

const HOUR_SECONDS: u64 = 3_600;
const DAY_SECONDS: u64 = 24 * HOUR_SECONDS;
const E8S: u64 = 100_000_000;

// The ranges `validate_parameters` enforces. Each exists so that no single adopted
// `SetGovernanceParameters` can stop governance from adopting the next one (the fix included), and so
// that every product of a parameter with the time or a stake stays far from `u64`/`u128` overflow.

/// Long enough for holders to notice a proposal at all; short enough that a fix is voted on within a
/// month.
pub const VOTING_PERIOD_SECONDS: std::ops::RangeInclusive<u64> = HOUR_SECONDS..=30 * DAY_SECONDS;
/// Wait-for-quiet may add at most this in total to a deadline.
pub const MAX_EXTENSION_SECONDS: u64 = 30 * DAY_SECONDS;
/// Eight years of 365.25 days: the NNS's longest lock.
pub const MAX_DISSOLVE_DELAY_SECONDS: u64 = 2_922 * DAY_SECONDS;
/// +100% at most for the dissolve delay and for the age (so at most ×4 in all).
pub const MAX_BONUS_BPS: u16 = 10_000;
/// At most 90% of the votes cast: blocking a proposal takes at least 10% of them voting no.
pub const MAJORITY_BPS: std::ops::RangeInclusive<u16> = 5_000..=9_000;
/// At most half of all voting power must vote yes: abstainers alone cannot block every proposal.
pub const MAX_QUORUM_BPS: u16 = 5_000;
/// 1,000 tokens: staking a neuron must stay within reach of ordinary holders.
pub const MAX_MIN_STAKE: u64 = 1_000 * E8S;
/// Each open proposal writes a ballot per neuron: the work one neuron can cause stays bounded.
pub const MAX_OPEN_PROPOSALS_PER_NEURON: u32 = 50;
/// The packed followee lists are bounded to 50 ids.
pub const MAX_FOLLOWEES_PER_TOPIC: u32 = 50;
/// From ×1 (every growth is a spike) to ×10.
pub const VOTING_POWER_SPIKE_BPS: std::ops::RangeInclusive<u32> = 10_000..=100_000;

fn check_range<T: PartialOrd + std::fmt::Display>(
    field: &str,
    value: T,
    range: std::ops::RangeInclusive<T>,
    unit: &str,
) -> Result<(), GovernanceError> {
    if range.contains(&value) {
        return Ok(());
    }
    Err(invalid(
        field,
        format!("{value} is outside {}–{}{unit}", range.start(), range.end()),
    ))
}

fn validate_rules(name: &str, rules: &VotingRules) -> Result<(), GovernanceError> {
    let field = |f: &str| format!("{name}.{f}");
    check_range(
        &field("voting_period_seconds"),
        rules.voting_period_seconds,
        VOTING_PERIOD_SECONDS,
        " seconds",
    )?;
    check_range(
        &field("wait_for_quiet_seconds"),
        rules.wait_for_quiet_seconds,
        0..=rules.voting_period_seconds,
        " seconds (at most the voting period)",
    )?;
    check_range(
        &field("max_extension_seconds"),
        rules.max_extension_seconds,
        0..=MAX_EXTENSION_SECONDS,
        " seconds",
    )?;
    check_range(
        &field("majority_bps"),
        rules.majority_bps,
        MAJORITY_BPS,
        " bps",
    )?;
    // With the majority at least 50%, the quorum never exceeds it: an early decision (by the
    // majority of all power) always agrees with the deadline rule.
    check_range(
        &field("quorum_bps"),
        rules.quorum_bps,
        0..=MAX_QUORUM_BPS,
        " bps",
    )
}

/// Checks parameters a proposal (or the installer) sets: every field within its documented range.
///
/// The reject cost is at most the minimum stake, so every neuron that can be staked can pay it: no
/// parameters can leave governance without anyone able to propose. It is also positive: it is the only
/// price of a proposal, and each proposal writes a ballot per neuron at the DAO's expense.
pub fn validate_parameters(p: &Parameters) -> Result<(), GovernanceError> {
    for (name, rules) in [("normal", &p.normal), ("critical", &p.critical)] {
        validate_rules(name, rules)?;
    }
    if p.critical.majority_bps < p.normal.majority_bps
        || p.critical.quorum_bps < p.normal.quorum_bps
        || p.critical.voting_period_seconds < p.normal.voting_period_seconds
    {
        return Err(invalid(
            "critical",
            "critical topics must be at least as demanding as normal ones",
        ));
    }
    check_range(
        "max_dissolve_delay_seconds",
        p.max_dissolve_delay_seconds,
        0..=MAX_DISSOLVE_DELAY_SECONDS,
        " seconds",
    )?;
    check_range(
        "min_dissolve_delay_seconds",
        p.min_dissolve_delay_seconds,
        0..=p.max_dissolve_delay_seconds,
        " seconds (at most the maximum delay)",
    )?;
    check_range(
        "max_age_for_bonus_seconds",
        p.max_age_for_bonus_seconds,
        0..=MAX_DISSOLVE_DELAY_SECONDS,
        " seconds",
    )?;
    check_range(
        "max_dissolve_delay_bonus_bps",
        p.max_dissolve_delay_bonus_bps,
        0..=MAX_BONUS_BPS,
        " bps",
    )?;
    check_range(
        "max_age_bonus_bps",
        p.max_age_bonus_bps,
        0..=MAX_BONUS_BPS,
        " bps",
    )?;
    check_range("min_stake", p.min_stake, 1..=MAX_MIN_STAKE, " e8s")?;
    check_range(
        "reject_cost",
        p.reject_cost,
        1..=p.min_stake,
        " e8s (at most the minimum stake)",
    )?;
    check_range(
        "max_open_proposals_per_neuron",
        p.max_open_proposals_per_neuron,
        1..=MAX_OPEN_PROPOSALS_PER_NEURON,
        "",
    )?;
    check_range(
        "max_followees_per_topic",
        p.max_followees_per_topic,
        1..=MAX_FOLLOWEES_PER_TOPIC,
        "",
    )?;
    check_range(
        "treasury_cap_per_7_days",
        p.treasury_cap_per_7_days,
        1..=u128::MAX,
        "",
    )?;
    check_range(
        "voting_power_spike_bps",
        p.voting_power_spike_bps,
        VOTING_POWER_SPIKE_BPS,
        " bps",
    )
}

impl Governance {
    /// Sets parameters without any check: for tests of parameters that an earlier version of
    /// governance stored under weaker checks.
    #[cfg(test)]
    pub(crate) fn set_parameters_unchecked(&mut self, parameters: Parameters) {
        self.parameters.set(Candid(Some(parameters)));
    }
}
