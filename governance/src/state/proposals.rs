//! Making proposals (the proposer, the action and the reject cost checked) and reading them.

use super::render::render_upgrade;
use super::staging;
use super::*;
use crate::power::{self, nanos};
use serde_bytes::ByteBuf;

pub const MAX_TITLE_BYTES: usize = 256;
pub const MAX_SUMMARY_BYTES: usize = 15_000;
/// Proposals one `list_proposals` page holds at most.
pub const MAX_PROPOSALS_PER_PAGE: usize = 100;
pub const MAX_URL_BYTES: usize = 2_048;
pub const MAX_WASM_BYTES: usize = 3 * 1024 * 1024;

impl Governance {
    pub fn proposal(&self, id: ProposalId) -> Option<ProposalInfo> {
        self.proposals.get(&id).map(|r| r.0.info)
    }

    pub fn proposal_action(&self, id: ProposalId) -> Option<Action> {
        let record = self.proposals.get(&id)?.0;
        Some(match record.action {
            Action::UpgradeCanister {
                target,
                arg,
                chunked_wasm,
                ..
            } => Action::UpgradeCanister {
                target,
                wasm: ByteBuf::from(self.wasms.get(&id).unwrap_or_default()),
                arg,
                chunked_wasm,
            },
            other => other,
        })
    }

    /// `list_proposals`: at most [`MAX_PROPOSALS_PER_PAGE`] of them.
    pub fn proposal_page(&self, args: &ListProposalsArgs) -> Vec<ProposalInfo> {
        let limit = (args.limit as usize).min(MAX_PROPOSALS_PER_PAGE);
        self.list_proposals(args.before, limit, args.topic, args.status.as_deref())
    }

    /// Checks `action`; for an upgrade, returns its module (given inline or staged by `neuron`).
    fn check_action(
        &self,
        neuron: NeuronId,
        action: &Action,
        now: u64,
    ) -> Result<Option<Vec<u8>>, GovernanceError> {
        match action {
            Action::Motion { text } => {
                if text.is_empty() || text.len() > MAX_SUMMARY_BYTES {
                    return Err(invalid("text", format!("1–{MAX_SUMMARY_BYTES} bytes")));
                }
            }
            Action::SetRoyaltySplit { split } => {
                if split.total_bps() != BASIS_POINTS as u32 {
                    return Err(invalid("split", "the parts must sum to 10,000 bps"));
                }
            }
            Action::SetCallFee { call_fee } => {
                let range = neuranft_types::proxy::CALL_FEE_RANGE;
                if !range.contains(call_fee) {
                    return Err(invalid(
                        "call_fee",
                        format!("{call_fee} is outside {}–{}", range.start(), range.end()),
                    ));
                }
            }
            Action::AdmitNode { .. } | Action::SuspendNode { .. } | Action::RemoveNode { .. } => {}
            // Whether the model exists only royalties knows: an unknown one fails at execution.
            Action::ModerateModel { reason, .. } => {
                neuranft_types::royalties::ModerateModelArgs::validate_reason(reason)
                    .map_err(|r| invalid("reason", r))?;
            }
            Action::SetPayoutSettings { settings } => {
                settings.validate().map_err(|r| invalid("settings", r))?;
            }
            Action::SetProxyLimits { limits } => {
                limits.validate().map_err(|r| invalid("limits", r))?;
            }
            Action::TransferTreasury { to, amount } => {
                if *amount == 0 {
                    return Err(invalid("amount", "must be positive"));
                }
                if to.owner == Principal::anonymous() {
                    return Err(invalid("to", "the anonymous principal"));
                }
                self.check_treasury_cap(*amount, 0, now)?;
            }
            Action::SetGovernanceParameters { parameters } => validate_parameters(parameters)?,
            Action::RegisterGenericFunction {
                name,
                description,
                method,
                validator,
                ..
            } => self.check_registration(name, description, method, validator)?,
            Action::RemoveGenericFunction { function } => {
                self.generic_function(*function).ok_or(
                    GovernanceError::GenericFunctionNotFound {
                        function: *function,
                    },
                )?;
            }
            Action::ExecuteGenericFunction { function, payload } => {
                self.check_generic_call(*function, payload)?;
            }
            Action::UpgradeCanister {
                wasm, chunked_wasm, ..
            } => {
                let module = match chunked_wasm {
                    None => {
                        if wasm.len() > MAX_WASM_BYTES {
                            return Err(invalid("wasm", format!("at most {MAX_WASM_BYTES} bytes")));
                        }
                        wasm.to_vec()
                    }
                    Some(chunked) if wasm.is_empty() => self.staged_module(neuron, chunked)?,
                    Some(_) => {
                        return Err(invalid(
                            "wasm",
                            "give the module inline or as staged chunks, not both",
                        ))
                    }
                };
                if module.len() < 8 || (&module[..4] != b"\0asm" && &module[..2] != b"\x1f\x8b") {
                    return Err(invalid("wasm", "not a wasm module (or gzipped one)"));
                }
                return Ok(Some(module));
            }
        }
        Ok(None)
    }

