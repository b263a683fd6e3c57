//! Staking, disbursing, splitting and merging neurons and executing adopted proposals: the ledger transfers go through a book's
//! outbox (exactly once), the target calls through [`Targets`]. Generic over the ledger runtime and
//! the targets, so the canister and native tests run the same code. No borrow is held across an
//! await.

use crate::book::{Book, MoneyOp};
use crate::state::Governance;
use candid::Principal;
use ledger_adapter::book::{self, Transfer};
use ledger_adapter::outbox::{FeePolicy, IntentId, IntentStatus, TransferKind};
use ledger_adapter::{tagged_memo, LedgerRuntime};
use neuranft_types::governance::*;
use neuranft_types::proxy::ProxyLimits;
use neuranft_types::proxy::{NodeAction, RegistryError};
use neuranft_types::royalties::{
    GovernedError, ModerateModelArgs, PayoutSettings, SplitConfig, SplitError,
};
use neuranft_types::Account;
use serde_bytes::ByteBuf;
use std::cell::RefCell;
use std::convert::Infallible;

mod neurons;
mod proposals;
pub use neurons::{disburse, increase_stake, merge_neurons, split_neuron, stake};
pub use proposals::make_proposal;

pub const STAKE_MEMO_TAG: &[u8; 8] = b"NNFT-STK";
pub const DISBURSE_MEMO_TAG: &[u8; 8] = b"NNFT-DSB";
pub const FEES_MEMO_TAG: &[u8; 8] = b"NNFT-FEE";
pub const TREASURY_MEMO_TAG: &[u8; 8] = b"NNFT-TRS";
pub const SPLIT_MEMO_TAG: &[u8; 8] = b"NNFT-SPL";
pub const MERGE_MEMO_TAG: &[u8; 8] = b"NNFT-MRG";
/// Transfers driven and proposals executed per timer run.
pub const ITEMS_PER_RUN: usize = 20;

/// How a target answered an executed proposal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetOutcome {
    Done,
    /// The target had already applied this proposal id: done.
    AlreadyDone,
    /// The target definitely refused.
    Refused(String),
    /// The call's outcome is unknown: try again later (the target applies a proposal id once).
    Unknown(String),
}

/// How royalties answered `set_split`: a replay of the same payload is done; another payload under
/// the same proposal id a conflict, which fails the proposal.
pub fn split_outcome<T>(answer: Result<T, SplitError>) -> TargetOutcome {
    match answer {
        Ok(_) => TargetOutcome::Done,
        Err(SplitError::ProposalAlreadyApplied { .. }) => TargetOutcome::AlreadyDone,
        Err(e @ SplitError::ProposalConflict { .. }) => TargetOutcome::Refused(conflict(e)),
        Err(e) => TargetOutcome::Refused(format!("{e:?}")),
    }
}

/// How the proxy answered `set_call_fee` or `decide_node` (as [`split_outcome`]).
pub fn proxy_outcome<T>(answer: Result<T, RegistryError>) -> TargetOutcome {
    match answer {
        Ok(_) => TargetOutcome::Done,
        Err(RegistryError::ProposalAlreadyExecuted { .. }) => TargetOutcome::AlreadyDone,
        Err(e @ RegistryError::ProposalConflict { .. }) => TargetOutcome::Refused(conflict(e)),
        Err(e) => TargetOutcome::Refused(format!("{e:?}")),
    }
}

/// How royalties answered `moderate_model` or `set_payout_settings` (as [`split_outcome`]).
pub fn governed_outcome<T>(answer: Result<T, GovernedError>) -> TargetOutcome {
    match answer {
        Ok(_) => TargetOutcome::Done,
        Err(GovernedError::ProposalAlreadyApplied { .. }) => TargetOutcome::AlreadyDone,
        Err(e @ GovernedError::ProposalConflict { .. }) => TargetOutcome::Refused(conflict(e)),
        Err(e) => TargetOutcome::Refused(format!("{e:?}")),
    }
}

fn conflict(e: impl std::fmt::Debug) -> String {
    format!("{e:?}: the target already applied this proposal id with another payload")
}

