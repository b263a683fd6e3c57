//! The main job, for now: the royalties state machine and payout flows driven end to end against the
//! in-memory ICRC ledger (real deduplication, injected faults), with a report. The embedded local
//! network (issue "localnet") will run the same scenario on the canister wasm.
//!
//! `scripts/run.sh` (or `cargo run -p royalties --example scenario`).

use candid::{Nat, Principal};
use futures::executor::block_on;
use ic_stable_structures::DefaultMemoryImpl;
use icrc_ledger_types::icrc1::account::Account;
use icrc_ledger_types::icrc1::transfer::{Memo, TransferArg};
use ledger_adapter::memory::{Fault, MemoryLedger};
use ledger_adapter::LedgerRuntime;
use neuranft_types::royalties::*;
use royalties::{payouts, State};
use serde_bytes::ByteBuf;
use std::cell::RefCell;

const SEC: u64 = 1_000_000_000;
const T0: u64 = 1_767_225_600 * SEC; // 2026-01-01
const FEE: u128 = 10_000;

fn principal(name: &str) -> Principal {
    let mut bytes = [0u8; 29];
    for (i, b) in name.bytes().enumerate().take(29) {
        bytes[i] = b;
    }
    Principal::from_slice(&bytes)
}

fn account(name: &str) -> Account {
    Account {
        owner: principal(name),
        subaccount: None,
    }
}

