//! The paid inference path on the real wasm: a user deposits on the real icrc-ledger, calls `infer`,
//! the proxy makes a non-replicated outcall answered by a real hpc-node server on loopback, verifies
//! the signed receipt, charges; the flush transfers the batch to royalties and settles it; the owner
//! claims. A node that is down costs nothing; the proxy is upgraded with unsettled receipts.

use candid::{Encode, Nat, Principal};
use ed25519_dalek::SigningKey;
use icrc_ledger_types::icrc2::approve::{ApproveArgs, ApproveError};
use inference_proxy::api::{ApplyNodeRequest, FlushView, ProxyArg, ProxyAudit};
use inference_proxy::infer::{InferArgs, InferError, InferOk};
use inference_proxy::metering::UserBalance;
use inference_proxy::registry::{
    ApplyNodeArgs, ModelEntry, NodeAction, NodeRecord, NodeStatus, RegistryError,
};
use inference_proxy::state::{MoneyError, ProxyConfig};
use localnet::LocalNet;
use neuranft_types::royalties::*;
use serde_bytes::ByteBuf;
use tests::*;

const NODE_KEY: &str = "node-bearer-key-0123456789";

struct System {
    net: LocalNet,
    ledger: Principal,
    royalties: Principal,
    proxy: Principal,
    governance: Principal,
    owner: Principal,
    alice: Principal,
    nodes: Vec<Option<hpc_node::RunningNode>>,
}

fn up() -> System {
    up_with_nodes(1)
}

/// The ledger, royalties and the proxy, one model, and `node_count` admitted hpc-nodes (real HTTP
/// servers on loopback with the deterministic backend).
fn up_with_nodes(node_count: u8) -> System {
    let mut net = LocalNet::new(21);
    let alice = principal(0xA1);
    let owner = principal(0x0E);
    let governance = principal(0x60);
    let ledger = deploy_ledger(
        &mut net,
        "NUSD",
        PAYMENT_FEE,
        vec![(account(alice), 10_000_000)],
    );
    let royalties = net.create_canister(admin());
    let proxy = net.create_canister(admin());
    let init = RoyaltiesArg::Init(InitArgs::with_defaults(
        ledger,
        governance,
        proxy,
        account(principal(0x7E)),
    ));
    net.install_canister(
        royalties,
        &canister_wasm("royalties"),
        Encode!(&init).unwrap(),
        admin(),
    )
    .unwrap();
    let config = ProxyConfig {
        ledger,
        royalties,
        governance,
        call_fee: 20_000,
        max_prompt_bytes: 16_384,
        max_output_tokens: 512,
        max_receipts_per_batch: 500,
        flush_interval_seconds: 3_600,
        failures_before_suspension: 3,
        max_nodes_per_call: 2,
        calls_per_user_per_minute: 100,
    };
    net.install_canister(
        proxy,
        &canister_wasm("inference-proxy"),
        Encode!(&ProxyArg::Init(config)).unwrap(),
        admin(),
    )
    .unwrap();
    let mut s = System {
        net,
        ledger,
        royalties,
        proxy,
        governance,
        owner,
        alice,
        nodes: Vec::new(),
    };
    // The model in royalties; royalties pushes it to the proxy by itself.
    let args = RegisterModelArgs {
        metadata: ModelMetadata {
            name: "medical-llama".into(),
            base_model: "llama3.1:8b".into(),
            architecture: "decoder 8B".into(),
            datasets: vec![],
            training_params: vec![],
            licence: "llama3.1-community".into(),
        },
        price: Price {
            per_1k_input_tokens: 200_000,
            per_1k_output_tokens: 600_000,
        },
        owners: vec![ShareHolding {
            account: account(owner),
            units: 1_000_000,
        }],
        data_owners: vec![],
    };
    let (r,): (Result<ModelId, RegistryError>,) = s
        .net
        .update(royalties, owner, "register_model", (args.clone(),))
        .unwrap();
    let model = r.unwrap();
    for _ in 0..3 {
        s.net.tick();
    }
    let (copy,): (Option<ModelEntry>,) = s.net.query(proxy, owner, "model", (model,)).unwrap();
    assert_eq!(
        copy.map(|m| m.price),
        Some(args.price),
        "pushed by royalties"
    );
    for i in 0..node_count {
        s.add_node(i);
    }
    s
}

