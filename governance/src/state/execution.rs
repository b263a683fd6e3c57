//! Execution of adopted proposals: what is due, the bounded retries of unknown outcomes, the
//! recorded results and the 7-day treasury cap.

use super::*;
use crate::power::nanos;

/// An adopted proposal whose target gives no definite answer this many times is Failed: a target
/// that keeps trapping, stays stopped or cannot be stopped must not be called forever.
pub const MAX_EXECUTION_ATTEMPTS: u32 = 10;
/// The wait after the first attempt without a definite answer; it doubles after each, so the attempts
/// span about 85 minutes: a target stopped for its own upgrade is not given up on at once.
pub const FIRST_RETRY_DELAY_SECONDS: u64 = 10;

impl Governance {
    /// What `TransferTreasury` executions moved in the 7 days before `now`.
    pub fn treasury_used(&self, now: u64) -> u128 {
        let since = now.saturating_sub(SEVEN_DAYS);
        self.treasury_transfers
            .range((since, 0)..)
            .map(|e| e.value())
            .fold(0u128, u128::saturating_add)
    }

    pub(super) fn check_treasury_cap(
        &self,
        amount: u128,
        in_flight: u128,
        now: u64,
    ) -> Result<(), GovernanceError> {
        let cap = self.parameters().treasury_cap_per_7_days;
        let used = self.treasury_used(now).saturating_add(in_flight);
        if used.saturating_add(amount) > cap {
            return Err(GovernanceError::TreasuryCapExceeded {
                cap,
                used,
                requested: amount,
            });
        }
        Ok(())
    }

    /// Adopted proposals waiting for execution, oldest first, with their full action; one waiting for
    /// its next attempt after an unknown outcome is due only from then.
    pub fn executions_due(&self, limit: usize, now: u64) -> Vec<(ProposalId, Action)> {
        self.unfinished
            .keys()
            .filter(|id| {
                self.proposals
                    .get(id)
                    .is_some_and(|r| r.0.info.status == ProposalStatus::Adopted)
                    && self.execution_attempts(*id).1 <= now
            })
            .take(limit)
            .filter_map(|id| Some((id, self.proposal_action(id)?)))
            .collect()
    }

    /// Re-checks the economic limits of an adopted proposal just before it executes.
    /// `in_flight`: treasury payments of other proposals whose transfer has not resolved yet.
    pub fn check_before_execution(
        &self,
        id: ProposalId,
        now: u64,
        in_flight: u128,
    ) -> Result<(), GovernanceError> {
        match self.proposal_action(id) {
            Some(Action::TransferTreasury { amount, .. }) => {
                self.check_treasury_cap(amount, in_flight, now)
            }
            Some(Action::SetGovernanceParameters { parameters }) => {
                validate_parameters(&parameters)
            }
            Some(Action::RegisterGenericFunction {
                name,
                description,
                method,
                validator,
                ..
            }) => self.check_registration(&name, &description, &method, &validator),
            Some(Action::RemoveGenericFunction { function }) => self
                .generic_function(function)
                .map(|_| ())
                .ok_or(GovernanceError::GenericFunctionNotFound { function }),
            Some(Action::ExecuteGenericFunction { function, payload }) => {
                self.check_generic_call(function, &payload).map(|_| ())
            }
            // The module stored when the proposal was made must still be the one it names.
            Some(Action::UpgradeCanister {
                wasm,
                chunked_wasm: Some(chunked),
                ..
            }) => super::staging::check_module_hash(&chunked.wasm_module_hash, &wasm),
            Some(_) => Ok(()),
            None => Err(GovernanceError::ProposalNotFound { proposal: id }),
        }
    }

    /// Failed attempts at executing `id` so far, and the earliest time of the next.
    pub fn execution_attempts(&self, id: ProposalId) -> (u32, u64) {
        self.execution_attempts.get(&id).map_or((0, 0), |b| {
            (
                u32::from_be_bytes(b[..4].try_into().expect("4 bytes")),
                u64::from_be_bytes(b[4..].try_into().expect("8 bytes")),
            )
        })
    }

    /// An attempt at executing adopted proposal `id` got no definite answer (`reason`): it is tried
    /// again after a delay that doubles each time, and after [`MAX_EXECUTION_ATTEMPTS`] it is Failed
    /// with the last reason. The count is in stable memory, so an upgrade does not reset it.
    pub fn record_unknown_outcome(&mut self, id: ProposalId, reason: String, now: u64) {
        let Some(record) = self.proposals.get(&id) else {
            return;
        };
        if record.0.info.status != ProposalStatus::Adopted {
            return;
        }
        let attempts = self.execution_attempts(id).0.saturating_add(1);
        if attempts >= MAX_EXECUTION_ATTEMPTS {
            self.record_execution(
                id,
                Err(format!(
                    "no definite answer after {attempts} attempts; the last: {reason}"
                )),
                now,
            );
            return;
        }
        let delay = nanos(FIRST_RETRY_DELAY_SECONDS).saturating_mul(1 << (attempts - 1));
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&attempts.to_be_bytes());
        bytes[4..].copy_from_slice(&now.saturating_add(delay).to_be_bytes());
        self.execution_attempts.insert(id, bytes);
    }

    /// Records the outcome of an adopted proposal's execution (once; later calls change nothing).
    /// Parameters set by a proposal apply to proposals made after it only.
    pub fn record_execution(&mut self, id: ProposalId, result: Result<(), String>, now: u64) {
        let Some(mut record) = self.proposals.get(&id).map(|r| r.0) else {
            return;
        };
        if record.info.status != ProposalStatus::Adopted {
            return;
        }
        match result {
            Ok(()) => {
                match &record.action {
                    Action::TransferTreasury { amount, .. } => {
                        self.treasury_transfers.insert((now, id), *amount);
                    }
                    Action::SetGovernanceParameters { parameters } => {
                        self.parameters.set(Candid(Some(parameters.clone())));
                    }
                    generic @ (Action::RegisterGenericFunction { .. }
                    | Action::RemoveGenericFunction { .. }) => self.apply_generic(id, generic),
                    _ => {}
                }
                record.info.status = ProposalStatus::Executed;
            }
            Err(reason) => record.info.status = ProposalStatus::Failed { reason },
        }
        record.info.executed_at = Some(now);
        self.wasms.remove(&id);
        self.execution_attempts.remove(&id);
        self.finish(id, now);
        self.store_proposal(record);
    }
}
