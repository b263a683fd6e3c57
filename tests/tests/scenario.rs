//! The main job, smaller: every check of `scripts/run.sh` must pass (upgrades, a lost reply, a split
//! change, a node down, royalties stopped, bad input, claims, withdrawal, conservation). Then, as the
//! main job does, the system is served live, and docs/walkthrough.md runs against it with icp-cli:
//! every command, every expected effect.

use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A project directory of its own for icp-cli: the repository's icp.yaml pointed at `url`, and the
/// tools.
fn scratch_project(url: &str) -> PathBuf {
    let dir = tests::canisters_dir()
        .join("../tmp")
        .join(format!("walkthrough-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let icp_yaml = std::fs::read_to_string(workspace().join("icp.yaml")).unwrap();
    assert!(icp_yaml.contains(tests::live::DEFAULT_URL));
    std::fs::write(
        dir.join("icp.yaml"),
        icp_yaml.replace(tests::live::DEFAULT_URL, url),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        workspace().join("tools").canonicalize().unwrap(),
        dir.join("tools"),
    )
    .unwrap();
    dir
}

#[test]
fn the_main_job_passes_its_checks_then_serves_the_walkthrough() {
    let (passed, system) = tests::scenario::run_keeping_the_system(tests::scenario::SMALL_SIZE);
    assert!(passed);
    // The port is chosen when serving starts; the project is written once it is known.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let project = scratch_project(&format!("http://{addr}"));
    let live = tests::live::open(system, addr, &project).unwrap();
    let doc = std::fs::read_to_string(workspace().join("docs/walkthrough.md")).unwrap();
    let script = tests::walkthrough::script(&tests::walkthrough::steps(&doc));
    let output = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&project)
        .env("ICP_HOME", project.join("icp-home"))
        .env("DO_NOT_TRACK", "1")
        .output()
        .unwrap();
    let royalties = live
        .canisters
        .iter()
        .find(|(name, _)| *name == "royalties")
        .unwrap()
        .1;
    let mut net = live.stop();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the walk-through failed:\n{stdout}\n{stderr}"
    );
    println!("{stdout}");
    // The effect of the walk-through's split proposal, read in Rust from the network it used.
    let (split,): (Option<neuranft_types::royalties::SplitRecord>,) = net
        .query(
            royalties,
            candid::Principal::anonymous(),
            "get_split",
            (None::<u32>,),
        )
        .unwrap();
    assert_eq!(split.unwrap().split.data_owners_bps, 1_500);
    std::fs::remove_dir_all(&project).unwrap();
}

/// icp.yaml's connected network is the main job's: its root key is the live network's.
#[test]
fn icp_yaml_names_the_live_network_and_its_root_key() {
    let icp_yaml = std::fs::read_to_string(workspace().join("icp.yaml")).unwrap();
    let root_key = localnet::interface::Interface::new(tests::live::SEED)
        .root
        .public_key_der();
    assert!(
        icp_yaml.contains(&format!("root-key: {}", hex::encode(root_key))),
        "icp.yaml's root-key is not the live network's {}",
        hex::encode(
            localnet::interface::Interface::new(tests::live::SEED)
                .root
                .public_key_der()
        )
    );
    assert!(icp_yaml.contains(&format!("url: {}", tests::live::DEFAULT_URL)));
}

/// `scripts/run.sh --exit`: the main job runs, serves, says how to use the system, writes icp-cli's
/// mapping of the canister ids, and ends.
#[test]
fn the_main_job_binary_serves_and_ends_with_exit() {
    let project = tests::canisters_dir()
        .join("../tmp")
        .join(format!("main-job-{}", std::process::id()));
    std::fs::create_dir_all(&project).unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_scenario"))
        .args(["--exit", "--small", "--bind", "127.0.0.1:0", "--project"])
        .arg(&project)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("all 17 checks passed"), "{stdout}");
    assert!(stdout.contains("localnet is serving the IC HTTP interface at http://127.0.0.1:"));
    let mappings: std::collections::BTreeMap<String, String> = serde_json::from_str(
        &std::fs::read_to_string(project.join(".icp/data/mappings/localnet.ids.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(
        mappings.keys().collect::<Vec<_>>(),
        [
            "frontend",
            "governance",
            "governance_ledger",
            "inference_proxy",
            "payment_ledger",
            "root",
            "royalties"
        ]
    );
    // The web app: its URL on the gateway, and the configuration its canister serves.
    let app_url = format!("http://{}.localhost:", mappings["frontend"]);
    assert!(
        stdout.contains(&format!("the web app: {app_url}")),
        "{stdout}"
    );
    let config: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project.join(".icp/data/frontend-config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(config["network"], "local");
    assert_eq!(
        config["canisters"]["governance"],
        mappings["governance"].as_str()
    );
    let root_key = std::fs::read_to_string(project.join(".icp/data/root-key.hex")).unwrap();
    assert!(stdout.contains(&format!("root key (DER hex): {}", root_key.trim())));
    for id in mappings.values() {
        assert!(stdout.contains(id.as_str()), "{id} is printed");
    }
    std::fs::remove_dir_all(&project).unwrap();
}
