use crate::metering::*;
use crate::receipt::{verify, VerifiedUsage};
use candid::{Nat, Principal};
use ed25519_dalek::{Signer, SigningKey};
use ic_stable_structures::memory_manager::MemoryManager;
use ic_stable_structures::DefaultMemoryImpl;
use neuranft_types::node::{receipt_message, InferResponse, Usage};
use neuranft_types::royalties::Price;
use neuranft_types::Account;
use proptest::prelude::*;

const PRICE: Price = Price {
    per_1k_input_tokens: 2_000,
    per_1k_output_tokens: 6_000,
};
const CALL_FEE: u128 = 50;

fn user(n: u8) -> Principal {
    Principal::from_slice(&[n + 1; 29])
}

fn node() -> Account {
    Account {
        owner: Principal::from_slice(&[0xEE; 29]),
        subaccount: None,
    }
}

fn metering(memory: &DefaultMemoryImpl) -> Metering {
    Metering::init(&MemoryManager::init_with_bucket_size(memory.clone(), 1))
}

/// A node's signed answer, verified as the proxy would.
fn usage(input: u64, output: u64) -> VerifiedUsage {
    let key = SigningKey::from_bytes(&[9; 32]);
    let usage = Usage {
        input_tokens: input,
        output_tokens: output,
        total_duration_ns: 1,
        eval_duration_ns: 1,
    };
    let message = receipt_message("r", "m", &usage, "out");
    let body = serde_json::to_vec(&InferResponse {
        request_id: "r".into(),
        model: "m".into(),
        output: "out".into(),
        usage,
        signature: hex::encode(key.sign(&message).to_bytes()),
    })
    .unwrap();
    verify(&body, &key.verifying_key().to_bytes(), "r", "m", u64::MAX).unwrap()
}

#[test]
fn prices_round_up_exactly() {
    assert_eq!(price_of(&PRICE, 0, 0), Some(0));
    assert_eq!(price_of(&PRICE, 1, 0), Some(2));
    assert_eq!(price_of(&PRICE, 500, 700), Some(1_000 + 4_200));
    assert_eq!(price_of(&PRICE, 1, 1), Some(8));
    let huge = Price {
        per_1k_input_tokens: u64::MAX,
        per_1k_output_tokens: u64::MAX,
    };
    assert_eq!(price_of(&huge, u64::MAX, u64::MAX), None);
    assert!(price_of(&huge, u64::MAX, 0).unwrap() > u64::MAX as u128);
}

#[test]
fn a_call_holds_the_maximum_charges_the_usage_and_releases_the_rest() {
    let memory = DefaultMemoryImpl::default();
    let mut m = metering(&memory);
    m.credit_deposit(&user(1), 100_000).unwrap();
    let hold = m.hold(&user(1), 0, 20_000, 1).unwrap();
    assert_eq!(
        m.balance(&user(1)),
        UserBalance {
            available: 80_000,
            held: 20_000
        }
    );
    let charged = m
        .charge(hold.id, &usage(500, 700), &PRICE, CALL_FEE, node(), 0, 2)
        .unwrap();
    assert_eq!(charged.charged, 5_200 + CALL_FEE);
    assert_eq!(charged.released, 20_000 - 5_250);
    assert_eq!(charged.receipt.map(|r| r.amount), Some(5_200));
    assert_eq!(
        m.balance(&user(1)),
        UserBalance {
            available: 100_000 - 5_250,
            held: 0
        }
    );
    let l = m.liabilities();
    assert_eq!(
        (l.unsettled, l.fee_reserve, l.total),
        (5_200, CALL_FEE, 100_000)
    );
    // Charging the same hold twice is impossible: it is gone.
    assert_eq!(
        m.charge(hold.id, &usage(1, 1), &PRICE, CALL_FEE, node(), 0, 3),
        Err(MeteringError::UnknownHold { hold: hold.id })
    );
}

/// A signed usage above the hold is charged the hold, the most the user agreed to: the node did the
/// work and is not at fault; a usage priced 0 (a free model) leaves no receipt, only the call fee.
#[test]
fn usage_above_the_hold_charges_the_hold_and_free_usage_leaves_no_receipt() {
    let memory = DefaultMemoryImpl::default();
    let mut m = metering(&memory);
    m.credit_deposit(&user(1), 10_000).unwrap();
    let hold = m.hold(&user(1), 0, 100 + CALL_FEE, 0).unwrap();
    let charged = m
        .charge(
            hold.id,
            &usage(1_000, 1_000),
            &PRICE,
            CALL_FEE,
            node(),
            0,
            1,
        )
        .unwrap();
    assert_eq!((charged.charged, charged.released), (100 + CALL_FEE, 0));
    assert_eq!(charged.receipt.map(|r| r.amount), Some(100));
    let free = Price {
        per_1k_input_tokens: 0,
        per_1k_output_tokens: 0,
    };
    let hold = m.hold(&user(1), 0, 1_000, 2).unwrap();
    let charged = m
        .charge(hold.id, &usage(10, 10), &free, CALL_FEE, node(), 0, 3)
        .unwrap();
    assert_eq!(charged.receipt, None);
    assert_eq!(
        (charged.charged, charged.released),
        (CALL_FEE, 1_000 - CALL_FEE)
    );
    assert_eq!(m.open_receipt_count(), 1);
    let l = m.liabilities();
    assert_eq!(
        (l.unsettled, l.fee_reserve, l.total),
        (100, 2 * CALL_FEE, 10_000)
    );
}

