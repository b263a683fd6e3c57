//! What the DAO decides in royalties besides the split: model moderation and the payout settings.
//! Each call is keyed by (caller, proposal id) and bound to its payload ([`AppliedProposals`]): a
//! replay is answered as done, another payload under the same key is a conflict; both change nothing.

use super::*;
use crate::memory::GOVERNED_PAYLOADS_MEMORY_ID;
use neuranft_types::applied::{payload_hash, AppliedProposals};

fn invalid(field: &str, reason: impl Into<String>) -> GovernedError {
    GovernedError::InvalidArgument {
        field: field.into(),
        reason: reason.into(),
    }
}

/// The status a moderation leaves the model in; `status_before` is the manager's own.
fn status_after(action: ModerationAction, status_before: ModelStatus) -> ModelStatus {
    match action {
        ModerationAction::Suspend => ModelStatus::Suspended,
        ModerationAction::Delist => ModelStatus::Delisted,
        ModerationAction::Reinstate => status_before,
    }
}

impl State {
    /// Refuses anyone but governance, and a proposal key already used (see the module's doc).
    fn check_governed<T: candid::CandidType>(
        &self,
        caller: Principal,
        proposal_id: ProposalId,
        method: &str,
        payload: &T,
    ) -> Result<[u8; 32], GovernedError> {
        if caller != self.config().governance {
            return Err(GovernedError::NotGovernance);
        }
        let hash = payload_hash(method, payload);
        match self.governed.check(caller, proposal_id, &hash) {
            Applied::New => Ok(hash),
            Applied::Replay => Err(GovernedError::ProposalAlreadyApplied { proposal_id }),
            Applied::Conflict => Err(GovernedError::ProposalConflict { proposal_id }),
        }
    }

    /// The DAO suspends, delists or reinstates a model; the reason goes into the model and the log,
    /// and the proxy learns the new status by the usual push. Receipts metered before still settle.
    pub fn moderate_model(
        &mut self,
        caller: Principal,
        args: ModerateModelArgs,
        now: u64,
    ) -> Result<ModelStatus, GovernedError> {
        let hash = self.check_governed(caller, args.proposal_id, "moderate_model", &args)?;
        ModerateModelArgs::validate_reason(&args.reason).map_err(|r| invalid("reason", r))?;
        let mut model = self
            .registry
            .model(args.model)
            .map_err(|_| GovernedError::UnknownModel { model: args.model })?;
        if args.action == ModerationAction::Reinstate && !model.status.is_moderated() {
            return Err(invalid(
                "action",
                format!("model {} is neither suspended nor delisted", args.model),
            ));
        }
        // A second decision on a moderated model keeps the manager's status from before the first.
        let status_before = match (&model.moderation, model.status.is_moderated()) {
            (Some(m), true) => m.status_before,
            _ => model.status,
        };
        let status = status_after(args.action, status_before);
        let moderation = Moderation {
            action: args.action,
            reason: args.reason,
            proposal_id: args.proposal_id,
            at: now,
            status_before,
        };
        model.status = status;
        model.updated_at = now;
        model.moderation = Some(moderation.clone());
        self.registry.replace(model);
        self.governed.record(caller, args.proposal_id, hash);
        self.queue_model_push(args.model);
        self.append_log(
            LogEvent::ModelModerated {
                model: args.model,
                status,
                moderation,
            },
            now,
        );
        Ok(status)
    }

    /// The DAO sets how payouts are pushed. Returns whether the interval changed (the payout timer
    /// must then be restarted).
    pub fn set_payout_settings(
        &mut self,
        caller: Principal,
        args: SetPayoutSettingsArgs,
        now: u64,
    ) -> Result<bool, GovernedError> {
        let hash = self.check_governed(
            caller,
            args.proposal_id,
            "set_payout_settings",
            &args.settings,
        )?;
        args.settings
            .validate()
            .map_err(|r| invalid("settings", r))?;
        let before = self.config().payout_interval_seconds;
        self.cells.upgrade(UpgradeArgs {
            auto_payout_fee_multiple: Some(args.settings.auto_payout_fee_multiple),
            payout_interval_seconds: Some(args.settings.payout_interval_seconds),
            ..UpgradeArgs::default()
        });
        self.governed.record(caller, args.proposal_id, hash);
        self.append_log(
            LogEvent::PayoutSettingsSet {
                proposal_id: args.proposal_id,
                settings: args.settings,
            },
            now,
        );
        Ok(before != args.settings.payout_interval_seconds)
    }

    /// The payout settings in force.
    pub fn payout_settings(&self) -> PayoutSettings {
        let c = self.config();
        PayoutSettings {
            auto_payout_fee_multiple: c.auto_payout_fee_multiple,
            payout_interval_seconds: c.payout_interval_seconds,
        }
    }
}

/// Opens the store of applied governed proposals.
pub(super) fn open(mm: &MemoryManager<DefaultMemoryImpl>) -> AppliedProposals<Memory> {
    AppliedProposals::init(mm.get(GOVERNED_PAYLOADS_MEMORY_ID))
}
