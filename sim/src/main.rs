//! `sim`: run a scenario file on the production state machines and report.

use sim::report::{self, judge, Manifest, Summary};
use sim::scenario::Scenario;
use sim::world::Violation;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

const HELP: &str = "sim — NeuraNFT economic simulation on the production state machines

USAGE:
    sim run <scenario.toml> [--out <dir>] [--seed <n>] [--steps <n>] [--runs <n>] [--threads <n>]
    sim ab <baseline.toml> <variant.toml> [--runs <n>] [--threads <n>] [--out <dir>]
    sim preview <baseline.toml> <change> [--runs <n>] [--threads <n>] [--out <dir>]
    sim sweep <scenario.toml> --vary <key=v1;v2;…> [--vary …] [--cartesian] [--runs <n>] [--out <dir>]
    sim check <scenario.toml>
    sim bench-radcad [timesteps] [runs]
    sim --help

run     simulates the scenario (seed and steps from the file unless given) --runs times (Monte Carlo,
        default 1) on --threads threads (default: all cores), checks the conservation invariants after
        every step, writes <dir>/steps-runNNNN.csv (one row per step) and <dir>/summary.json (per-run
        metrics, p5/median/p95 across runs, gates on the medians, manifest), prints the summary and
        PASS/FAIL per gate. The same seed gives the same bytes whatever the thread count.
        Exit status 1 when a gate fails; 2 on a bad file or a broken invariant.
