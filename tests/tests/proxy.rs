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
use inference_proxy::registry::{ApplyNodeArgs, ModelEntry, NodeAction, RegistryError};
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
    node: Option<hpc_node::RunningNode>,
}

fn up() -> System {
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
    // The hpc-node, a real HTTP server on loopback with the deterministic backend.
    let node_key = SigningKey::from_bytes(&[5; 32]);
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
    net.allow_loopback_http(node.addr.to_string());
    let mut s = System {
        net,
        ledger,
        royalties,
        proxy,
        governance,
        owner,
        alice,
        node: Some(node),
    };
    // The model in royalties, and its copy in the proxy (pushed here as royalties would).
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
    let entry = ModelEntry {
        model,
        base_model: "llama3.1:8b".into(),
        price: args.price,
        status: ModelStatus::Active,
        version: 1,
    };
    let (pushed,): (Result<bool, inference_proxy::registry::RegistryError>,) = s
        .net
        .update(proxy, royalties, "update_model", (entry,))
        .unwrap();
    assert!(pushed.unwrap());
    // The operator applies; governance admits.
    let apply = ApplyNodeRequest {
        node: ApplyNodeArgs {
            operator_subaccount: None,
            endpoint: format!("http://{}/v1/infer", s.node.as_ref().unwrap().addr),
            public_key: ByteBuf::from(node_key.verifying_key().to_bytes().to_vec()),
            models: vec!["llama3.1:8b".into()],
            capacity: 4,
        },
        api_key: NODE_KEY.into(),
    };
    let operator = principal(0x0B);
    let (id,): (Result<u64, inference_proxy::registry::RegistryError>,) = s
        .net
        .update(proxy, operator, "apply_node", (apply,))
        .unwrap();
    let (admitted,): (
        Result<inference_proxy::registry::NodeRecord, inference_proxy::registry::RegistryError>,
    ) = s
        .net
        .update(
            proxy,
            governance,
            "decide_node",
            (1u64, id.unwrap(), NodeAction::Admit),
        )
        .unwrap();
    admitted.unwrap();
    s
}

impl System {
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
    s.node.take().unwrap().shutdown();
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
