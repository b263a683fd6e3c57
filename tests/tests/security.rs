//! Attacks on the money path, played on the real wasm (issue 13 of the adversarial review). Each test
//! is what an attacker would do and what must then still hold: no receipt can stop settlement, user
//! input cannot get an honest node suspended, a ledger fee change cannot jam or drain the proxy, a
//! burn cannot poison a fee cache, and nobody can make royalties burn its cycles on pushes.

use candid::{Encode, Nat, Principal};
use neuranft_types::ledger::{LedgerArg, LedgerUpgradeArgs};
use neuranft_types::proxy::BatchStatus;
use neuranft_types::proxy::MoneyError;
use neuranft_types::proxy::{InferArgs, InferError, InferOk, Message};
use neuranft_types::proxy::{NodeRecord, NodeStatus};
use neuranft_types::royalties::*;
use tests::*;

const PRICE: Price = Price {
    per_1k_input_tokens: 200_000,
    per_1k_output_tokens: 600_000,
};

struct System {
    w: NeuraNft,
    owner: Principal,
    alice: Principal,
    mallory: Principal,
}

/// The system with one priced model (0) owned by `owner`, one admitted node, and alice and mallory
/// with 10 NUSD each on the ledger.
fn up(seed: u64) -> System {
    let alice = principal(0xA1);
    let mallory = principal(0x3A);
    let owner = principal(0x0E);
    let mut w = NeuraNft::deploy(
        seed,
        vec![(account(alice), 10_000_000), (account(mallory), 10_000_000)],
        vec![],
        10,
    );
    let (model, _) = w.register_model(owner, sole_owner_model(owner, "medical-llama", PRICE));
    assert_eq!(model, Ok(0));
    w.add_node(0, principal(0x0B));
    System {
        w,
        owner,
        alice,
        mallory,
    }
}

fn prompt(model: ModelId, text: &str) -> InferArgs {
    InferArgs {
        model,
        prompt: Some(text.into()),
        messages: None,
        max_tokens: 64,
        temperature: None,
        seed: Some(7),
    }
}

/// A chat on model 0 asking for one token.
fn chat_args(messages: Vec<Message>) -> InferArgs {
    InferArgs {
        model: 0,
        prompt: None,
        messages: Some(messages),
        max_tokens: 1,
        temperature: None,
        seed: None,
    }
}

impl System {
    fn infer(&mut self, user: Principal, args: InferArgs) -> Result<InferOk, InferError> {
        self.w.infer(user, args).0
    }

    fn node(&mut self) -> NodeRecord {
        let (nodes,): (Vec<NodeRecord>,) = self
            .w
            .net
            .query(self.w.proxy, admin(), "nodes", ())
            .unwrap();
        nodes.into_iter().next().expect("one node")
    }

    /// What the proxy has metered so far (every receipt, in batches or not) and what royalties has
    /// settled: equal once every batch is settled.
    fn metered_and_settled(&mut self) -> (u128, u128) {
        let proxy = self.w.proxy_audit();
        let (audit, _) = self.w.audit();
        let mut metered = proxy.liabilities.unsettled;
        let mut id = 0u64;
        loop {
            let (batch,): (Option<neuranft_types::proxy::BatchRecord>,) = self
                .w
                .net
                .query(self.w.proxy, admin(), "batch", (id,))
                .unwrap();
            let Some(batch) = batch else { break };
            metered += batch.total;
            id += 1;
        }
        (metered, audit.liabilities.settled_total)
    }

    fn assert_books_agree(&mut self) {
        let proxy = self.w.proxy_audit();
        assert!(
            proxy.agrees,
            "the proxy's ledger balance = what it owes: {proxy:?}"
        );
        let (audit, _) = self.w.audit();
        assert!(
            audit.agrees,
            "royalties' ledger balance = what it owes: {audit:?}"
        );
    }