#[test]
fn bad_requests_are_typed_errors_and_change_nothing() {
    let memory = DefaultMemoryImpl::default();
    let mut m = metering(&memory);
    m.credit_deposit(&user(1), 1_000).unwrap();
    let before = m.liabilities();
    assert_eq!(
        m.hold(&Principal::anonymous(), 0, 10, 0),
        Err(MeteringError::AnonymousCaller)
    );
    assert_eq!(m.hold(&user(1), 0, 0, 0), Err(MeteringError::ZeroAmount));
    assert_eq!(
        m.hold(&user(1), 0, 1_001, 0),
        Err(MeteringError::InsufficientBalance {
            available: 1_000,
            needed: 1_001
        })
    );
    assert_eq!(
        m.credit_deposit(&user(1), 0),
        Err(MeteringError::ZeroAmount)
    );
    assert_eq!(
        m.credit_deposit(&user(1), u128::MAX),
        Err(MeteringError::Overflow)
    );
    assert_eq!(
        m.begin_withdrawal(&user(1), 5_000),
        Err(MeteringError::InsufficientBalance {
            available: 1_000,
            needed: 5_000
        })
    );
    assert_eq!(m.liabilities(), before);
    // No batch without receipts; no batch while the reserve cannot pay the transfer fee.
    assert_eq!(m.close_batch(10, 10, 0), Ok(None));
}

#[test]
fn batches_take_each_receipt_once_and_reserve_the_transfer_fee() {
    let memory = DefaultMemoryImpl::default();
    let mut m = metering(&memory);
    m.credit_deposit(&user(1), 1_000_000).unwrap();
    for _ in 0..5 {
        let h = m.hold(&user(1), 0, 50_000, 0).unwrap();
        m.charge(h.id, &usage(100, 100), &PRICE, CALL_FEE, node(), 0, 0)
            .unwrap();
    }
    assert_eq!(
        m.close_batch(3, 1_000, 0),
        Err(MeteringError::FeeReserveTooLow {
            reserve: 250,
            fee: 1_000
        })
    );
    let b0 = m.close_batch(3, 100, 0).unwrap().unwrap();
    let b1 = m.close_batch(3, 100, 0).unwrap().unwrap();
    assert_eq!((b0.receipts.len(), b1.receipts.len()), (3, 2));
    assert_eq!(m.close_batch(3, 10, 0), Ok(None));
    let ids: Vec<u64> = b0
        .receipts
        .iter()
        .chain(&b1.receipts)
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, vec![0, 1, 2, 3, 4]);
    // The transfer completes with a fee that rose: the reserve covers the difference.
    let t = m.batch_transferred(b0.id, Nat::from(7u8), 110).unwrap();
    assert!(matches!(t.status, BatchStatus::Transferred { .. }));
    assert_eq!(
        m.batch_transferred(b0.id, Nat::from(7u8), 110).unwrap(),
        t,
        "idempotent"
    );
    assert_eq!(m.liabilities().fee_reserve, 250 - 200 - 10);
    assert_eq!(m.batch_settled(b0.id).unwrap().status, BatchStatus::Settled);
    assert_eq!(m.batch_settled(b0.id).unwrap().status, BatchStatus::Settled);
}

#[test]
fn all_state_survives_reopening_stable_memory() {
    let memory = DefaultMemoryImpl::default();
    let (liabilities, hold) = {
        let mut m = metering(&memory);
        m.credit_deposit(&user(1), 10_000).unwrap();
        let h = m.hold(&user(1), 3, 4_000, 9).unwrap();
        let h2 = m.hold(&user(1), 3, 1_000, 9).unwrap();
        m.charge(h2.id, &usage(10, 10), &PRICE, CALL_FEE, node(), 1, 10)
            .unwrap();
        (m.liabilities(), h)
    };
    let m = metering(&memory);
    assert_eq!(m.liabilities(), liabilities);
    assert_eq!(m.get_hold(hold.id), Some(hold));
    assert_eq!(m.open_receipt_count(), 1);
}

#[derive(Clone, Debug)]
enum Op {
    Deposit(u8, u128),
    Hold(u8, u128),
    Charge(usize, u64, u64),
    Release(usize),
    Close(usize, u128),
    Transfer(usize, u128),
    Rearm(usize, u128),
    Settle(usize),
    Withdraw(u8, u128, bool),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..3, 1u128..50_000).prop_map(|(u, a)| Op::Deposit(u, a)),
        (0u8..3, 1u128..30_000).prop_map(|(u, a)| Op::Hold(u, a)),
        (0usize..8, 0u64..3_000, 0u64..3_000).prop_map(|(h, i, o)| Op::Charge(h, i, o)),
        (0usize..8).prop_map(Op::Release),
        (1usize..5, 0u128..120).prop_map(|(n, f)| Op::Close(n, f)),
        (0usize..6, 0u128..140).prop_map(|(b, f)| Op::Transfer(b, f)),
        (0usize..6, 0u128..140).prop_map(|(b, f)| Op::Rearm(b, f)),
        (0usize..6).prop_map(Op::Settle),
        (0u8..3, 1u128..20_000, any::<bool>()).prop_map(|(u, a, ok)| Op::Withdraw(u, a, ok)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Random deposits, holds, charges, releases, batches, transfers (with changing fees), settlements
    /// and withdrawals: the ledger balance equals what the proxy owes after every step; the stored
    /// records add up to the totals; every receipt lands in exactly one batch; nothing is charged
    /// without a hold.
    #[test]
    fn conservation_holds_at_every_step(ops in proptest::collection::vec(op(), 1..60)) {
        let memory = DefaultMemoryImpl::default();
        let mut m = metering(&memory);
        let mut ledger: u128 = 0;
        let mut holds: Vec<u64> = vec![];
        let mut batches: Vec<u64> = vec![];
        let mut charged_receipts = 0u64;
        for op in ops {
            match op {
                Op::Deposit(u, a) => {
                    m.credit_deposit(&user(u), a).unwrap();
                    ledger += a;
                }
                Op::Hold(u, a) => {
                    if let Ok(h) = m.hold(&user(u), 0, a, 0) { holds.push(h.id); }
                }
                Op::Charge(i, input, output) => {
                    if let Some(&h) = holds.get(i) {
                        if let Ok(c) = m.charge(h, &usage(input, output), &PRICE, CALL_FEE, node(), 0, 0) {
                            holds.retain(|x| *x != h);
                            charged_receipts += u64::from(c.receipt.is_some());
                        }
                    }
                }
                Op::Release(i) => {
                    if let Some(&h) = holds.get(i) {
                        m.release(h).unwrap();
                        holds.retain(|x| *x != h);
                    }
                }
                Op::Close(n, fee) => {
                    if let Ok(Some(b)) = m.close_batch(n, fee, 0) { batches.push(b.id); }
                }
                Op::Transfer(i, fee) => {
                    if let Some(&b) = batches.get(i) {
                        let before = m.batch(b).unwrap();
                        if let BatchStatus::AwaitingTransfer { .. } = before.status {
                            if m.batch_transferred(b, Nat::from(0u8), fee).is_ok() {
                                ledger -= before.total + fee;
                            }
                        }
                    }
                }
                Op::Rearm(i, fee) => {
                    // A failed transfer goes out again with another fee, from the reserve.
                    if let Some(&b) = batches.get(i) { let _ = m.rearm_batch(b, fee); }
                }
                Op::Settle(i) => {
                    if let Some(&b) = batches.get(i) { m.batch_settled(b).unwrap(); }
                }
                Op::Withdraw(u, a, completes) => {
                    if m.begin_withdrawal(&user(u), a).is_ok() {
                        prop_assert_eq!(m.liabilities().total, ledger);
                        m.end_withdrawal(&user(u), a, completes);
                        if completes { ledger -= a; }
                    }
                }
            }
            let l = m.liabilities();
            prop_assert_eq!(l.total, ledger, "ledger balance = what the proxy owes");
            prop_assert_eq!(m.recount(), (l.available, l.held, l.unsettled, l.batched));
        }
        let mut seen = std::collections::BTreeSet::new();
        for b in &batches {
            for r in m.batch(*b).unwrap().receipts {
                prop_assert!(seen.insert(r.id), "receipt in two batches");
            }
        }
        prop_assert_eq!(seen.len() as u64 + m.open_receipt_count(), charged_receipts);
    }
}

