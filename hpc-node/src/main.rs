//! `hpc-node`: run the gateway. Settings come from `--config FILE` (TOML, every key optional) and are
//! overridden by flags; `hpc-node --help` lists them.

use clap::Parser;
use hpc_node::backend::{Deterministic, Ollama};
use hpc_node::{keys, Backend, Config};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(
    version,
    about = "NeuraNFT hpc-node: signed, deduplicated inference beside Ollama"
)]
struct Flags {
    /// TOML configuration file.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Address to listen on (default 127.0.0.1:8080).
    #[arg(long)]
    listen: Option<String>,
    /// Bearer key the proxy must present (at least 16 characters).
    #[arg(long, env = "HPC_NODE_API_KEY")]
    api_key: Option<String>,
    /// Ed25519 key file, created on first start (default hpc-node.key).
    #[arg(long)]
    key_file: Option<PathBuf>,
    /// `deterministic` (built in, no GPU) or `ollama`.
    #[arg(long)]
    backend: Option<String>,
    /// Ollama's base URL (default http://127.0.0.1:11434).
    #[arg(long)]
    ollama_url: Option<String>,
    /// A model this node serves; repeat for several (default llama3.1:8b).
    #[arg(long = "model")]
    models: Vec<String>,
    /// Print the node's public key and exit.
    #[arg(long)]
    print_public_key: bool,
}

fn run() -> Result<(), String> {
    let flags = Flags::parse();
    let mut config = match &flags.config {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Config::from_toml(&text).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => Config::default(),
    };
    if let Some(v) = flags.listen {
        config.listen = v;
    }
    if let Some(v) = flags.api_key {
        config.api_key = v;
    }
    if let Some(v) = flags.key_file {
        config.key_file = v;
    }
    if let Some(v) = flags.backend {
        config.backend = v;
    }
    if let Some(v) = flags.ollama_url {
        config.ollama.url = v;
    }
    if !flags.models.is_empty() {
        config.models = flags.models;
    }
    let key = keys::load_or_create(&config.key_file)?;
    println!(
        "hpc-node public key (for the admission proposal): {}",
        keys::public_key_hex(&key)
    );
    if flags.print_public_key {
        return Ok(());
    }
    let backend: Box<dyn Backend> = match config.backend.as_str() {
        "ollama" => Box::new(Ollama {
            base_url: config.ollama.url.clone(),
            model_map: config.ollama.model_map.clone(),
            timeout: Duration::from_secs(config.ollama.timeout_seconds),
        }),
        _ => Box::new(Deterministic),
    };
    let node = hpc_node::start(config, backend, key)?;
    println!("listening on http://{}", node.addr);
    let (stop, stopped) = std::sync::mpsc::channel();
    ctrlc::set_handler(move || {
        let _ = stop.send(());
    })
    .map_err(|e| format!("signal handler: {e}"))?;
    let _ = stopped.recv();
    eprintln!("shutting down: finishing requests in progress");
    node.shutdown();
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("hpc-node: {e}");
        std::process::exit(2);
    }
}
