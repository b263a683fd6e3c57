//! The checks of a scenario file: each value in range, each reference to a model, host or metric
//! resolved, and the line of the key that is wrong.

use super::{Change, Scenario, ScenarioError, METRICS};

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
            let change = Change::parse(&p.change).map_err(|e| err("proposals", i, "change", e))?;
            let problem = match change {
                Change::Prices { .. } => Some(
                    "prices are set by each model's manager ([[price_changes]]), not by a proposal"
                        .to_string(),
                ),
                Change::RemoveNode { index } | Change::AdmitNode { index }
                    if index >= self.hosts.len() =>
                {
                    Some(format!(
                        "host {index}: there are {} hosts",
                        self.hosts.len()
                    ))
                }
                Change::RemoveNode { index } | Change::AdmitNode { index }
                    if self.hosts[index]
                        .applies_at_step
                        .is_some_and(|a| a > p.at_step) =>
                {
                    Some(format!(
                        "host {index} applies at step {}, after this proposal",
                        self.hosts[index].applies_at_step.unwrap_or_default()
                    ))
                }
                Change::AdmitNode { index } if self.hosts[index].applies_at_step.is_none() => {
                    Some(format!(
                        "host {index} is a founding host (admitted from the start); give it \
                         applies_at_step"
                    ))
                }
                Change::TreasuryGrant { amount: 0 } => {
                    Some("a treasury grant must be positive".into())
                }
                Change::SuspendModel { index } | Change::ReinstateModel { index }
                    if index >= self.models.len() =>
                {
                    Some(format!(
                        "model {index}: there are {} models",
                        self.models.len()
                    ))
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
            if !METRICS.contains(&g.metric.as_str()) {
                return Err(err(
                    "gates",
                    i,
                    "metric",
                    format!(
                        "unknown metric {:?}; known: {}",
                        g.metric,
                        METRICS.join(", ")
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