// ------------------------------------------------------------------ deposits and withdrawals

mod money {
    use crate::flows;
    use crate::state::{MoneyError, ProxyConfig, ProxyState};
    use candid::{Nat, Principal};
    use futures::executor::block_on;
    use ic_stable_structures::DefaultMemoryImpl;
    use icrc_ledger_types::icrc2::approve::ApproveArgs;
    use ledger_adapter::memory::{Fault, MemoryLedger};
    use ledger_adapter::LedgerRuntime;
    use neuranft_types::Account;
    use std::cell::RefCell;

    const FEE: u128 = 10;

    fn proxy() -> Principal {
        Principal::from_slice(&[0x70; 10])
    }

    fn alice() -> Principal {
        Principal::from_slice(&[0xA1; 29])
    }

    fn acc(p: Principal) -> Account {
        Account {
            owner: p,
            subaccount: None,
        }
    }

    fn setup() -> (RefCell<ProxyState>, MemoryLedger) {
        let mut s = ProxyState::open_small(DefaultMemoryImpl::default());
        s.initialize(ProxyConfig {
            ledger: Principal::from_slice(&[0x10; 10]),
            royalties: Principal::from_slice(&[0x20; 10]),
            governance: Principal::from_slice(&[0x30; 10]),
            call_fee: 50,
            max_prompt_bytes: 100_000,
            max_output_tokens: 4_096,
            max_receipts_per_batch: 500,
            flush_interval_seconds: 60,
            failures_before_suspension: 3,
            max_nodes_per_call: 3,
            calls_per_user_per_minute: 60,
        })
        .unwrap();
        let ledger = MemoryLedger::new(FEE, 1_750_000_000_000_000_000);
        ledger.mint(acc(alice()), 100_000);
        let approve = ApproveArgs {
            from_subaccount: None,
            spender: acc(proxy()),
            amount: Nat::from(100_000u32),
            expected_allowance: None,
            expires_at: None,
            fee: None,
            memo: None,
            created_at_time: None,
        };
        block_on(ledger.client(alice()).icrc2_approve(approve))
            .unwrap()
            .unwrap();
        (RefCell::new(s), ledger)
    }

    fn check_conservation(s: &RefCell<ProxyState>, ledger: &MemoryLedger) {
        assert_eq!(
            ledger.balance(&acc(proxy())),
            s.borrow().metering.liabilities().total
        );
        ledger.check_invariants().unwrap();
    }

    #[test]
    fn deposit_then_withdraw_moves_exactly_what_the_balances_say() {
        let (s, ledger) = setup();
        let client = ledger.client(proxy());
        block_on(flows::deposit(&s, &client, alice(), 60_000, 0)).unwrap();
        assert_eq!(s.borrow().metering.balance(&alice()).available, 60_000);
        assert_eq!(ledger.balance(&acc(alice())), 100_000 - 10 - 60_000 - FEE);
        check_conservation(&s, &ledger);
        block_on(flows::withdraw(&s, &client, alice(), 20_000, None, 0)).unwrap();
        assert_eq!(s.borrow().metering.balance(&alice()).available, 40_000);
        assert_eq!(
            ledger.balance(&acc(alice())),
            100_000 - 10 - 60_000 - FEE + 20_000 - FEE
        );
        check_conservation(&s, &ledger);
    }

