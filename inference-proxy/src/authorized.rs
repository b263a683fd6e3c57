//! What other canisters and node operators ask of the proxy, each caller checked here, in the state
//! machine, so that native tests can play every wrong caller: only royalties pushes models and split
//! versions, only governance decides nodes and sets the call fee.

use crate::state::ProxyState;
use candid::Principal;
use neuranft_types::proxy::{
    ApplyNodeRequest, NodeAction, NodeId, NodeRecord, ProposalId, ProxyLimits, RegistryError,
};
use neuranft_types::royalties::{ModelEntry, SplitVersion};

/// The bearer key a node expects from the proxy, in bytes.
pub const API_KEY_BYTES: std::ops::RangeInclusive<usize> = 16..=128;

impl ProxyState {
    fn check_royalties(&self, caller: Principal) -> Result<(), RegistryError> {
        if caller != self.config().royalties {
            return Err(RegistryError::NotRoyalties);
        }
        Ok(())
    }

    fn check_governance(&self, caller: Principal) -> Result<(), RegistryError> {
        if caller != self.config().governance {
            return Err(RegistryError::NotGovernance);
        }
        Ok(())
    }

    /// Royalties' push of a model's price and status; `true` when it changed the registry.
    pub fn update_model_from(
        &mut self,
        caller: Principal,
        entry: ModelEntry,
    ) -> Result<bool, RegistryError> {
        self.check_royalties(caller)?;
        Ok(self.registry.upsert_model(entry))
    }

    /// Royalties tells the proxy the split version to stamp on receipts (newer only).
    pub fn set_split_version_from(
        &mut self,
        caller: Principal,
        version: SplitVersion,
    ) -> Result<(), RegistryError> {
        self.check_royalties(caller)?;
        self.set_split_version(version);
        Ok(())
    }

    /// An operator applies to host models; governance admits the node by proposal.
    pub fn apply_node_from(
        &mut self,
        caller: Principal,
        request: ApplyNodeRequest,
    ) -> Result<NodeId, RegistryError> {
        if !API_KEY_BYTES.contains(&request.api_key.len()) {
            return Err(RegistryError::InvalidArgument {
                field: "api_key".into(),
                reason: "16–128 bytes".into(),
            });
        }
        let id = self.registry.apply_node(caller, request.node)?;
        self.set_node_api_key(id, request.api_key);
        Ok(id)
    }

    /// Governance's adopted proposal admits, suspends or removes a node.
    pub fn decide_node_from(
        &mut self,
        caller: Principal,
        proposal: ProposalId,
        node: NodeId,
        action: NodeAction,
    ) -> Result<NodeRecord, RegistryError> {
        self.check_governance(caller)?;
        self.registry.decide_node(caller, proposal, node, action)
    }

    /// Governance's adopted proposal (a generic function's call) sets the limits; `true` when the
    /// flush interval changed (the canister restarts its timer).
    pub fn set_limits_from(
        &mut self,
        caller: Principal,
        limits: ProxyLimits,
    ) -> Result<bool, RegistryError> {
        self.check_governance(caller)?;
        let before = self.config();
        let config =
            before
                .with_limits(&limits)
                .map_err(|reason| RegistryError::InvalidArgument {
                    field: "limits".into(),
                    reason,
                })?;
        let interval_changed = config.flush_interval_seconds != before.flush_interval_seconds;
        self.set_config(config);
        Ok(interval_changed)
    }

    /// Governance's adopted `SetProxyLimits` proposal, once per proposal id and bound to its limits
    /// (like the call fee): a retry of a proposal that applied is answered as done and changes
    /// nothing, so it cannot put back older limits after a later proposal's. Returns whether the
    /// flush interval changed.
    pub fn set_limits_by_proposal(
        &mut self,
        caller: Principal,
        proposal: ProposalId,
        limits: ProxyLimits,
    ) -> Result<bool, RegistryError> {
        self.check_governance(caller)?;
        self.config()
            .with_limits(&limits)
            .map_err(|reason| RegistryError::InvalidArgument {
                field: "limits".into(),
                reason,
            })?;
        let payload = neuranft_types::applied::payload_hash("set_limits_by_proposal", &limits);
        self.registry.record_proposal(caller, proposal, payload)?;
        self.set_limits_from(caller, limits)
    }