/// The canisters adopted proposals act on.
#[allow(async_fn_in_trait)]
pub trait Targets {
    async fn set_royalty_split(&self, proposal: ProposalId, split: SplitConfig) -> TargetOutcome;
    async fn set_call_fee(&self, proposal: ProposalId, call_fee: u128) -> TargetOutcome;
    async fn decide_node(
        &self,
        proposal: ProposalId,
        node: u64,
        action: NodeAction,
    ) -> TargetOutcome;
    /// Royalties' `moderate_model`.
    async fn moderate_model(&self, args: ModerateModelArgs) -> TargetOutcome;
    /// Royalties' `set_payout_settings`.
    async fn set_payout_settings(
        &self,
        proposal: ProposalId,
        settings: PayoutSettings,
    ) -> TargetOutcome;
    /// The proxy's `set_limits_by_proposal` (once per proposal id, bound to the limits).
    async fn set_proxy_limits(&self, proposal: ProposalId, limits: ProxyLimits) -> TargetOutcome;
    /// Installs `wasm` (its hash checked against the proposal's) on `target` in upgrade mode.
    async fn upgrade(
        &self,
        proposal: ProposalId,
        target: UpgradeTarget,
        wasm: ByteBuf,
        arg: ByteBuf,
    ) -> TargetOutcome;
    /// Why no generic function may call `target`, if none may (see
    /// `GovernanceConfig::generic_target_refusal`).
    fn generic_target_refusal(&self, target: Principal) -> Option<&'static str>;
    /// `function`'s validator on `payload`: its rendering for voters, or the refusal (`Refused`: the
    /// validator's `Err`, or a reject that will not pass; `Unknown`: one that may).
    async fn validate_generic(
        &self,
        function: &GenericFunction,
        payload: &[u8],
    ) -> Result<String, TargetOutcome>;
    /// Calls `function`'s method with `payload` as its arguments (any reply is success).
    async fn call_generic(&self, function: &GenericFunction, payload: ByteBuf) -> TargetOutcome;
}

impl TargetOutcome {
    fn reason(self) -> String {
        match self {
            TargetOutcome::Done | TargetOutcome::AlreadyDone => "done".into(),
            TargetOutcome::Refused(reason) | TargetOutcome::Unknown(reason) => reason,
        }
    }
}

async fn ledger_fee<L: LedgerRuntime>(
    book: &RefCell<Book>,
    ledger: &L,
) -> Result<u128, GovernanceError> {
    book::ledger_fee(ledger, book)
        .await
        .map_err(|e| GovernanceError::TransferFailed {
            reason: format!("the ledger is unavailable: {e}"),
        })
}

#[allow(clippy::too_many_arguments)]
fn enqueue(
    book: &mut Book,
    kind: TransferKind,
    amount: u128,
    fee_policy: FeePolicy,
    memo: Vec<u8>,
    fee: u128,
    now: u64,
    op: MoneyOp,
) -> Result<IntentId, GovernanceError> {
    let transfer = Transfer {
        kind,
        gross: amount,
        fee_policy,
        memo,
        fee_limit: None,
    };
    enqueue_transfer(book, transfer, fee, now, op)
}

fn enqueue_transfer(
    book: &mut Book,
    transfer: Transfer,
    fee: u128,
    now: u64,
    op: MoneyOp,
) -> Result<IntentId, GovernanceError> {
    book.enqueue(transfer, fee, now, op)
        .map(|intent| intent.id)
        .map_err(|e| GovernanceError::InvalidArgument {
            field: "amount".into(),
            reason: format!("{e:?}"),
        })
}

/// A payment to the ledger's minting account would be a burn (fee 0, no `to` in its block): refused.
async fn refuse_minting_account<L: LedgerRuntime>(
    ledger: &L,
    book: &RefCell<Book>,
    to: &Account,
) -> Result<(), GovernanceError> {
    let burn = ledger_adapter::outbox::is_minting_account(ledger, book, to)
        .await
        .map_err(|e| GovernanceError::TransferFailed {
            reason: format!("the ledger is unavailable: {e}"),
        })?;
    if burn {
        return Err(GovernanceError::InvalidArgument {
            field: "to".into(),
            reason: "the ledger's minting account: a payment there would be a burn".into(),
        });
    }
    Ok(())
}

