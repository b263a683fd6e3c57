//! Payout flows, generic over the ledger runtime so that they run the same natively and in the canister.
//! No `RefCell` borrow is held across an `await`.

use crate::state::State;
use candid::Principal;
use icrc_ledger_types::icrc1::account::Account;
use ledger_adapter::memory::{PERMITTED_DRIFT_NANOS, TRANSACTION_WINDOW_NANOS};
use ledger_adapter::{fetch_fee, transfer_identical, LedgerRuntime, TransferOutcome};
use neuranft_types::royalties::*;
use std::cell::RefCell;

/// Immediate resends of an identical payload inside one execution before leaving it to the timer.
const IMMEDIATE_ATTEMPTS: u32 = 2;
/// Pending payouts retried per timer run.
const RETRIES_PER_RUN: usize = 50;
/// Automatic payouts started per timer run, and balances scanned to find them.
const AUTO_PAYOUTS_PER_RUN: usize = 50;
const BALANCES_SCANNED_PER_RUN: usize = 2_000;

async fn ledger_fee<L: LedgerRuntime>(
    state: &RefCell<State>,
    ledger: &L,
) -> Result<u128, ClaimError> {
    if let Some(fee) = state.borrow().ledger_fee() {
        return Ok(fee);
    }
    let fee = fetch_fee(ledger)
        .await
        .map_err(|e| ClaimError::LedgerUnavailable {
            reason: e.to_string(),
        })?;
    state.borrow_mut().set_ledger_fee(fee);
    Ok(fee)
}

/// Sends a recorded payout once (with immediate resends of the identical payload while the outcome is
/// unknown) and applies the definite outcome, if any. Returns the payout as it now stands.
pub async fn execute_payout<L: LedgerRuntime>(
    state: &RefCell<State>,
    ledger: &L,
    id: PayoutId,
    now: u64,
) -> Payout {
    let payout = match state.borrow().payout(id) {
        Some(p) if p.status == PayoutStatus::Pending => p,
        Some(p) => return p,
        None => panic!("BUG: unknown payout {id}"),
    };
    let arg = State::payout_transfer_arg(&payout);
    let report = transfer_identical(ledger, &arg, IMMEDIATE_ATTEMPTS).await;
    let mut s = state.borrow_mut();
    // Another execution may have finished it while this one awaited.
    if s.payout(id).map(|p| p.status) != Some(PayoutStatus::Pending) {
        return s.payout(id).expect("payout exists");
    }
    let payout = s.note_payout_attempt(id, report.outcome_was_unknown);
    let window_end = payout.created_at_time + TRANSACTION_WINDOW_NANOS + PERMITTED_DRIFT_NANOS;
    match report.outcome {
        TransferOutcome::Completed { block_index } => s.complete_payout(id, block_index, now),
        TransferOutcome::RetrySamePayload { .. } if now > window_end => {
            s.payout_needs_reconciliation(id, now)
        }
        TransferOutcome::RetrySamePayload { .. } => payout,
        // After an unknown outcome no error proves that nothing was paid: the ledger's blocks decide.
        TransferOutcome::FeeChanged { .. }
        | TransferOutcome::Rejected { .. }
        | TransferOutcome::Bug { .. }
        | TransferOutcome::Expired
            if payout.outcome_unknown =>
        {
            s.payout_needs_reconciliation(id, now)
        }
        TransferOutcome::FeeChanged { expected_fee } => {
            if let Some(fee) = ledger_adapter::nat_to_u128_checked(&expected_fee) {
                s.set_ledger_fee(fee);
            }
            s.fail_payout(id, format!("ledger fee changed to {expected_fee}"), now)
        }
        TransferOutcome::Rejected { reason } | TransferOutcome::Bug { reason } => {
            s.fail_payout(id, reason, now)
        }
        TransferOutcome::Expired => s.fail_payout(id, "created_at_time too old".into(), now),
    }
}

