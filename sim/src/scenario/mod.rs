//! Scenario files (TOML): every key documented with its default here; unknown keys and values out of
//! range are errors that name the line and what is wrong.

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
    /// host), or `treasury_grant=AMOUNT` (paid from the treasury to a grantee).
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

/// The 1-based line where `key` is set inside table `table` (`""` for the top level; for arrays of
/// tables, the `index`-th one).
fn line_of(source: &str, table: &str, index: usize, key: &str) -> Option<usize> {
    let mut current = String::new();
    let mut seen = 0usize;
    for (n, line) in source.lines().enumerate() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix("[[").and_then(|r| r.strip_suffix("]]")) {
            current = name.trim().to_string();
            if current == table {
                seen += 1;
            }
            continue;
        }
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            current = name.trim().to_string();
            continue;
        }
        let in_table = current == table && (seen == index + 1 || seen == 0);
        if in_table && t.split('=').next().map(str::trim) == Some(key) {
            return Some(n + 1);
        }
    }
    None
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

    pub(crate) fn check(&self, source: &str) -> Result<(), ScenarioError> {
        let err = |table: &str, index: usize, key: &str, message: String| ScenarioError {
            line: line_of(source, table, index, key),
            message,
        };
        if self.steps == 0 || self.steps > 1_000_000 {
            return Err(err("", 0, "steps", "steps must be 1–1,000,000".into()));
        }
        if self.step_seconds == 0 {
            return Err(err(
                "",
                0,
                "step_seconds",
                "step_seconds must be positive".into(),
            ));
        }
        let s = self.economy.split;
        let total = s.host_bps as u32
            + s.model_owners_bps as u32
            + s.data_owners_bps as u32
            + s.treasury_bps as u32;
        if total != 10_000 {
            return Err(err(
                "economy",
                0,
                "split",
                format!("the split's parts sum to {total} bps; they must sum to 10,000"),
            ));
        }
        if self.economy.payout_every_steps == 0 {
            return Err(err(
                "economy",
                0,
                "payout_every_steps",
                "payout_every_steps must be positive".into(),
            ));
        }
        if self.economy.max_receipts_per_batch == 0 || self.economy.max_receipts_per_batch > 1_000 {
            return Err(err(
                "economy",
                0,
                "max_receipts_per_batch",
                "max_receipts_per_batch must be 1–1,000".into(),
            ));
        }
        if !neuranft_types::proxy::CALL_FEE_RANGE.contains(&(self.economy.call_fee as u128)) {
            return Err(err(
                "economy",
                0,
                "call_fee",
                "call_fee must be 1–10^12 (the proxy's range)".into(),
            ));
        }
        let u = &self.users;
        for (key, ppm) in [
            ("arrival_ppm", u.arrival_ppm),
            ("call_ppm", u.call_ppm),
            ("churn_ppm", u.churn_ppm),
        ] {
            if ppm > 1_000_000 {
                return Err(err(
                    "users",
                    0,
                    key,
                    format!(
                        "{key} is {ppm}; a probability in parts per million is at most 1,000,000"
                    ),
                ));
            }
        }
        if u.prompt_bytes_min == 0
            || u.prompt_bytes_min > u.prompt_bytes_max
            || u.prompt_bytes_max > 16_384
        {
            return Err(err(
                "users",
                0,
                "prompt_bytes_max",
                "prompts must be 1 ≤ prompt_bytes_min ≤ prompt_bytes_max ≤ 16,384 bytes".into(),
            ));
        }
        if u.max_tokens_min == 0 || u.max_tokens_min > u.max_tokens_max || u.max_tokens_max > 4_096
        {
            return Err(err(
                "users",
                0,
                "max_tokens_max",
                "max tokens must be 1 ≤ max_tokens_min ≤ max_tokens_max ≤ 4,096".into(),
            ));
        }
        if u.deposit <= self.economy.ledger_fee {
            return Err(err(
                "users",
                0,
                "deposit",
                "deposit must exceed the ledger fee".into(),
            ));
        }
        if self.models.is_empty() {
            return Err(err(
                "",
                0,
                "models",
                "at least one [[models]] is needed".into(),
            ));
        }
        for (i, m) in self.models.iter().enumerate() {
            if m.owners == 0 || m.owners > 1_000 {
                return Err(err(
                    "models",
                    i,
                    "owners",
                    format!("model {}: owners must be 1–1,000", m.name),
                ));
            }
            if m.data_owners > 1_000 {
                return Err(err(
                    "models",
                    i,
                    "data_owners",
                    format!("model {}: data_owners must be 0–1,000", m.name),
                ));
            }
        }
        if self.hosts.is_empty() {
            return Err(err(
                "",
                0,
                "hosts",
                "at least one [[hosts]] is needed".into(),
            ));
        }
        for (i, h) in self.hosts.iter().enumerate() {
            if h.reliability_ppm > 1_000_000 {
                return Err(err(
                    "hosts",
                    i,
                    "reliability_ppm",
                    format!("host {}: reliability_ppm is at most 1,000,000", h.name),
                ));
            }
            if h.applies_at_step.is_some_and(|a| a >= self.steps) {
                return Err(err(
                    "hosts",
                    i,
                    "applies_at_step",
                    format!("host {}: applies_at_step must be below steps", h.name),
                ));
            }
            if h.capacity == 0 || h.tokens_per_second == 0 {
                return Err(err(
                    "hosts",
                    i,
                    "capacity",
                    format!(
                        "host {}: capacity and tokens_per_second must be positive",
                        h.name
                    ),
                ));
            }
        }
        let g = &self.governance;
        if g.holders > 10_000 {
            return Err(err(
                "governance",
                0,
                "holders",
                "holders must be at most 10,000".into(),
            ));
        }
        // Holders stake with the recommended parameters: at least their 10-token minimum stake.
        if g.stake_min < 10 || g.stake_min > g.stake_max || g.stake_max > 1_000_000_000 {
            return Err(err(
                "governance",
                0,
                "stake_max",
                "stakes must be 10 ≤ stake_min ≤ stake_max ≤ 1,000,000,000 tokens".into(),
            ));
        }
        if (1..10).contains(&g.whale_stake) {
            return Err(err(
                "governance",
                0,
                "whale_stake",
                "a whale stakes at least the 10-token minimum stake (or 0: no whale)".into(),
            ));
        }
        if g.dissolve_delay_days_min < 30
            || g.dissolve_delay_days_min > g.dissolve_delay_days_max
            || g.dissolve_delay_days_max > 1_460
        {
            return Err(err(
                "governance",
                0,
                "dissolve_delay_days_max",
                "dissolve delays must be 30 ≤ dissolve_delay_days_min ≤ dissolve_delay_days_max \
                 ≤ 1,460 days"
                    .into(),
            ));
        }
        for (key, ppm) in [("follow_ppm", g.follow_ppm), ("turnout_ppm", g.turnout_ppm)] {
            if ppm > 1_000_000 {
                return Err(err(
                    "governance",
                    0,
                    key,
                    format!("{key} is at most 1,000,000"),
                ));
            }
        }
        for (i, p) in self.proposals.iter().enumerate() {
            if g.holders == 0 && g.whale_stake == 0 {
                return Err(err(
                    "proposals",
                    i,
                    "at_step",
                    "proposals need holders: set [governance] holders or whale_stake".into(),
                ));
            }
            if p.at_step >= self.steps {
                return Err(err(
                    "proposals",
                    i,
                    "at_step",
                    format!("at_step must be below steps ({})", self.steps),
                ));
            }
            if p.every_steps == Some(0) {
                return Err(err(
                    "proposals",
                    i,
                    "every_steps",
                    "every_steps must be positive".into(),
                ));
            }
            let change = crate::ab::Change::parse(&p.change)
                .map_err(|e| err("proposals", i, "change", e))?;
            let problem = match change {
                crate::ab::Change::Prices { .. } => Some(
                    "prices are set by each model's manager ([[price_changes]]), not by a proposal"
                        .to_string(),
                ),
                crate::ab::Change::RemoveNode { index }
                | crate::ab::Change::AdmitNode { index }
                    if index >= self.hosts.len() =>
                {
                    Some(format!(
                        "host {index}: there are {} hosts",
                        self.hosts.len()
                    ))
                }
                crate::ab::Change::RemoveNode { index }
                | crate::ab::Change::AdmitNode { index }
                    if self.hosts[index]
                        .applies_at_step
                        .is_some_and(|a| a > p.at_step) =>
                {
                    Some(format!(
                        "host {index} applies at step {}, after this proposal",
                        self.hosts[index].applies_at_step.unwrap_or_default()
                    ))
                }
                crate::ab::Change::AdmitNode { index }
                    if self.hosts[index].applies_at_step.is_none() =>
                {
                    Some(format!(
                        "host {index} is a founding host (admitted from the start); give it \
                         applies_at_step"
                    ))
                }
                crate::ab::Change::TreasuryGrant { amount: 0 } => {
                    Some("a treasury grant must be positive".into())
                }
                _ => None,
            };
            if let Some(problem) = problem {
                return Err(err("proposals", i, "change", problem));
            }
            if p.support_ppm > 1_000_000 {
                return Err(err(
                    "proposals",
                    i,
                    "support_ppm",
                    "support_ppm is at most 1,000,000".into(),
                ));
            }
        }
        for (i, c) in self.price_changes.iter().enumerate() {
            if c.at_step >= self.steps {
                return Err(err(
                    "price_changes",
                    i,
                    "at_step",
                    format!("at_step must be below steps ({})", self.steps),
                ));
            }
            let Some(model) = self.models.iter().find(|m| m.name == c.model) else {
                return Err(err(
                    "price_changes",
                    i,
                    "model",
                    format!("no model is named {:?}", c.model),
                ));
            };
            if c.percent == 0 || c.percent > 10_000 {
                return Err(err(
                    "price_changes",
                    i,
                    "percent",
                    "percent must be 1–10,000".into(),
                ));
            }
            if model
                .per_1k_input_tokens
                .max(model.per_1k_output_tokens)
                .checked_mul(c.percent)
                .is_none()
            {
                return Err(err(
                    "price_changes",
                    i,
                    "percent",
                    format!("model {}: the new prices overflow", c.model),
                ));
            }
        }
        for (i, g) in self.gates.iter().enumerate() {
            if !crate::report::METRICS.contains(&g.metric.as_str()) {
                return Err(err(
                    "gates",
                    i,
                    "metric",
                    format!(
                        "unknown metric {:?}; known: {}",
                        g.metric,
                        crate::report::METRICS.join(", ")
                    ),
                ));
            }
            if !matches!(g.op.as_str(), ">" | ">=" | "<" | "<=") {
                return Err(err(
                    "gates",
                    i,
                    "op",
                    format!("op {:?} is not one of > >= < <=", g.op),
                ));
            }
        }
        Ok(())
    }
}
