//! Scenario files (TOML): every key documented with its default here; unknown keys and values out of
//! range are errors that name the line and what is wrong.

mod change;
mod check;

pub use change::Change;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    /// Shown in reports.
    pub name: String,
    /// The master seed: every random draw of every run derives from it.
    pub seed: u64,
    /// Steps per run.
    pub steps: u32,
    /// Simulated seconds per step (3,600: a step is an hour).
    pub step_seconds: u64,
    pub economy: Economy,
    pub users: Users,
    pub models: Vec<ModelSpec>,
    pub hosts: Vec<HostSpec>,
    /// Token holders with neurons, voting in the governance state machine (none: no governance).
    pub governance: GovernanceSpec,
    /// Proposals made during the run and voted on by the holders.
    pub proposals: Vec<ProposalSpec>,
    /// Model managers changing their prices during the run.
    pub price_changes: Vec<PriceChange>,
    pub treasury: TreasurySpec,
    /// Policy gates: each is PASS or FAIL at the end of a run.
    pub gates: Vec<Gate>,
}

/// Governance-token amounts are whole tokens (8 decimals on the ledger).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct GovernanceSpec {
    /// Holders, each staking one neuron through the real staking flow.
    pub holders: u32,
    pub stake_min: u64,
    pub stake_max: u64,
    /// Each holder's dissolve delay, in days, drawn between these (30–1,460: governance's limits);
    /// longer delays give more voting power. The whale takes the maximum.
    pub dissolve_delay_days_min: u64,
    pub dissolve_delay_days_max: u64,
    /// One more holder with this stake (0: none); it makes every proposal.
    pub whale_stake: u64,
    /// Each holder follows the largest holder with this probability (on the catch-all and on every
    /// critical topic, so on every proposal).
    pub follow_ppm: u32,
    /// Each holder who does not follow votes on a proposal with this probability.
    pub turnout_ppm: u32,
}

impl Default for GovernanceSpec {
    fn default() -> Self {
        Self {
            holders: 0,
            stake_min: 100,
            stake_max: 5_000,
            dissolve_delay_days_min: 365,
            dissolve_delay_days_max: 365,
            whale_stake: 0,
            follow_ppm: 0,
            turnout_ppm: 600_000,
        }
    }
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProposalSpec {
    /// The step at which the largest holder proposes it.
    pub at_step: u32,
    /// Proposed again every this many steps after `at_step` (none: once), e.g. a monthly grant.
    #[serde(default)]
    pub every_steps: Option<u32>,
    /// `split=HOST,OWNERS,DATA,TREASURY`, `call_fee=N`, `admit_node=I` or `remove_node=I` (the I-th
    /// host), `treasury_grant=AMOUNT` (paid from the treasury to a grantee), `suspend_model=I` or
    /// `reinstate_model=I` (the I-th model, moderated by the DAO), `max_output_tokens=N` (the
    /// proxy's limit) or `payout_threshold=N` (royalties' automatic payout threshold, in fees).
    pub change: String,
    /// Each voting holder votes yes with this probability.
    #[serde(default = "half")]
    pub support_ppm: u32,
}

/// A model's manager sets its prices to `percent` of the scenario's prices at `at_step` (through
/// royalties' `set_price`, pushed to the proxy like in production).
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PriceChange {
    pub at_step: u32,
    /// The model's name.
    pub model: String,
    /// 1–10,000 (100: the scenario's prices).
    pub percent: u64,
}

/// The DAO treasury: governance's treasury account on the payment ledger. Royalties pays the treasury's
/// share into it; `treasury_grant` proposals pay out of it.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq, Default)]
#[serde(deny_unknown_fields, default)]
pub struct TreasurySpec {
    /// In the treasury at the start, in payment-token units (0 by default).
    pub initial: u64,
}

fn half() -> u32 {
    500_000
}

/// Token amounts are in the payment token's smallest unit (8 decimals: 100,000,000 = 1 token); TOML
/// integers are 64-bit, so each amount is at most 2^63 − 1.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Economy {
    /// Charged per successful call on top of the usage price (the proxy keeps it).
    pub call_fee: u64,
    /// The payment ledger's transfer fee.
    pub ledger_fee: u64,
    pub split: Split,
    /// Royalties' payout job runs every this many steps.
    pub payout_every_steps: u32,
    /// The payout job pays accruals of at least this many ledger fees.
    pub auto_payout_fee_multiple: u64,
    pub max_receipts_per_batch: u32,
}

