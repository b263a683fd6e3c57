//! The main job: the NeuraNFT economy end to end in localnet, on the real canister wasm.
//!
//! Deploys the payment ledger (NUSD), the governance-token ledger (NNG) and royalties; registers two
//! models; meters inferences in batches that the proxy funds on the ledger and settles; moves shares
//! and changes the split by a governance call mid-way; replays a batch; claims through a lost reply;
//! upgrades royalties; lets the payout timer pay; then prints every stakeholder's balances, the
//! conservation checks and the instructions and cycles of each operation. Exits non-zero if a check
//! fails. `scripts/run.sh` builds the wasm and runs it.

use candid::Principal;
use icrc_ledger_types::icrc1::account::Account;
use localnet::{CallReport, Fault};
use neuranft_types::royalties::*;
use serde_bytes::ByteBuf;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use tests::{account, NeuraNft, PAYMENT_FEE};

const BATCHES: u64 = 12;
const RECEIPTS_PER_BATCH: usize = 200;

fn named(name: &str) -> Principal {
    let mut bytes = [0u8; 29];
    for (i, b) in name.bytes().enumerate().take(28) {
        bytes[i] = b;
    }
    bytes[28] = 0x02;
    Principal::from_slice(&bytes)
}

/// Instructions and cycles of every execution of one kind of operation.
#[derive(Default)]
struct Costs(BTreeMap<&'static str, Vec<(u64, u128)>>);

impl Costs {
    fn add(&mut self, op: &'static str, report: &CallReport) {
        self.0
            .entry(op)
            .or_default()
            .push((report.instructions(), report.cycles()));
    }
}

struct Progress {
    terminal: bool,
}

impl Progress {
    fn step(&self, done: u64, total: u64, what: &str) {
        if self.terminal {
            let width = 30;
            let filled = (done * width / total) as usize;
            print!(
                "\r[{}{}] {done}/{total} {what:<40}",
                "=".repeat(filled),
                " ".repeat(width as usize - filled)
            );
            let _ = std::io::stdout().flush();
            if done == total {
                println!();
            }
        } else {
            println!("  [{done}/{total}] {what}");
        }
    }
}

fn model(
    name: &str,
    owners: &[(&str, u64)],
    data: &[(&str, u64)],
    price: (u64, u64),
) -> RegisterModelArgs {
    RegisterModelArgs {
        metadata: ModelMetadata {
            name: name.into(),
            base_model: "llama3.1:8b".into(),
            architecture: "LLaMA 3.1 decoder, 8B, LoRA r=16".into(),
            datasets: vec![DatasetRef {
                uri: format!("ipfs://{name}-data"),
                sha256: ByteBuf::from(vec![0xab; 32]),
            }],
            training_params: vec![TrainingParam {
                key: "epochs".into(),
                value: "3".into(),
            }],
            licence: "llama3.1-community".into(),
        },
        price: Price {
            per_1k_input_tokens: price.0,
            per_1k_output_tokens: price.1,
        },
        owners: owners
            .iter()
            .map(|(n, u)| ShareHolding {
                account: account(named(n)),
                units: *u,
            })
            .collect(),
        data_owners: data
            .iter()
            .map(|(n, w)| DataOwner {
                account: account(named(n)),
                weight: *w,
            })
            .collect(),
    }
}

fn main() {
    let progress = Progress {
        terminal: std::io::stdout().is_terminal(),
    };
    let holder_names = ["alice", "bob", "dave", "treasury-dao"];
    let holders: Vec<(Account, u128)> = holder_names
        .iter()
        .zip([
            40_000_000_000,
            25_000_000_000,
            15_000_000_000,
            20_000_000_000,
        ])
        .map(|(n, amount)| (account(named(n)), amount))
        .collect();
    println!("NeuraNFT — the royalty economy end to end in localnet (real canister wasm)\n");
    let mut w = NeuraNft::deploy_royalties_alone(2026, 1_000_000_000_000, holders.clone(), 50);
    let mut costs = Costs::default();
    println!(
        "deployed: payment ledger NUSD {} (fee {PAYMENT_FEE}), governance ledger NNG {}, royalties {}",
        w.payment_ledger, w.governance_ledger, w.royalties
    );

    let (medical, report) = w.register_model(
        named("alice"),
        model(
            "medical-llama",
            &[("alice", 500_000), ("bob", 300_000), ("carol", 200_000)],
            &[("hospital-data", 7_000), ("wiki-data", 3_000)],
            (2_000, 6_000),
        ),
    );
    costs.add("register_model", &report);
    let (code, report) = w.register_model(
        named("dave"),
        model("code-llama", &[("dave", 1_000_000)], &[], (1_000, 3_000)),
    );
    costs.add("register_model", &report);
    let (medical, code) = (medical.unwrap(), code.unwrap());
    println!("registered: #{medical} medical-llama (3 owners, 2 data owners), #{code} code-llama (1 owner)\n");

    println!("metering {BATCHES} batches of {RECEIPTS_PER_BATCH} inferences:");
    let mut rng: u64 = 0x5eed;
    let mut next = || {
        rng = rng
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        rng >> 33
    };
    let mut receipt_id = 0;
    let mut events = Vec::new();
    let mut first_batch = None;
    let mut version = 0;
    for batch_id in 0..BATCHES {
        w.net.advance_time(std::time::Duration::from_secs(600));
        if batch_id == BATCHES / 2 {
            let (r, report) = w.call(
                w.royalties,
                named("bob"),
                "transfer_shares",
                (TransferSharesArgs {
                    model: medical,
                    from_subaccount: None,
                    to: account(named("dave")),
                    units: 100_000,
                },),
            );
            costs.add("transfer_shares", &report);
            let (moved,): (Result<u64, RegistryError>,) = r.unwrap();
            moved.unwrap();
            let (r, report) = w.call(
                w.royalties,
                w.governance,
                "set_split",
                (SetSplitArgs {
                    proposal_id: 1,
                    split: SplitConfig {
                        host_bps: 2_500,
                        model_owners_bps: 5_500,
                        data_owners_bps: 1_000,
                        treasury_bps: 1_000,
                    },
                },),
            );
            costs.add("set_split", &report);
            let (v,): (Result<SplitVersion, SplitError>,) = r.unwrap();
            version = v.unwrap();
            events.push(format!(
                "batch {batch_id}: bob moved 100,000 units of #{medical} to dave; governance proposal 1 set split version {version}"
            ));
        }
        if batch_id == BATCHES / 3 {
            w.upgrade_royalties().expect("royalties upgrades");
            events.push(format!(
                "batch {batch_id}: royalties upgraded; all state kept"
            ));
        }
        let now = w.net.time();
        let receipts: Vec<Receipt> = (0..RECEIPTS_PER_BATCH)
            .map(|_| {
                receipt_id += 1;
                let (m, price) = if next() % 3 == 0 {
                    (code, (1_000, 3_000))
                } else {
                    (medical, (2_000, 6_000))
                };
                let (input, output) = (50 + next() % 2_000, 10 + next() % 800);
                Receipt {
                    id: receipt_id,
                    user: named("user"),
                    model: m,
                    node_operator: account(named(if next() % 2 == 0 {
                        "node-eu"
                    } else {
                        "node-us"
                    })),
                    input_tokens: input,
                    output_tokens: output,
                    amount: (input * price.0 + output * price.1).div_ceil(1_000),
                    split_version: version,
                    metered_at: now,
                }
            })
            .collect();
        if first_batch.is_none() {
            first_batch = Some(receipts.clone());
        }
        let (ok, transfer, settle) = w.fund_and_settle(batch_id, receipts);
        costs.add("icrc1_transfer (ledger)", &transfer);
        costs.add("settle (200 receipts)", &settle);
        ok.expect("the batch settles");
        progress.step(batch_id + 1, BATCHES, &format!("batch {batch_id} settled"));
    }
    for e in &events {
        println!("  {e}");
    }

    // A replayed batch is recognised: nothing is credited twice.
    let (r, _) = w.call(
        w.royalties,
        w.proxy,
        "settle",
        (SettleArgs {
            batch_id: 0,
            funding_block: candid::Nat::from(0u8),
            receipts: first_batch.unwrap(),
        },),
    );
    let (replay,): (Result<SettleOk, SettleError>,) = r.unwrap();
    println!(
        "\nreplayed batch 0: already_settled = {}",
        replay.map(|ok| ok.already_settled).unwrap_or(false)
    );

    // Alice's claim executes on the ledger but the reply is lost; the outbox completes it exactly once.
    w.net
        .inject_fault(w.royalties, w.payment_ledger, Fault::ExpireAfterExecution);
    let (claim, report) = w.claim(named("alice"));
    costs.add("claim (through a lost reply)", &report);
    println!(
        "alice claims through a lost reply: {:?}",
        claim.map(|p| p.status)
    );
    let (claim, report) = w.claim(named("carol"));
    costs.add("claim", &report);
    println!("carol claims: {:?}", claim.map(|p| p.status));
    let (small, _) = w.claim(named("nobody"));
    println!("a principal with nothing owed claims: {small:?}");
    w.run_payout_timer();
    println!("payout timer ran: accruals of at least 50 × fee were pushed");

    let names = [
        "alice",
        "bob",
        "carol",
        "dave",
        "hospital-data",
        "wiki-data",
        "node-eu",
        "node-us",
    ];
    println!(
        "\n{:<15} {:>12} {:>12} {:>12} {:>14}",
        "stakeholder", "credited", "available", "paid", "NUSD on ledger"
    );
    let payment = w.payment_ledger;
    let mut rows: Vec<(String, Account)> = names
        .iter()
        .map(|n| (n.to_string(), account(named(n))))
        .collect();
    rows.push(("treasury".into(), w.treasury));
    for (name, acc) in rows {
        let b = w.balance(acc);
        let on_ledger = w.ledger_balance(payment, acc);
        println!(
            "{name:<15} {:>12} {:>12} {:>12} {:>14}",
            b.credited_total, b.available, b.paid_total, on_ledger
        );
    }
    println!("\ngovernance token NNG:");
    let governance_ledger = w.governance_ledger;
    let mut supply = 0;
    for ((holder, _), name) in holders.iter().zip(holder_names) {
        let balance = w.ledger_balance(governance_ledger, *holder);
        supply += balance;
        println!("  {name:<15} {balance:>14}");
    }
    println!("  total {supply}");

    let (audit, report) = w.audit();
    costs.add("audit", &report);
    let l = &audit.liabilities;
    let conserved = l.settled_total == l.available + l.in_flight + l.paid_total + l.undistributed;
    println!(
        "\nsettled {} = available {} + in flight {} + paid {} + undistributed fractions {}: {}",
        l.settled_total,
        l.available,
        l.in_flight,
        l.paid_total,
        l.undistributed,
        if conserved { "CONSERVED" } else { "BROKEN" }
    );
    println!(
        "royalties' NUSD balance {} vs owed {}: {}",
        audit.ledger_balance,
        l.total,
        if audit.agrees { "AGREE" } else { "DISAGREE" }
    );
    let (entries, log_chain) = w.settlement_log();
    println!(
        "settlement log: {} entries, hash chain {}",
        entries.len(),
        if log_chain.is_ok() {
            "verified"
        } else {
            "BROKEN"
        }
    );
    let ledger_chain = w.verify_ledger_chain(payment);
    println!(
        "NUSD ledger: {} blocks, ICRC-3 hash chain {}",
        ledger_chain.as_ref().map_or(0, |n| *n),
        if ledger_chain.is_ok() {
            "verified"
        } else {
            "BROKEN"
        }
    );

    println!(
        "\n{:<30} {:>6} {:>16} {:>16}",
        "operation (localnet)", "calls", "instructions", "cycles"
    );
    for (op, runs) in &costs.0 {
        let n = runs.len() as u64;
        let instructions = runs.iter().map(|r| r.0).sum::<u64>() / n;
        let cycles = runs.iter().map(|r| r.1).sum::<u128>() / n as u128;
        println!("{op:<30} {n:>6} {instructions:>16} {cycles:>16}");
    }
    println!("(mean per call over every execution the call caused; cycles: 5 M per message + 1 per instruction + call fees)");

    if !(audit.agrees && conserved && log_chain.is_ok() && ledger_chain.is_ok()) {
        eprintln!("\nscenario FAILED its checks");
        std::process::exit(1);
    }
    println!("\nall checks passed");
}
