//! The proxy's view of models and nodes.
//!
//! Models: a versioned copy of each model's price and status, pushed by royalties (a push with an
//! older version than the copy is ignored), so that no inference needs a call to royalties.
//! Nodes: operators apply; only governance admits, suspends or removes, once per proposal id. The
//! proxy tracks each node's successes, failures and latency, suspends a node by itself after a run of
//! failures (saying why), and picks nodes weighted by health and free capacity.
//!
//! Every call reads every node (to pick one) and updates one, so the nodes are also kept decoded on the
//! heap (rebuilt from stable memory when the registry opens), a success writes only the node's 28-byte
//! counters, and the calls in flight live on the heap only: they end with the message that started
//! them, so none survives an upgrade.

use crate::memory::*;
use candid::Principal;
use ic_stable_structures::memory_manager::{MemoryManager, VirtualMemory};
use ic_stable_structures::{DefaultMemoryImpl, StableBTreeMap, StableCell};
use neuranft_types::applied::{payload_hash, Applied, AppliedProposals};
pub use neuranft_types::royalties::ModelEntry;
use neuranft_types::royalties::ModelId;
#[cfg(test)]
use neuranft_types::royalties::{ModelStatus, Price};
use neuranft_types::storable::Candid;
use neuranft_types::Account;
use std::collections::BTreeMap;

type Mem = VirtualMemory<DefaultMemoryImpl>;
pub use neuranft_types::proxy::{
    ApplyNodeArgs, NodeAction, NodeId, NodeRecord, NodeStats, NodeStatus, ProposalId, RegistryError,
};

/// The longest endpoint URL and the most models a node may list.
pub const MAX_ENDPOINT_LEN: usize = 256;
pub const MAX_NODE_MODELS: usize = 32;
/// Nodes the registry keeps (all but removed ones): `pick_node` and `nodes` walk them, and an upgrade
/// decodes them all.
pub const MAX_NODES: usize = 1_000;
/// Applications one principal may have waiting for a decision at once.
pub const MAX_PENDING_APPLICATIONS: usize = 3;

fn invalid(field: &str, reason: impl Into<String>) -> RegistryError {
    RegistryError::InvalidArgument {
        field: field.into(),
        reason: reason.into(),
    }
}

pub struct Registry {
    models: StableBTreeMap<ModelId, Candid<ModelEntry>, Mem>,
    /// Each node's record; its call counters are those of `counters`, written on every call.
    nodes: StableBTreeMap<NodeId, Candid<NodeRecord>, Mem>,
    counters: StableBTreeMap<NodeId, [u8; COUNTERS_BYTES], Mem>,
    /// Ids applied before payloads were recorded: answered as done, as they were then.
    legacy_proposals: StableBTreeMap<ProposalId, (), Mem>,
    proposals: AppliedProposals<Mem>,
    next_node: StableCell<u64, Mem>,
    /// Every node as [`Registry::node`] returns it, with its calls in flight.
    decoded: BTreeMap<NodeId, NodeRecord>,
}

const COUNTERS_BYTES: usize = 28;

/// successes, failures, total latency (u64 each) and consecutive failures (u32), big-endian.
fn encode_counters(stats: &NodeStats) -> [u8; COUNTERS_BYTES] {
    let mut out = [0u8; COUNTERS_BYTES];
    out[0..8].copy_from_slice(&stats.successes.to_be_bytes());
    out[8..16].copy_from_slice(&stats.failures.to_be_bytes());
    out[16..24].copy_from_slice(&stats.total_latency_ms.to_be_bytes());
    out[24..28].copy_from_slice(&stats.consecutive_failures.to_be_bytes());
    out
}

fn apply_counters(stats: &mut NodeStats, bytes: &[u8; COUNTERS_BYTES]) {
    let u64_at = |i: usize| u64::from_be_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
    stats.successes = u64_at(0);
    stats.failures = u64_at(8);
    stats.total_latency_ms = u64_at(16);
    stats.consecutive_failures = u32::from_be_bytes(bytes[24..28].try_into().expect("4 bytes"));
}