impl System {
    /// Starts hpc-node `i`; its operator applies and governance admits it (proposal `i + 1`).
    fn add_node(&mut self, i: u8) {
        let node_key = SigningKey::from_bytes(&[5 + i; 32]);
        let node = hpc_node::start(
            hpc_node::Config {
                listen: "127.0.0.1:0".into(),
                api_key: NODE_KEY.into(),
                ..Default::default()
            },
            Box::new(hpc_node::backend::Deterministic),
            node_key.clone(),
        )
        .unwrap();
        self.net.allow_loopback_http(node.addr.to_string());
        let apply = ApplyNodeRequest {
            node: ApplyNodeArgs {
                operator_subaccount: None,
                endpoint: format!("http://{}/v1/infer", node.addr),
                public_key: ByteBuf::from(node_key.verifying_key().to_bytes().to_vec()),
                models: vec!["llama3.1:8b".into()],
                capacity: 4,
            },
            api_key: NODE_KEY.into(),
        };
        self.nodes.push(Some(node));
        let operator = principal(0x0B + u64::from(i));
        let (id,): (Result<u64, RegistryError>,) = self
            .net
            .update(self.proxy, operator, "apply_node", (apply,))
            .unwrap();
        let (admitted,): (Result<NodeRecord, RegistryError>,) = self
            .net
            .update(
                self.proxy,
                self.governance,
                "decide_node",
                (i as u64 + 1, id.unwrap(), NodeAction::Admit),
            )
            .unwrap();
        admitted.unwrap();
    }

    fn deposit(&mut self, amount: u128) -> Result<(), MoneyError> {
        let approve = ApproveArgs {
            from_subaccount: None,
            spender: account(self.proxy),
            amount: Nat::from(amount + PAYMENT_FEE),
            expected_allowance: None,
            expires_at: None,
            fee: None,
            memo: None,
            created_at_time: None,
        };
        let (approved,): (Result<Nat, ApproveError>,) = self
            .net
            .update(self.ledger, self.alice, "icrc2_approve", (approve,))
            .unwrap();
        approved.unwrap();
        let (r,): (Result<(), MoneyError>,) = self
            .net
            .update(self.proxy, self.alice, "deposit", (amount,))
            .unwrap();
        r
    }

    fn infer(&mut self, prompt: &str) -> Result<InferOk, InferError> {
        let args = InferArgs {
            model: 0,
            prompt: Some(prompt.into()),
            messages: None,
            max_tokens: 64,
            temperature: None,
            seed: Some(3),
        };
        let (r,): (Result<InferOk, InferError>,) = self
            .net
            .update(self.proxy, self.alice, "infer", (args,))
            .unwrap();
        r
    }

    fn user_balance(&mut self) -> UserBalance {
        let (b,): (UserBalance,) = self
            .net
            .query(self.proxy, self.alice, "balance_of", (self.alice,))
            .unwrap();
        b
    }

    fn proxy_audit(&mut self) -> ProxyAudit {
        let (r,): (Result<ProxyAudit, String>,) =
            self.net.update(self.proxy, admin(), "audit", ()).unwrap();
        r.unwrap()
    }

    fn ledger_balance(&mut self, who: Principal) -> u128 {
        let (b,): (Nat,) = self
            .net
            .query(self.ledger, who, "icrc1_balance_of", (account(who),))
            .unwrap();
        u128::try_from(&b.0).unwrap()
    }
}

