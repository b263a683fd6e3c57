//! `neuranft-verify`: checks royalties' settlement log on a network and recomputes what an account
//! is owed. Trusts the root key only (give it; `--root-key-file` reads the file the main job writes).

use anyhow::{bail, Context};
use candid::Principal;
use clap::Parser;
use icrc_ledger_types::icrc1::account::Account;
use neuranft_types::royalties::LogReplay;
use settlement_verifier::{check_account, http::HttpSource, verify, Trust};
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Parser)]
#[command(about = "Verify royalties' settlement log: certificate, hash chain, and every credit")]
struct Args {
    /// The network's HTTP interface.
    #[arg(long, default_value = "http://127.0.0.1:4943")]
    url: String,
    /// The royalties canister.
    #[arg(long)]
    royalties: String,
    /// The root key, DER in hex (icp.yaml's `root-key`).
    #[arg(long, conflicts_with = "root_key_file")]
    root_key: Option<String>,
    /// A file holding the root key, DER in hex.
    #[arg(long)]
    root_key_file: Option<PathBuf>,
    /// Accounts whose credits to compare with what royalties reports (ICRC-1 text form).
    #[arg(long = "account")]
    accounts: Vec<String>,
    /// Go on from the checkpoint a previous run saved instead of the first entry.
    #[arg(long)]
    from: Option<PathBuf>,
    /// Save where this run stopped, for `--from` next time.
    #[arg(long)]
    save: Option<PathBuf>,
    /// How far the certificate's time may be from this machine's clock, in seconds.
    #[arg(long, default_value_t = 300)]
    max_skew_seconds: u64,
}

fn main() {
    match run(Args::parse()) {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("neuranft-verify: {e:#}");
            std::process::exit(2);
        }
    }
}

fn run(args: Args) -> anyhow::Result<bool> {
    let royalties = Principal::from_text(&args.royalties).context("--royalties")?;
    let root_key_hex = match (&args.root_key, &args.root_key_file) {
        (Some(hex), _) => hex.clone(),
        (None, Some(file)) => {
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
        }
        (None, None) => bail!("give the root key: --root-key or --root-key-file"),
    };
    let root_key_der = hex::decode(root_key_hex.trim()).context("the root key is not hex")?;
    let accounts = args
        .accounts
        .iter()
        .map(|a| Account::from_str(a).map_err(|e| anyhow::anyhow!("--account {a}: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let checkpoint = match &args.from {
        Some(file) => {
            let bytes =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            Some(
                candid::decode_one::<LogReplay>(&bytes)
                    .context("the checkpoint does not decode")?,
            )
        }
        None => None,
    };
    let trust = Trust {
        royalties,
        root_key_der,
        now_nanos: SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos(),
        max_certificate_skew_nanos: args.max_skew_seconds as u128 * 1_000_000_000,
    };
    let mut source = HttpSource::new(&args.url, royalties);
    let verdict = match verify(&mut source, &trust, checkpoint) {
        Ok(v) => v,
        Err(e) => {
            println!("REFUTED: {e}");
            return Ok(false);
        }
    };
    println!(
        "VERIFIED: the certificate, the chain of entries {}..{} and the credits of {} batches ({} receipts) agree",
        verdict.from_index, verdict.length, verdict.replay.batches, verdict.replay.receipts
    );
    if verdict.legacy_entries > 0 {
        println!(
            "  {} entries of format 1 were checked by their links only",
            verdict.legacy_entries
        );
    }
    let mut all_agree = true;
    for account in &accounts {
        let check = check_account(&mut source, &verdict.replay, account)?;
        let agrees = check.agrees();
        all_agree &= agrees;
        println!(
            "  {account}: recomputed credited {} (+{}/{} of a unit), royalties reports {} — {}",
            check.recomputed.credited_total,
            check.recomputed.remainder,
            neuranft_types::royalties::ENTITLEMENT_DENOMINATOR,
            check.reported.credited_total,
            if agrees { "agree" } else { "DISAGREE" }
        );
    }
    if let Some(file) = &args.save {
        std::fs::write(file, candid::encode_one(&verdict.replay)?)
            .with_context(|| format!("writing {}", file.display()))?;
        println!(
            "  checkpoint at entry {} saved to {}",
            verdict.length,
            file.display()
        );
    }
    Ok(all_agree)
}