    fn set_payment_fee(&mut self, fee: u128) {
        let arg = LedgerArg::Upgrade(Some(LedgerUpgradeArgs {
            transfer_fee: Some(Nat::from(fee)),
            token_name: None,
            token_symbol: None,
            max_memo_length: None,
        }));
        self.w
            .net
            .upgrade_canister(
                self.w.payment_ledger,
                &canister_wasm("icrc-ledger"),
                Encode!(&arg).unwrap(),
                admin(),
            )
            .expect("the ledger upgrades");
    }
}

/// Defect 1: anyone may register a model with price 0; a call on it used to leave a receipt of amount
/// 0 that made royalties refuse the whole batch — the other users' model owners and hosts were never
/// credited, and from the 20th batch after it nothing settled at all.
#[test]
fn a_call_on_a_free_model_does_not_stop_settlement() {
    let mut s = up(131);
    let free = Price {
        per_1k_input_tokens: 0,
        per_1k_output_tokens: 0,
    };
    let (free_model, _) =
        s.w.register_model(s.mallory, sole_owner_model(s.mallory, "free-llama", free));
    let free_model = free_model.expect("a free model may be registered");
    s.w.deposit(s.alice, 5_000_000).0.unwrap();
    s.w.deposit(s.mallory, 1_000_000).0.unwrap();

    s.infer(s.alice, prompt(0, "What does this ECG show?"))
        .unwrap();
    let attack = s
        .infer(s.mallory, prompt(free_model, "free"))
        .expect("a call on a free model is served");
    assert_eq!(
        attack.charged, 20_000,
        "a free model's call costs the call fee only"
    );
    s.infer(s.alice, prompt(0, "And this one?")).unwrap();

    let (view, _) = s.w.flush();
    assert_eq!(view.settled, vec![0], "the batch settles: {view:?}");
    assert!(s.w.balance(account(s.owner)).credited_total > 0);
    s.assert_books_agree();

    // Every later batch settles too, well past the proxy's window of 20.
    for round in 0..24 {
        s.infer(s.alice, prompt(0, &format!("round {round}")))
            .unwrap();
        s.infer(s.mallory, prompt(free_model, &format!("free {round}")))
            .unwrap();
        let (view, _) = s.w.flush();
        assert_eq!(view.closed.len(), 1, "round {round}: {view:?}");
        assert_eq!(view.settled, view.closed, "round {round}: {view:?}");
    }
    let (metered, settled) = s.metered_and_settled();
    assert_eq!(metered, settled, "every unit metered was settled");
    s.assert_books_agree();
}

/// Defect 2: a chat of many empty messages was held for a few input tokens while the node honestly
/// signed many more; the charge exceeded the hold, the call counted as the node's failure, and three
/// such calls suspended an honest node while the attacker paid nothing.
#[test]
fn chats_cannot_get_an_honest_node_suspended() {
    let mut s = up(132);
    s.w.deposit(s.mallory, 5_000_000).0.unwrap();
    let empty_chat = |last: &str, count: usize| {
        let mut messages: Vec<Message> = (0..count)
            .map(|_| Message {
                role: String::new(),
                content: String::new(),
            })
            .collect();
        messages.push(Message {
            role: "user".into(),
            content: last.into(),
        });
        chat_args(messages)
    };
    for i in 0..5 {
        let before = s.w.user_balance(s.mallory);
        match s.infer(s.mallory, empty_chat(&format!("x{i}"), 200)) {
            Err(InferError::InvalidInput { .. }) => {
                assert_eq!(
                    s.w.user_balance(s.mallory),
                    before,
                    "a refusal changes nothing"
                )
            }
            other => panic!("empty messages must be refused up front: {other:?}"),
        }
    }
    // Many short messages: the hold is a true upper bound, so the honest node's count is charged.
    let chat = |i: usize| {
        let messages = (0..250)
            .map(|j: usize| Message {
                role: if j.is_multiple_of(2) {
                    "user"
                } else {
                    "assistant"
                }
                .into(),
                content: format!("{}", (i + j) % 10),
            })
            .collect();
        chat_args(messages)
    };
    for i in 0..5 {
        let (quote,): (Result<u128, InferError>,) =
            s.w.net
                .query(s.w.proxy, s.mallory, "infer_quote", (chat(i),))
                .unwrap();
        let ok = s.infer(s.mallory, chat(i)).expect("an honest node answers");
        assert!(ok.charged <= quote.unwrap(), "charged within the hold");
        assert!(ok.input_tokens > 250, "the node counted every message");
    }
    let node = s.node();
    assert_eq!(node.status, NodeStatus::Active, "{node:?}");
    assert_eq!(node.stats.failures, 0, "{node:?}");
    s.w.flush();
    s.assert_books_agree();
}