/// Drives a transfer and, once it resolved, applies what it was for. Returns its status.
pub async fn resolve<L: LedgerRuntime>(
    governance: &RefCell<Governance>,
    book: &RefCell<Book>,
    ledger: &L,
    id: IntentId,
) -> IntentStatus {
    let own = ledger.caller();
    // The time is read as the outcome is applied, after the ledger answered.
    let applied = book::resolve(ledger, book, id, |book, op, intent| {
        apply(
            &mut governance.borrow_mut(),
            book,
            own,
            op,
            intent,
            ledger.now(),
        );
        Ok::<(), Infallible>(())
    });
    let Ok(intent) = applied.await;
    intent.status
}

/// What a resolved transfer was for, done (`own`: governance's principal).
fn apply(
    g: &mut Governance,
    book: &mut Book,
    own: Principal,
    op: MoneyOp,
    intent: &ledger_adapter::outbox::TransferIntent,
    now: u64,
) {
    let completed = matches!(intent.status, IntentStatus::Completed { .. });
    match op {
        MoneyOp::Stake {
            neuron,
            controller,
            amount,
            dissolve_delay_seconds,
        } => {
            if completed {
                g.create_neuron(neuron, controller, amount, dissolve_delay_seconds, now)
                    .expect("BUG: a freshly allocated neuron id is refused");
            }
            g.end_transfer(neuron);
        }
        MoneyOp::AddStake { neuron, amount } => {
            // The neuron is busy until now (after an upgrade too, `restore_busy`), so it is there;
            // were it not, the tokens would stay in its subaccount rather than trap every job.
            if completed {
                let _ = g.add_stake(neuron, amount, now);
            }
            g.end_transfer(neuron);
        }
        MoneyOp::Disburse { neuron, amount } => {
            if completed {
                g.disbursed(neuron, amount);
                sweep_fees(g, book, own, neuron, intent.fee, now);
            } else {
                g.end_transfer(neuron);
            }
        }
        MoneyOp::Split {
            parent,
            child,
            amount,
        } => {
            if completed {
                let fee = u64::try_from(intent.fee).unwrap_or(u64::MAX);
                g.split_completed(parent, child, amount, fee, now);
            }
            g.end_transfer(parent);
            g.end_transfer(child);
        }
        MoneyOp::Merge { target, source } => {
            if completed {
                let moved = u64::try_from(intent.amount()).unwrap_or(u64::MAX);
                g.merge_completed(target, source, moved, now);
            }
            g.end_transfer(target);
            g.end_transfer(source);
        }
        MoneyOp::SweepFees { neuron } => {
            // A refused sweep leaves the reject costs in the subaccount; the neuron goes either way.
            g.remove_neuron(neuron);
            g.end_transfer(neuron);
        }
        MoneyOp::Treasury { proposal } => {
            let result = match &intent.status {
                IntentStatus::Failed { reason } => Err(reason.clone()),
                _ => Ok(()),
            };
            g.record_execution(proposal, result, now);
        }
    }
}

/// After a disbursement: moves the neuron's reject costs to governance's own account (`own`) when
/// they exceed the ledger fee, then removes the neuron.
fn sweep_fees(
    g: &mut Governance,
    book: &mut Book,
    own: Principal,
    neuron: NeuronId,
    fee: u128,
    now: u64,
) {
    let fees = g.neuron(neuron).map_or(0, |n| n.stake);
    if fees as u128 > fee {
        let kind = TransferKind::Transfer {
            from_subaccount: Some(neuron_subaccount(neuron)),
            to: Account {
                owner: own,
                subaccount: None,
            },
        };
        let memo = tagged_memo(FEES_MEMO_TAG, g.next_memo_seq());
        let op = MoneyOp::SweepFees { neuron };
        let policy = FeePolicy::DeductedFromAmount;
        if enqueue(book, kind, fees as u128, policy, memo, fee, now, op).is_ok() {
            return;
        }
    }
    g.remove_neuron(neuron);
    g.end_transfer(neuron);
}

fn outcome(status: IntentStatus) -> Result<(), GovernanceError> {
    match status {
        IntentStatus::Completed { .. } => Ok(()),
        IntentStatus::Failed { reason } => Err(GovernanceError::TransferFailed { reason }),
        IntentStatus::Pending => Err(GovernanceError::Pending),
    }
}