#[test]
fn deposit_infer_flush_settle_and_claim_on_the_real_wasm() {
    let mut s = up();
    s.deposit(2_000_000).unwrap();
    assert_eq!(s.user_balance().available, 2_000_000);
    assert!(s.proxy_audit().agrees);

    let ok = s.infer("What does this ECG show?").unwrap();
    assert!(!ok.output.is_empty());
    let price = inference_proxy::metering::price_of(
        &Price {
            per_1k_input_tokens: 200_000,
            per_1k_output_tokens: 600_000,
        },
        ok.input_tokens,
        ok.output_tokens,
    )
    .unwrap();
    assert_eq!(ok.charged, price + 20_000);
    assert_eq!(
        s.user_balance(),
        UserBalance {
            available: 2_000_000 - ok.charged,
            held: 0
        }
    );
    assert!(s.proxy_audit().agrees);

    // Upgrade the proxy with an unsettled receipt: it survives and is flushed after.
    let upgrade: Option<ProxyArg> = Some(ProxyArg::Upgrade(None));
    s.net
        .upgrade_canister(
            s.proxy,
            &canister_wasm("inference-proxy"),
            Encode!(&upgrade).unwrap(),
            admin(),
        )
        .unwrap();
    let (flushed,): (FlushView,) = s.net.update(s.proxy, admin(), "flush", ()).unwrap();
    assert_eq!(
        (flushed.closed.len(), flushed.settled.len()),
        (1, 1),
        "{flushed:?}"
    );
    assert_eq!(s.ledger_balance(s.royalties), price);
    let audit = s.proxy_audit();
    assert!(audit.agrees, "{audit:?}");
    let (roy,): (Result<AuditReport, AuditError>,) =
        s.net.update(s.royalties, admin(), "audit", ()).unwrap();
    assert!(roy.unwrap().agrees);

    // The owner's part (owners 50% + the data part, as the model names no data owners) is claimable.
    let owner = s.owner;
    let (credited,): (StakeholderBalance,) = s
        .net
        .query(s.royalties, owner, "balance_of", (account(owner),))
        .unwrap();
    assert_eq!(credited.credited_total, price * 6_000 / 10_000);
    let (claim,): (Result<Payout, ClaimError>,) = s
        .net
        .update(
            s.royalties,
            owner,
            "claim",
            (ClaimArgs {
                from_subaccount: None,
                to: None,
            },),
        )
        .unwrap();
    let payout = claim.unwrap();
    assert!(matches!(payout.status, PayoutStatus::Completed { .. }));
    assert_eq!(s.ledger_balance(owner), credited.available - PAYMENT_FEE);
    let _ = s.governance;
}

#[test]
fn a_node_that_is_down_costs_the_user_nothing() {
    let mut s = up();
    s.deposit(1_000_000).unwrap();
    s.nodes[0].take().unwrap().shutdown();
    let err = s.infer("hello").unwrap_err();
    assert!(matches!(err, InferError::AllNodesFailed { .. }), "{err:?}");
    assert_eq!(
        s.user_balance(),
        UserBalance {
            available: 1_000_000,
            held: 0
        }
    );
    assert!(s.proxy_audit().agrees);
}

#[test]
fn bad_input_and_bad_callers_change_nothing() {
    let mut s = up();
    s.deposit(1_000_000).unwrap();
    let before = s.user_balance();
    let too_long = "x".repeat(16_385);
    assert!(matches!(s.infer(""), Err(InferError::InvalidInput { .. })));
    assert!(matches!(
        s.infer(&too_long),
        Err(InferError::InvalidInput { .. })
    ));
    let (r,): (Result<(), MoneyError>,) =
        s.net.update(s.proxy, s.alice, "deposit", (0u128,)).unwrap();
    assert_eq!(r, Err(MoneyError::ZeroAmount));
    let (r,): (Result<(), MoneyError>,) = s
        .net
        .update(
            s.proxy,
            s.alice,
            "withdraw",
            (
                50_000_000u128,
                None::<icrc_ledger_types::icrc1::account::Account>,
            ),
        )
        .unwrap();
    assert!(r.is_err());
    // Only royalties pushes models, only governance decides on nodes; anonymous ingress is dropped.
    let (r,): (Result<bool, inference_proxy::registry::RegistryError>,) = s
        .net
        .update(
            s.proxy,
            s.alice,
            "update_model",
            (ModelEntry {
                model: 0,
                base_model: "x".into(),
                price: Price {
                    per_1k_input_tokens: 0,
                    per_1k_output_tokens: 0,
                },
                status: ModelStatus::Active,
                version: 99,
            },),
        )
        .unwrap();
    assert!(r.is_err());
    let anonymous = s.net.update_call(
        s.proxy,
        Principal::anonymous(),
        "deposit",
        Encode!(&1u128).unwrap(),
    );
    assert_eq!(
        anonymous.unwrap_err().code,
        localnet::reject_code::CANISTER_REJECT
    );
    assert_eq!(s.user_balance(), before);
    assert!(s.proxy_audit().agrees);
}