    #[test]
    fn lost_replies_and_failures_move_money_exactly_once() {
        let (s, ledger) = setup();
        let client = ledger.client(proxy());
        // The pull executes but every reply is lost: the deposit stays pending, then the timer
        // completes it once.
        for _ in 0..ledger_adapter::outbox::SENDS_PER_DRIVE {
            ledger.inject(Fault::UnknownAfterExecution);
        }
        let pending = block_on(flows::deposit(&s, &client, alice(), 30_000, 0));
        assert!(
            matches!(pending, Err(MoneyError::Pending { .. })),
            "{pending:?}"
        );
        assert_eq!(s.borrow().metering.balance(&alice()).available, 0);
        assert_eq!(block_on(flows::drive_pending(&s, &client)), 1);
        assert_eq!(s.borrow().metering.balance(&alice()).available, 30_000);
        assert_eq!(ledger.blocks_with_memo_prefix(b"NNFT-DEP"), 1);
        check_conservation(&s, &ledger);
        // More than the allowance left: a definite failure credits nothing.
        let err = block_on(flows::deposit(&s, &client, alice(), 90_000, 0)).unwrap_err();
        assert!(matches!(err, MoneyError::TransferFailed { .. }), "{err:?}");
        check_conservation(&s, &ledger);
        // Withdrawals: below the fee, beyond the balance, anonymous — typed errors, nothing moves.
        assert_eq!(
            block_on(flows::withdraw(&s, &client, alice(), FEE, None, 0)),
            Err(MoneyError::BelowFee {
                amount: FEE,
                fee: FEE
            })
        );
        assert!(block_on(flows::withdraw(&s, &client, alice(), 30_001, None, 0)).is_err());
        assert_eq!(
            block_on(flows::withdraw(
                &s,
                &client,
                Principal::anonymous(),
                100,
                None,
                0
            )),
            Err(MoneyError::AnonymousCaller)
        );
        check_conservation(&s, &ledger);
    }

    #[test]
    fn concurrent_money_calls_by_one_caller_are_refused() {
        let (s, ledger) = setup();
        let client = ledger.client(proxy());
        let open = ledger.hold_next_update();
        let first = flows::deposit(&s, &client, alice(), 1_000, 0);
        let second = async {
            let r = flows::deposit(&s, &client, alice(), 1_000, 0).await;
            open.send(()).unwrap();
            r
        };
        let (first, second) = block_on(futures::future::join(first, second));
        assert_eq!(second, Err(MoneyError::AlreadyProcessing));
        first.unwrap();
        assert_eq!(s.borrow().metering.balance(&alice()).available, 1_000);
    }
}

pub(crate) mod inference_support {
    use crate::infer::NodeTransport;
    use crate::registry::{ApplyNodeArgs, ModelEntry, NodeAction, NodeId, NodeRecord};
    use crate::state::{ProxyConfig, ProxyState};
    use candid::Principal;
    use ed25519_dalek::{Signer, SigningKey};
    use hpc_node::Backend;
    use ic_stable_structures::DefaultMemoryImpl;
    use neuranft_types::node::{receipt_message, InferRequest, InferResponse};
    use neuranft_types::royalties::{ModelStatus, Price};
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;

    #[derive(Clone, Copy, PartialEq, Eq)]
    pub enum Behaviour {
        Honest,
        Down,
        Http500,
        ForgedSignature,
        InflatedUsage,
    }

    /// Nodes as the proxy reaches them: honest ones run hpc-node's deterministic backend and sign
    /// with their key; others fail in the chosen way.
    pub struct Nodes {
        pub keys: HashMap<NodeId, SigningKey>,
        pub behaviour: RefCell<HashMap<NodeId, Behaviour>>,
        pub calls: RefCell<Vec<NodeId>>,
        pub clock: Cell<u64>,
    }

    impl NodeTransport for Nodes {
        async fn post(&self, node: &NodeRecord, body: Vec<u8>) -> Result<(u16, Vec<u8>), String> {
            self.calls.borrow_mut().push(node.id);
            self.clock.set(self.clock.get() + 300_000_000);
            let behaviour = self.behaviour.borrow()[&node.id];
            match behaviour {
                Behaviour::Down => return Err("connection refused".into()),
                Behaviour::Http500 => return Ok((500, b"{}".to_vec())),
                _ => {}
            }
            let request: InferRequest = serde_json::from_slice(&body).unwrap();
            let completion = hpc_node::backend::Deterministic.complete(&request).unwrap();
            let mut usage = completion.usage;
            let key = match behaviour {
                Behaviour::ForgedSignature => SigningKey::from_bytes(&[0xFF; 32]),
                _ => self.keys[&node.id].clone(),
            };
            let message = receipt_message(
                &request.request_id,
                &request.model,
                &usage,
                &completion.output,
            );
            if behaviour == Behaviour::InflatedUsage {
                // A replica changes the counts after the node signed them.
                usage.output_tokens += 100;
            }
            let response = InferResponse {
                request_id: request.request_id,
                model: request.model,
                output: completion.output,
                usage,
                signature: hex::encode(key.sign(&message).to_bytes()),
            };
            Ok((200, serde_json::to_vec(&response).unwrap()))
        }

        fn now(&self) -> u64 {
            self.clock.get()
        }
    }

    pub fn config(royalties: Principal, per_minute: u32) -> ProxyConfig {
        ProxyConfig {
            ledger: Principal::from_slice(&[0x10; 10]),
            royalties,
            governance: Principal::from_slice(&[0x30; 10]),
            call_fee: 50,
            max_prompt_bytes: 10_000,
            max_output_tokens: 512,
            max_receipts_per_batch: 500,
            flush_interval_seconds: 60,
            failures_before_suspension: 3,
            max_nodes_per_call: 3,
            calls_per_user_per_minute: per_minute,
        }
    }

    /// Adds an admitted node with the given behaviour; returns its id.
    pub fn add_node(
        s: &mut ProxyState,
        nodes_keys: &mut HashMap<NodeId, SigningKey>,
        i: u8,
    ) -> NodeId {
        let key = SigningKey::from_bytes(&[i + 1; 32]);
        let id = s
            .registry
            .apply_node(
                Principal::from_slice(&[0xB0 + i; 29]),
                ApplyNodeArgs {
                    operator_subaccount: None,
                    endpoint: format!("https://node{i}.example/v1/infer"),
                    public_key: serde_bytes::ByteBuf::from(key.verifying_key().to_bytes().to_vec()),
                    models: vec!["llama3.1:8b".into()],
                    capacity: 8,
                },
            )
            .unwrap();
        s.registry
            .decide_node(100 + i as u64, id, NodeAction::Admit)
            .unwrap();
        nodes_keys.insert(id, key);
        id
    }