    /// Makes a proposal: checks the proposer and the action, charges the reject cost, copies the rules
    /// of its topic, and starts writing ballots (the rest is done by [`Governance::advance`]).
    pub fn make_proposal(
        &mut self,
        caller: Principal,
        args: MakeProposalArgs,
        now: u64,
        budget: Budget,
    ) -> Result<ProposalId, GovernanceError> {
        self.make_validated_proposal(caller, args, None, now, budget)
    }

    /// Every check `make_proposal` makes, without making it: what the canister asks before it calls
    /// a generic function's validator, so that no one but a neuron that may propose makes it call.
    pub fn check_proposal(
        &self,
        caller: Principal,
        args: &MakeProposalArgs,
        now: u64,
    ) -> Result<(), GovernanceError> {
        self.checked_proposer(caller, args, now).map(|_| ())
    }

    /// [`Governance::make_proposal`], for an `ExecuteGenericFunction` with `validated`: its payload
    /// as the function's validator rendered it (the only way such a proposal is made).
    pub fn make_validated_proposal(
        &mut self,
        caller: Principal,
        args: MakeProposalArgs,
        validated: Option<String>,
        now: u64,
        budget: Budget,
    ) -> Result<ProposalId, GovernanceError> {
        let (mut neuron, module) = self.checked_proposer(caller, &args, now)?;
        let p = self.parameters();
        let generic_text = match (&args.action, validated) {
            (Action::ExecuteGenericFunction { function, payload }, Some(text)) => {
                if text.len() > MAX_VALIDATOR_TEXT_BYTES {
                    return Err(GovernanceError::GenericValidationFailed {
                        reason: format!(
                            "the validator's text has {} bytes, more than {MAX_VALIDATOR_TEXT_BYTES}",
                            text.len()
                        ),
                    });
                }
                let f = self.check_generic_call(*function, payload)?;
                Some(super::generic::render_generic_call(&f, payload, &text))
            }
            (Action::ExecuteGenericFunction { .. }, None) => {
                return Err(GovernanceError::GenericValidationFailed {
                    reason: "the payload was not validated by the function's validator".into(),
                })
            }
            _ => None,
        };
        self.freeze_before_change(neuron.id);
        neuron.fees = neuron.fees.saturating_add(p.reject_cost);
        self.store_neuron(neuron.clone());
        self.record_proposal(neuron.id, args, module, generic_text, now, budget)
    }

    /// The proposing neuron, if it may propose `args` now, and an upgrade's module.
    fn checked_proposer(
        &self,
        caller: Principal,
        args: &MakeProposalArgs,
        now: u64,
    ) -> Result<(Neuron, Option<Vec<u8>>), GovernanceError> {
        let p = self.parameters();
        let neuron =
            self.authorized(caller, args.neuron, Some(NeuronPermission::SubmitProposal))?;
        if power::dissolve_delay_seconds(&neuron, now) < p.min_dissolve_delay_seconds {
            return Err(GovernanceError::DissolveDelayTooShort {
                minimum_seconds: p.min_dissolve_delay_seconds,
            });
        }
        if args.title.is_empty() || args.title.len() > MAX_TITLE_BYTES {
            return Err(invalid("title", format!("1–{MAX_TITLE_BYTES} bytes")));
        }
        if args.summary.len() > MAX_SUMMARY_BYTES {
            return Err(invalid(
                "summary",
                format!("at most {MAX_SUMMARY_BYTES} bytes"),
            ));
        }
        if args.url.len() > MAX_URL_BYTES {
            return Err(invalid("url", format!("at most {MAX_URL_BYTES} bytes")));
        }
        // A split or merge in flight was checked against the free stake before this reject cost.
        self.refuse_busy(neuron.id)?;
        let module = self.check_action(neuron.id, &args.action, now)?;
        let open = self
            .open_by_neuron
            .range((neuron.id, 0)..=(neuron.id, ProposalId::MAX))
            .count();
        if open >= p.max_open_proposals_per_neuron as usize {
            return Err(GovernanceError::TooManyOpenProposals {
                max: p.max_open_proposals_per_neuron,
            });
        }
        let free = power::free_stake(&neuron);
        if free < p.reject_cost {
            return Err(GovernanceError::InsufficientStakeForRejectCost {
                reject_cost: p.reject_cost,
                free,
            });
        }
        Ok((neuron, module))
    }

