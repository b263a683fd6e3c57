//! What the inference tests share: a configured proxy and a signing stand-in for nodes.

use crate::infer::NodeTransport;
use crate::registry::{ApplyNodeArgs, ModelEntry, NodeAction, NodeId, NodeRecord};
use crate::state::{ProxyConfig, ProxyState};
use candid::Principal;
use ed25519_dalek::{Signer, SigningKey};
use hpc_node::Backend;
use ic_stable_structures::DefaultMemoryImpl;
use neuranft_types::node::{signed_usage_message, InferRequest, InferResponse};
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
        let message = signed_usage_message(
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
pub fn add_node(s: &mut ProxyState, nodes_keys: &mut HashMap<NodeId, SigningKey>, i: u8) -> NodeId {
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
        .decide_node(s.config().governance, 100 + i as u64, id, NodeAction::Admit)
        .unwrap();
    nodes_keys.insert(id, key);
    id
}

pub const PRICE: Price = Price {
    per_1k_input_tokens: 2_000,
    per_1k_output_tokens: 6_000,
};

pub fn add_models(s: &mut ProxyState) {
    for (model, status) in [
        (0, ModelStatus::Active),
        (1, ModelStatus::Paused),
        (2, ModelStatus::Suspended),
        (3, ModelStatus::Delisted),
    ] {
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