    pub const PRICE: Price = Price {
        per_1k_input_tokens: 2_000,
        per_1k_output_tokens: 6_000,
    };

    pub fn add_models(s: &mut ProxyState) {
        for (model, status) in [(0, ModelStatus::Active), (1, ModelStatus::Paused)] {
            s.registry.upsert_model(ModelEntry {
                model,
                base_model: "llama3.1:8b".into(),
                price: PRICE,
                status,
                version: 1,
            });
        }
    }

    /// A proxy (principal and state) with the two models and one honest node.
    pub fn proxy_world(royalties: Principal, now: u64) -> (RefCell<ProxyState>, Nodes, Principal) {
        let mut s = ProxyState::open_small(DefaultMemoryImpl::default());
        s.initialize(config(royalties, 1_000)).unwrap();
        add_models(&mut s);
        let mut keys = HashMap::new();
        let id = add_node(&mut s, &mut keys, 0);
        let nodes = Nodes {
            keys,
            behaviour: RefCell::new(HashMap::from([(id, Behaviour::Honest)])),
            calls: RefCell::default(),
            clock: Cell::new(now),
        };
        (RefCell::new(s), nodes, Principal::from_slice(&[0x70; 10]))
    }
}

// ------------------------------------------------------------------ inference

mod inference {
    use super::inference_support::*;
    use crate::infer::{infer, InferArgs, InferError};
    use crate::registry::{NodeId, NodeStatus};
    use crate::state::ProxyState;
    use candid::Principal;
    use futures::executor::block_on;
    use ic_stable_structures::DefaultMemoryImpl;
    use std::cell::{Cell, RefCell};
    use std::collections::HashMap;

    fn user() -> Principal {
        Principal::from_slice(&[0xA1; 29])
    }

    struct World {
        state: RefCell<ProxyState>,
        nodes: Nodes,
        ids: Vec<NodeId>,
    }

    fn world(behaviours: &[Behaviour], per_minute: u32) -> World {
        let mut s = ProxyState::open_small(DefaultMemoryImpl::default());
        s.initialize(config(Principal::from_slice(&[0x20; 10]), per_minute))
            .unwrap();
        add_models(&mut s);
        s.metering.credit_deposit(&user(), 1_000_000).unwrap();
        let mut keys = HashMap::new();
        let mut behaviour = HashMap::new();
        let mut ids = Vec::new();
        for (i, b) in behaviours.iter().enumerate() {
            let id = add_node(&mut s, &mut keys, i as u8);
            behaviour.insert(id, *b);
            ids.push(id);
        }
        World {
            state: RefCell::new(s),
            nodes: Nodes {
                keys,
                behaviour: RefCell::new(behaviour),
                calls: RefCell::default(),
                clock: Cell::new(1_750_000_000_000_000_000),
            },
            ids,
        }
    }

    fn args(prompt: &str, max_tokens: u32) -> InferArgs {
        InferArgs {
            model: 0,
            prompt: Some(prompt.into()),
            messages: None,
            max_tokens,
            temperature: None,
            seed: Some(1),
        }
    }

    impl World {
        fn infer(&self, args: InferArgs) -> Result<crate::infer::InferOk, InferError> {
            block_on(infer(&self.state, &self.nodes, user(), args, 7))
        }
        fn balance(&self) -> (u128, u128) {
            let b = self.state.borrow().metering.balance(&user());
            (b.available, b.held)
        }
        fn total(&self) -> u128 {
            self.state.borrow().metering.liabilities().total
        }
    }

    #[test]
    fn a_call_is_charged_exactly_what_the_signed_usage_costs() {
        let w = world(&[Behaviour::Honest], 60);
        let ok = w
            .infer(args("Summarise the patient's history.", 64))
            .unwrap();
        let price = crate::metering::price_of(&PRICE, ok.input_tokens, ok.output_tokens).unwrap();
        assert_eq!(ok.charged, price + 50);
        assert_eq!(w.balance(), (1_000_000 - ok.charged, 0));
        assert_eq!(w.state.borrow().metering.open_receipt_count(), 1);
        assert_eq!(w.total(), 1_000_000, "money only moved between buckets");
        assert_eq!(
            w.state
                .borrow()
                .registry
                .node(w.ids[0])
                .unwrap()
                .stats
                .successes,
            1
        );
    }

    #[test]
    fn a_failing_node_is_skipped_and_nothing_is_charged_for_it() {
        let w = world(&[Behaviour::Down, Behaviour::Honest], 60);
        // Whichever node is picked first, the call ends on the honest one.
        let ok = w.infer(args("hello", 32)).unwrap();
        assert_eq!(ok.node, w.ids[1]);
        assert_eq!(w.state.borrow().metering.open_receipt_count(), 1);
        assert_eq!(w.balance().1, 0);
    }

    #[test]
    fn when_every_node_fails_the_hold_is_released_in_full() {
        for bad in [
            Behaviour::Down,
            Behaviour::Http500,
            Behaviour::ForgedSignature,
            Behaviour::InflatedUsage,
        ] {
            let w = world(&[bad, bad], 60);
            let err = w.infer(args("hello", 32)).unwrap_err();
            assert!(
                matches!(err, InferError::AllNodesFailed { ref failures } if failures.len() == 2),
                "{err:?}"
            );
            assert_eq!(w.balance(), (1_000_000, 0));
            assert_eq!(
                w.state.borrow().metering.open_receipt_count(),
                0,
                "no charge without a verified receipt"
            );
        }
        let w = world(&[], 60);
        assert_eq!(w.infer(args("hello", 32)), Err(InferError::NoNodeAvailable));
        assert_eq!(w.balance(), (1_000_000, 0));
    }

