//! The simulation on the production state machines: determinism, conservation in every step of every
//! shipped scenario, and clear errors for bad scenario files.

use neuranft_types::governance::ProposalStatus;
use sim::report::{run_many, run_one, CSV_HEADER};
use sim::scenario::Scenario;
use sim::world::World;
use std::sync::{Arc, Mutex};

fn shipped() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect()
}

/// A shorter run of a scenario (the full ones are for `sim run`).
fn short(source: &str, steps: u32) -> Scenario {
    let mut s = Scenario::parse(source).unwrap();
    s.steps = steps;
    s
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_does_not() {
    let (_, source) = &shipped()[0];
    let scenario = short(source, 12);
    let run = |s: &Scenario| {
        let mut csv = Vec::new();
        let summary = run_one(s, 0, &mut csv).unwrap();
        (csv, serde_json::to_string(&summary).unwrap())
    };
    let first = run(&scenario);
    assert!(!first.0.is_empty());
    assert_eq!(first, run(&scenario));
    let mut other = scenario.clone();
    other.seed += 1;
    assert_ne!(first.0, run(&other).0);
}

#[test]
fn every_shipped_scenario_conserves_money_at_every_step() {
    use rayon::prelude::*;
    shipped().into_par_iter().for_each(|(name, source)| {
        // The whole scenario: the world checks every invariant after every step and fails the run
        // with the step and what disagrees.
        let scenario = Scenario::parse(&source).unwrap();
        let mut csv = Vec::new();
        let summary = run_one(&scenario, 0, &mut csv).unwrap_or_else(|v| panic!("{name}: {}", v.0));
        assert!(summary.calls > 0, "{name}: no calls");
        let rows = String::from_utf8(csv).unwrap();
        assert_eq!(
            rows.lines().count(),
            scenario.steps as usize,
            "{name}: one row per step"
        );
        assert_eq!(
            CSV_HEADER.split(',').count(),
            rows.lines().next().unwrap().split(',').count()
        );
        // Users paid exactly the usage (settled to stakeholders) plus the call fees.
        assert_eq!(
            summary.user_spend,
            summary.metered + summary.calls as u128 * scenario.economy.call_fee as u128,
            "{name}"
        );
    });
}

#[test]
fn bad_scenario_files_name_the_line_and_what_is_wrong() {
    let (_, source) = &shipped()[0];
    let unknown = source.replace("churn_ppm = ", "churn_rate = ");
    let e = Scenario::parse(&unknown).unwrap_err();
    let line = source
        .lines()
        .position(|l| l.starts_with("churn_ppm"))
        .unwrap()
        + 1;
    assert_eq!(e.line, Some(line), "{e}");
    assert!(e.message.contains("churn_rate"), "{e}");

    let out_of_range = source.replace("churn_ppm = 4000", "churn_ppm = 4000000");
    let e = Scenario::parse(&out_of_range).unwrap_err();
    assert_eq!(e.line, Some(line), "{e}");
    assert!(e.message.contains("at most 1,000,000"), "{e}");

    let bad_split = source.replace("treasury_bps = 1000", "treasury_bps = 999");
    let e = Scenario::parse(&bad_split).unwrap_err();
    assert!(e.message.contains("9999"), "{e}");
    assert!(e.line.is_some(), "{e}");

    let bad_gate = source.replace("metric = \"hhi_hosts\"", "metric = \"happiness\"");
    let e = Scenario::parse(&bad_gate).unwrap_err();
    assert!(e.message.contains("unknown metric"), "{e}");
    assert!(e.line.is_some(), "{e}");

    let not_toml = "steps = [";
    assert!(Scenario::parse(not_toml).unwrap_err().line.is_some());
}

#[test]
fn the_command_line_reports_bad_files_and_runs_good_ones() {
    let bin = env!("CARGO_BIN_EXE_sim");
    let dir = std::env::temp_dir().join(format!("sim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(&bad, "steps = 0\n").unwrap();
    let out = std::process::Command::new(bin)
        .args(["check", bad.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 1: steps must be"), "{stderr}");
    let (_, source) = &shipped()[0];
    let good = dir.join("good.toml");
    std::fs::write(&good, source).unwrap();
    let out = std::process::Command::new(bin)
        .args([
            "run",
            good.to_str().unwrap(),
            "--steps",
            "6",
            "--out",
            dir.join("out").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("invariants held at every step"), "{stdout}");
    let summary = std::fs::read_to_string(dir.join("out").join("summary.json")).unwrap();
    assert!(dir.join("out").join("steps-run0000.csv").exists());
    assert!(summary.contains("scenario_sha256"));
    let help = std::process::Command::new(bin)
        .arg("--help")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&help.stdout).contains("USAGE"));
}

/// A writer whose bytes can be read after the run.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn monte_carlo_runs_give_the_same_bytes_on_one_thread_and_on_two() {
    let (_, source) = &shipped()[0];
    let scenario = short(source, 6);
    let at = |threads: usize| {
        let files: Vec<Shared> = (0..4).map(|_| Shared::default()).collect();
        let summaries = run_many(&scenario, 4, threads, |run| {
            Ok(Box::new(files[run as usize].clone()) as Box<dyn std::io::Write + Send>)
        })
        .unwrap();
        let bytes: Vec<Vec<u8>> = files.iter().map(|f| f.0.lock().unwrap().clone()).collect();
        (serde_json::to_string(&summaries).unwrap(), bytes)
    };
    let one = at(1);
    assert_eq!(one, at(2));
    // The runs differ from one another (their own streams).
    assert_ne!(one.1[0], one.1[1]);
}

#[test]
fn a_b_of_identical_arms_is_zero_and_a_split_or_fee_change_moves_the_take_rate_as_computed() {
    let (_, source) = &shipped()[0];
    let baseline = short(source, 8);
    let same = sim::ab::paired(&baseline, &baseline, 3, 2).unwrap();
    for d in &same.deltas {
        assert_eq!(d.mean_difference, 0.0, "{d:?}");
        assert_eq!((d.ci95_low, d.ci95_high), (0.0, 0.0), "{d:?}");
    }
    // 10% → 15% of every receipt to the treasury, 5% less to hosts: users act the same (their draws
    // do not depend on the split), so the take rate rises by 5% of the metered share of spending.
    let change = sim::ab::Change::parse("split=2500,5000,1000,1500").unwrap();
    let variant = change.apply(&baseline).unwrap();
    let changed = sim::ab::paired(&baseline, &variant, 3, 2).unwrap();
    for (x, y) in changed.baseline.iter().zip(&changed.variant) {
        assert_eq!(x.metered, y.metered, "the same calls in both arms");
        let expected = 0.05 * x.metered as f64 / x.user_spend as f64;
        let moved = y.metric("take_rate").unwrap() - x.metric("take_rate").unwrap();
        assert!(
            (moved - expected).abs() < 1e-6,
            "moved {moved}, expected {expected}"
        );
    }
    let take = changed
        .deltas
        .iter()
        .find(|d| d.metric == "take_rate")
        .unwrap();
    assert!(
        take.mean_difference > 0.0 && take.ci95_low > 0.0,
        "{take:?}"
    );
    // A call fee of 40,000 instead of 20,000: users make the same calls (a few cents more per call
    // moves none of them), the proxy keeps 20,000 more per call, and users pay it.
    let dearer = sim::ab::Change::parse("call_fee=40000")
        .unwrap()
        .apply(&baseline)
        .unwrap();
    let fee = sim::ab::paired(&baseline, &dearer, 3, 2).unwrap();
    for (x, y) in fee.baseline.iter().zip(&fee.variant) {
        assert_eq!((x.calls, x.metered), (y.calls, y.metered));
        let extra = 20_000 * x.calls as u128;
        assert_eq!(y.user_spend, x.user_spend + extra);
        let kept = x.metric("take_rate").unwrap() * x.user_spend as f64 + extra as f64;
        let expected = kept / y.user_spend as f64;
        let take = y.metric("take_rate").unwrap();
        assert!((take - expected).abs() < 1e-9, "{take} vs {expected}");
    }
    assert!(sim::ab::Change::parse("split=1,2,3").is_err());
    assert!(sim::ab::Change::parse("tax=3").is_err());
}

#[test]
fn governance_in_the_loop_changes_the_split_inside_a_run() {
    let source = shipped_named("whale_voting.toml");
    let scenario = short(&source, 48);
    let mut csv = Vec::new();
    let summary = run_one(&scenario, 0, &mut csv).unwrap();
    assert_eq!(
        summary.metric("pass_rate"),
        Some(1.0),
        "the whale's proposal passed"
    );
    assert!(summary.metric("turnout").unwrap() > 0.5);
    assert_eq!(summary.metric("nakamoto_voting_power"), Some(1.0));
    // After step 24 hosts get 10% instead of 30% of each receipt: their share of what was settled
    // falls between the two.
    let share = summary.credited_hosts as f64 / summary.metered as f64;
    assert!(share < 0.29 && share > 0.11, "hosts' share {share}");
    // Without the proposal, hosts keep their 30%.
    let mut quiet = scenario.clone();
    quiet.proposals.clear();
    let summary = run_one(&quiet, 0, &mut Vec::new()).unwrap();
    let share = summary.credited_hosts as f64 / summary.metered as f64;
    assert!((share - 0.30).abs() < 0.001, "hosts' share {share}");
}

#[test]
fn sweeps_zip_or_multiply_their_axes_and_apply_dotted_keys() {
    use sim::sweep::{apply, points, Axis};
    let fee = Axis::parse("economy.call_fee=10000;40000").unwrap();
    let churn = Axis::parse("users.churn_ppm=1000;9000").unwrap();
    let zipped = points(&[fee.clone(), churn.clone()], false).unwrap();
    assert_eq!(zipped.len(), 2);
    assert_eq!(points(&[fee.clone(), churn], true).unwrap().len(), 4);
    let three = Axis::parse("users.call_ppm=1;2;3").unwrap();
    assert!(
        points(&[fee, three], false).is_err(),
        "zip needs equal lengths"
    );
    let (_, source) = &shipped()[0];
    let settings = vec![
        ("economy.call_fee".to_string(), "40000".to_string()),
        ("models.1.quality".to_string(), "9".to_string()),
    ];
    let (scenario, _) = apply(source, &settings).unwrap();
    assert_eq!(scenario.economy.call_fee, 40_000);
    assert_eq!(scenario.models[1].quality, 9);
    let bad = vec![("users.churn_ppm".to_string(), "2000000".to_string())];
    let e = apply(source, &bad).unwrap_err();
    assert!(e.message.contains("at most 1,000,000"), "{e}");
    let missing = vec![("models.7.quality".to_string(), "1".to_string())];
    assert!(apply(source, &missing).is_err());
}

#[test]
fn a_node_removed_by_proposal_stops_serving_mid_run() {
    let source = shipped_named("whale_voting.toml");
    let mut scenario = short(&source, 36);
    scenario.proposals = vec![sim::scenario::ProposalSpec {
        at_step: 12,
        every_steps: None,
        change: "remove_node=0".into(),
        support_ppm: 1_000_000,
    }];
    let summary = run_one(&scenario, 0, &mut Vec::new()).unwrap();
    assert_eq!(summary.metric("pass_rate"), Some(1.0));
    // node-us served everything after the removal: the hosts' shares are far from even.
    assert!(
        summary.metric("hhi_hosts").unwrap() > 5_500.0,
        "{:?}",
        summary.metric("hhi_hosts")
    );
    let mut bad = scenario.clone();
    bad.proposals[0].change = "remove_node=9".into();
    let text = toml::to_string(&bad).unwrap();
    let e = sim::scenario::Scenario::parse(&text).unwrap_err();
    assert!(e.message.contains("there are 2 hosts"), "{e}");
}

fn shipped_named(file: &str) -> String {
    shipped()
        .into_iter()
        .find(|(name, _)| name == file)
        .unwrap_or_else(|| panic!("{file} is shipped"))
        .1
}

#[test]
fn a_host_that_applies_mid_run_serves_only_once_the_dao_admits_it() {
    // node_outage: node-eu dies at step 24; node-eu-2 applies at step 30, when the DAO proposes to
    // admit it and to remove node-eu.
    let scenario = short(&shipped_named("node_outage.toml"), 60);
    let mut world = World::new(&scenario, 0);
    for _ in 0..30 {
        world.step(0).unwrap();
    }
    assert_eq!(world.host_ids[3], None, "not applied before step 30");
    world.step(0).unwrap();
    let replacement = world.host_ids[3].expect("applied at step 30");
    assert!(
        !world.host_stats().contains_key(&replacement),
        "no call reaches a node before its admission"
    );
    for _ in 31..60 {
        world.step(0).unwrap();
    }
    let outcomes = world.proposal_outcomes();
    assert_eq!(outcomes.len(), 2);
    assert_eq!(outcomes[0].1, ProposalStatus::Executed, "{outcomes:?}");
    let served = &world.host_stats()[&replacement];
    assert!(served.calls > 100, "{served:?}");
    // node-eu-2 fails 0.5% of calls.
    assert!(served.failures * 50 < served.calls, "{served:?}");
}

#[test]
fn a_price_change_reaches_the_proxy_through_royalties_push() {
    let scenario = short(&shipped_named("treasury_grants.toml"), 86);
    let original = scenario.models[0].clone();
    let change = &scenario.price_changes[0];
    assert_eq!((change.at_step, change.percent), (84, 125));
    let mut world = World::new(&scenario, 0);
    for _ in 0..84 {
        world.step(0).unwrap();
    }
    let (before, proxy_copy) = world.prices()[0];
    assert_eq!(before.per_1k_input_tokens, original.per_1k_input_tokens);
    assert_eq!(proxy_copy, Some(before));
    world.step(0).unwrap();
    let prices = world.prices();
    let (after, proxy_copy) = prices[0];
    assert_eq!(
        after.per_1k_input_tokens,
        original.per_1k_input_tokens * 5 / 4
    );
    assert_eq!(
        after.per_1k_output_tokens,
        original.per_1k_output_tokens * 5 / 4
    );
    assert_eq!(proxy_copy, Some(after), "the proxy meters at the new price");
    assert_eq!(
        prices[1].1,
        Some(prices[1].0),
        "the other model is unchanged"
    );
}

#[test]
fn treasury_grants_are_paid_once_per_adopted_proposal_and_set_the_runway() {
    let scenario = short(&shipped_named("treasury_grants.toml"), 60);
    let grant = 30_000_000_000u128;
    let fee = scenario.economy.ledger_fee as u128;
    let summary = run_one(&scenario, 0, &mut Vec::new()).unwrap();
    // Proposed at steps 0, 24 and 48; the whale and its followers adopt each at once.
    assert_eq!(summary.metric("pass_rate"), Some(1.0));
    assert_eq!(summary.treasury_spent, 3 * (grant + fee));
    let initial = scenario.treasury.initial as u128;
    assert!(summary.credited_treasury > 0);
    // Holdings = initial + income − spending, up to the fees of royalties' payouts to the treasury.
    let expected = initial + summary.credited_treasury - summary.treasury_spent;
    assert!(
        summary.treasury_balance <= expected && expected - summary.treasury_balance <= 10 * fee,
        "{} vs {expected}",
        summary.treasury_balance
    );
    let days = 60.0 * 3_600.0 / 86_400.0;
    let net_per_day = (summary.treasury_spent - summary.credited_treasury) as f64 / days;
    let runway = summary.metric("treasury_runway_days").unwrap();
    assert!(
        (runway - summary.treasury_balance as f64 / net_per_day).abs() < 1e-6,
        "{runway}"
    );
    // Without grants the income covers the spending: the runway is the cap.
    let mut no_grants = scenario.clone();
    no_grants.proposals.clear();
    let quiet = run_one(&no_grants, 0, &mut Vec::new()).unwrap();
    assert_eq!(quiet.treasury_spent, 0);
    assert_eq!(
        quiet.metric("treasury_runway_days"),
        Some(sim::report::RUNWAY_CAP_DAYS)
    );
}

#[test]
fn runway_is_holdings_over_net_spending() {
    use sim::report::{runway_days, RUNWAY_CAP_DAYS};
    // 100 held, 30 spent and 10 earned over two days: 10 a day net, 10 days.
    assert_eq!(runway_days(100, 10, 30, 2 * 86_400), 10.0);
    assert_eq!(runway_days(100, 30, 30, 86_400), RUNWAY_CAP_DAYS);
    assert_eq!(runway_days(u128::MAX, 0, 1, 86_400), RUNWAY_CAP_DAYS);
}

#[test]
fn changes_that_cannot_apply_are_refused_with_the_reason() {
    let baseline = Scenario::parse(&shipped_named("baseline.toml")).unwrap();
    let grant = sim::ab::Change::parse("treasury_grant=100").unwrap();
    let e = grant.apply(&baseline).unwrap_err();
    assert!(e.contains("holders"), "{e}");
    let e = sim::ab::Change::parse("admit_node=0")
        .unwrap()
        .apply(&baseline)
        .unwrap_err();
    assert!(e.contains("founding host"), "{e}");
    assert!(sim::ab::Change::parse("remove_node=9")
        .unwrap()
        .apply(&baseline)
        .is_err());
    let source = shipped_named("treasury_grants.toml");
    let unknown_model = source.replace("model = \"medical-llama\"", "model = \"gpt\"");
    let e = Scenario::parse(&unknown_model).unwrap_err();
    let line = source
        .lines()
        .position(|l| l == "model = \"medical-llama\"")
        .unwrap()
        + 1;
    assert_eq!(e.line, Some(line), "{e}");
    assert!(e.message.contains("no model is named \"gpt\""), "{e}");
    let early = shipped_named("node_outage.toml").replace(
        "at_step = 30\nchange = \"admit_node=3\"",
        "at_step = 20\nchange = \"admit_node=3\"",
    );
    let e = Scenario::parse(&early).unwrap_err();
    assert!(e.message.contains("applies at step 30"), "{e}");
}

#[test]
fn longer_dissolve_delays_give_the_same_stakes_more_voting_power() {
    let mut short_lock = short(&shipped_named("whale_voting.toml"), 1);
    short_lock.governance.dissolve_delay_days_min = 30;
    short_lock.governance.dissolve_delay_days_max = 30;
    let mut long_lock = short_lock.clone();
    long_lock.governance.dissolve_delay_days_min = 1_460;
    long_lock.governance.dissolve_delay_days_max = 1_460;
    let weak = World::new(&short_lock, 0).voting_powers();
    let strong = World::new(&long_lock, 0).voting_powers();
    assert_eq!(weak.len(), 41);
    for (w, s) in weak.iter().zip(&strong) {
        // +100% at the longest delay (4 years) against +2.05% at 30 days (10,000 bps × 30 / 1,460,
        // rounded down): the default parameters.
        assert_eq!(*s * 10_205 / 20_000, *w, "{w} vs {s}");
    }
    let source = shipped_named("whale_voting.toml");
    let bad = source.replace(
        "dissolve_delay_days_max = 1460",
        "dissolve_delay_days_max = 2000",
    );
    let e = Scenario::parse(&bad).unwrap_err();
    assert!(e.message.contains("1,460 days"), "{e}");
    assert_eq!(
        e.line,
        Some(
            source
                .lines()
                .position(|l| l.starts_with("dissolve_delay_days_max"))
                .unwrap()
                + 1
        )
    );
}

#[test]
fn a_model_the_dao_suspends_earns_nothing_until_it_is_reinstated() {
    let mut scenario = short(&shipped_named("treasury_grants.toml"), 40);
    let proposal = |at_step: u32, change: &str| sim::scenario::ProposalSpec {
        at_step,
        every_steps: None,
        change: change.into(),
        support_ppm: 1_000_000,
    };
    scenario.proposals = vec![
        proposal(6, "suspend_model=0"),
        proposal(24, "reinstate_model=0"),
    ];
    scenario.price_changes.clear();
    let owner_of = |world: &World, model: usize| {
        let credits = world.stakeholder_credits();
        credits
            .iter()
            .find(|(name, _)| name == &format!("owner:{model}:0"))
            .unwrap()
            .1
    };
    let mut world = World::new(&scenario, 0);
    let mut credits = Vec::new();
    for _ in 0..40 {
        world.step(0).unwrap();
        credits.push((owner_of(&world, 0), owner_of(&world, 1)));
    }
    let outcomes = world.proposal_outcomes();
    assert_eq!(outcomes.len(), 2);
    assert!(
        outcomes.iter().all(|o| o.1 == ProposalStatus::Executed),
        "{outcomes:?}"
    );
    // Calls metered before the suspension still settle within a few steps; then nothing until the
    // reinstatement, while the other model goes on earning.
    assert!(credits[5].0 > 0);
    assert_eq!(credits[10].0, credits[23].0, "{credits:?}");
    assert!(credits[23].1 > credits[10].1, "{credits:?}");
    assert!(credits[39].0 > credits[23].0, "served again: {credits:?}");

    // A model that does not exist is refused in the file.
    let mut bad = scenario.clone();
    bad.proposals[0].change = "suspend_model=5".into();
    let e = Scenario::parse(&toml::to_string(&bad).unwrap()).unwrap_err();
    assert!(e.message.contains("there are 2 models"), "{e}");
}

#[test]
fn a_token_limit_set_by_proposal_refuses_longer_calls_from_then_on() {
    let mut scenario = short(&shipped_named("treasury_grants.toml"), 24);
    scenario.proposals = vec![sim::scenario::ProposalSpec {
        at_step: 8,
        every_steps: None,
        change: "max_output_tokens=100".into(),
        support_ppm: 1_000_000,
    }];
    let mut world = World::new(&scenario, 0);
    let (mut before, mut after) = ((0, 0), (0, 0));
    for step in 0..24 {
        let record = world.step(0).unwrap();
        let tally = if step < 9 { &mut before } else { &mut after };
        tally.0 += record.calls;
        tally.1 += record.failed_calls;
    }
    assert_eq!(world.proposal_outcomes()[0].1, ProposalStatus::Executed);
    // Users ask for 64–512 tokens: before the limit nearly every call is served, after it most ask
    // for more than 100 and are refused (charged nothing: conservation is checked every step).
    assert!(before.1 * 20 < before.0, "{before:?}");
    assert!(after.1 > after.0, "{after:?}");
    let e = Scenario::parse(
        &toml::to_string(&{
            let mut bad = scenario.clone();
            bad.proposals[0].change = "max_output_tokens=0".into();
            bad
        })
        .unwrap(),
    )
    .unwrap_err();
    assert!(e.message.contains("1–100,000"), "{e}");
}

#[test]
fn a_payout_threshold_raised_by_proposal_pays_out_less() {
    let base = short(&shipped_named("treasury_grants.toml"), 72);
    let mut raised = base.clone();
    raised.proposals = vec![sim::scenario::ProposalSpec {
        at_step: 1,
        every_steps: None,
        change: "payout_threshold=1000000".into(),
        support_ppm: 1_000_000,
    }];
    let mut quiet = base.clone();
    quiet.proposals.clear();
    let before = run_one(&quiet, 0, &mut Vec::new()).unwrap();
    let after = run_one(&raised, 0, &mut Vec::new()).unwrap();
    assert_eq!(after.metric("pass_rate"), Some(1.0));
    // 1,000,000 fees is 10,000 tokens: no stakeholder earns that in three days, so nothing is
    // pushed automatically; the same calls were credited either way.
    assert!(before.paid_out > 0, "{}", before.paid_out);
    assert_eq!(after.paid_out, 0);
    assert_eq!(after.metered, before.metered);
}
