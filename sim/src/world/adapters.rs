//! The adapters that connect the production state machines to each other in process: the hosts
//! as the proxy reaches them, royalties as the proxy reaches it, the proxy as royalties reaches it,
//! and governance's targets.

use super::{HostStats, World};
use crate::rng::SplitMix64;
use candid::Principal;
use ed25519_dalek::{Signer, SigningKey};
use futures::executor::block_on;
use governance::flows::TargetOutcome;
use inference_proxy::flows::RoyaltiesClient;
use inference_proxy::infer::NodeTransport;
use inference_proxy::registry::{ModelEntry, NodeAction, NodeRecord};
use inference_proxy::state::ProxyState;
use ledger_adapter::CallFailure;
use neuranft_types::governance::UpgradeTarget;
use neuranft_types::node::{signed_usage_message, InferRequest, InferResponse, Usage};
use neuranft_types::proxy::ProxyLimits;
use neuranft_types::royalties::*;
use royalties::flows::push::{push_to_proxy, ProxyClient};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

/// The hosts as the proxy reaches them: each signs its receipts with its own key, fails with its
/// reliability, and is down from its outage step.
pub(super) struct Hosts {
    pub(super) keys: BTreeMap<u64, SigningKey>,
    pub(super) reliability_ppm: BTreeMap<u64, u32>,
    pub(super) down: BTreeMap<u64, bool>,
    pub(super) tokens_per_second: BTreeMap<u64, u32>,
    pub(super) rng: RefCell<SplitMix64>,
    pub(super) clock: Cell<u64>,
    pub(super) stats: RefCell<BTreeMap<u64, HostStats>>,
}

impl NodeTransport for Hosts {
    async fn post(&self, node: &NodeRecord, body: Vec<u8>) -> Result<(u16, Vec<u8>), String> {
        let mut stats = self.stats.borrow_mut();
        let s = stats.entry(node.id).or_default();
        s.calls += 1;
        let mut rng = self.rng.borrow_mut();
        if self.down[&node.id] || !rng.chance(self.reliability_ppm[&node.id]) {
            s.failures += 1;
            return Err("connection failed".into());
        }
        let request: InferRequest = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        let prompt_bytes = request.prompt.as_ref().map_or(0, String::len) as u64;
        // About four bytes per token, and an answer of a random length within the limit.
        let usage = Usage {
            input_tokens: (prompt_bytes / 4).max(1),
            output_tokens: rng.between(1, request.max_tokens as u64),
            total_duration_ns: 0,
            eval_duration_ns: 0,
        };
        let output = "simulated answer";
        let message = signed_usage_message(&request.request_id, &request.model, &usage, output);
        let signature = hex::encode(self.keys[&node.id].sign(&message).to_bytes());
        s.output_tokens += usage.output_tokens;
        s.gpu_millis +=
            usage.output_tokens as u128 * 1_000 / self.tokens_per_second[&node.id] as u128;
        let response = InferResponse {
            request_id: request.request_id,
            model: request.model,
            output: output.into(),
            usage,
            signature,
        };
        Ok((
            200,
            serde_json::to_vec(&response).map_err(|e| e.to_string())?,
        ))
    }

    fn now(&self) -> u64 {
        self.clock.get()
    }
}

/// Royalties as the proxy reaches it: its `settle`, in process.
pub(super) struct InProcessRoyalties<'a> {
    pub(super) state: &'a RefCell<royalties::State>,
    pub(super) proxy: Principal,
    pub(super) clock: &'a Cell<u64>,
}

impl RoyaltiesClient for InProcessRoyalties<'_> {
    async fn settle(&self, args: SettleArgs) -> Result<Result<SettleOk, SettleError>, CallFailure> {
        Ok(self
            .state
            .borrow_mut()
            .settle(self.proxy, args, self.clock.get()))
    }
}

/// The proxy as royalties reaches it: its `update_model` and `set_split_version`, in process.
struct InProcessProxy<'a> {
    proxy: &'a RefCell<ProxyState>,
}

impl ProxyClient for InProcessProxy<'_> {
    async fn update_model(&self, entry: ModelEntry) -> Result<(), String> {
        self.proxy.borrow_mut().registry.upsert_model(entry);
        Ok(())
    }

    async fn set_split_version(&self, version: SplitVersion) -> Result<(), String> {
        self.proxy.borrow_mut().set_split_version(version);
        Ok(())
    }
}

/// The governance canister's targets, in process: royalties' `set_split`, the proxy's `set_call_fee`
/// and `decide_node`.
pub(super) struct InProcessTargets<'a> {
    pub(super) royalties: &'a RefCell<royalties::State>,
    pub(super) proxy: &'a RefCell<ProxyState>,
    pub(super) governance: Principal,
    /// The proxy's principal: the one generic-function target simulated (its `set_limits`).
    pub(super) proxy_id: Principal,
    pub(super) clock: &'a Cell<u64>,
}