    #[test]
    fn a_node_that_keeps_failing_is_suspended() {
        let w = world(&[Behaviour::Down, Behaviour::Honest], 60);
        for _ in 0..6 {
            w.infer(args("hello", 32)).unwrap();
        }
        let down = w.state.borrow().registry.node(w.ids[0]).unwrap();
        assert!(
            matches!(
                down.status,
                NodeStatus::Suspended {
                    by_proposal: None,
                    ..
                }
            ),
            "{:?}",
            down.status
        );
        let calls_before = w.nodes.calls.borrow().len();
        w.infer(args("hello", 32)).unwrap();
        assert_eq!(
            w.nodes.calls.borrow().len(),
            calls_before + 1,
            "the suspended node is not tried"
        );
    }

    #[test]
    fn governance_sets_the_call_fee_once_per_proposal() {
        let w = world(&[Behaviour::Honest], 60);
        w.state.borrow_mut().set_call_fee(7, 70).unwrap();
        assert_eq!(
            w.state.borrow_mut().set_call_fee(7, 90),
            Err(crate::registry::RegistryError::ProposalAlreadyExecuted { proposal: 7 })
        );
        assert_eq!(w.state.borrow().config().call_fee, 70);
        let ok = w.infer(args("hello", 8)).unwrap();
        let price = crate::metering::price_of(&PRICE, ok.input_tokens, ok.output_tokens).unwrap();
        assert_eq!(ok.charged, price + 70);
    }

    #[test]
    fn receipts_carry_the_split_version_royalties_pushed_last() {
        let w = world(&[Behaviour::Honest], 60);
        let stamped = |w: &World| {
            let s = w.state.borrow();
            s.metering
                .unsettled_receipts(100)
                .last()
                .unwrap()
                .split_version
        };
        w.infer(args("hello", 8)).unwrap();
        assert_eq!(stamped(&w), 0);
        w.state.borrow_mut().set_split_version(3);
        w.infer(args("hello", 8)).unwrap();
        assert_eq!(stamped(&w), 3);
        // A late, older push does not move the proxy back.
        w.state.borrow_mut().set_split_version(2);
        w.infer(args("hello", 8)).unwrap();
        assert_eq!(stamped(&w), 3);
        let versions: Vec<u32> = w
            .state
            .borrow()
            .metering
            .unsettled_receipts(100)
            .iter()
            .map(|r| r.split_version)
            .collect();
        assert_eq!(
            versions,
            vec![0, 3, 3],
            "earlier receipts keep their version"
        );
    }

    #[test]
    fn holds_cut_by_an_upgrade_are_released_in_full() {
        let w = world(&[Behaviour::Honest], 60);
        w.infer(args("hello", 8)).unwrap();
        let (available, _) = w.balance();
        // Two calls in flight when the canister is upgraded: their futures are gone with the heap.
        for _ in 0..2 {
            w.state
                .borrow_mut()
                .metering
                .hold(&user(), 0, 1_000, 0)
                .unwrap();
        }
        assert_eq!(w.balance(), (available - 2_000, 2_000));
        let total = w.total();
        assert_eq!(
            w.state.borrow_mut().metering.release_all_holds(),
            (2, 2_000)
        );
        assert_eq!(w.balance(), (available, 0));
        assert_eq!(
            w.total(),
            total,
            "releasing moves money between buckets only"
        );
        assert_eq!(
            w.state.borrow().metering.open_receipt_count(),
            1,
            "charged calls stay charged"
        );
        assert_eq!(w.state.borrow_mut().metering.release_all_holds(), (0, 0));
    }

    #[test]
    fn bad_input_is_a_typed_error_and_holds_nothing() {
        let w = world(&[Behaviour::Honest], 60);
        let cases = vec![
            (
                InferArgs {
                    model: 9,
                    ..args("x", 8)
                },
                "unknown",
            ),
            (
                InferArgs {
                    model: 1,
                    ..args("x", 8)
                },
                "paused",
            ),
            (args("", 8), "empty"),
            (args(&"x".repeat(10_001), 8), "too large"),
            (args("x", 0), "zero tokens"),
            (args("x", 513), "too many tokens"),
            (
                InferArgs {
                    prompt: None,
                    ..args("x", 8)
                },
                "no input",
            ),
            (
                InferArgs {
                    temperature: Some(9.0),
                    ..args("x", 8)
                },
                "temperature",
            ),
        ];
        for (a, what) in cases {
            assert!(w.infer(a).is_err(), "{what}");
        }
        assert!(matches!(
            block_on(infer(
                &w.state,
                &w.nodes,
                Principal::anonymous(),
                args("x", 8),
                0
            )),
            Err(InferError::AnonymousCaller)
        ));
        // More than the balance can hold.
        let poor = world(&[Behaviour::Honest], 60);
        poor.state
            .borrow_mut()
            .metering
            .begin_withdrawal(&user(), 999_990)
            .unwrap();
        assert!(matches!(
            poor.infer(args("hello", 512)),
            Err(InferError::Metering(
                crate::metering::MeteringError::InsufficientBalance { .. }
            ))
        ));
        assert_eq!(w.balance(), (1_000_000, 0));
        assert!(w.nodes.calls.borrow().is_empty());
    }

    #[test]
    fn each_user_is_rate_limited_per_minute() {
        let w = world(&[Behaviour::Honest], 2);
        w.infer(args("a", 8)).unwrap();
        w.infer(args("b", 8)).unwrap();
        assert_eq!(
            w.infer(args("c", 8)),
            Err(InferError::RateLimited {
                calls_per_minute: 2
            })
        );
        w.nodes.clock.set(w.nodes.clock.get() + 61_000_000_000);
        w.infer(args("d", 8)).unwrap();
    }
}

// ------------------------------------------------------------------ the whole money path, natively