ab      paired A/B: runs both scenarios on the same random draws, run by run (the variant takes the
        baseline's seed), and prints each metric's mean difference with a 95% interval.
preview the A/B of one proposal's change on the baseline, as if adopted from the start:
        split=HOST,OWNERS,DATA,TREASURY (bps), call_fee=N, prices=P% (every model's prices scaled),
        admit_node=I (host I serves from the start), remove_node=I (host I never serves),
        treasury_grant=AMOUNT (proposed at step 0, supported by every holder who votes),
        suspend_model=I (model I is never chosen), max_output_tokens=N (users ask within it) or
        payout_threshold=N (royalties pays automatically from N ledger fees).
sweep   runs the scenario with keys set to lists of values (dotted paths: economy.call_fee,
        users.churn_ppm, models.0.quality, …), zipped (the i-th values together) or --cartesian, and
        prints the medians of the main metrics per point (--out writes sweep.json).
bench-radcad  times radCAD's benchmark model and a simplified royalty split in this crate's
        cadCAD-style engine (scripts/radcad-bench.sh runs them in radCAD too and prints the ratio).
check   parses and checks a scenario file: unknown keys and values out of range are reported with
        their line.

Scenario files: sim/scenarios/*.toml; every key and its default is documented in
sim/src/scenario/mod.rs.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("sim: {message}");
            ExitCode::from(2)
        }
    }
}

fn load(path: &str) -> Result<(Scenario, String), String> {
    let source = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let scenario = Scenario::parse(&source).map_err(|e| format!("{path}: {e}"))?;
    Ok((scenario, source))
}

fn flag<T: std::str::FromStr>(args: &[String], name: &str) -> Result<Option<T>, String> {
    match args.iter().position(|a| a == name) {
        None => Ok(None),
        Some(i) => args
            .get(i + 1)
            .ok_or(format!("{name} needs a value"))?
            .parse()
            .map(Some)
            .map_err(|_| format!("{name}: not a valid value")),
    }
}

fn run(args: &[String]) -> Result<ExitCode, String> {
    match args.first().map(String::as_str) {
        None | Some("--help") | Some("-h") | Some("help") => {
            println!("{HELP}");
            Ok(ExitCode::SUCCESS)
        }
        Some("check") => {
            let path = args.get(1).ok_or("check needs a scenario file")?;
            let (scenario, _) = load(path)?;
            println!(
                "{path}: scenario {:?} is valid ({} steps, {} models, {} hosts)",
                scenario.name,
                scenario.steps,
                scenario.models.len(),
                scenario.hosts.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        Some("run") => {
            let path = args.get(1).ok_or("run needs a scenario file")?;
            let (mut scenario, source) = load(path)?;
            if let Some(seed) = flag(args, "--seed")? {
                scenario.seed = seed;
            }
            if let Some(steps) = flag(args, "--steps")? {
                scenario.steps = steps;
            }
            let out: PathBuf = flag::<String>(args, "--out")?
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("sim-out").join(&scenario.name));
            std::fs::create_dir_all(&out)
                .map_err(|e| format!("cannot create {}: {e}", out.display()))?;
            let runs: u64 = flag(args, "--runs")?.unwrap_or(1);
            let threads: usize = flag(args, "--threads")?
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            if runs == 0 {
                return Err("--runs must be at least 1".into());
            }
            let started = std::time::Instant::now();
            let dir = out.clone();
            // A progress bar on a terminal; nothing in CI or when piped.
            let terminal = std::io::stderr().is_terminal();
            let progress = move |done: u64| {
                if terminal {
                    let width = 30;
                    let filled = (done * width / runs) as usize;
                    eprint!(
                        "\r[{}{}] {done}/{runs} runs",
                        "=".repeat(filled),
                        " ".repeat(width as usize - filled)
                    );
                    if done == runs {
                        eprintln!();
                    }
                }
            };
            let summaries = report::run_many_with_progress(
                &scenario,
                runs,
                threads,
                |run| {
                    let path = dir.join(format!("steps-run{run:04}.csv"));
                    let file = std::fs::File::create(&path)
                        .map_err(|e| Violation(format!("cannot create {}: {e}", path.display())))?;
                    Ok(Box::new(std::io::BufWriter::new(file)) as Box<dyn Write + Send>)
                },
                &progress,
            )
            .map_err(|v| format!("invariant broken: {}", v.0))?;
            let elapsed = started.elapsed();
            let spreads = report::spreads(&summaries);
            let gates = judge(&scenario.gates, &spreads);
            let calls: u64 = summaries.iter().map(|s| s.calls).sum();
            let all = Summary {
                manifest: Manifest {
                    scenario: scenario.name.clone(),
                    scenario_sha256: Scenario::hash(&source),
                    seed: scenario.seed,
                    steps: scenario.steps,
                    runs,
                    crate_version: env!("CARGO_PKG_VERSION").into(),
                    rng: "SplitMix64, one stream per run and entity".into(),
                },
                runs: summaries.clone(),
                spreads: spreads.clone(),
                gates: gates.clone(),
            };
            write_run_charts(&out, &scenario.name, &summaries)?;
            let json = serde_json::to_string_pretty(&all).map_err(|e| e.to_string())?;
            std::fs::write(out.join("summary.json"), json).map_err(|e| e.to_string())?;
            println!(
                "scenario {:?}: {runs} runs × {} steps on {threads} threads, {calls} paid calls; invariants held at every step of every run",
                scenario.name, scenario.steps
            );
            println!(
                "  {:.0} metered inference events per second ({:.2} s)",
                calls as f64 / elapsed.as_secs_f64(),
                elapsed.as_secs_f64()
            );
            println!(
                "  {:<26} {:>14} {:>14} {:>14}",
                "metric", "p5", "median", "p95"
            );
            for s in &spreads {
                println!(
                    "  {:<26} {:>14.4} {:>14.4} {:>14.4}",
                    s.metric, s.p5, s.p50, s.p95
                );
            }
            let mut failed = false;
            for g in &gates {
                println!(
                    "  {} {:<40} (value {:.4})",
                    if g.pass { "PASS" } else { "FAIL" },
                    g.gate,
                    g.value
                );
                failed |= !g.pass;
            }
            println!(
                "wrote {}/steps-run*.csv, summary.json, income.svg and lorenz.svg",
                out.display()
            );
            Ok(if failed {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Some("bench-radcad") => {
            use sim::cadcad::{benchmark_model, royalty_model, simulate};
            let timesteps: usize = args
                .get(1)
                .map_or(Ok(100_000), |a| a.parse())
                .map_err(|_| "timesteps: not a number")?;
            let runs: usize = args
                .get(2)
                .map_or(Ok(5), |a| a.parse())
                .map_err(|_| "runs: not a number")?;
            let started = std::time::Instant::now();
            let records = simulate(
                &benchmark_model::INITIAL,
                &benchmark_model::blocks(),
                &benchmark_model::SUBSETS,
                timesteps,
                runs,
            );
            let benchmark_seconds = started.elapsed().as_secs_f64();
            let benchmark_records = records.len();
            drop(records);
            let started = std::time::Instant::now();
            let royalty_records = simulate(
                &royalty_model::INITIAL,
                &royalty_model::blocks(),
                &royalty_model::SUBSETS,
                timesteps,
                1,
            )
            .len();
            let royalty_seconds = started.elapsed().as_secs_f64();
            println!(
                "{}",
                serde_json::json!({
                    "benchmark_seconds": benchmark_seconds,
                    "benchmark_records": benchmark_records,
                    "royalty_seconds": royalty_seconds,
                    "royalty_records": royalty_records,
                })
            );
            Ok(ExitCode::SUCCESS)
        }
        Some("sweep") => {
            let path = args.get(1).ok_or("sweep needs a scenario file")?;
            let source =
                std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
            let axes: Vec<sim::sweep::Axis> = args
                .windows(2)
                .filter(|w| w[0] == "--vary")
                .map(|w| sim::sweep::Axis::parse(&w[1]))
                .collect::<Result<_, _>>()?;
            if axes.is_empty() {
                return Err("sweep needs at least one --vary key=v1;v2".into());
            }
            let cartesian = args.iter().any(|a| a == "--cartesian");
            let runs: u64 = flag(args, "--runs")?.unwrap_or(5);
            let threads: usize = flag(args, "--threads")?
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            if runs == 0 {
                return Err("--runs must be at least 1".into());
            }
            let points = sim::sweep::points(&axes, cartesian)?;
            println!(
                "{} sweep of {path}: {} points × {runs} runs (medians across runs)",
                if cartesian { "cartesian" } else { "zipped" },
                points.len()
            );
            let shown = [
                "take_rate",
                "user_cost_per_1k_tokens",
                "host_roi_p10",
                "churn_rate",
                "hhi_hosts",
            ];
            println!(
                "  {:<50} {}",
                "point",
                shown.map(|m| format!("{m:>24}")).join("")
            );
            let mut rows = Vec::new();
            for point in &points {
                let (scenario, _) =
                    sim::sweep::apply(&source, point).map_err(|e| format!("{path}: {e}"))?;
                let summaries = report::run_many(&scenario, runs, threads, |_| {
                    Ok(Box::new(std::io::sink()) as Box<dyn Write + Send>)
                })
                .map_err(|v| format!("invariant broken: {}", v.0))?;
                let spreads = report::spreads(&summaries);
                let label = point
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(" ");
                let medians: Vec<f64> = shown
                    .iter()
                    .map(|m| {
                        spreads
                            .iter()
                            .find(|s| s.metric == *m)
                            .map_or(f64::NAN, |s| s.p50)
                    })
                    .collect();
                println!(
                    "  {:<50} {}",
                    label,
                    medians
                        .iter()
                        .map(|v| format!("{v:>24.4}"))
                        .collect::<String>()
                );
                rows.push(serde_json::json!({ "point": label, "spreads": spreads }));
            }
            if let Some(out) = flag::<String>(args, "--out")? {
                std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
                let path = PathBuf::from(out).join("sweep.json");
                std::fs::write(
                    &path,
                    serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?,
                )
                .map_err(|e| e.to_string())?;
                println!("wrote {}", path.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(command @ ("ab" | "preview")) => {
            let base_path = args
                .get(1)
                .ok_or(format!("{command} needs a baseline scenario"))?;
            let (baseline, _) = load(base_path)?;
            let second = args.get(2).ok_or(format!(
                "{command} needs {}",
                if command == "ab" {
                    "a variant scenario"
                } else {
                    "a change (split=…, call_fee=…, prices=…%)"
                }
            ))?;
            let variant = if command == "ab" {
                load(second)?.0
            } else {
                sim::scenario::Change::parse(second)?.apply(&baseline)?
            };
            let runs: u64 = flag(args, "--runs")?.unwrap_or(10);
            let threads: usize = flag(args, "--threads")?
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
            if runs == 0 {
                return Err("--runs must be at least 1".into());
            }
            let deltas = sim::ab::paired(&baseline, &variant, runs, threads)
                .map_err(|v| format!("invariant broken: {}", v.0))?
                .deltas;
            println!(
                "paired A/B over {runs} runs of {:?} (same random draws in both arms):",
                baseline.name
            );
            println!(
                "  {:<26} {:>14} {:>14} {:>14} {:>28}",
                "metric", "baseline", "variant", "difference", "95% interval"
            );
            if let Some(out) = flag::<String>(args, "--out")? {
                std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
                let rows: Vec<(String, f64, f64, f64)> = deltas
                    .iter()
                    .map(|d| (d.metric.clone(), d.mean_difference, d.ci95_low, d.ci95_high))
                    .collect();
                let svg = sim::charts::deltas(
                    &format!("{}: variant − baseline (95% intervals)", baseline.name),
                    &rows,
                );
                let path = PathBuf::from(&out).join("deltas.svg");
                std::fs::write(&path, svg).map_err(|e| e.to_string())?;
                std::fs::write(
                    PathBuf::from(&out).join("ab.json"),
                    serde_json::to_string_pretty(&deltas).map_err(|e| e.to_string())?,
                )
                .map_err(|e| e.to_string())?;
                println!("wrote {} and ab.json", path.display());
            }
            for d in &deltas {
                println!(
                    "  {:<26} {:>14.4} {:>14.4} {:>+14.4} {:>13.4} … {:<13.4}",
                    d.metric,
                    d.baseline_mean,
                    d.variant_mean,
                    d.mean_difference,
                    d.ci95_low,
                    d.ci95_high
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Some(other) => Err(format!("unknown command {other:?}; see sim --help")),
    }
}

/// income.svg (each class's cumulative income, median with the p5–p95 band across runs) and
/// lorenz.svg (stakeholder income in the first run).
fn write_run_charts(
    out: &std::path::Path,
    name: &str,
    summaries: &[report::RunSummary],
) -> Result<(), String> {
    let classes = ["hosts", "model owners", "data owners", "treasury"];
    let steps = summaries.iter().map(|s| s.series.len()).min().unwrap_or(0);
    let series: Vec<(String, Vec<sim::charts::BandPoint>)> = classes
        .iter()
        .enumerate()
        .map(|(c, class)| {
            let points = (0..steps)
                .map(|step| {
                    let values: Vec<f64> =
                        summaries.iter().map(|s| s.series[step][c] as f64).collect();
                    (
                        step as f64 + 1.0,
                        report::percentile(&values, 5),
                        report::percentile(&values, 50),
                        report::percentile(&values, 95),
                    )
                })
                .collect();
            (class.to_string(), points)
        })
        .collect();
    let svg = sim::charts::bands(
        &format!("{name}: cumulative income by stakeholder class (median, p5–p95)"),
        "step",
        "payment-token units",
        &series,
    );
    std::fs::write(out.join("income.svg"), svg).map_err(|e| e.to_string())?;
    if let Some(first) = summaries.first() {
        let svg = sim::charts::lorenz(
            &format!("{name}: Lorenz curve of stakeholder income (run 0)"),
            &first.stakeholder_income,
        );
        std::fs::write(out.join("lorenz.svg"), svg).map_err(|e| e.to_string())?;
    }
    Ok(())
}
