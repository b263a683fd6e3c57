//! `localnet`: install a canister wasm in a fresh embedded network and call it, from the command line.
//!
//! ```text
//! localnet <canister.wasm> [--init '(candid)'] [--seed N] [--as <principal>]
//!          [--update <method> '(candid)'] [--query <method> '(candid)'] [--advance <seconds>] ...
//! ```
//! Steps run in order; each reply is printed as Candid text with the call's instructions and cycles.
//!
//! ```text
//! localnet serve [--bind 127.0.0.1:4943] [--allow-remote] [--seed TEXT] [--state-dir DIR]
//!                [--root-key-file PATH]
//!                [--install <canister.wasm> [--init '(candid)'] [--as <principal>]] ...
//! ```
//! Serves the IC's HTTP interface to real clients (see `localnet::interface`), with the canisters
//! installed first; prints the URL, the root key and the canister ids, and serves until Ctrl-C. With
//! `--state-dir`, the network saved there is served (the installs apply to a new directory only),
//! and Ctrl-C saves it after the request in progress.

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

/// The Candid text `text` as the module's init argument: typed by its `candid:service` metadata when
/// it has one (as dfx and icp-cli type it: `8` is then a `nat8` where the interface says so).
fn init_bytes(wasm: &[u8], text: &str) -> Result<Vec<u8>, String> {
    let args: IDLArgs =
        candid_parser::parse_idl_args(text).map_err(|e| format!("bad Candid {text:?}: {e}"))?;
    let Some(service) = localnet::module_metadata(wasm, "candid:service")? else {
        return args.to_bytes().map_err(|e| e.to_string());
    };
    let did = String::from_utf8(service.contents).map_err(|e| e.to_string())?;
    let (env, actor) = candid_parser::utils::CandidSource::Text(&did)
        .load()
        .map_err(|e| format!("the module's candid:service does not parse: {e}"))?;
    let inits = match actor.as_ref().map(|t| t.as_ref()) {
        Some(candid::types::TypeInner::Class(inits, _)) => inits.clone(),
        _ => Vec::new(),
    };
    args.to_bytes_with_types(&env, &inits)
        .map_err(|e| format!("the init argument does not match the interface: {e}"))
}

fn show(bytes: &[u8]) -> String {
    match IDLArgs::from_bytes(bytes) {
        Ok(args) => args.to_string(),
        Err(_) => format!("{} undecodable bytes", bytes.len()),
    }
}

const SERVE_USAGE: &str = "usage: localnet serve [--bind ADDR] [--allow-remote] [--seed TEXT] \
[--state-dir DIR] [--root-key-file PATH] [--install WASM [--init '(ARGS)'] [--as PRINCIPAL]] ...";

fn serve(mut args: impl Iterator<Item = String>) -> Result<(), String> {
    let mut bind: std::net::SocketAddr = "127.0.0.1:4943".parse().expect("a socket address");
    let mut allow_remote = false;
    let mut seed = "localnet".to_string();
    let mut state_dir: Option<std::path::PathBuf> = None;
    let mut root_key_file: Option<String> = None;
    // (wasm path, init argument as Candid text, installing principal)
    let mut installs: Vec<(String, String, Principal)> = Vec::new();
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value\n{SERVE_USAGE}"))
        };
        match flag.as_str() {
            "--bind" => bind = value()?.parse().map_err(|e| format!("--bind: {e}"))?,
            "--allow-remote" => allow_remote = true,
            "--seed" => seed = value()?,
            "--state-dir" => state_dir = Some(value()?.into()),
            "--root-key-file" => root_key_file = Some(value()?),
            "--install" => installs.push((value()?, "()".into(), Principal::anonymous())),
            "--init" | "--as" => {
                let last = installs
                    .last_mut()
                    .ok_or_else(|| format!("{flag} follows an --install\n{SERVE_USAGE}"))?;
                let v = value()?;
                if flag == "--init" {
                    last.1 = v;
                } else {
                    last.2 = Principal::from_text(&v).map_err(|e| format!("--as: {e}"))?;
                }
            }
            "--help" | "-h" => {
                println!("{SERVE_USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown option {other}\n{SERVE_USAGE}")),
        }
    }
    let saved = match &state_dir {
        Some(dir) => LocalNet::load(dir)?,
        None => None,
    };
    let restored = saved.is_some();
    let mut net = saved.unwrap_or_else(|| LocalNet::new(0));
    if restored && !installs.is_empty() {
        return Err("--install applies to a new network: the state directory holds one".into());
    }
    let mut installed = Vec::new();
    for (path, init, controller) in installs {
        let wasm = std::fs::read(&path).map_err(|e| format!("{path}: {e}"))?;
        let init = init_bytes(&wasm, &init).map_err(|e| format!("{path}: {e}"))?;
        let id = net.create_canister(controller);
        net.install_canister(id, &wasm, init, controller)
            .map_err(|e| format!("{path}: install failed: {e}"))?;
        installed.push((path, id, controller));
    }
    let interface = localnet::interface::Interface::new(seed.as_bytes());
    let root_key = hex::encode(interface.root.public_key_der());
    if let Some(path) = &root_key_file {
        std::fs::write(path, format!("{root_key}\n")).map_err(|e| format!("{path}: {e}"))?;
    }
    let serving = localnet::serve::serve(net, interface, bind, allow_remote)?;
    println!(
        "localnet serves the IC HTTP interface at http://{}",
        serving.addr
    );
    println!("root key (DER, hex): {root_key}");
    if let (true, Some(dir)) = (restored, &state_dir) {
        println!("restored the network saved in {}", dir.display());
    }
    for (path, id, controller) in installed {
        // The anonymous default lets any client manage the canister: a local network's convenience.
        println!("canister {id}: {path} (controller {controller})");
    }
    println!("stop with Ctrl-C");
    localnet::serve::wait_for_interrupt()?;
    let mut net = serving.stop();
    if let Some(dir) = state_dir {
        net.save(&dir)?;
        println!("saved the network in {}", dir.display());
    }
    Ok(())
}

fn run() -> Result<(), String> {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("serve") {
        args.next();
        return serve(args);
    }
    let wasm_path = args.next().ok_or(USAGE)?;
    if wasm_path == "--help" || wasm_path == "-h" {
        println!("{USAGE}");
        return Ok(());
    }
    let wasm = std::fs::read(&wasm_path).map_err(|e| format!("{wasm_path}: {e}"))?;
    let mut seed = 0;
    let mut caller = Principal::from_slice(&[0xCA; 29]);
    let mut init = "()".to_string();
    let mut steps = Vec::new();
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .ok_or_else(|| format!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--seed" => seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--as" => caller = Principal::from_text(value()?).map_err(|e| format!("--as: {e}"))?,
            "--init" => init = value()?,
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
        .install_canister(id, &wasm, init_bytes(&wasm, &init)?, caller)
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
