//! The main job: the NeuraNFT economy end to end in localnet, on the real canister wasm.
//!
//! Deploys the payment ledger (NUSD), the governance-token ledger (NNG), royalties, the
//! inference-proxy and governance (which controls the other two and holds the treasury); token
//! holders stake neurons and follow the founder; registers two models (royalties pushes them to the
//! proxy); starts two hpc-nodes (real HTTP servers on loopback, deterministic backend, signed
//! receipts) that governance admits by proposal; users deposit and call the models; batches are
//! flushed to royalties and settled. Along the way: royalties upgraded by an adopted proposal and the
//! proxy by its controller, a batch transfer whose reply is lost, a share transfer and a new split
//! adopted by vote (with following; pushed to the proxy), a node going down (failover, suspension),
//! royalties stopped during a flush, bad input, claims through a lost reply, the payout timer, a
//! treasury grant by proposal, a withdrawal. Then it prints every party's balances, the neurons and
//! proposals, the conservation checks and the instructions and cycles of each operation. [`run`]
//! returns whether every check passed.

use crate::{account, admin, founder, NeuraNft, FOUNDER_NEURON, PAYMENT_FEE};
use candid::{Encode, Principal};
use icrc_ledger_types::icrc1::account::Account;
use localnet::{CallReport, Fault};
use neuranft_types::governance::{
    Action, GovernanceError, Neuron, NeuronId, ProposalStatus, Topic, TreasuryView, UpgradeTarget,
    Vote,
};
use neuranft_types::proxy::{InferArgs, InferError, Message};
use neuranft_types::proxy::{NodeRecord, NodeStatus};
use neuranft_types::royalties::*;
use serde_bytes::ByteBuf;
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};

/// How big a run is.
#[derive(Clone, Copy, Debug)]
pub struct Size {
    pub rounds: u64,
    pub calls_per_round: u64,
}

/// The main job's size: 8 rounds of 50 paid inferences.
pub const DEFAULT_SIZE: Size = Size {
    rounds: 8,
    calls_per_round: 50,
};

/// The smallest run that exercises every check (the tests' size): 6 rounds of 12.
pub const SMALL_SIZE: Size = Size {
    rounds: 6,
    calls_per_round: 12,
};

mod report;

use report::Ended;

const USERS: [&str; 4] = ["user-ana", "user-ben", "user-chen", "user-dia"];
const USER_FUNDS: u128 = 5_000_000_000;
const USER_DEPOSIT: u128 = 2_000_000_000;
const CALL_FEE: u128 = 20_000;
/// One governance token (8 decimals).
const NNG: u64 = 100_000_000;
const DAY: u64 = 24 * 3_600;
/// Royalties' payout timer pushes accruals of at least this many ledger fees.
const AUTO_PAYOUT_FEE_MULTIPLE: u64 = 20;

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

/// A deterministic pseudo-random stream (PCG-style LCG, high bits).
struct Draws(u64);