/// Defect 3: a ledger fee rise while a batch transfer was pending made the outbox pay the new fee out
/// of users' funds, then the proxy trapped applying it, and the transfer stayed locked until an
/// upgrade.
#[test]
fn a_ledger_fee_rise_during_a_batch_transfer_neither_traps_nor_takes_users_funds() {
    let mut s = up(133);
    s.w.deposit(s.alice, 5_000_000).0.unwrap();
    let ok = s
        .infer(s.alice, prompt(0, "What does this ECG show?"))
        .unwrap();
    let alice_after_call = s.w.user_balance(s.alice);
    // The batch transfer is lost before the ledger sees it, as many times as one flush sends it (the
    // outbox's `SENDS_PER_DRIVE`).
    for _ in 0..3 {
        s.w.net.inject_fault_on(
            s.w.proxy,
            s.w.payment_ledger,
            "icrc1_transfer",
            localnet::Fault::ExpireBeforeExecution,
        );
    }
    let (first, report) = s.w.flush();
    assert!(first.settled.is_empty(), "{first:?}");
    assert!(report.executions.iter().all(|e| e.trapped.is_none()));
    // The fee rises to more than the call fees collected so far can pay.
    s.set_payment_fee(50_000);
    for _ in 0..3 {
        let (view, report) = s.w.flush();
        let traps: Vec<_> = report
            .executions
            .iter()
            .filter_map(|e| e.trapped.clone())
            .collect();
        assert!(
            traps.is_empty(),
            "the flush must not trap: {traps:?} {view:?}"
        );
        s.assert_books_agree();
        assert_eq!(
            s.w.user_balance(s.alice),
            alice_after_call,
            "the fee rise is not paid from users' funds"
        );
    }
    // More calls pay more call fees: the batch goes out with the new fee (the difference from the
    // reserve) and settles, and so do the new receipts.
    for i in 0..5 {
        s.infer(s.alice, prompt(0, &format!("more {i}"))).unwrap();
    }
    for _ in 0..3 {
        s.w.flush();
    }
    let (batch,): (Option<neuranft_types::proxy::BatchRecord>,) =
        s.w.net.query(s.w.proxy, admin(), "batch", (0u64,)).unwrap();
    let batch = batch.expect("the first call's batch exists");
    assert_eq!(batch.status, BatchStatus::Settled, "{batch:?}");
    assert!(batch
        .receipts
        .iter()
        .any(|r| r.input_tokens == ok.input_tokens));
    let (metered, settled) = s.metered_and_settled();
    assert_eq!(metered, settled);
    s.assert_books_agree();
}

