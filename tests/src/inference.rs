//! The paid inference path on the deployed system: hpc-nodes, users' balances in the proxy, infer,
//! flush.

use crate::*;
use candid::{Encode, Nat, Principal};
use icrc_ledger_types::icrc1::account::Account;
use localnet::{CallReport, Reject};
use neuranft_types::governance::{Action, ProposalStatus};
use neuranft_types::proxy::MoneyError;
use neuranft_types::proxy::UserBalance;
use neuranft_types::proxy::{ApplyNodeArgs, NodeId};
use neuranft_types::proxy::{ApplyNodeRequest, FlushView, ProxyArg, ProxyAudit};
use neuranft_types::proxy::{InferArgs, InferError, InferOk};

impl NeuraNft {
    /// Starts hpc-node number `i` (a real HTTP server on loopback, deterministic backend, Ed25519 key
    /// from `i`); its operator `operator` applies and a proposal the founder's neuron adopts admits it.
    pub fn add_node(&mut self, i: u8, operator: Principal) -> NodeId {
        let (node, node_key) = self.start_node(i);
        let apply = ApplyNodeRequest {
            node: ApplyNodeArgs {
                operator_subaccount: None,
                endpoint: format!("http://{}/v1/infer", node.addr),
                public_key: serde_bytes::ByteBuf::from(
                    node_key.verifying_key().to_bytes().to_vec(),
                ),
                models: vec!["llama3.1:8b".into()],
                capacity: 4,
            },
            api_key: NODE_API_KEY.into(),
        };
        self.nodes.push(Some(node));
        let (r, _) = self.call(self.proxy, operator, "apply_node", (apply,));
        let (id,): (Result<NodeId, neuranft_types::proxy::RegistryError>,) =
            r.expect("apply_node answers");
        let id = id.expect("the application is valid");
        let info = self.adopt(&format!("Admit node {id}"), Action::AdmitNode { node: id });
        assert_eq!(info.status, ProposalStatus::Executed, "{info:?}");
        id
    }

    /// Starts hpc-node number `i` on loopback (deterministic backend, Ed25519 key from `i`, bearer
    /// key [`NODE_API_KEY`]) and lets localnet make outcalls to it; nobody has applied for it yet.
    pub fn start_node(&mut self, i: u8) -> (hpc_node::RunningNode, ed25519_dalek::SigningKey) {
        let node_key = ed25519_dalek::SigningKey::from_bytes(&[5 + i; 32]);
        let node = hpc_node::start(
            hpc_node::Config {
                listen: "127.0.0.1:0".into(),
                api_key: NODE_API_KEY.into(),
                log: false,
                ..Default::default()
            },
            Box::new(hpc_node::backend::Deterministic),
            node_key.clone(),
        )
        .expect("the hpc-node starts");
        self.net.allow_loopback_http(node.addr.to_string());
        (node, node_key)
    }

    /// Stops hpc-node number `i`: calls to it fail from now on.
    pub fn shut_down_node(&mut self, i: usize) {
        if let Some(node) = self.nodes[i].take() {
            node.shutdown();
        }
    }

    /// `user` approves the proxy and deposits `amount` (the user pays both ledger fees).
    pub fn deposit(
        &mut self,
        user: Principal,
        amount: u128,
    ) -> (Result<(), MoneyError>, CallReport) {
        let approve = icrc_ledger_types::icrc2::approve::ApproveArgs {
            from_subaccount: None,
            spender: account(self.proxy),
            amount: Nat::from(amount + PAYMENT_FEE),
            expected_allowance: None,
            expires_at: None,
            fee: None,
            memo: None,
            created_at_time: None,
        };
        let (r, _) = self.call(self.payment_ledger, user, "icrc2_approve", (approve,));
        let (approved,): (Result<Nat, icrc_ledger_types::icrc2::approve::ApproveError>,) =
            r.expect("icrc2_approve answers");
        approved.expect("the user can pay the approval fee");
        let (r, report) = self.call(self.proxy, user, "deposit", (amount,));
        let (result,): (Result<(), MoneyError>,) = r.expect("deposit answers");
        (result, report)
    }

    pub fn withdraw(
        &mut self,
        user: Principal,
        amount: u128,
        to: Option<Account>,
    ) -> Result<(), MoneyError> {
        let (r, _) = self.call(self.proxy, user, "withdraw", (amount, to));
        let (result,): (Result<(), MoneyError>,) = r.expect("withdraw answers");
        result
    }

    pub fn infer(
        &mut self,
        user: Principal,
        args: InferArgs,
    ) -> (Result<InferOk, InferError>, CallReport) {
        let (r, report) = self.call(self.proxy, user, "infer", (args,));
        let (result,): (Result<InferOk, InferError>,) = r.expect("infer answers");
        (result, report)
    }

    /// What the flush timer does, now.
    pub fn flush(&mut self) -> (FlushView, CallReport) {
        let (r, report) = self.call(self.proxy, admin(), "flush", ());
        let (view,): (FlushView,) = r.expect("flush answers");
        (view, report)
    }

    pub fn user_balance(&mut self, user: Principal) -> UserBalance {
        let (b,): (UserBalance,) = self
            .net
            .query(self.proxy, user, "balance_of", (user,))
            .expect("balance_of answers");
        b
    }

    pub fn proxy_audit(&mut self) -> ProxyAudit {
        let (r, _) = self.call(self.proxy, admin(), "audit", ());
        let (result,): (Result<ProxyAudit, neuranft_types::proxy::ProxyAuditError>,) =
            r.expect("audit answers");
        result.expect("the ledger answers the audit")
    }

    pub fn upgrade_proxy(&mut self) -> Result<CallReport, Reject> {
        let arg: Option<ProxyArg> = Some(ProxyArg::Upgrade(None));
        self.net.upgrade_canister(
            self.proxy,
            &canister_wasm("inference-proxy"),
            Encode!(&arg).unwrap(),
            admin(),
        )
    }
}