impl governance::flows::Targets for InProcessTargets<'_> {
    async fn set_royalty_split(&self, proposal: u64, split: SplitConfig) -> TargetOutcome {
        let args = SetSplitArgs {
            proposal_id: proposal,
            split,
        };
        let answer = self
            .royalties
            .borrow_mut()
            .set_split(self.governance, args, self.clock.get());
        governance::flows::split_outcome(answer)
    }

    async fn set_call_fee(&self, proposal: u64, call_fee: u128) -> TargetOutcome {
        let answer = self
            .proxy
            .borrow_mut()
            .set_call_fee(self.governance, proposal, call_fee);
        governance::flows::proxy_outcome(answer)
    }

    async fn decide_node(&self, proposal: u64, node: u64, action: NodeAction) -> TargetOutcome {
        let answer =
            self.proxy
                .borrow_mut()
                .registry
                .decide_node(self.governance, proposal, node, action);
        governance::flows::proxy_outcome(answer)
    }

    async fn moderate_model(&self, args: ModerateModelArgs) -> TargetOutcome {
        let answer =
            self.royalties
                .borrow_mut()
                .moderate_model(self.governance, args, self.clock.get());
        governance::flows::governed_outcome(answer)
    }

    async fn set_payout_settings(&self, proposal: u64, settings: PayoutSettings) -> TargetOutcome {
        let args = SetPayoutSettingsArgs {
            proposal_id: proposal,
            settings,
        };
        let answer = self.royalties.borrow_mut().set_payout_settings(
            self.governance,
            args,
            self.clock.get(),
        );
        governance::flows::governed_outcome(answer)
    }

    async fn set_proxy_limits(&self, proposal: u64, limits: ProxyLimits) -> TargetOutcome {
        let answer =
            self.proxy
                .borrow_mut()
                .set_limits_by_proposal(self.governance, proposal, limits);
        governance::flows::proxy_outcome(answer)
    }

    async fn upgrade(
        &self,
        _proposal: u64,
        _target: UpgradeTarget,
        _wasm: serde_bytes::ByteBuf,
        _arg: serde_bytes::ByteBuf,
    ) -> TargetOutcome {
        TargetOutcome::Refused("canister upgrades are not simulated".into())
    }

    fn generic_target_refusal(&self, target: Principal) -> Option<&'static str> {
        (target != self.proxy_id).then_some("a canister the simulation does not run")
    }

    /// The proxy's `validate_limits`, in process (the only validator simulated).
    async fn validate_generic(
        &self,
        function: &neuranft_types::governance::GenericFunction,
        payload: &[u8],
    ) -> Result<String, TargetOutcome> {
        let limits = proxy_limits(function, "validate_limits", payload)?;
        self.proxy
            .borrow()
            .config()
            .describe_limits(&limits)
            .map_err(|reason| TargetOutcome::Refused(format!("the validator: {reason}")))
    }

    async fn call_generic(
        &self,
        function: &neuranft_types::governance::GenericFunction,
        payload: serde_bytes::ByteBuf,
    ) -> TargetOutcome {
        let limits = match proxy_limits(function, "set_limits", &payload) {
            Ok(limits) => limits,
            Err(outcome) => return outcome,
        };
        match self
            .proxy
            .borrow_mut()
            .set_limits_from(self.governance, limits)
        {
            Ok(_) => TargetOutcome::Done,
            Err(e) => TargetOutcome::Refused(format!("{e:?}")),
        }
    }
}

/// The payload of a call of the proxy's `method` (`set_limits` or `validate_limits`), as the
/// canister would decode it.
fn proxy_limits(
    function: &neuranft_types::governance::GenericFunction,
    method: &str,
    payload: &[u8],
) -> Result<neuranft_types::proxy::ProxyLimits, TargetOutcome> {
    let named = if method == "set_limits" {
        &function.method
    } else {
        &function.validator
    };
    if named != method {
        return Err(TargetOutcome::Refused(format!(
            "the simulated proxy has no method {named}"
        )));
    }
    candid::decode_one(payload)
        .map_err(|e| TargetOutcome::Refused(format!("the payload does not decode: {e}")))
}

impl World {
    /// Royalties' push of pending model changes and split versions to the proxy (production code).
    pub(super) fn push_to_proxy(&self) {
        block_on(push_to_proxy(
            &self.royalties,
            &InProcessProxy { proxy: &self.proxy },
        ));
    }
}