    /// Stores a checked proposal of `proposer` (its reject cost charged) and starts its ballots.
    fn record_proposal(
        &mut self,
        proposer: NeuronId,
        args: MakeProposalArgs,
        module: Option<Vec<u8>>,
        rendered: Option<String>,
        now: u64,
        budget: Budget,
    ) -> Result<ProposalId, GovernanceError> {
        let p = self.parameters();
        let id = self.counters().next_proposal;
        self.update_counters(|c| c.next_proposal += 1);
        let topic = args.action.topic();
        let rules = p.rules(topic);
        let (action, rendered_action) = match (args.action, module) {
            // Stored with the module's hash named, whichever way it came; the module by itself.
            (
                Action::UpgradeCanister {
                    target,
                    arg,
                    chunked_wasm,
                    ..
                },
                Some(module),
            ) => {
                if let Some(staged) = &chunked_wasm {
                    self.take_staged(proposer, staged);
                }
                let chunked_wasm = chunked_wasm.unwrap_or_else(|| ChunkedWasm {
                    wasm_module_hash: ByteBuf::from(staging::hash_of(&module).to_vec()),
                    chunk_hashes: module_chunks(&module)
                        .map(|c| ByteBuf::from(staging::hash_of(c).to_vec()))
                        .collect(),
                });
                let rendered = render_upgrade(target, &module, &arg, Some(&chunked_wasm));
                self.wasms.insert(id, module);
                let stored = Action::UpgradeCanister {
                    target,
                    wasm: ByteBuf::new(),
                    arg,
                    chunked_wasm: Some(chunked_wasm),
                };
                (stored, rendered)
            }
            (other, _) => {
                let rendered = rendered.unwrap_or_else(|| render_action(&other));
                (other, rendered)
            }
        };
        let record = ProposalRecord {
            info: ProposalInfo {
                id,
                proposer,
                title: args.title,
                summary: args.summary,
                url: args.url,
                topic,
                rendered_action,
                status: ProposalStatus::Preparing,
                tally: Tally::default(),
                rules,
                reject_cost: p.reject_cost,
                created_at: now,
                deadline: now.saturating_add(nanos(rules.voting_period_seconds)),
                decided_at: None,
                executed_at: None,
                ballots_from: None,
            },
            action,
            phase: Phase::Writing { next: 0 },
        };
        self.store_proposal(record);
        self.open_by_neuron.insert((proposer, id), ());
        self.unfinished.insert(id, ());
        self.advance(now, budget);
        Ok(id)
    }

    /// Replaces a stored proposal's action without any check: for tests of proposals that an earlier
    /// version of governance stored under weaker checks.
    #[cfg(test)]
    pub(crate) fn set_action_unchecked(&mut self, id: ProposalId, action: Action) {
        let mut record = self.proposals.get(&id).expect("the proposal exists").0;
        record.action = action;
        self.store_proposal(record);
    }
}

/// The status names `list_proposals` filters by, in a proposal's order of life.
pub fn status_names() -> Vec<String> {
    [
        ProposalStatus::Preparing,
        ProposalStatus::Open,
        ProposalStatus::Rejected,
        ProposalStatus::Adopted,
        ProposalStatus::Executed,
        ProposalStatus::Failed {
            reason: String::new(),
        },
    ]
    .iter()
    .map(|s| status_name(s).to_string())
    .collect()
}

pub fn status_name(status: &ProposalStatus) -> &'static str {
    match status {
        ProposalStatus::Preparing => "Preparing",
        ProposalStatus::Open => "Open",
        ProposalStatus::Rejected => "Rejected",
        ProposalStatus::Adopted => "Adopted",
        ProposalStatus::Executed => "Executed",
        ProposalStatus::Failed { .. } => "Failed",
    }
}