impl Registry {
    /// Opens the registry in `mm` (its ids in [`crate::memory`]).
    pub fn init(mm: &MemoryManager<DefaultMemoryImpl>) -> Self {
        let mut registry = Self {
            models: StableBTreeMap::init(mm.get(MODELS_MEMORY_ID)),
            nodes: StableBTreeMap::init(mm.get(NODES_MEMORY_ID)),
            counters: StableBTreeMap::init(mm.get(REGISTRY_COUNTERS_MEMORY_ID)),
            legacy_proposals: StableBTreeMap::init(mm.get(EXECUTED_PROPOSALS_MEMORY_ID)),
            proposals: AppliedProposals::init(mm.get(PROPOSAL_PAYLOADS_MEMORY_ID)),
            next_node: StableCell::init(mm.get(NEXT_NODE_MEMORY_ID), 0),
            decoded: BTreeMap::new(),
        };
        for (id, record) in registry.nodes.iter().map(|e| e.into_pair()) {
            let mut record = record.0;
            // Calls in flight ended with the messages that made them (an upgrade drops them).
            record.stats.in_flight = 0;
            if let Some(bytes) = registry.counters.get(&id) {
                apply_counters(&mut record.stats, &bytes);
            }
            registry.decoded.insert(id, record);
        }
        registry
    }

    /// Writes the node's record and counters.
    fn store(&mut self, record: NodeRecord) {
        self.nodes.insert(record.id, Candid(record.clone()));
        self.counters
            .insert(record.id, encode_counters(&record.stats));
        self.decoded.insert(record.id, record);
    }

    /// Applies a model push from royalties; an older or equal version changes nothing. Returns
    /// whether the copy changed.
    pub fn upsert_model(&mut self, entry: ModelEntry) -> bool {
        match self.models.get(&entry.model) {
            Some(current) if current.0.version >= entry.version => false,
            _ => {
                self.models.insert(entry.model, Candid(entry));
                true
            }
        }
    }

    pub fn model(&self, id: ModelId) -> Option<ModelEntry> {
        self.models.get(&id).map(|c| c.0)
    }

    pub fn apply_node(
        &mut self,
        caller: Principal,
        args: ApplyNodeArgs,
    ) -> Result<NodeId, RegistryError> {
        if caller == Principal::anonymous() {
            return Err(RegistryError::AnonymousCaller);
        }
        let local = args.endpoint.starts_with("http://127.0.0.1:")
            || args.endpoint.starts_with("http://localhost:");
        if !(args.endpoint.starts_with("https://") || local)
            || args.endpoint.len() > MAX_ENDPOINT_LEN
        {
            return Err(invalid(
                "endpoint",
                format!("an https:// URL of at most {MAX_ENDPOINT_LEN} bytes"),
            ));
        }
        let public_key: [u8; 32] = args
            .public_key
            .as_slice()
            .try_into()
            .map_err(|_| invalid("public_key", "an Ed25519 public key is 32 bytes"))?;
        if ed25519_dalek::VerifyingKey::from_bytes(&public_key).is_err() {
            return Err(invalid("public_key", "not a valid Ed25519 point"));
        }
        if args.models.is_empty()
            || args.models.len() > MAX_NODE_MODELS
            || args.models.iter().any(|m| m.is_empty() || m.len() > 64)
        {
            return Err(invalid(
                "models",
                format!("1–{MAX_NODE_MODELS} model names of 1–64 bytes"),
            ));
        }
        if args.capacity == 0 || args.capacity > 10_000 {
            return Err(invalid("capacity", "1–10,000 calls at once"));
        }
        let kept = self
            .decoded
            .values()
            .filter(|n| n.status != NodeStatus::Removed);
        let (mut kept_count, mut pending) = (0, 0);
        for n in kept {
            kept_count += 1;
            pending += usize::from(n.status == NodeStatus::Applied && n.operator.owner == caller);
        }
        if kept_count >= MAX_NODES || pending >= MAX_PENDING_APPLICATIONS {
            return Err(RegistryError::TooManyNodes {
                max_nodes: MAX_NODES as u32,
                max_pending_per_principal: MAX_PENDING_APPLICATIONS as u32,
            });
        }
        let id = *self.next_node.get();
        self.next_node.set(id + 1);
        self.store(NodeRecord {
            id,
            operator: Account {
                owner: caller,
                subaccount: args.operator_subaccount,
            },
            endpoint: args.endpoint,
            public_key,
            models: args.models,
            capacity: args.capacity,
            status: NodeStatus::Applied,
            stats: NodeStats::default(),
        });
        Ok(id)
    }