/// Defect 5: a withdrawal (or claim) to the ledger's minting account is a burn with fee 0; the fee
/// caches learnt 0 from it, so later batches were built with fee 0 and the reserve check was bypassed.
#[test]
fn the_minting_account_is_refused_as_a_destination() {
    let mut s = up(135);
    s.w.deposit(s.alice, 5_000_000).0.unwrap();
    let before = s.w.user_balance(s.alice);
    let burn = s.w.withdraw(s.alice, 1_000_000, Some(account(minter())));
    assert_eq!(burn, Err(MoneyError::MintingAccountDestination));
    assert_eq!(
        s.w.user_balance(s.alice),
        before,
        "a refusal changes nothing"
    );

    s.infer(s.alice, prompt(0, "What does this ECG show?"))
        .unwrap();
    let (view, _) = s.w.flush();
    assert_eq!(view.settled, vec![0], "{view:?}");
    let args = ClaimArgs {
        from_subaccount: None,
        to: Some(account(minter())),
    };
    let before = s.w.balance(account(s.owner));
    assert!(before.available > 0);
    let (r, _) = s.w.call(s.w.royalties, s.owner, "claim", (args,));
    let (claim,): (Result<Payout, ClaimError>,) = r.unwrap();
    assert_eq!(claim, Err(ClaimError::MintingAccountDestination));
    assert_eq!(s.w.balance(account(s.owner)), before);
    // The fee caches still hold the real fee: a later payout pays it.
    let (payout, _) = s.w.claim(s.owner);
    let payout = payout.expect("a claim to the owner's own account");
    assert_eq!(payout.fee, PAYMENT_FEE, "{payout:?}");
    s.w.withdraw(s.alice, 1_000_000, None).unwrap();
    s.assert_books_agree();
}

/// Defect 4: each model change set a zero-delay timer and each timer pushed every pending change, so
/// twenty changes in one round cost hundreds of times one change, paid in royalties' cycles.
#[test]
fn model_changes_cost_royalties_cycles_linear_in_the_changes() {
    let mut s = up(134);
    let manager = s.owner;
    for i in 1..=20 {
        let (r, _) = s.w.register_model(
            manager,
            sole_owner_model(manager, &format!("model {i}"), PRICE),
        );
        r.expect("the manager registers another model");
    }
    // Changes to `models`, all submitted in one round; royalties' cycles spent until all is pushed.
    let change_cost = |s: &mut System, models: std::ops::RangeInclusive<u64>, round: u64| {
        // A new minute for the rate limit; the payout timer this starts runs to its end first.
        s.w.net.advance_time(std::time::Duration::from_secs(61));
        s.w.ticks(300);
        let before = s.w.net.cycles_balance(s.w.royalties);
        let ids: Vec<_> = models
            .map(|model| {
                let price = Price {
                    per_1k_input_tokens: 100_000 + round * 1_000 + model,
                    per_1k_output_tokens: 600_000,
                };
                let arg = candid::encode_args((model, price)).unwrap();
                s.w.net
                    .submit_call(s.w.royalties, manager, "set_model_price", arg)
                    .expect("set_model_price is accepted")
            })
            .collect();
        for id in ids {
            s.w.net.await_call(id).expect("set_model_price answers");
        }
        // Long enough for every push to finish, however many there are.
        s.w.ticks(300);
        before - s.w.net.cycles_balance(s.w.royalties)
    };
    let one = change_cost(&mut s, 0..=0, 1);
    let twenty = change_cost(&mut s, 1..=20, 2);
    eprintln!("one change: {one} cycles; twenty changes: {twenty} cycles");
    assert!(
        twenty <= 25 * one,
        "twenty changes cost {twenty} cycles, one change {one}: {}×",
        twenty / one.max(1)
    );
    for model in 1..=20u64 {
        let (entry,): (Option<neuranft_types::royalties::ModelEntry>,) =
            s.w.net
                .query(s.w.proxy, admin(), "model", (model,))
                .unwrap();
        assert_eq!(
            entry.unwrap().price.per_1k_input_tokens,
            100_000 + 2 * 1_000 + model,
            "the proxy has model {model}'s last price"
        );
    }
}