#[test]
fn a_withdrawal_pays_out_on_the_ledger_once_and_the_books_follow() {
    let mut s = up();
    s.deposit(1_000_000).unwrap();
    let to = account(principal(0xA2));
    let (r,): (Result<(), MoneyError>,) = s
        .net
        .update(s.proxy, s.alice, "withdraw", (600_000u128, Some(to)))
        .unwrap();
    r.unwrap();
    // The recipient bears the ledger fee.
    assert_eq!(s.ledger_balance(to.owner), 600_000 - PAYMENT_FEE);
    assert_eq!(
        s.user_balance(),
        UserBalance {
            available: 400_000,
            held: 0
        }
    );
    let audit = s.proxy_audit();
    assert!(audit.agrees, "{audit:?}");
    assert_eq!(audit.ledger_balance, 400_000);
    // More than is left is refused and changes nothing.
    let (r,): (Result<(), MoneyError>,) = s
        .net
        .update(s.proxy, s.alice, "withdraw", (400_001u128, Some(to)))
        .unwrap();
    assert!(matches!(r, Err(MoneyError::Metering(_))), "{r:?}");
    assert_eq!(s.ledger_balance(to.owner), 600_000 - PAYMENT_FEE);
    assert!(s.proxy_audit().agrees);
}

#[test]
fn with_two_nodes_a_dead_one_is_failed_over_and_then_suspended() {
    let mut s = up_with_nodes(2);
    s.deposit(5_000_000).unwrap();
    s.nodes[0].take().unwrap().shutdown();
    // The proxy prefers healthy nodes, so the dead one is picked less and less often; every pick
    // fails over to the live node until three failures in a row suspend it.
    let mut charged = 0;
    let mut calls = 0;
    let suspended_after = loop {
        let ok = s.infer(&format!("question {calls}")).unwrap();
        assert_eq!(ok.node, 1, "only the live node answers");
        charged += ok.charged;
        calls += 1;
        let (nodes,): (Vec<NodeRecord>,) = s.net.query(s.proxy, s.alice, "nodes", ()).unwrap();
        if let NodeStatus::Suspended { by_proposal, .. } = &nodes[0].status {
            assert_eq!(*by_proposal, None, "suspended by the proxy itself");
            assert_eq!(nodes[0].stats.failures, 3);
            break calls;
        }
        assert!(
            calls < 200,
            "the dead node was never suspended: {:?}",
            nodes[0]
        );
    };
    for i in 0..5 {
        let ok = s.infer(&format!("after {i}")).unwrap();
        charged += ok.charged;
    }
    assert_eq!(
        s.user_balance(),
        UserBalance {
            available: 5_000_000 - charged,
            held: 0
        },
        "the dead node's attempts cost nothing"
    );
    let (nodes,): (Vec<NodeRecord>,) = s.net.query(s.proxy, s.alice, "nodes", ()).unwrap();
    assert_eq!(nodes[0].stats.failures, 3, "not tried once suspended");
    assert_eq!(nodes[1].stats.successes, suspended_after + 5);
    assert!(s.proxy_audit().agrees);
}

#[test]
fn while_royalties_is_unreachable_batches_wait_and_nothing_is_lost() {
    let mut s = up();
    s.deposit(2_000_000).unwrap();
    let mut total = 0;
    for i in 0..3 {
        let ok = s.infer(&format!("question {i}")).unwrap();
        total += ok.charged - 20_000;
    }
    s.net.stop_canister(s.royalties, admin()).unwrap();
    let (flushed,): (FlushView,) = s.net.update(s.proxy, admin(), "flush", ()).unwrap();
    assert_eq!(flushed.closed.len(), 1);
    assert!(flushed.settled.is_empty(), "{flushed:?}");
    // The funds are already with royalties' account on the ledger; the settlement waits.
    assert_eq!(s.ledger_balance(s.royalties), total);
    let audit = s.proxy_audit();
    assert!(audit.agrees, "{audit:?}");
    let (batch,): (Option<inference_proxy::metering::BatchRecord>,) = s
        .net
        .query(s.proxy, s.alice, "batch", (flushed.closed[0],))
        .unwrap();
    assert!(matches!(
        batch.unwrap().status,
        inference_proxy::metering::BatchStatus::Transferred { .. }
    ));
    s.net.start_canister(s.royalties, admin()).unwrap();
    // The proxy's timer retries by itself.
    s.net.advance_time(std::time::Duration::from_secs(3_600));
    for _ in 0..5 {
        s.net.tick();
    }
    let (batch,): (Option<inference_proxy::metering::BatchRecord>,) = s
        .net
        .query(s.proxy, s.alice, "batch", (flushed.closed[0],))
        .unwrap();
    assert_eq!(
        batch.unwrap().status,
        inference_proxy::metering::BatchStatus::Settled
    );
    let (roy,): (Result<AuditReport, AuditError>,) =
        s.net.update(s.royalties, admin(), "audit", ()).unwrap();
    let roy = roy.unwrap();
    assert!(roy.agrees, "{roy:?}");
    let owner = s.owner;
    let (credited,): (StakeholderBalance,) = s
        .net
        .query(s.royalties, owner, "balance_of", (account(owner),))
        .unwrap();
    // Owners 50% + the data part 10% (no data owners), credited once, exact to the last unit.
    assert!(
        total * 6 / 10 - credited.credited_total <= 1,
        "{credited:?}"
    );
    assert!(s.proxy_audit().agrees);
}