    pub fn node(&self, id: NodeId) -> Option<NodeRecord> {
        self.decoded.get(&id).cloned()
    }

    pub fn nodes(&self) -> Vec<NodeRecord> {
        self.decoded.values().cloned().collect()
    }

    /// Governance's decision on a node, at most once per (caller, proposal id).
    pub fn decide_node(
        &mut self,
        caller: Principal,
        proposal: ProposalId,
        node: NodeId,
        action: NodeAction,
    ) -> Result<NodeRecord, RegistryError> {
        let payload = payload_hash("decide_node", &(node, action));
        self.check_proposal(caller, proposal, &payload)?;
        let mut record = self.node(node).ok_or(RegistryError::UnknownNode { node })?;
        if record.status == NodeStatus::Removed {
            return Err(RegistryError::NodeRemoved { node });
        }
        record.status = match action {
            NodeAction::Admit => {
                record.stats.consecutive_failures = 0;
                NodeStatus::Active
            }
            NodeAction::Suspend => NodeStatus::Suspended {
                reason: "suspended by governance".into(),
                by_proposal: Some(proposal),
            },
            NodeAction::Remove => NodeStatus::Removed,
        };
        self.store(record.clone());
        self.proposals.record(caller, proposal, payload);
        Ok(record)
    }

    /// Refuses `caller`'s `proposal` if it took effect here: with this `payload` it is done
    /// (`ProposalAlreadyExecuted`), with another a conflict (`ProposalConflict`).
    pub fn check_proposal(
        &self,
        caller: Principal,
        proposal: ProposalId,
        payload: &[u8; 32],
    ) -> Result<(), RegistryError> {
        match self.proposals.check(caller, proposal, payload) {
            Applied::New if !self.legacy_proposals.contains_key(&proposal) => Ok(()),
            Applied::New | Applied::Replay => {
                Err(RegistryError::ProposalAlreadyExecuted { proposal })
            }
            Applied::Conflict => Err(RegistryError::ProposalConflict { proposal }),
        }
    }

    /// Checks and records that `caller`'s `proposal` took effect here with `payload` (its effect is
    /// applied by the caller right after, in the same message).
    pub fn record_proposal(
        &mut self,
        caller: Principal,
        proposal: ProposalId,
        payload: [u8; 32],
    ) -> Result<(), RegistryError> {
        self.check_proposal(caller, proposal, &payload)?;
        self.proposals.record(caller, proposal, payload);
        Ok(())
    }

    /// A call whose answer the proxy never handled (its callback trapped): no longer in flight, and
    /// neither a success nor the node's failure.
    pub fn call_abandoned(&mut self, id: NodeId) {
        if let Some(record) = self.decoded.get_mut(&id) {
            record.stats.in_flight = record.stats.in_flight.saturating_sub(1);
        }
    }

    pub fn call_started(&mut self, id: NodeId) {
        if let Some(record) = self.decoded.get_mut(&id) {
            record.stats.in_flight += 1;
        }
    }

    /// Updates the node in place and writes only its counters (its record is unchanged).
    pub fn record_success(&mut self, id: NodeId, latency_ms: u64) {
        let Some(n) = self.decoded.get_mut(&id) else {
            return;
        };
        n.stats.in_flight = n.stats.in_flight.saturating_sub(1);
        n.stats.successes += 1;
        n.stats.consecutive_failures = 0;
        n.stats.total_latency_ms += latency_ms;
        self.counters.insert(id, encode_counters(&n.stats));
    }

