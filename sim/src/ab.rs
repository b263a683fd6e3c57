//! Paired A/B: a variant (a proposal's change) and the baseline run on the same random draws, run by
//! run, so the difference in each metric is the change's effect, not noise between runs.

use crate::report::{run_many, RunSummary};
use crate::scenario::{Scenario, METRICS};
use crate::world::Violation;
use serde::Serialize;

/// The changes live with the scenario (proposals name them too); this path stays for its users.
pub use crate::scenario::Change;

/// The variant's effect on one metric: the mean paired difference (variant − baseline) and its 95%
/// confidence interval (normal approximation over the runs).
#[derive(Serialize, Clone, Debug, PartialEq)]
pub struct Delta {
    pub metric: String,
    pub baseline_mean: f64,
    pub variant_mean: f64,
    pub mean_difference: f64,
    pub ci95_low: f64,
    pub ci95_high: f64,
}

/// Both arms' runs, in run order, and each metric's paired difference.
#[derive(Clone, Debug, PartialEq)]
pub struct Paired {
    pub baseline: Vec<RunSummary>,
    pub variant: Vec<RunSummary>,
    pub deltas: Vec<Delta>,
}

/// Runs baseline and variant `runs` times each on the same streams (the variant takes the baseline's
/// seed) and returns each metric's paired difference.
pub fn paired(
    baseline: &Scenario,
    variant: &Scenario,
    runs: u64,
    threads: usize,
) -> Result<Paired, Violation> {
    let mut variant = variant.clone();
    variant.seed = baseline.seed;
    let sink = |_| Ok(Box::new(std::io::sink()) as Box<dyn std::io::Write + Send>);
    let a = run_many(baseline, runs, threads, sink)?;
    let b = run_many(&variant, runs, threads, sink)?;
    let deltas = METRICS
        .iter()
        .map(|m| {
            let pairs: Vec<(f64, f64)> = a
                .iter()
                .zip(&b)
                .filter_map(|(x, y)| Some((x.metric(m)?, y.metric(m)?)))
                .collect();
            let n = pairs.len().max(1) as f64;
            let diffs: Vec<f64> = pairs.iter().map(|(x, y)| y - x).collect();
            let mean = diffs.iter().sum::<f64>() / n;
            let var = if diffs.len() > 1 {
                diffs.iter().map(|d| (d - mean) * (d - mean)).sum::<f64>() / (n - 1.0)
            } else {
                0.0
            };
            let half = 1.96 * (var / n).sqrt();
            Delta {
                metric: m.to_string(),
                baseline_mean: pairs.iter().map(|p| p.0).sum::<f64>() / n,
                variant_mean: pairs.iter().map(|p| p.1).sum::<f64>() / n,
                mean_difference: mean,
                ci95_low: mean - half,
                ci95_high: mean + half,
            }
        })
        .collect();
    Ok(Paired {
        baseline: a,
        variant: b,
        deltas,
    })
}
