//! What a run yields: the per-step CSV (streamed), the summary metrics, the policy gates, and the
//! JSON summary with its manifest. Money stays integer; ratios are reported as decimals.

use crate::scenario::{Gate, Scenario};
use crate::world::{StepRecord, Violation, World};
use neuranft_types::governance::ProposalStatus;
use serde::Serialize;
use std::io::Write;

/// The metric list lives with the scenario (its gates name metrics); this path stays for its users.
pub use crate::scenario::METRICS;

/// The runway reported when the treasury's income covers its spending.
pub const RUNWAY_CAP_DAYS: f64 = 36_500.0;

pub const CSV_HEADER: &str = "run,step,active_users,arrivals,departures,calls,failed_calls,input_tokens,output_tokens,user_spend,metered,credited_hosts,credited_model_owners,credited_data_owners,credited_treasury,paid_out,proxy_fee_reserve,treasury_balance,treasury_spent";

pub fn csv_row(run: u64, r: &StepRecord) -> String {
    format!(
        "{run},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
        r.step,
        r.active_users,
        r.arrivals,
        r.departures,
        r.calls,
        r.failed_calls,
        r.input_tokens,
        r.output_tokens,
        r.user_spend,
        r.metered,
        r.credited_hosts,
        r.credited_model_owners,
        r.credited_data_owners,
        r.credited_treasury,
        r.paid_out,
        r.proxy_fee_reserve,
        r.treasury_balance,
        r.treasury_spent
    )
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct RunSummary {
    pub run: u64,
    pub calls: u64,
    pub failed_calls: u64,
    pub tokens: u64,
    pub user_spend: u128,
    pub metered: u128,
    pub credited_hosts: u128,
    pub credited_model_owners: u128,
    pub credited_data_owners: u128,
    pub credited_treasury: u128,
    pub paid_out: u128,
    pub treasury_balance: u128,
    pub treasury_spent: u128,
    pub minted: u128,
    /// The metrics, by name (see [`METRICS`]).
    pub metrics: Vec<(String, f64)>,
    /// Cumulative credits of hosts, model owners, data owners and the treasury after each step
    /// (for the charts).
    #[serde(skip)]
    pub series: Vec<[u128; 4]>,
    /// Each stakeholder's credited income at the end (for the Lorenz curve).
    #[serde(skip)]
    pub stakeholder_income: Vec<u128>,
}

impl RunSummary {
    pub fn metric(&self, name: &str) -> Option<f64> {
        self.metrics
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }
}

/// The Gini coefficient of `values` (0: equal; towards 1: concentrated).
pub fn gini(values: &[u128]) -> f64 {
    let n = values.len();
    let total: u128 = values.iter().sum();
    if n == 0 || total == 0 {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_unstable();
    let weighted: u128 = sorted
        .iter()
        .enumerate()
        .map(|(i, v)| (i as u128 + 1) * v)
        .sum();
    (2.0 * weighted as f64) / (n as f64 * total as f64) - (n as f64 + 1.0) / n as f64
}

/// The Herfindahl–Hirschman index of shares, on the 0–10,000 scale.
pub fn hhi(values: &[u128]) -> f64 {
    let total: u128 = values.iter().sum();
    if total == 0 {
        return 0.0;
    }
    values
        .iter()
        .map(|v| {
            let share = *v as f64 * 100.0 / total as f64;
            share * share
        })
        .sum()
}

/// The fewest holders together holding more than half.
pub fn nakamoto(values: &[u128]) -> u64 {
    let total: u128 = values.iter().sum();
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(|a, b| b.cmp(a));
    let mut held = 0u128;
    for (i, v) in sorted.iter().enumerate() {
        held += v;
        if held * 2 > total {
            return i as u64 + 1;
        }
    }
    sorted.len() as u64
}

/// The `p`-th percentile (nearest rank) of `values`.
pub fn percentile(values: &[f64], p: u32) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    let rank = ((p as usize * sorted.len()).div_ceil(100)).clamp(1, sorted.len());
    sorted[rank - 1]
}

/// Runs `run` of `scenario` to the end, streaming one CSV row per step to `csv`.
pub fn run_one(
    scenario: &Scenario,
    run: u64,
    csv: &mut dyn Write,
) -> Result<RunSummary, Violation> {
    let mut world = World::new(scenario, run);
    let mut last = StepRecord::default();
    let (mut calls, mut failed, mut tokens, mut spend, mut metered) =
        (0u64, 0u64, 0u64, 0u128, 0u128);
    let (mut departures, mut arrivals) = (0u64, scenario.users.initial as u64);
    let mut series = Vec::with_capacity(scenario.steps as usize);
    for _ in 0..scenario.steps {
        let r = world.step(run)?;
        writeln!(csv, "{}", csv_row(run, &r))
            .map_err(|e| Violation(format!("writing the CSV: {e}")))?;
        calls += r.calls;
        failed += r.failed_calls;
        tokens += r.input_tokens + r.output_tokens;
        spend += r.user_spend;
        metered += r.metered;
        departures += r.departures as u64;
        arrivals += r.arrivals as u64;
        series.push([
            r.credited_hosts,
            r.credited_model_owners,
            r.credited_data_owners,
            r.credited_treasury,
        ]);
        last = r;
    }
    // Each settled receipt credits every unit exactly, up to sub-unit fractions (< 1 per account).
    let credited = last.credited_hosts
        + last.credited_model_owners
        + last.credited_data_owners
        + last.credited_treasury;
    if metered.abs_diff(credited) > world.stakeholder_credits().len() as u128 + 1 {
        return Err(Violation(format!(
            "{credited} credited for {metered} metered: more than the sub-unit fractions apart"
        )));
    }
    let stats = world.host_stats();
    let host_calls: Vec<u128> = world
        .host_ids
        .iter()
        .map(|id| {
            id.and_then(|id| stats.get(&id))
                .map_or(0, |s| (s.calls - s.failures) as u128)
        })
        .collect();
    let run_seconds = scenario.step_seconds as u128 * scenario.steps as u128;
    let mut rois = Vec::new();
    let mut busy = 0u128;
    let mut capacity = 0u128;
    let credits = world.stakeholder_credits();
    for (h, spec) in scenario.hosts.iter().enumerate() {
        let s = world.host_ids[h]
            .and_then(|id| stats.get(&id))
            .cloned()
            .unwrap_or_default();
        let cost = s.gpu_millis * spec.cost_per_gpu_second as u128 / 1_000;
        let income = credits
            .iter()
            .find(|(k, _)| *k == format!("host:{h}"))
            .map_or(0, |(_, v)| *v);
        // A host that never served (not yet admitted, or removed from the start) has no ROI.
        if cost > 0 {
            rois.push((income as f64 - cost as f64) / cost as f64);
        }
        busy += s.gpu_millis / 1_000;
        capacity += spec.capacity as u128 * run_seconds;
    }
    let payouts: Vec<u128> = credits.iter().map(|(_, v)| *v).collect();
    let metrics = vec![
        (
            "take_rate".to_string(),
            ratio(last.credited_treasury + last.proxy_fee_reserve, spend),
        ),
        (
            "user_cost_per_1k_tokens".to_string(),
            ratio(spend * 1_000, tokens as u128),
        ),
        (
            "host_roi_min".to_string(),
            rois.iter().cloned().reduce(f64::min).unwrap_or(0.0),
        ),
        ("host_roi_p10".to_string(), percentile(&rois, 10)),
        ("host_utilisation".to_string(), ratio(busy, capacity)),
        ("gini_payouts".to_string(), gini(&payouts)),
        ("hhi_hosts".to_string(), hhi(&host_calls)),
        ("nakamoto_hosts".to_string(), nakamoto(&host_calls) as f64),
        (
            "churn_rate".to_string(),
            ratio(departures as u128, arrivals as u128),
        ),
        (
            "failed_call_rate".to_string(),
            ratio(failed as u128, (calls + failed) as u128),
        ),
    ];
    let mut metrics = metrics;
    let outcomes = world.proposal_outcomes();
    let decided: Vec<_> = outcomes
        .iter()
        .filter(|o| !matches!(o.1, ProposalStatus::Open | ProposalStatus::Preparing))
        .collect();
    let turnout = if decided.is_empty() {
        0.0
    } else {
        decided.iter().map(|o| ratio(o.2 + o.3, o.4)).sum::<f64>() / decided.len() as f64
    };
    let passed = decided
        .iter()
        .filter(|o| !matches!(o.1, ProposalStatus::Rejected))
        .count();
    let powers = world.voting_powers();
    let incomes: Vec<f64> = payouts.iter().map(|v| *v as f64).collect();
    metrics.extend([
        (
            "stakeholder_income_p10".to_string(),
            percentile(&incomes, 10),
        ),
        (
            "stakeholder_income_p50".to_string(),
            percentile(&incomes, 50),
        ),
        (
            "stakeholder_income_p90".to_string(),
            percentile(&incomes, 90),
        ),
        ("turnout".to_string(), turnout),
        (
            "pass_rate".to_string(),
            ratio(passed as u128, decided.len() as u128),
        ),
        (
            "nakamoto_voting_power".to_string(),
            nakamoto(&powers) as f64,
        ),
        ("hhi_voting_power".to_string(), hhi(&powers)),
        (
            "treasury_runway_days".to_string(),
            runway_days(
                last.treasury_balance,
                last.credited_treasury,
                last.treasury_spent,
                run_seconds,
            ),
        ),
    ]);
    Ok(RunSummary {
        run,
        calls,
        failed_calls: failed,
        tokens,
        user_spend: spend,
        metered,
        credited_hosts: last.credited_hosts,
        credited_model_owners: last.credited_model_owners,
        credited_data_owners: last.credited_data_owners,
        credited_treasury: last.credited_treasury,
        paid_out: last.paid_out,
        treasury_balance: last.treasury_balance,
        treasury_spent: last.treasury_spent,
        minted: world.minted(),
        metrics,
        series,
        stakeholder_income: payouts,
    })
}

/// How many days the treasury's holdings last at the run's net spending rate (spent − income over
/// `seconds`); [`RUNWAY_CAP_DAYS`] when the income covers the spending.
pub fn runway_days(balance: u128, income: u128, spent: u128, seconds: u128) -> f64 {
    if spent <= income || seconds == 0 {
        return RUNWAY_CAP_DAYS;
    }
    let net_per_day = (spent - income) as f64 * 86_400.0 / seconds as f64;
    (balance as f64 / net_per_day).min(RUNWAY_CAP_DAYS)
}

fn ratio(a: u128, b: u128) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct GateResult {
    pub gate: String,
    pub value: f64,
    pub pass: bool,
}

/// Judges each gate on the metric's median across runs.
pub fn judge(gates: &[Gate], spreads: &[Spread]) -> Vec<GateResult> {
    gates
        .iter()
        .map(|g| {
            let value = spreads
                .iter()
                .find(|s| s.metric == g.metric)
                .map_or(f64::NAN, |s| s.p50);
            let pass = match g.op.as_str() {
                ">" => value > g.value,
                ">=" => value >= g.value,
                "<" => value < g.value,
                "<=" => value <= g.value,
                _ => false,
            };
            GateResult {
                gate: format!("{} {} {}", g.metric, g.op, g.value),
                value,
                pass,
            }
        })
        .collect()
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Manifest {
    pub scenario: String,
    pub scenario_sha256: String,
    pub seed: u64,
    pub steps: u32,
    pub runs: u64,
    pub crate_version: String,
    pub rng: String,
}

#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Summary {
    pub manifest: Manifest,
    pub runs: Vec<RunSummary>,
    /// Each metric across runs.
    pub spreads: Vec<Spread>,
    /// The gates, judged on each metric's median across runs.
    pub gates: Vec<GateResult>,
}

/// A metric across runs: its mean and its 5th, 50th and 95th percentiles.
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Spread {
    pub metric: String,
    pub mean: f64,
    pub p5: f64,
    pub p50: f64,
    pub p95: f64,
}

/// Every metric's spread over `runs`.
pub fn spreads(runs: &[RunSummary]) -> Vec<Spread> {
    METRICS
        .iter()
        .map(|m| {
            let values: Vec<f64> = runs.iter().filter_map(|r| r.metric(m)).collect();
            Spread {
                metric: m.to_string(),
                mean: values.iter().sum::<f64>() / values.len().max(1) as f64,
                p5: percentile(&values, 5),
                p50: percentile(&values, 50),
                p95: percentile(&values, 95),
            }
        })
        .collect()
}

/// Runs `runs` Monte Carlo runs of `scenario` on `threads` threads; run `r` streams its rows to
/// `csv_for(r)`. Each run draws only from its own streams, so the results (and every byte written)
/// are the same whatever the thread count. Returns the summaries in run order.
pub fn run_many<F>(
    scenario: &Scenario,
    runs: u64,
    threads: usize,
    csv_for: F,
) -> Result<Vec<RunSummary>, Violation>
where
    F: Fn(u64) -> Result<Box<dyn Write + Send>, Violation> + Sync,
{
    run_many_with_progress(scenario, runs, threads, csv_for, &|_| {})
}

/// [`run_many`], calling `progress(finished_runs)` as runs finish (in any order).
pub fn run_many_with_progress<F>(
    scenario: &Scenario,
    runs: u64,
    threads: usize,
    csv_for: F,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<Vec<RunSummary>, Violation>
where
    F: Fn(u64) -> Result<Box<dyn Write + Send>, Violation> + Sync,
{
    let finished = std::sync::atomic::AtomicU64::new(0);
    use rayon::prelude::*;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| Violation(format!("cannot start {threads} threads: {e}")))?;
    pool.install(|| {
        (0..runs)
            .into_par_iter()
            .map(|run| {
                let mut csv = csv_for(run)?;
                writeln!(csv, "{CSV_HEADER}").map_err(|e| Violation(e.to_string()))?;
                let summary = run_one(scenario, run, &mut csv)?;
                csv.flush().map_err(|e| Violation(e.to_string()))?;
                progress(finished.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1);
                Ok(summary)
            })
            .collect()
    })
}