#[test]
fn an_upgrade_with_a_call_in_flight_releases_its_hold() {
    let mut s = up();
    s.deposit(1_000_000).unwrap();
    let args = InferArgs {
        model: 0,
        prompt: Some("cut short".into()),
        messages: None,
        max_tokens: 64,
        temperature: None,
        seed: None,
    };
    let call = s
        .net
        .submit_call(s.proxy, s.alice, "infer", Encode!(&args).unwrap())
        .unwrap();
    s.net.tick();
    assert_eq!(
        s.net.pending_http_requests().len(),
        1,
        "the outcall is in flight"
    );
    assert!(s.user_balance().held > 0);
    let upgrade: Option<ProxyArg> = Some(ProxyArg::Upgrade(None));
    s.net
        .upgrade_canister(
            s.proxy,
            &canister_wasm("inference-proxy"),
            Encode!(&upgrade).unwrap(),
            admin(),
        )
        .unwrap();
    assert_eq!(
        s.user_balance(),
        UserBalance {
            available: 1_000_000,
            held: 0
        },
        "the hold of the cut call is released, nothing charged"
    );
    // The node's late answer reaches no code; the caller learns the call did not complete.
    assert!(s.net.await_call(call).is_err());
    assert_eq!(s.user_balance().available, 1_000_000);
    let (unsettled,): (Vec<Receipt>,) = s
        .net
        .query(s.proxy, s.alice, "unsettled_receipts", (10u32,))
        .unwrap();
    assert!(unsettled.is_empty());
    assert!(s.proxy_audit().agrees);
    // And the proxy keeps working.
    s.infer("after the upgrade").unwrap();
}

#[test]
fn a_split_set_by_governance_reaches_the_proxy_and_stamps_later_receipts_only() {
    let mut s = up();
    s.deposit(2_000_000).unwrap();
    s.infer("before").unwrap();
    let split = SplitConfig {
        model_owners_bps: 4_000,
        data_owners_bps: 4_000,
        host_bps: 1_000,
        treasury_bps: 1_000,
    };
    let (r,): (Result<SplitVersion, SplitError>,) = s
        .net
        .update(
            s.royalties,
            s.governance,
            "set_split",
            (SetSplitArgs {
                proposal_id: 11,
                split,
            },),
        )
        .unwrap();
    assert_eq!(r, Ok(1));
    for _ in 0..3 {
        s.net.tick();
    }
    let (version,): (SplitVersion,) = s.net.query(s.proxy, s.alice, "split_version", ()).unwrap();
    assert_eq!(version, 1, "royalties pushed the new version");
    s.infer("after").unwrap();
    let (unsettled,): (Vec<Receipt>,) = s
        .net
        .query(s.proxy, s.alice, "unsettled_receipts", (10u32,))
        .unwrap();
    let versions: Vec<SplitVersion> = unsettled.iter().map(|r| r.split_version).collect();
    assert_eq!(versions, vec![0, 1]);
    // Only royalties may tell the proxy a version.
    let (r,): (Result<(), RegistryError>,) = s
        .net
        .update(s.proxy, s.governance, "set_split_version", (5u32,))
        .unwrap();
    assert!(r.is_err());
    let (flushed,): (FlushView,) = s.net.update(s.proxy, admin(), "flush", ()).unwrap();
    assert_eq!(flushed.settled.len(), 1, "{flushed:?}");
}