fn main() {
    let royalties_id = principal("royalties");
    let proxy = principal("inference-proxy");
    let governance = principal("governance");
    let names = [
        "alice",
        "bob",
        "carol",
        "dave",
        "hospital-data",
        "wiki-data",
        "node-eu",
        "node-us",
        "treasury",
    ];

    let ledger = MemoryLedger::new(FEE, T0);
    let state = RefCell::new(State::open(DefaultMemoryImpl::default()));
    state
        .borrow_mut()
        .initialize(
            InitArgs {
                ledger: principal("ledger"),
                governance,
                inference_proxy: proxy,
                treasury: account("treasury"),
                split: SplitConfig {
                    host_bps: 3_000,
                    model_owners_bps: 5_000,
                    data_owners_bps: 1_000,
                    treasury_bps: 1_000,
                },
                auto_payout_fee_multiple: 50,
                payout_interval_seconds: 60,
            },
            T0,
        )
        .expect("valid init");
    println!("NeuraNFT royalties — end-to-end scenario (native state machine, in-memory ICRC ledger, fee {FEE})\n");

    let model = |name: &str, owners: &[(&str, u64)], data: &[(&str, u64)], price: (u64, u64)| {
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
                    account: account(n),
                    units: *u,
                })
                .collect(),
            data_owners: data
                .iter()
                .map(|(n, w)| DataOwner {
                    account: account(n),
                    weight: *w,
                })
                .collect(),
        }
    };
    let medical = state
        .borrow_mut()
        .register_model(
            principal("alice"),
            model(
                "medical-llama",
                &[("alice", 500_000), ("bob", 300_000), ("carol", 200_000)],
                &[("hospital-data", 7_000), ("wiki-data", 3_000)],
                (2_000, 6_000),
            ),
            T0,
        )
        .unwrap();
    let code = state
        .borrow_mut()
        .register_model(
            principal("dave"),
            model("code-llama", &[("dave", 1_000_000)], &[], (1_000, 3_000)),
            T0,
        )
        .unwrap();
    println!("registered models: #{medical} medical-llama (3 owners, 2 data owners), #{code} code-llama (1 owner)");

    // The proxy's side: it meters calls, transfers each batch total to royalties, then settles.
    ledger.mint(
        Account {
            owner: proxy,
            subaccount: None,
        },
        1_000_000_000_000,
    );
    let mut rng: u64 = 0x5eed;
    let mut next = || {
        rng = rng
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        rng >> 33
    };
    let mut receipt_id = 0;
    let mut now = T0;
    let mut settled_batches = vec![];
    for batch_id in 0..6u64 {
        now += 600 * SEC;
        ledger.set_time(now);
        if batch_id == 3 {
            state
                .borrow_mut()
                .transfer_shares(
                    principal("bob"),
                    TransferSharesArgs {
                        model: medical,
                        from_subaccount: None,
                        to: account("dave"),
                        units: 100_000,
                    },
                    now,
                )
                .unwrap();
            let v = state
                .borrow_mut()
                .set_split(
                    governance,
                    SetSplitArgs {
                        proposal_id: 1,
                        split: SplitConfig {
                            host_bps: 2_500,
                            model_owners_bps: 5_500,
                            data_owners_bps: 1_000,
                            treasury_bps: 1_000,
                        },
                    },
                    now,
                )
                .unwrap();
            println!("batch 3: bob moved 100,000 units of #{medical} to dave; governance proposal 1 set split version {v}");
        }
        let version = state.borrow().current_split().version;
        let receipts: Vec<Receipt> = (0..200)
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
                    user: principal("user"),
                    model: m,
                    node_operator: account(if next() % 2 == 0 {
                        "node-eu"
                    } else {
                        "node-us"
                    }),
                    input_tokens: input,
                    output_tokens: output,
                    amount: (input * price.0 + output * price.1).div_ceil(1_000),
                    split_version: version,
                    metered_at: now,
                }
            })
            .collect();
        let total: u64 = receipts.iter().map(|r| r.amount).sum();
        let funding = block_on(ledger.client(proxy).icrc1_transfer(TransferArg {
            from_subaccount: None,
            to: Account {
                owner: royalties_id,
                subaccount: None,
            },
            fee: None,
            created_at_time: Some(now),
            memo: Some(Memo::from(batch_id)),
            amount: Nat::from(total),
        }))
        .expect("the in-memory ledger answers")
        .expect("the proxy is funded");
        let args = SettleArgs {
            batch_id,
            funding_block: funding,
            receipts,
        };
        let ok = state.borrow_mut().settle(proxy, args.clone(), now).unwrap();
        println!(
            "batch {batch_id}: {} receipts, {total} units, log entry {}",
            ok.settled_receipts, ok.log_index
        );
        settled_batches.push(args);
    }
    let replay = state
        .borrow_mut()
        .settle(proxy, settled_batches[2].clone(), now)
        .unwrap();
    println!(
        "replayed batch 2: already_settled = {}, nothing credited twice",
        replay.already_settled
    );

    let client = ledger.client(royalties_id);
    ledger.inject(Fault::UnknownAfterExecution);
    ledger.inject(Fault::UnknownBeforeExecution);
    let claim = block_on(payouts::claim(
        &state,
        &client,
        principal("alice"),
        ClaimArgs {
            from_subaccount: None,
            to: None,
        },
        now,
    ))
    .unwrap();
    println!(
        "alice claims: payout {} {:?} (both attempts timed out; the transfer had executed)",
        claim.id, claim.status
    );
    now += 60 * SEC;
    ledger.set_time(now);
    let report = block_on(payouts::run_payout_job(&state, &client, now));
    println!(
        "payout timer: resent {} pending payout(s), pushed {} automatic payout(s)",
        report.retried, report.started
    );
    println!(
        "alice's payout now: {:?}",
        state.borrow().payout(claim.id).unwrap().status
    );
    let small = block_on(payouts::claim(
        &state,
        &client,
        principal("wiki-data"),
        ClaimArgs {
            from_subaccount: None,
            to: None,
        },
        now,
    ));
    match small {
        Ok(p) => println!(
            "wiki-data claims: payout {} of {} (fee {}) {:?}",
            p.id, p.amount, p.fee, p.status
        ),
        Err(e) => println!("wiki-data claims: {e:?}"),
    }

    println!(
        "\n{:<15} {:>12} {:>12} {:>12} {:>12}",
        "stakeholder", "credited", "available", "paid", "on ledger"
    );
    let s = state.borrow();
    for n in names {
        let b = s.balance_of(&account(n));
        println!(
            "{n:<15} {:>12} {:>12} {:>12} {:>12}",
            b.credited_total,
            b.available,
            b.paid_total,
            ledger.balance(&account(n))
        );
    }
    let audit = block_on(payouts::audit(&state, &client)).unwrap();
    let l = &audit.liabilities;
    println!(
        "\nsettled {} = available {} + in flight {} + paid {} + undistributed fractions {}",
        l.settled_total, l.available, l.in_flight, l.paid_total, l.undistributed
    );
    println!(
        "ledger balance of royalties {} vs owed {}: {}",
        audit.ledger_balance,
        l.total,
        if audit.agrees { "AGREE" } else { "DISAGREE" }
    );
    let conserved = l.settled_total == l.available + l.in_flight + l.paid_total + l.undistributed;
    let mut entries = vec![];
    let mut start = 0;
    loop {
        let page = s.log_page(start, 100);
        start += page.entries.len() as u64;
        entries.extend(page.entries);
        if start >= page.total {
            break;
        }
    }
    let chain = LogEntry::verify_chain(&[0u8; 32], &entries);
    println!(
        "settlement log: {} entries, hash chain {}",
        entries.len(),
        if chain.is_ok() { "verified" } else { "BROKEN" }
    );
    let ledger_invariants = ledger.check_invariants();
    println!(
        "ledger supply conserved and block chain verified: {}",
        ledger_invariants.is_ok()
    );
    if !(audit.agrees && conserved && chain.is_ok() && ledger_invariants.is_ok()) {
        eprintln!("scenario FAILED its checks");
        std::process::exit(1);
    }
    println!("\nall checks passed");
}