#[derive(Deserialize, Serialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Split {
    pub host_bps: u16,
    pub model_owners_bps: u16,
    pub data_owners_bps: u16,
    pub treasury_bps: u16,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Users {
    /// Users at the start.
    pub initial: u32,
    /// Each step, up to this many new users may arrive, each with probability `arrival_ppm`.
    pub max_arrivals_per_step: u32,
    pub arrival_ppm: u32,
    /// What a user deposits on arrival.
    pub deposit: u64,
    /// Each step a user makes up to this many calls, each with probability `call_ppm`.
    pub calls_per_step_max: u32,
    pub call_ppm: u32,
    /// Each step a user leaves with this probability (and withdraws what is left).
    pub churn_ppm: u32,
    /// A user who paid more than this per 1,000 tokens in a step leaves (price sensitivity).
    pub max_cost_per_1k_tokens: u64,
    pub prompt_bytes_min: u64,
    pub prompt_bytes_max: u64,
    pub max_tokens_min: u32,
    pub max_tokens_max: u32,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    pub name: String,
    pub per_1k_input_tokens: u64,
    pub per_1k_output_tokens: u64,
    /// Users choose a model with probability proportional to quality.
    #[serde(default = "default_quality")]
    pub quality: u32,
    /// Equal owners sharing the model's 1,000,000 share units (at most 100).
    #[serde(default = "one")]
    pub owners: u32,
    /// Equal data owners (0: the data part goes to the owners; at most 50).
    #[serde(default)]
    pub data_owners: u32,
}

#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    pub name: String,
    /// Calls it serves at once.
    #[serde(default = "default_capacity")]
    pub capacity: u32,
    /// Probability that a call succeeds.
    #[serde(default = "default_reliability")]
    pub reliability_ppm: u32,
    /// What a GPU-second costs its operator, in payment-token units.
    #[serde(default = "default_gpu_cost")]
    pub cost_per_gpu_second: u64,
    /// Output tokens generated per GPU-second.
    #[serde(default = "default_speed")]
    pub tokens_per_second: u32,
    /// Down from this step on (a node outage), if given.
    #[serde(default)]
    pub down_from_step: Option<u32>,
    /// Applies to the proxy at this step and serves once a proposal `admit_node=I` admits it (none: a
    /// founding host, admitted from the start).
    #[serde(default)]
    pub applies_at_step: Option<u32>,
}

/// `metric op value`, e.g. `host_roi_p10 > 0`.
#[derive(Deserialize, Serialize, Clone, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    pub metric: String,
    /// One of `>`, `>=`, `<`, `<=`.
    pub op: String,
    pub value: f64,
}

/// The metrics a gate may name.
pub const METRICS: &[&str] = &[
    "take_rate",
    "user_cost_per_1k_tokens",
    "host_roi_min",
    "host_roi_p10",
    "host_utilisation",
    "gini_payouts",
    "hhi_hosts",
    "nakamoto_hosts",
    "churn_rate",
    "failed_call_rate",
    "stakeholder_income_p10",
    "stakeholder_income_p50",
    "stakeholder_income_p90",
    "turnout",
    "pass_rate",
    "nakamoto_voting_power",
    "hhi_voting_power",
    "treasury_runway_days",
];

fn one() -> u32 {
    1
}
fn default_quality() -> u32 {
    1
}
fn default_capacity() -> u32 {
    8
}
fn default_reliability() -> u32 {
    995_000
}
fn default_gpu_cost() -> u64 {
    400
}
fn default_speed() -> u32 {
    40
}

impl Default for Scenario {
    fn default() -> Self {
        Self {
            name: "unnamed".into(),
            seed: 1,
            steps: 168,
            step_seconds: 3_600,
            economy: Economy::default(),
            users: Users::default(),
            models: vec![],
            hosts: vec![],
            governance: GovernanceSpec::default(),
            proposals: vec![],
            price_changes: vec![],
            treasury: TreasurySpec::default(),
            gates: vec![],
        }
    }
}

impl Default for Economy {
    fn default() -> Self {
        Self {
            call_fee: 20_000,
            ledger_fee: 10_000,
            split: Split {
                host_bps: 3_000,
                model_owners_bps: 5_000,
                data_owners_bps: 1_000,
                treasury_bps: 1_000,
            },
            payout_every_steps: 24,
            auto_payout_fee_multiple: 10,
            max_receipts_per_batch: 500,
        }
    }
}

impl Default for Users {
    fn default() -> Self {
        Self {
            initial: 20,
            max_arrivals_per_step: 2,
            arrival_ppm: 300_000,
            deposit: 5_000_000_000,
            calls_per_step_max: 4,
            call_ppm: 400_000,
            churn_ppm: 5_000,
            max_cost_per_1k_tokens: 2_000_000,
            prompt_bytes_min: 100,
            prompt_bytes_max: 4_000,
            max_tokens_min: 64,
            max_tokens_max: 512,
        }
    }
}

/// What is wrong with a scenario file, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    pub line: Option<usize>,
    pub message: String,
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.message),
            None => write!(f, "{}", self.message),
        }
    }
}

impl Scenario {
    /// Parses and checks a scenario file.
    pub fn parse(source: &str) -> Result<Self, ScenarioError> {
        let scenario: Scenario = toml::from_str(source).map_err(|e| ScenarioError {
            line: e
                .span()
                .map(|s| source[..s.start.min(source.len())].matches('\n').count() + 1),
            message: e.message().to_string(),
        })?;
        scenario.check(source)?;
        Ok(scenario)
    }

    /// SHA-256 of the scenario as it was read (for the manifest).
    pub fn hash(source: &str) -> String {
        hex::encode(Sha256::digest(source.as_bytes()))
    }
}
