//! The main job (see [`tests::scenario`]): `scripts/run.sh` builds the wasm and runs it. It runs the
//! scenario and prints the report, then serves the system live on localnet's HTTP interface until
//! Ctrl-C (`--exit`: stop after the report; `--bind ADDR`: another address than 127.0.0.1:4943;
//! `--project DIR`: write icp-cli's files under DIR/.icp instead of the repository's).
//! Exits non-zero if a check fails.

use std::net::SocketAddr;

fn main() {
    let mut exit_after_report = false;
    let mut bind: SocketAddr = tests::live::DEFAULT_BIND.parse().expect("a socket address");
    let mut size = tests::scenario::DEFAULT_SIZE;
    let mut project = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--exit" => exit_after_report = true,
            "--bind" => {
                bind = args
                    .next()
                    .and_then(|a| a.parse().ok())
                    .unwrap_or_else(|| usage("--bind takes an address such as 127.0.0.1:4943"))
            }
            "--project" => {
                project = args
                    .next()
                    .map(Into::into)
                    .unwrap_or_else(|| usage("--project takes a directory"))
            }
            // A quick run for tests.
            "--small" => size = tests::scenario::SMALL_SIZE,
            other => usage(&format!("unknown argument {other}")),
        }
    }
    let (passed, system) = tests::scenario::run_keeping_the_system(size);
    if !passed {
        std::process::exit(1);
    }
    let project = project.canonicalize().unwrap_or(project);
    let live = tests::live::open(system, bind, &project).unwrap_or_else(|e| {
        eprintln!("cannot serve the system: {e}");
        std::process::exit(1)
    });
    println!("\n{}", live.instructions());
    // What a stakeholder runs, over the HTTP interface: failing it fails the main job.
    match live.verify_settlement_over_http() {
        Ok(verdict) => println!("{verdict}"),
        Err(e) => {
            eprintln!("the settlement verifier refutes the live log: {e}");
            live.stop();
            std::process::exit(1);
        }
    }
    if exit_after_report {
        live.stop();
        return;
    }
    println!("serving until Ctrl-C");
    if let Err(e) = localnet::serve::wait_for_interrupt() {
        eprintln!("{e}");
    }
    live.stop();
    println!("stopped");
}

fn usage(problem: &str) -> ! {
    eprintln!("{problem}\nusage: scenario [--exit] [--small] [--bind ADDR] [--project DIR]");
    std::process::exit(2)
}