    /// Records a failed call; after `suspend_after` failures in a row an active node is suspended.
    pub fn record_failure(&mut self, id: NodeId, reason: &str, suspend_after: u32) {
        let Some(mut record) = self.node(id) else {
            return;
        };
        let stats = &mut record.stats;
        stats.in_flight = stats.in_flight.saturating_sub(1);
        stats.failures += 1;
        stats.consecutive_failures += 1;
        stats.last_failure = Some(reason.chars().take(200).collect());
        if record.status == NodeStatus::Active && stats.consecutive_failures >= suspend_after {
            record.status = NodeStatus::Suspended {
                reason: format!(
                    "suspended by the proxy after {} failures in a row; last: {}",
                    stats.consecutive_failures,
                    stats.last_failure.as_deref().unwrap_or("")
                ),
                by_proposal: None,
            };
        }
        self.store(record);
    }

    /// An active node serving `base_model`, not in `exclude`, with free capacity, chosen with
    /// probability proportional to `free capacity × (successes + 1) / (calls + 2)`; `entropy` makes the
    /// choice (the canister derives it from its randomness). `None` when no node qualifies.
    pub fn pick_node(
        &self,
        base_model: &str,
        exclude: &[NodeId],
        entropy: u64,
    ) -> Option<NodeRecord> {
        let candidates: Vec<(&NodeRecord, u128)> = self
            .decoded
            .values()
            .filter(|n| {
                n.status == NodeStatus::Active
                    && n.models.iter().any(|m| m == base_model)
                    && !exclude.contains(&n.id)
                    && n.stats.in_flight < n.capacity
            })
            .map(|n| {
                let free = (n.capacity - n.stats.in_flight) as u128;
                let calls = (n.stats.successes + n.stats.failures) as u128;
                // Weights in millionths keep the health ratio exact enough without floats.
                let health = (n.stats.successes as u128 + 1) * 1_000_000 / (calls + 2);
                (n, free * health.max(1))
            })
            .collect();
        let total: u128 = candidates.iter().map(|(_, w)| w).sum();
        if total == 0 {
            return None;
        }
        let mut point = entropy as u128 % total;
        for (node, weight) in candidates {
            if point < weight {
                return Some(node.clone());
            }
            point -= weight;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOVERNANCE: Principal = Principal::from_slice(&[0x30; 10]);

    fn registry() -> Registry {
        let mm = MemoryManager::init_with_bucket_size(DefaultMemoryImpl::default(), 1);
        Registry::init(&mm)
    }

    fn key(n: u8) -> serde_bytes::ByteBuf {
        let signing = ed25519_dalek::SigningKey::from_bytes(&[n; 32]);
        serde_bytes::ByteBuf::from(signing.verifying_key().to_bytes().to_vec())
    }

    fn apply(r: &mut Registry, n: u8, capacity: u32) -> NodeId {
        r.apply_node(
            Principal::from_slice(&[n; 29]),
            ApplyNodeArgs {
                operator_subaccount: None,
                endpoint: format!("https://node{n}.example/v1/infer"),
                public_key: key(n),
                models: vec!["llama3.1:8b".into()],
                capacity,
            },
        )
        .unwrap()
    }

    #[test]
    fn counters_survive_reopening_and_calls_in_flight_do_not() {
        let mm = MemoryManager::init_with_bucket_size(DefaultMemoryImpl::default(), 1);
        let mut r = Registry::init(&mm);
        let a = apply(&mut r, 1, 1);
        r.decide_node(GOVERNANCE, 1, a, NodeAction::Admit).unwrap();
        r.call_started(a);
        r.record_success(a, 40);
        r.call_started(a);
        r.record_failure(a, "timeout", 3);
        r.call_started(a);
        assert_eq!(r.pick_node("llama3.1:8b", &[], 0), None, "full");
        let before = r.node(a).unwrap();
        assert_eq!(
            (
                before.stats.successes,
                before.stats.failures,
                before.stats.in_flight
            ),
            (1, 1, 1)
        );
        // An upgrade: the call in flight ended with the old code; everything else is as it was.
        let reopened = Registry::init(&mm);
        let after = reopened.node(a).unwrap();
        assert_eq!(
            after,
            NodeRecord {
                stats: NodeStats {
                    in_flight: 0,
                    ..before.stats
                },
                ..before
            }
        );
        assert_eq!(after.stats.total_latency_ms, 40);
        assert_eq!(after.stats.consecutive_failures, 1);
        assert_eq!(after.stats.last_failure.as_deref(), Some("timeout"));
        assert_eq!(reopened.pick_node("llama3.1:8b", &[], 0).unwrap().id, a);
    }

    #[test]
    fn nodes_are_admitted_only_by_governance_once_per_proposal() {
        let mut r = registry();
        let a = apply(&mut r, 1, 4);
        assert_eq!(
            r.pick_node("llama3.1:8b", &[], 0),
            None,
            "applied is not active"
        );
        r.decide_node(GOVERNANCE, 7, a, NodeAction::Admit).unwrap();
        assert_eq!(
            r.decide_node(GOVERNANCE, 7, a, NodeAction::Admit),
            Err(RegistryError::ProposalAlreadyExecuted { proposal: 7 }),
            "a replay is done"
        );
        // Before payloads were bound, this answered "already executed" and the node stayed active
        // while governance showed the removal Executed.
        assert_eq!(
            r.decide_node(GOVERNANCE, 7, a, NodeAction::Remove),
            Err(RegistryError::ProposalConflict { proposal: 7 })
        );
        let b = apply(&mut r, 2, 4);
        assert_eq!(
            r.decide_node(GOVERNANCE, 7, b, NodeAction::Admit),
            Err(RegistryError::ProposalConflict { proposal: 7 }),
            "the node is part of the payload"
        );
        assert_eq!(r.node(b).unwrap().status, NodeStatus::Applied);
        assert_eq!(r.pick_node("llama3.1:8b", &[], 0).unwrap().id, a);
        assert_eq!(r.pick_node("llama3.1:70b", &[], 0), None);
        r.decide_node(GOVERNANCE, 8, a, NodeAction::Remove).unwrap();
        assert_eq!(
            r.decide_node(GOVERNANCE, 9, a, NodeAction::Admit),
            Err(RegistryError::NodeRemoved { node: a })
        );
        assert_eq!(
            r.decide_node(GOVERNANCE, 10, 99, NodeAction::Admit),
            Err(RegistryError::UnknownNode { node: 99 })
        );
    }

    #[test]
    fn bad_applications_are_typed_errors() {
        let mut r = registry();
        let good = ApplyNodeArgs {
            operator_subaccount: None,
            endpoint: "https://n.example/v1/infer".into(),
            public_key: key(1),
            models: vec!["llama3.1:8b".into()],
            capacity: 2,
        };
        let who = Principal::from_slice(&[1; 29]);
        assert_eq!(
            r.apply_node(Principal::anonymous(), good.clone()),
            Err(RegistryError::AnonymousCaller)
        );
        let cases = [
            (
                "endpoint",
                ApplyNodeArgs {
                    endpoint: "ftp://x".into(),
                    ..good.clone()
                },
            ),
            (
                "public_key",
                ApplyNodeArgs {
                    public_key: serde_bytes::ByteBuf::from(vec![1; 31]),
                    ..good.clone()
                },
            ),
            (
                "models",
                ApplyNodeArgs {
                    models: vec![],
                    ..good.clone()
                },
            ),
            (
                "capacity",
                ApplyNodeArgs {
                    capacity: 0,
                    ..good.clone()
                },
            ),
        ];
        for (field, args) in cases {
            assert!(
                matches!(r.apply_node(who, args), Err(RegistryError::InvalidArgument { field: f, .. }) if f == field),
                "{field}"
            );
        }
        assert!(r.nodes().is_empty());
    }

    /// One principal cannot fill the registry: three applications wait at most; once one is decided,
    /// another may come.
    #[test]
    fn applications_are_bounded_per_principal() {
        let mut r = registry();
        let who = Principal::from_slice(&[1; 29]);
        let args = |n: u8| ApplyNodeArgs {
            operator_subaccount: None,
            endpoint: "https://n.example/v1/infer".into(),
            public_key: key(n),
            models: vec!["llama3.1:8b".into()],
            capacity: 2,
        };
        let ids: Vec<NodeId> = (0..3)
            .map(|n| r.apply_node(who, args(n)).unwrap())
            .collect();
        let full = Err(RegistryError::TooManyNodes {
            max_nodes: MAX_NODES as u32,
            max_pending_per_principal: MAX_PENDING_APPLICATIONS as u32,
        });
        assert_eq!(r.apply_node(who, args(4)), full);
        assert_eq!(r.nodes().len(), 3);
        let other = Principal::from_slice(&[2; 29]);
        assert!(
            r.apply_node(other, args(5)).is_ok(),
            "others may still apply"
        );
        r.decide_node(GOVERNANCE, 1, ids[0], NodeAction::Remove)
            .unwrap();
        assert!(r.apply_node(who, args(6)).is_ok());
    }

    #[test]
    fn a_run_of_failures_suspends_a_node_and_picking_avoids_it() {
        let mut r = registry();
        let a = apply(&mut r, 1, 4);
        let b = apply(&mut r, 2, 4);
        r.decide_node(GOVERNANCE, 1, a, NodeAction::Admit).unwrap();
        r.decide_node(GOVERNANCE, 2, b, NodeAction::Admit).unwrap();
        for _ in 0..3 {
            r.call_started(a);
            r.record_failure(a, "connection refused", 3);
        }
        match r.node(a).unwrap().status {
            NodeStatus::Suspended {
                reason,
                by_proposal: None,
            } => assert!(reason.contains("connection refused")),
            other => panic!("{other:?}"),
        }
        for entropy in 0..50 {
            assert_eq!(r.pick_node("llama3.1:8b", &[], entropy).unwrap().id, b);
        }
        assert_eq!(
            r.pick_node("llama3.1:8b", &[b], 0),
            None,
            "failover excludes tried nodes"
        );
        // A full node is not picked.
        for _ in 0..4 {
            r.call_started(b);
        }
        assert_eq!(r.pick_node("llama3.1:8b", &[], 0), None);
    }

    #[test]
    fn healthier_nodes_are_picked_more_often() {
        let mut r = registry();
        let a = apply(&mut r, 1, 10);
        let b = apply(&mut r, 2, 10);
        r.decide_node(GOVERNANCE, 1, a, NodeAction::Admit).unwrap();
        r.decide_node(GOVERNANCE, 2, b, NodeAction::Admit).unwrap();
        for _ in 0..9 {
            r.call_started(a);
            r.record_success(a, 100);
            r.call_started(b);
            r.record_failure(b, "timeout", 100);
        }
        let picks_a = (0..1_000u64)
            .filter(|e| {
                r.pick_node("llama3.1:8b", &[], e.wrapping_mul(0x9E37_79B9_7F4A_7C15))
                    .unwrap()
                    .id
                    == a
            })
            .count();
        assert!(picks_a > 800, "{picks_a} of 1,000");
    }

    #[test]
    fn model_pushes_apply_only_newer_versions() {
        let mut r = registry();
        let entry = |version, status| ModelEntry {
            model: 3,
            base_model: "llama3.1:8b".into(),
            price: Price {
                per_1k_input_tokens: 1,
                per_1k_output_tokens: 2,
            },
            status,
            version,
        };
        assert!(r.upsert_model(entry(2, ModelStatus::Active)));
        assert!(!r.upsert_model(entry(1, ModelStatus::Paused)));
        assert!(!r.upsert_model(entry(2, ModelStatus::Paused)));
        assert_eq!(r.model(3).unwrap().status, ModelStatus::Active);
        assert!(r.upsert_model(entry(3, ModelStatus::Paused)));
        assert_eq!(r.model(3).unwrap().status, ModelStatus::Paused);
    }
}