/// Marks busy again, after an upgrade (the busy set lives on the heap), every neuron whose stake an
/// unresolved transfer of `book` moves, so that nothing else moves or re-dissolves it before the
/// ledger answered.
pub fn restore_busy(governance: &RefCell<Governance>, book: &RefCell<Book>) {
    let ops = book.borrow().unresolved(usize::MAX);
    let mut g = governance.borrow_mut();
    for (_, op) in ops {
        for neuron in op.neurons() {
            g.try_begin_transfer(neuron);
        }
    }
}

/// The timer's part for one book: drives every unresolved transfer and applies those that resolve.
pub async fn drive_pending<L: LedgerRuntime>(
    governance: &RefCell<Governance>,
    book: &RefCell<Book>,
    ledger: &L,
) -> usize {
    let ids = book.borrow().unresolved_ids(ITEMS_PER_RUN);
    for id in &ids {
        resolve(governance, book, ledger, *id).await;
    }
    ids.len()
}

/// Executes adopted proposals: calls their targets (each accepts a proposal id once, so a retry
/// after an unknown outcome is safe; the retries are bounded), pays treasury transfers through the
/// treasury book, and records each result. Economic limits are checked again first. Returns the
/// proposals handled.
pub async fn execute_due<L: LedgerRuntime, T: Targets>(
    governance: &RefCell<Governance>,
    treasury: &RefCell<Book>,
    payment_ledger: &L,
    targets: &T,
    now: u64,
) -> Vec<ProposalId> {
    let due = governance.borrow().executions_due(ITEMS_PER_RUN, now);
    let mut handled = Vec::new();
    for (id, action) in due {
        handled.push(id);
        let target_outcome = match action {
            Action::TransferTreasury { to, amount } => {
                pay_from_treasury(governance, treasury, payment_ledger, id, to, amount, now).await;
                continue;
            }
            Action::SetGovernanceParameters { .. }
            | Action::Motion { .. }
            | Action::RegisterGenericFunction { .. }
            | Action::RemoveGenericFunction { .. } => {
                let mut checked = governance
                    .borrow()
                    .check_before_execution(id, now, 0)
                    .map_err(|e| format!("{e:?}"));
                if let Action::RegisterGenericFunction { target, .. } = &action {
                    if let Some(what) = targets.generic_target_refusal(*target) {
                        checked = Err(format!("{what} may not be a generic function's target"));
                    }
                }
                governance.borrow_mut().record_execution(id, checked, now);
                continue;
            }
            Action::ExecuteGenericFunction { function, payload } => {
                let checked = governance
                    .borrow()
                    .check_before_execution(id, now, 0)
                    .and_then(|()| governance.borrow().check_generic_call(function, &payload));
                match checked {
                    Err(e) => TargetOutcome::Refused(format!("{e:?}")),
                    Ok(f) => match targets.validate_generic(&f, &payload).await {
                        Ok(_) => targets.call_generic(&f, payload).await,
                        Err(TargetOutcome::Refused(reason)) => TargetOutcome::Refused(format!(
                            "the validator refused the payload at execution: {reason}"
                        )),
                        Err(other) => other,
                    },
                }
            }
            Action::SetRoyaltySplit { split } => targets.set_royalty_split(id, split).await,
            Action::SetCallFee { call_fee } => targets.set_call_fee(id, call_fee).await,
            Action::AdmitNode { node } => targets.decide_node(id, node, NodeAction::Admit).await,
            Action::SuspendNode { node } => {
                targets.decide_node(id, node, NodeAction::Suspend).await
            }
            Action::RemoveNode { node } => targets.decide_node(id, node, NodeAction::Remove).await,
            Action::ModerateModel {
                model,
                action,
                reason,
            } => {
                let args = ModerateModelArgs {
                    proposal_id: id,
                    model,
                    action,
                    reason,
                };
                targets.moderate_model(args).await
            }
            Action::SetPayoutSettings { settings } => {
                targets.set_payout_settings(id, settings).await
            }
            Action::SetProxyLimits { limits } => targets.set_proxy_limits(id, limits).await,
            Action::UpgradeCanister {
                target, wasm, arg, ..
            } => {
                let checked = governance.borrow().check_before_execution(id, now, 0);
                if let Err(e) = checked {
                    governance
                        .borrow_mut()
                        .record_execution(id, Err(format!("{e:?}")), now);
                    continue;
                }
                targets.upgrade(id, target, wasm, arg).await
            }
        };
        let result = match target_outcome {
            TargetOutcome::Done | TargetOutcome::AlreadyDone => Ok(()),
            TargetOutcome::Refused(reason) => Err(reason),
            TargetOutcome::Unknown(reason) => {
                governance
                    .borrow_mut()
                    .record_unknown_outcome(id, reason, now);
                continue;
            }
        };
        governance.borrow_mut().record_execution(id, result, now);
    }
    handled
}