/// `claim`: pays the whole accrual of the caller's account (minus the ledger fee) to `to`.
pub async fn claim<L: LedgerRuntime>(
    state: &RefCell<State>,
    ledger: &L,
    caller: Principal,
    args: ClaimArgs,
    now: u64,
) -> Result<Payout, ClaimError> {
    if caller == Principal::anonymous() {
        return Err(ClaimError::AnonymousCaller);
    }
    if !state.borrow_mut().try_begin_claim(caller) {
        return Err(ClaimError::AlreadyProcessing);
    }
    let result = claim_guarded(state, ledger, caller, args, now).await;
    state.borrow_mut().end_claim(caller);
    result
}

async fn claim_guarded<L: LedgerRuntime>(
    state: &RefCell<State>,
    ledger: &L,
    caller: Principal,
    args: ClaimArgs,
    now: u64,
) -> Result<Payout, ClaimError> {
    let account = Account {
        owner: caller,
        subaccount: args.from_subaccount,
    };
    let to = args.to.unwrap_or(account);
    // A changed fee fails the first payout definitely (nothing moved); one rebuild with the new fee follows.
    let mut last = None;
    for _ in 0..2 {
        let fee = ledger_fee(state, ledger).await?;
        let payout =
            state
                .borrow_mut()
                .record_payout(&account, &to, PayoutKind::Claim, fee, now)?;
        let payout = execute_payout(state, ledger, payout.id, now).await;
        match &payout.status {
            PayoutStatus::Failed { reason } if reason.starts_with("ledger fee changed") => {
                last = Some(payout)
            }
            PayoutStatus::Failed { reason } => {
                return Err(ClaimError::TransferFailed {
                    payout: payout.id,
                    reason: reason.clone(),
                })
            }
            _ => return Ok(payout),
        }
    }
    let payout = last.expect("loop ran");
    Err(ClaimError::TransferFailed {
        payout: payout.id,
        reason: "ledger fee kept changing".into(),
    })
}

/// What one run of the payout job did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PayoutJobReport {
    pub retried: usize,
    pub started: usize,
}

/// The timer's job: resend pending payouts, then push accruals of at least `k × fee`. Single-flight.
pub async fn run_payout_job<L: LedgerRuntime>(
    state: &RefCell<State>,
    ledger: &L,
    now: u64,
) -> PayoutJobReport {
    {
        let mut s = state.borrow_mut();
        if s.payout_job_running {
            return PayoutJobReport::default();
        }
        s.payout_job_running = true;
    }
    let report = payout_job(state, ledger, now).await;
    state.borrow_mut().payout_job_running = false;
    report
}

async fn payout_job<L: LedgerRuntime>(
    state: &RefCell<State>,
    ledger: &L,
    now: u64,
) -> PayoutJobReport {
    let mut report = PayoutJobReport::default();
    let pending = state.borrow().pending_payout_ids(RETRIES_PER_RUN);
    for id in pending {
        execute_payout(state, ledger, id, now).await;
        report.retried += 1;
    }
    let Ok(fee) = ledger_fee(state, ledger).await else {
        return report;
    };
    let threshold = {
        let k = state.borrow().config().auto_payout_fee_multiple as u128;
        fee.saturating_mul(k).max(fee + 1)
    };
    let accounts = state.borrow_mut().auto_payout_candidates(
        threshold,
        AUTO_PAYOUTS_PER_RUN,
        BALANCES_SCANNED_PER_RUN,
    );
    for account in accounts {
        let recorded =
            state
                .borrow_mut()
                .record_payout(&account, &account, PayoutKind::Automatic, fee, now);
        if let Ok(payout) = recorded {
            execute_payout(state, ledger, payout.id, now).await;
            report.started += 1;
        }
    }
    report
}

/// Compares the canister's ledger balance with what it owes.
pub async fn audit<L: LedgerRuntime>(
    state: &RefCell<State>,
    ledger: &L,
) -> Result<AuditReport, AuditError> {
    let own = Account {
        owner: ledger.caller(),
        subaccount: None,
    };
    let balance =
        ledger
            .icrc1_balance_of(own)
            .await
            .map_err(|e| AuditError::LedgerUnavailable {
                reason: e.to_string(),
            })?;
    let balance =
        ledger_adapter::nat_to_u128_checked(&balance).ok_or(AuditError::LedgerUnavailable {
            reason: "balance exceeds u128".into(),
        })?;
    Ok(state.borrow().audit_against(balance))
}