mod money_path {
    use super::inference_support::*;
    use crate::flows::{self, RoyaltiesClient};
    use crate::infer::{infer, InferArgs};
    use crate::metering::BatchStatus;
    use crate::state::ProxyState;
    use candid::{Nat, Principal};
    use futures::executor::block_on;
    use icrc_ledger_types::icrc2::approve::ApproveArgs;
    use ledger_adapter::memory::{Fault, MemoryLedger};
    use ledger_adapter::{CallFailure, LedgerRuntime};
    use neuranft_types::royalties::*;
    use neuranft_types::Account;
    use std::cell::{Cell, RefCell};

    const FEE: u128 = 10;

    struct Royalties<'a> {
        state: &'a RefCell<royalties::State>,
        proxy: Principal,
        ledger: &'a MemoryLedger,
        unreachable: Cell<u32>,
    }

    impl RoyaltiesClient for Royalties<'_> {
        async fn settle(
            &self,
            args: SettleArgs,
        ) -> Result<Result<SettleOk, SettleError>, CallFailure> {
            if self.unreachable.get() > 0 {
                self.unreachable.set(self.unreachable.get() - 1);
                return Err(CallFailure::Rejected {
                    code: 2,
                    message: "royalties is stopped".into(),
                });
            }
            Ok(self
                .state
                .borrow_mut()
                .settle(self.proxy, args, self.ledger.time()))
        }
    }

    fn acc(p: Principal) -> Account {
        Account {
            owner: p,
            subaccount: None,
        }
    }

    /// A proxy with one honest node, royalties with the model it serves, and alice with 500,000
    /// deposited, all on one in-memory ledger.
    struct MoneyWorld {
        ledger: MemoryLedger,
        proxy_state: RefCell<ProxyState>,
        nodes: Nodes,
        proxy: Principal,
        royalties_id: Principal,
        roy: RefCell<royalties::State>,
        alice: Principal,
    }

    fn money_world() -> MoneyWorld {
        let ledger = MemoryLedger::new(FEE, 1_750_000_000_000_000_000);
        let royalties_id = Principal::from_slice(&[0x20; 10]);
        let (proxy_state, nodes, proxy) = proxy_world(royalties_id, ledger.time());
        let roy = RefCell::new(royalties::State::open_small(
            ic_stable_structures::DefaultMemoryImpl::default(),
        ));
        roy.borrow_mut()
            .initialize(
                InitArgs::with_defaults(
                    Principal::from_slice(&[0x10; 10]),
                    Principal::from_slice(&[0x30; 10]),
                    proxy,
                    acc(Principal::from_slice(&[0x40; 29])),
                ),
                ledger.time(),
            )
            .unwrap();
        let owner = Principal::from_slice(&[0x51; 29]);
        roy.borrow_mut()
            .register_model(owner, model_args(owner), ledger.time() - 1)
            .unwrap();
        let alice = Principal::from_slice(&[0xA1; 29]);
        ledger.mint(acc(alice), 1_000_000);
        let approve = ApproveArgs {
            from_subaccount: None,
            spender: acc(proxy),
            amount: Nat::from(600_000u32),
            expected_allowance: None,
            expires_at: None,
            fee: None,
            memo: None,
            created_at_time: None,
        };
        block_on(ledger.client(alice).icrc2_approve(approve))
            .unwrap()
            .unwrap();
        block_on(flows::deposit(
            &proxy_state,
            &ledger.client(proxy),
            alice,
            500_000,
            ledger.time(),
        ))
        .unwrap();
        MoneyWorld {
            ledger,
            proxy_state,
            nodes,
            proxy,
            royalties_id,
            roy,
            alice,
        }
    }

    impl MoneyWorld {
        fn infer(&self, calls: u64) {
            for i in 0..calls {
                let args = InferArgs {
                    model: 0,
                    prompt: Some(format!("question {i}")),
                    messages: None,
                    max_tokens: 64,
                    temperature: None,
                    seed: Some(i),
                };
                block_on(infer(&self.proxy_state, &self.nodes, self.alice, args, i)).unwrap();
            }
        }

        fn royalties(&self, unreachable: u32) -> Royalties<'_> {
            Royalties {
                state: &self.roy,
                proxy: self.proxy,
                ledger: &self.ledger,
                unreachable: Cell::new(unreachable),
            }
        }

        fn flush(&self, royalties: &Royalties<'_>) -> flows::FlushReport {
            let client = self.ledger.client(self.proxy);
            block_on(flows::flush(&self.proxy_state, &client, royalties, true))
        }

        /// The proxy's ledger balance is what it owes, and royalties holds what it settled.
        fn assert_conserved(&self) {
            let proxy_l = self.proxy_state.borrow().metering.liabilities();
            assert_eq!(self.ledger.balance(&acc(self.proxy)), proxy_l.total);
            let settled = self.roy.borrow().liabilities().settled_total;
            assert_eq!(self.ledger.balance(&acc(self.royalties_id)), settled);
            self.ledger.check_invariants().unwrap();
        }
    }

    #[test]
    fn deposit_infer_flush_and_settle_conserve_every_unit() {
        let w = money_world();
        w.infer(10);
        let charged_to_receipts: u128 = w
            .proxy_state
            .borrow()
            .metering
            .unsettled_receipts(100)
            .iter()
            .map(|r| r.amount as u128)
            .sum();
        let roy_client = w.royalties(1);
        // The batch transfer's reply is lost once; royalties is unreachable at the first flush.
        w.ledger.inject(Fault::UnknownAfterExecution);
        let first = w.flush(&roy_client);
        assert_eq!(first.closed.len(), 1);
        assert!(first.settled.is_empty(), "{first:?}");
        let batch = w
            .proxy_state
            .borrow()
            .metering
            .batch(first.closed[0])
            .unwrap();
        assert!(
            matches!(batch.status, BatchStatus::Transferred { .. }),
            "{:?}",
            batch.status
        );
        let second = w.flush(&roy_client);
        assert_eq!(second.settled, first.closed);
        assert!(w.flush(&roy_client).settled.is_empty());
        // Every unit is where the books say.
        w.assert_conserved();
        let proxy_l = w.proxy_state.borrow().metering.liabilities();
        assert_eq!(proxy_l.unsettled + proxy_l.batched, 0);
        assert_eq!(w.ledger.balance(&acc(w.royalties_id)), charged_to_receipts);
        assert_eq!(
            w.roy.borrow().liabilities().settled_total,
            charged_to_receipts
        );
        assert_eq!(w.ledger.blocks_with_memo_prefix(b"NNFT-BAT"), 1);
        let audit = block_on(royalties::flows::payouts::audit(
            &w.roy,
            &w.ledger.client(w.royalties_id),
        ))
        .unwrap();
        assert!(audit.agrees, "{audit:?}");
    }

    /// The ledger's fee rises just before a batch transfer: the transfer fails (it is above the fee
    /// the batch reserved), nothing comes out of users' funds and nothing traps; the batch goes out
    /// again with the new fee once the call fees collected can pay it, and settles.
    #[test]
    fn a_fee_rise_during_a_batch_transfer_is_paid_from_the_reserve_only() {
        let w = money_world();
        w.infer(1);
        let roy_client = w.royalties(0);
        let reserve = w.proxy_state.borrow().metering.liabilities().fee_reserve;
        let alice = w.proxy_state.borrow().metering.balance(&w.alice);
        let high_fee = reserve + 1;
        w.ledger.inject(Fault::SetFee(high_fee));
        let first = w.flush(&roy_client);
        assert_eq!(first.closed, vec![0]);
        assert!(first.settled.is_empty(), "{first:?}");
        w.assert_conserved();
        assert_eq!(w.proxy_state.borrow().metering.balance(&w.alice), alice);
        assert_eq!(w.proxy_state.borrow().ledger_fee(), Some(high_fee));
        // The reserve cannot pay the new fee yet: the batch waits, and says why.
        let waiting = w.flush(&roy_client);
        assert!(
            waiting
                .waiting
                .iter()
                .any(|r| r.contains("FeeReserveTooLow")),
            "{waiting:?}"
        );
        w.assert_conserved();
        // Two more calls pay enough call fees: the first batch goes out with the new fee.
        w.infer(2);
        let later = w.flush(&roy_client);
        assert!(later.settled.contains(&0), "{later:?}");
        w.assert_conserved();
        let l = w.proxy_state.borrow().metering.liabilities();
        assert_eq!(l.unsettled + l.batched, 0, "{l:?}");
        assert_eq!(w.ledger.blocks_with_memo_prefix(b"NNFT-BAT"), 2);
    }

    /// A batch is sent again only from `to_send` and only while it waits: a second flush (the timer
    /// and a caller overlapping) or a stale entry can never transfer it twice; flushes are
    /// single-flight.
    #[test]
    fn a_batch_is_never_sent_twice_and_flushes_do_not_overlap() {
        let w = money_world();
        w.infer(3);
        let roy_client = w.royalties(0);
        w.ledger.inject(Fault::SetFee(FEE + 5));
        let first = w.flush(&roy_client);
        assert_eq!(first.closed, vec![0]);
        assert_eq!(w.proxy_state.borrow().batches_to_send(10), vec![0]);
        // Another flush holds the flag: this one does nothing.
        assert!(w.proxy_state.borrow_mut().try_begin_flush());
        let overlapping = w.flush(&roy_client);
        assert_eq!(
            overlapping.waiting,
            vec!["another flush is running".to_string()]
        );
        w.proxy_state.borrow_mut().end_flush();
        let now = w.ledger.time();
        let intent = w.proxy_state.borrow_mut().resend_batch(0, FEE + 5, now);
        assert!(intent.is_ok(), "{intent:?}");
        assert_eq!(
            w.proxy_state.borrow_mut().resend_batch(0, FEE + 5, now),
            Err(crate::metering::MeteringError::UnknownBatch { batch: 0 }),
            "a batch already sent again is not sent a second time"
        );
        let later = w.flush(&roy_client);
        assert_eq!(later.settled, vec![0], "{later:?}");
        assert_eq!(w.ledger.blocks_with_memo_prefix(b"NNFT-BAT"), 1);
        w.assert_conserved();
    }

    /// A batch royalties refuses is set aside: later batches settle past it, and it settles itself
    /// once royalties accepts it.
    #[test]
    fn a_refused_batch_is_set_aside_and_never_holds_up_later_ones() {
        let w = money_world();
        w.infer(1);
        let refusing = Royalties {
            proxy: Principal::from_slice(&[0x66; 10]),
            ..w.royalties(0)
        };
        let first = w.flush(&refusing);
        assert_eq!(
            (first.closed.clone(), first.settled.clone()),
            (vec![0], vec![])
        );
        let status = w.proxy_state.borrow().metering.batch(0).unwrap().status;
        assert!(matches!(status, BatchStatus::SetAside { .. }), "{status:?}");
        assert_eq!(w.proxy_state.borrow().set_aside_summary().0, 1);
        let roy_client = w.royalties(0);
        for round in 1..=25u64 {
            w.infer(1);
            let view = w.flush(&roy_client);
            assert!(view.settled.contains(&round), "round {round}: {view:?}");
        }
        assert_eq!(
            w.proxy_state.borrow().metering.batch(0).unwrap().status,
            BatchStatus::Settled
        );
        assert_eq!(w.proxy_state.borrow().set_aside_summary(), (0, 0));
        w.assert_conserved();
    }

    fn model_args(owner: Principal) -> RegisterModelArgs {
        RegisterModelArgs {
            metadata: ModelMetadata {
                name: "medical-llama".into(),
                base_model: "llama3.1:8b".into(),
                architecture: "decoder".into(),
                datasets: vec![],
                training_params: vec![],
                licence: "llama3.1-community".into(),
            },
            price: Price {
                per_1k_input_tokens: 2_000,
                per_1k_output_tokens: 6_000,
            },
            owners: vec![ShareHolding {
                account: acc(owner),
                units: 1_000_000,
            }],
            data_owners: vec![],
        }
    }
}