async fn pay_from_treasury<L: LedgerRuntime>(
    governance: &RefCell<Governance>,
    treasury: &RefCell<Book>,
    ledger: &L,
    proposal: ProposalId,
    to: Account,
    amount: u128,
    now: u64,
) {
    let existing = treasury
        .borrow()
        .find(|op| *op == MoneyOp::Treasury { proposal });
    if let Some(intent) = existing {
        resolve(governance, treasury, ledger, intent).await;
        return;
    }
    let in_flight: u128 = {
        let t = treasury.borrow();
        t.unresolved(usize::MAX)
            .into_iter()
            .filter(|(_, op)| matches!(op, MoneyOp::Treasury { .. }))
            .filter_map(|(id, _)| t.intent(id).map(|i| i.gross))
            .fold(0u128, u128::saturating_add)
    };
    let checked = governance
        .borrow()
        .check_before_execution(proposal, now, in_flight);
    if let Err(e) = checked {
        governance
            .borrow_mut()
            .record_execution(proposal, Err(format!("{e:?}")), now);
        return;
    }
    match refuse_minting_account(ledger, treasury, &to).await {
        Err(GovernanceError::InvalidArgument { reason, .. }) => {
            governance
                .borrow_mut()
                .record_execution(proposal, Err(reason), now);
            return;
        }
        // The ledger did not answer and nothing was sent: tried again, a bounded number of times.
        Err(e) => {
            governance
                .borrow_mut()
                .record_unknown_outcome(proposal, format!("{e:?}"), now);
            return;
        }
        Ok(()) => {}
    }
    let fee = match ledger_fee(treasury, ledger).await {
        Ok(fee) => fee,
        Err(e) => {
            // Nothing was sent: giving up after the bounded retries is safe.
            governance
                .borrow_mut()
                .record_unknown_outcome(proposal, format!("{e:?}"), now);
            return;
        }
    };
    let kind = TransferKind::Transfer {
        from_subaccount: Some(TREASURY_SUBACCOUNT),
        to,
    };
    let enqueued = enqueue(
        &mut treasury.borrow_mut(),
        kind,
        amount,
        FeePolicy::PaidBySender,
        tagged_memo(TREASURY_MEMO_TAG, proposal),
        fee,
        now,
        MoneyOp::Treasury { proposal },
    );
    match enqueued {
        Ok(intent) => {
            resolve(governance, treasury, ledger, intent).await;
        }
        Err(e) => governance
            .borrow_mut()
            .record_execution(proposal, Err(format!("{e:?}")), now),
    }
}

/// `treasury`: the DAO treasury's balance on the payment ledger and what `TransferTreasury` may
/// still move in the current 7 days.
pub async fn treasury_view<L: LedgerRuntime>(
    governance: &RefCell<Governance>,
    ledger: &L,
    caller: Principal,
    now: u64,
) -> Result<TreasuryView, GovernanceError> {
    // Each call costs a ledger call.
    if caller == Principal::anonymous() {
        return Err(GovernanceError::AnonymousCaller);
    }
    let account = Account {
        owner: ledger.caller(),
        subaccount: Some(TREASURY_SUBACCOUNT),
    };
    let unavailable = |reason: String| GovernanceError::LedgerUnavailable { reason };
    let balance = ledger
        .icrc1_balance_of(account)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    let ledger_balance = ledger_adapter::nat_to_u128_checked(&balance)
        .ok_or_else(|| unavailable(format!("balance {balance} exceeds u128")))?;
    let g = governance.borrow();
    Ok(TreasuryView {
        account,
        ledger_balance,
        cap_per_7_days: g.parameters().treasury_cap_per_7_days,
        used_last_7_days: g.treasury_used(now),
    })
}
