//! The main job, smaller: every check of `scripts/run.sh` must pass (upgrades, a lost reply, a split
//! change, a node down, royalties stopped, bad input, claims, withdrawal, conservation).

#[test]
fn the_main_job_passes_its_checks_at_a_small_size() {
    assert!(tests::scenario::run(tests::scenario::Size {
        rounds: 6,
        calls_per_round: 12,
    }));
}