/// The proxy's defence in depth: a batch royalties refuses (here: royalties was upgraded to answer
/// another proxy) is set aside — its funds shown by both audits — later batches are not held up, and
/// once royalties accepts again every set-aside batch settles by itself.
#[test]
fn a_refused_batch_is_set_aside_visible_in_both_audits_and_settles_later() {
    let mut s = up(136);
    s.w.deposit(s.alice, 5_000_000).0.unwrap();
    let repoint = |s: &mut System, proxy: Principal| {
        let arg = Some(RoyaltiesArg::Upgrade(Some(UpgradeArgs {
            governance: None,
            inference_proxy: Some(proxy),
            treasury: None,
            auto_payout_fee_multiple: None,
            payout_interval_seconds: None,
        })));
        s.w.net
            .upgrade_canister(
                s.w.royalties,
                &canister_wasm("royalties"),
                Encode!(&arg).unwrap(),
                admin(),
            )
            .expect("royalties upgrades");
    };
    repoint(&mut s, principal(0x99));
    for i in 0..3 {
        s.infer(s.alice, prompt(0, &format!("refused {i}")))
            .unwrap();
        let (view, _) = s.w.flush();
        assert!(view.settled.is_empty(), "{view:?}");
        assert!(
            view.waiting.iter().any(|w| w.contains("set aside")),
            "{view:?}"
        );
    }
    let proxy = s.w.proxy_audit();
    assert!(proxy.agrees, "{proxy:?}");
    assert_eq!(proxy.set_aside_batches, 3);
    let (royalties, _) = s.w.audit();
    assert_eq!(
        royalties.surplus,
        candid::Int::from(proxy.set_aside_total as i128),
        "royalties holds exactly the set-aside funds it has not credited"
    );
    let proxy_id = s.w.proxy;
    repoint(&mut s, proxy_id);
    // A new batch settles at once; the set-aside ones, a few per flush.
    s.infer(s.alice, prompt(0, "accepted")).unwrap();
    let (view, _) = s.w.flush();
    assert!(view.settled.contains(&3), "{view:?}");
    for _ in 0..3 {
        s.w.flush();
    }
    let proxy = s.w.proxy_audit();
    assert_eq!((proxy.set_aside_batches, proxy.set_aside_total), (0, 0));
    let (metered, settled) = s.metered_and_settled();
    assert_eq!(metered, settled);
    s.assert_books_agree();
}

/// Per-principal limits on what royalties keeps and pushes for ever: registrations per manager and
/// registry changes per minute.
#[test]
fn one_principal_cannot_grow_royalties_state_without_bound() {
    let mut s = up(137);
    let spammer = s.mallory;
    let mut refused = None;
    for i in 0..200u32 {
        let (r, _) = s.w.call(
            s.w.royalties,
            spammer,
            "register_model",
            (sole_owner_model(spammer, &format!("spam {i}"), PRICE),),
        );
        let (r,): (Result<ModelId, RegistryError>,) = r.unwrap();
        if let Err(e) = r {
            refused = Some((i, e));
            break;
        }
    }
    let (i, e) = refused.expect("registrations are limited");
    assert_eq!(
        e,
        RegistryError::RateLimited {
            changes_per_minute: 30
        }
    );
    assert_eq!(i, 30);
    // Past the minute, registrations go on up to the per-manager cap.
    let mut total = 30u32;
    loop {
        s.w.net.advance_time(std::time::Duration::from_secs(61));
        let mut stop = None;
        for _ in 0..30 {
            let (r, _) = s.w.call(
                s.w.royalties,
                spammer,
                "register_model",
                (sole_owner_model(spammer, &format!("spam {total}"), PRICE),),
            );
            let (r,): (Result<ModelId, RegistryError>,) = r.unwrap();
            match r {
                Ok(_) => total += 1,
                Err(e) => {
                    stop = Some(e);
                    break;
                }
            }
        }
        if let Some(e) = stop {
            assert_eq!(e, RegistryError::TooManyModels { max: 100 });
            break;
        }
    }
    assert_eq!(total, 100);
}