impl Draws {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

const WORDS: [&str; 12] = [
    "patient", "ECG", "rhythm", "summary", "dosage", "history", "code", "refactor", "function",
    "test", "explain", "risk",
];

fn request(draws: &mut Draws, model: ModelId) -> InferArgs {
    let words = 5 + draws.next() % 120;
    let text: Vec<&str> = (0..words)
        .map(|_| WORDS[(draws.next() % WORDS.len() as u64) as usize])
        .collect();
    let text = text.join(" ");
    let chat = draws.next().is_multiple_of(4);
    InferArgs {
        model,
        prompt: (!chat).then(|| text.clone()),
        messages: chat.then(|| {
            vec![
                Message {
                    role: "system".into(),
                    content: "You are a careful assistant.".into(),
                },
                Message {
                    role: "user".into(),
                    content: text,
                },
            ]
        }),
        max_tokens: 32 + (draws.next() % 224) as u32,
        temperature: Some(0.7),
        seed: Some(draws.next()),
    }
}

/// Runs the scenario; prints the report; `true` when every check passed.
pub fn run(size: Size) -> bool {
    run_keeping_the_system(size).0
}

/// Runs the scenario and gives back the system as it ends (what the main job then serves live).
pub fn run_keeping_the_system(size: Size) -> (bool, NeuraNft) {
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
    println!(
        "NeuraNFT — paid inference and royalties end to end in localnet (real canister wasm)\n"
    );
    let users: Vec<Principal> = USERS.iter().map(|n| named(n)).collect();
    let mut w = NeuraNft::deploy(
        2026,
        users.iter().map(|u| (account(*u), USER_FUNDS)).collect(),
        holders.clone(),
        AUTO_PAYOUT_FEE_MULTIPLE,
    );
    let mut costs = Costs::default();
    let mut checks: Vec<(String, bool)> = Vec::new();
    println!(
        "deployed: payment ledger NUSD {} (fee {PAYMENT_FEE}), governance ledger NNG {}, royalties {}, inference-proxy {}",
        w.payment_ledger, w.governance_ledger, w.royalties, w.proxy
    );

    // Token holders stake neurons (one-year dissolve delay) and follow the founder on every normal
    // topic; the founder's neuron (500 NNG) was staked at deployment.
    let mut neurons: Vec<(&str, NeuronId)> = vec![("founder", FOUNDER_NEURON)];
    for (name, stake) in [("alice", 300u64), ("bob", 200), ("dave", 100)] {
        let id = w
            .stake_neuron(named(name), stake * NNG, 365 * DAY)
            .expect("the holder stakes");
        let (r, _) = w.call(
            w.governance,
            named(name),
            "follow",
            (id, Topic::CatchAll, vec![FOUNDER_NEURON]),
        );
        let (followed,): (Result<Neuron, GovernanceError>,) = r.unwrap();
        followed.expect("following the founder");
        neurons.push((name, id));
    }
    println!(
        "staked: {} neurons (founder 500, alice 300, bob 200, dave 100 NNG); alice, bob and dave follow the founder on normal topics",
        neurons.len()
    );

    let (medical, report) = w.register_model(
        named("alice"),
        model(
            "medical-llama",
            &[("alice", 500_000), ("bob", 300_000), ("carol", 200_000)],
            &[("hospital-data", 7_000), ("wiki-data", 3_000)],
            (200_000, 600_000),
        ),
    );
    costs.add("register_model", &report);
    let (code, report) = w.register_model(
        named("dave"),
        model(
            "code-llama",
            &[("dave", 1_000_000)],
            &[],
            (100_000, 300_000),
        ),
    );
    costs.add("register_model", &report);
    let (medical, code) = (medical.unwrap(), code.unwrap());
    println!("registered: #{medical} medical-llama (3 owners, 2 data owners), #{code} code-llama (1 owner); royalties pushed both to the proxy");
    let node_names = ["node-eu", "node-us"];
    for (i, name) in node_names.iter().enumerate() {
        let id = w.add_node(i as u8, named(name));
        println!(
            "hpc-node {name}: started on loopback, applied; the founder's AdmitNode proposal passed with its followers and governance admitted it as node #{id}"
        );
    }
    for user in &users {
        let (r, report) = w.deposit(*user, USER_DEPOSIT);
        costs.add("deposit (transfer_from)", &report);
        r.expect("the deposit succeeds");
    }
    println!(
        "{} users deposited {USER_DEPOSIT} NUSD units each\n",
        users.len()
    );

    let total_calls = size.rounds * size.calls_per_round;
    println!(
        "{total_calls} paid inferences in {} rounds, each round flushed to royalties:",
        size.rounds
    );
    let mut draws = Draws(0x5eed);
    let mut events = Vec::new();
    let mut spent: BTreeMap<Principal, u128> = BTreeMap::new();
    let mut metered_total: u128 = 0;
    let mut calls = 0u64;
    for round in 0..size.rounds {
        w.net.advance_time(std::time::Duration::from_secs(60));
        if round == 1 {
            let upgrade_arg: Option<RoyaltiesArg> = Some(RoyaltiesArg::Upgrade(None));
            let info = w.adopt(
                "Upgrade royalties",
                Action::UpgradeCanister {
                    target: UpgradeTarget::Royalties,
                    wasm: ByteBuf::from(crate::canister_wasm("royalties")),
                    arg: ByteBuf::from(Encode!(&upgrade_arg).unwrap()),
                    chunked_wasm: None,
                },
            );
            checks.push((
                "royalties upgraded by an adopted proposal".into(),
                info.status == ProposalStatus::Executed,
            ));
            w.upgrade_proxy().expect("the proxy upgrades");
            events.push(format!(
                "round {round}: royalties upgraded by governance proposal {} ({}), the inference-proxy by its controller; all state kept",
                info.id,
                info.rendered_action.split(", arg").next().unwrap_or_default()
            ));
        }
        if round == size.rounds / 2 {
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
            // Alice proposes a new split (a critical topic: two thirds needed); bob follows her on it,
            // dave votes no, the founder yes.
            let alice_neuron = neurons[1].1;
            let (r, _) = w.call(
                w.governance,
                named("bob"),
                "follow",
                (neurons[2].1, Topic::RoyaltySplit, vec![alice_neuron]),
            );
            let (followed,): (Result<Neuron, GovernanceError>,) = r.unwrap();
            followed.unwrap();
            let split = SplitConfig {
                host_bps: 2_500,
                model_owners_bps: 5_500,
                data_owners_bps: 1_000,
                treasury_bps: 1_000,
            };
            let (proposal, report) = w.propose(
                named("alice"),
                alice_neuron,
                "Pay hosts 25%, model owners 55%",
                Action::SetRoyaltySplit { split },
            );
            costs.add("make_proposal (ballots for all neurons)", &report);
            let proposal = proposal.expect("a valid proposal");
            let (tally, report) = w.vote(named("dave"), neurons[3].1, proposal, Vote::No);
            costs.add("register_vote", &report);
            tally.expect("dave votes");
            let (tally, report) = w.vote(founder(), FOUNDER_NEURON, proposal, Vote::Yes);
            costs.add("register_vote", &report);
            let tally = tally.expect("the founder votes");
            w.run_governance();
            let info = w.proposal(proposal);
            checks.push((
                "the split proposal was adopted and executed".into(),
                info.status == ProposalStatus::Executed,
            ));
            let (current,): (Option<SplitRecord>,) = w
                .net
                .query(w.royalties, admin(), "get_split", (None::<SplitVersion>,))
                .unwrap();
            let version = current.map_or(0, |c| c.version);
            w.ticks(3);
            let (pushed,): (SplitVersion,) =
                w.net.query(w.proxy, admin(), "split_version", ()).unwrap();
            checks.push((
                format!("the proxy meters under split version {version} after the push"),
                pushed == version,
            ));
            events.push(format!(
                "round {round}: bob moved 100,000 units of #{medical} to dave; alice's proposal {proposal} (bob following her) for a new split: yes {} / no {} of {} voting power, {:?}; royalties set split version {version}, pushed to the proxy",
                tally.yes, tally.no, tally.total, info.status
            ));
        }
        if round == size.rounds * 2 / 3 {
            w.shut_down_node(0);
            events.push(format!(
                "round {round}: node-eu went down; calls fail over to node-us"
            ));
        }
        for _ in 0..size.calls_per_round {
            let user = users[(draws.next() % users.len() as u64) as usize];
            let model = if draws.next().is_multiple_of(3) {
                code
            } else {
                medical
            };
            let args = request(&mut draws, model);
            let (r, report) = w.infer(user, args);
            costs.add("infer (one outcall, verified receipt)", &report);
            let ok = r.expect("a paid inference succeeds");
            *spent.entry(user).or_default() += ok.charged;
            metered_total += ok.charged - CALL_FEE;
            calls += 1;
        }
        if round == 2 {
            // The batch transfer executes on the ledger but its reply is lost: the next flush finds
            // it in the ledger's log and completes it once.
            w.net.inject_fault_on(
                w.proxy,
                w.payment_ledger,
                "icrc1_transfer",
                Fault::ExpireAfterExecution,
            );
            let (view, report) = w.flush();
            costs.add("flush (batch transfer + settle)", &report);
            checks.push((
                "the lost reply struck the batch transfer".into(),
                w.net.pending_faults() == 0 && view.settled == view.closed,
            ));
            events.push(format!(
                "round {round}: the batch transfer's reply was lost; the proxy's outbox resent the identical transfer, the ledger answered Duplicate: batch {:?} paid once and settled {:?}",
                view.closed, view.settled
            ));
        }
        if round == size.rounds - 2 {
            w.net.stop_canister(w.royalties, admin()).unwrap();
            let (view, _) = w.flush();
            w.net.start_canister(w.royalties, admin()).unwrap();
            events.push(format!(
                "round {round}: royalties was stopped during the flush: batch {:?} transferred, its settlement waited",
                view.closed
            ));
        }
        if round + 1 == size.rounds {
            // The last batch is flushed by the proxy's own timer.
            w.net.advance_time(std::time::Duration::from_secs(3_601));
            w.ticks(10);
        } else {
            let (_, report) = w.flush();
            costs.add("flush (batch transfer + settle)", &report);
        }
        progress.step(round + 1, size.rounds, &format!("round {round} flushed"));
    }
    for e in &events {
        println!("  {e}");
    }

    // Bad input: typed errors, nothing held or charged.
    let before: Vec<_> = users.iter().map(|u| w.user_balance(*u)).collect();
    let mut bad = vec![
        InferArgs {
            model: 99,
            ..request(&mut draws, medical)
        },
        InferArgs {
            max_tokens: 0,
            ..request(&mut draws, medical)
        },
        InferArgs {
            prompt: Some("x".repeat(16_000)),
            messages: Some(vec![]),
            ..request(&mut draws, medical)
        },
    ];
    bad.push(InferArgs {
        prompt: Some(String::new()),
        messages: None,
        ..request(&mut draws, code)
    });
    let mut refused = Vec::new();
    for args in bad {
        let (r, _) = w.infer(users[0], args);
        refused.push(r.err());
    }
    let (overdraw, _) = w.call(w.proxy, users[1], "withdraw", (u128::MAX, None::<Account>));
    let (overdraw,): (Result<(), neuranft_types::proxy::MoneyError>,) = overdraw.unwrap();
    let anonymous = w
        .net
        .update_call(
            w.proxy,
            Principal::anonymous(),
            "deposit",
            Encode!(&1u128).unwrap(),
        )
        .is_err();
    let after: Vec<_> = users.iter().map(|u| w.user_balance(*u)).collect();
    let all_typed = refused.iter().all(|e| {
        matches!(
            e,
            Some(InferError::UnknownModel { .. }) | Some(InferError::InvalidInput { .. })
        )
    });
    println!(
        "\nbad input: unknown model, 0 max tokens, prompt and messages, empty prompt, overdrawn withdrawal, anonymous deposit: {}",
        if all_typed && overdraw.is_err() && anonymous && before == after {
            "all refused with typed errors, balances unchanged"
        } else {
            "NOT ALL REFUSED"
        }
    );
    checks.push((
        "bad input refused, balances unchanged".into(),
        all_typed && overdraw.is_err() && anonymous && before == after,
    ));

    // Claims: alice's executes on the ledger but its reply is lost; the outbox completes it once.
    w.net.inject_fault_on(
        w.royalties,
        w.payment_ledger,
        "icrc1_transfer",
        Fault::ExpireAfterExecution,
    );
    let (claim, report) = w.claim(named("alice"));
    costs.add("claim (through a lost reply)", &report);
    println!(
        "alice claims through a lost reply: {:?}",
        claim.map(|p| p.status)
    );
    let (claim, report) = w.claim(named("carol"));
    costs.add("claim", &report);
    println!("carol claims: {:?}", claim.map(|p| p.status));
    w.run_payout_timer();
    println!(
        "payout timer ran: accruals of at least {AUTO_PAYOUT_FEE_MULTIPLE} × fee were pushed (the DAO treasury's too)"
    );
    // The DAO pays a grant from its treasury: a critical proposal, capped per 7 days.
    let (before,): (Result<TreasuryView, GovernanceError>,) = {
        let (r, _) = w.call(w.governance, admin(), "treasury", ());
        r.unwrap()
    };
    let before = before.expect("the treasury answers");
    let grant = before.ledger_balance / 2;
    let (proposal, _) = w.propose(
        founder(),
        FOUNDER_NEURON,
        "Grant for the medical data curators",
        Action::TransferTreasury {
            to: account(named("grants")),
            amount: grant,
        },
    );
    let proposal = proposal.expect("a valid treasury proposal");
    w.vote(named("alice"), neurons[1].1, proposal, Vote::Yes)
        .0
        .expect("alice votes");
    w.run_governance();
    let granted = w.ledger_balance(w.payment_ledger, account(named("grants")));
    let (after,): (Result<TreasuryView, GovernanceError>,) = {
        let (r, _) = w.call(w.governance, admin(), "treasury", ());
        r.unwrap()
    };
    let after = after.expect("the treasury answers");
    println!(
        "treasury: {} NUSD units; proposal {proposal} granted {grant} → grants received {granted}, treasury now {} (used {} of the {} cap per 7 days)",
        before.ledger_balance, after.ledger_balance, after.used_last_7_days, after.cap_per_7_days
    );
    checks.push((
        "the treasury grant was paid once, its fee on top".into(),
        grant > 0
            && granted == grant
            && after.ledger_balance == before.ledger_balance - grant - PAYMENT_FEE,
    ));
    let dia = users[3];
    let left = w.user_balance(dia).available;
    let withdrawn = w.withdraw(dia, left, None);
    println!(
        "user-dia withdraws the {left} units left: {}",
        if withdrawn.is_ok() { "paid" } else { "FAILED" }
    );
    checks.push(("user-dia's withdrawal paid".into(), withdrawn.is_ok()));

    let ended = Ended {
        users,
        spent,
        dia,
        left,
        node_names,
        calls,
        neurons,
        holders,
        holder_names,
        checks,
        costs,
        metered_total,
    };
    let passed = report::print(&mut w, ended);
    (passed, w)
}