    /// Governance's adopted proposal sets the per-call fee.
    pub fn set_call_fee_from(
        &mut self,
        caller: Principal,
        proposal: ProposalId,
        call_fee: u128,
    ) -> Result<(), RegistryError> {
        self.check_governance(caller)?;
        self.set_call_fee(caller, proposal, call_fee)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::inference_support::config;
    use ic_stable_structures::DefaultMemoryImpl;
    use neuranft_types::proxy::ApplyNodeArgs;
    use neuranft_types::royalties::{ModelStatus, Price};

    const ROYALTIES: Principal = Principal::from_slice(&[0x20; 10]);
    const GOVERNANCE: Principal = Principal::from_slice(&[0x30; 10]);

    fn proxy() -> ProxyState {
        let mut s = ProxyState::open_small(DefaultMemoryImpl::default());
        s.initialize(config(ROYALTIES, 60)).unwrap();
        s
    }

    fn entry() -> ModelEntry {
        ModelEntry {
            model: 1,
            base_model: "llama3.1:8b".into(),
            price: Price {
                per_1k_input_tokens: 1,
                per_1k_output_tokens: 2,
            },
            status: ModelStatus::Active,
            version: 1,
        }
    }

    fn application(api_key: &str) -> ApplyNodeRequest {
        ApplyNodeRequest {
            node: ApplyNodeArgs {
                operator_subaccount: None,
                endpoint: "https://node.example.org/v1/infer".into(),
                public_key: serde_bytes::ByteBuf::from(
                    ed25519_dalek::SigningKey::from_bytes(&[7; 32])
                        .verifying_key()
                        .to_bytes()
                        .to_vec(),
                ),
                models: vec!["llama3.1:8b".into()],
                capacity: 4,
            },
            api_key: api_key.into(),
        }
    }

    /// Everyone but royalties (governance, an operator, the anonymous principal) is refused and
    /// changes nothing; royalties is heard.
    #[test]
    fn only_royalties_pushes_models_and_split_versions() {
        let mut s = proxy();
        let attackers = [
            GOVERNANCE,
            Principal::anonymous(),
            Principal::from_slice(&[9; 29]),
        ];
        for attacker in attackers {
            assert_eq!(
                s.update_model_from(attacker, entry()),
                Err(RegistryError::NotRoyalties)
            );
            assert_eq!(
                s.set_split_version_from(attacker, 7),
                Err(RegistryError::NotRoyalties)
            );
        }
        assert_eq!(s.registry.model(1), None);
        assert_eq!(s.split_version(), 0);
        assert_eq!(s.update_model_from(ROYALTIES, entry()), Ok(true));
        assert_eq!(s.set_split_version_from(ROYALTIES, 7), Ok(()));
        assert_eq!(s.registry.model(1), Some(entry()));
        assert_eq!(s.split_version(), 7);
    }

    #[test]
    fn only_governance_decides_nodes_and_sets_the_call_fee() {
        let mut s = proxy();
        let operator = Principal::from_slice(&[9; 29]);
        let node = s
            .apply_node_from(operator, application("a-key-of-16-bytes"))
            .unwrap();
        let fee = s.config().call_fee;
        for attacker in [ROYALTIES, operator, Principal::anonymous()] {
            assert_eq!(
                s.decide_node_from(attacker, 1, node, NodeAction::Admit),
                Err(RegistryError::NotGovernance)
            );
            assert_eq!(
                s.set_call_fee_from(attacker, 2, fee + 1),
                Err(RegistryError::NotGovernance)
            );
        }
        assert_eq!(s.config().call_fee, fee);
        assert_eq!(
            s.registry.nodes()[0].status,
            neuranft_types::proxy::NodeStatus::Applied
        );
        let admitted = s.decide_node_from(GOVERNANCE, 1, node, NodeAction::Admit);
        assert_eq!(
            admitted.map(|n| n.status),
            Ok(neuranft_types::proxy::NodeStatus::Active)
        );
        assert_eq!(s.set_call_fee_from(GOVERNANCE, 2, fee + 1), Ok(()));
        assert_eq!(s.config().call_fee, fee + 1);
    }

    #[test]
    fn only_governance_sets_the_limits_and_only_within_their_bounds() {
        let mut s = proxy();
        let before = s.config();
        let limits = ProxyLimits {
            max_prompt_bytes: 5_000,
            ..before.limits()
        };
        for attacker in [ROYALTIES, Principal::anonymous()] {
            assert_eq!(
                s.set_limits_from(attacker, limits.clone()),
                Err(RegistryError::NotGovernance)
            );
        }
        let out_of_bounds = ProxyLimits {
            max_nodes_per_call: 11,
            ..limits.clone()
        };
        assert!(matches!(
            s.set_limits_from(GOVERNANCE, out_of_bounds.clone()),
            Err(RegistryError::InvalidArgument { field, .. }) if field == "limits"
        ));
        assert_eq!(s.config(), before, "refusals changed nothing");
        assert_eq!(
            before.describe_limits(&out_of_bounds),
            Err("max_nodes_per_call must be 1–10".into())
        );
        let text = before.describe_limits(&limits).unwrap();
        assert!(
            text.starts_with(&format!(
                "max_prompt_bytes: {} → 5000; max_output_tokens: {} (unchanged)",
                before.max_prompt_bytes, before.max_output_tokens
            )),
            "{text}"
        );
        assert_eq!(s.set_limits_from(GOVERNANCE, limits.clone()), Ok(false));
        assert_eq!(s.config().limits(), limits);
        assert_eq!(
            s.config().call_fee,
            before.call_fee,
            "only the limits change"
        );
        let slower = ProxyLimits {
            flush_interval_seconds: limits.flush_interval_seconds + 1,
            ..limits
        };
        assert_eq!(
            s.set_limits_from(GOVERNANCE, slower),
            Ok(true),
            "the timer restarts"
        );
    }

    #[test]
    fn a_node_key_outside_16_to_128_bytes_is_refused_and_nothing_is_recorded() {
        let mut s = proxy();
        let operator = Principal::from_slice(&[9; 29]);
        for key in ["short".to_string(), "k".repeat(129)] {
            assert!(matches!(
                s.apply_node_from(operator, application(&key)),
                Err(RegistryError::InvalidArgument { .. })
            ));
        }
        assert!(s.registry.nodes().is_empty());
    }
}
