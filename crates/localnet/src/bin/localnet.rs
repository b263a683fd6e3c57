//! `localnet`: install a canister wasm in a fresh embedded network and call it, from the command line.
//!
//! ```text
//! localnet <canister.wasm> [--init '(candid)'] [--seed N] [--as <principal>]
//!          [--update <method> '(candid)'] [--query <method> '(candid)'] [--advance <seconds>] ...
//! ```
//! Steps run in order; each reply is printed as Candid text with the call's instructions and cycles.

use candid::{IDLArgs, Principal};
use localnet::LocalNet;

const USAGE: &str =
    "usage: localnet <canister.wasm> [--seed N] [--as PRINCIPAL] [--init '(ARGS)'] \
[--update METHOD '(ARGS)'] [--query METHOD '(ARGS)'] [--advance SECONDS] ...";

fn candid_bytes(text: &str) -> Result<Vec<u8>, String> {
    let args: IDLArgs =
        candid_parser::parse_idl_args(text).map_err(|e| format!("bad Candid {text:?}: {e}"))?;
    args.to_bytes().map_err(|e| e.to_string())
}

fn show(bytes: &[u8]) -> String {
    match IDLArgs::from_bytes(bytes) {
        Ok(args) => args.to_string(),
        Err(_) => format!("{} undecodable bytes", bytes.len()),
    }
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1).peekable();
    let wasm_path = args.next().ok_or(USAGE)?;
    if wasm_path == "--help" || wasm_path == "-h" {
        println!("{USAGE}");
        return Ok(());
    }
    let wasm = std::fs::read(&wasm_path).map_err(|e| format!("{wasm_path}: {e}"))?;
    let mut seed = 0;
    let mut caller = Principal::from_slice(&[0xCA; 29]);
    let mut init = candid_bytes("()")?;
    let mut steps = Vec::new();
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--seed" => seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--as" => caller = Principal::from_text(value()?).map_err(|e| format!("--as: {e}"))?,
            "--init" => init = candid_bytes(&value()?)?,
            "--update" | "--query" => {
                let method = value()?;
                let arg = value()?;
                steps.push((flag.clone(), method, arg));
            }
            "--advance" => steps.push((flag.clone(), value()?, String::new())),
            other => return Err(format!("unknown option {other}\n{USAGE}")),
        }
    }
    let mut net = LocalNet::new(seed);
    let id = net.create_canister(caller);
    let report = net
        .install_canister(id, &wasm, init, caller)
        .map_err(|e| format!("install failed: {e}"))?;
    println!(
        "installed {wasm_path} as {id} ({} instructions)",
        report.instructions()
    );
    for (kind, method, arg) in steps {
        match kind.as_str() {
            "--advance" => {
                let secs: u64 = method.parse().map_err(|e| format!("--advance: {e}"))?;
                net.advance_time(std::time::Duration::from_secs(secs));
                net.tick();
                println!("advanced {secs} s");
            }
            "--query" => match net.query_call(id, caller, &method, candid_bytes(&arg)?) {
                Ok(reply) => println!("query {method}: {}", show(&reply)),
                Err(e) => println!("query {method}: {e}"),
            },
            _ => {
                let (reply, report) =
                    net.update_call_with_report(id, caller, &method, candid_bytes(&arg)?);
                let cost = format!(
                    "{} instructions, {} cycles",
                    report.instructions(),
                    report.cycles()
                );
                match reply {
                    Ok(reply) => println!("update {method}: {} ({cost})", show(&reply)),
                    Err(e) => println!("update {method}: {e} ({cost})"),
                }
            }
        }
    }
    for line in net.logs(id) {
        println!("log: {line}");
    }
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("{e}");
        std::process::exit(2);
    }
}
