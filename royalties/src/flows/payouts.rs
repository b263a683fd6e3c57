//! Payout flows, generic over the ledger runtime so that they run the same natively and in the canister.
//! No `RefCell` borrow is held across an `await`.

use crate::state::State;
use candid::Principal;
use icrc_ledger_types::icrc1::account::Account;
use ledger_adapter::book;
use ledger_adapter::outbox::is_minting_account;
use ledger_adapter::outbox::IntentStatus;
use ledger_adapter::LedgerRuntime;
use neuranft_types::guard::{OnDrop, Refusal};
use neuranft_types::royalties::*;
use std::cell::RefCell;

/// Pending payouts retried per timer run.
const RETRIES_PER_RUN: usize = 50;
/// Automatic payouts started per timer run, and balances scanned to find them.
const AUTO_PAYOUTS_PER_RUN: usize = 50;
const BALANCES_SCANNED_PER_RUN: usize = 2_000;

async fn ledger_fee<L: LedgerRuntime>(
    state: &RefCell<State>,
    ledger: &L,
) -> Result<u128, ClaimError> {
    book::ledger_fee(ledger, state)
        .await
        .map_err(|e| ClaimError::LedgerUnavailable {
            reason: e.to_string(),
        })
}

/// Drives a recorded payout's transfer through the outbox and applies the outcome, if there is one
/// yet. Returns the payout as it now stands.
pub async fn execute_payout<L: LedgerRuntime>(
    state: &RefCell<State>,
    ledger: &L,
    id: PayoutId,
    now: u64,
) -> Payout {
    let payout = state.borrow().payout(id).expect("BUG: unknown payout");
    if payout.status != PayoutStatus::Pending {
        return payout;
    }
    let applied = book::resolve(ledger, state, payout.intent, |s, payout, intent| {
        s.apply(payout, intent, now);
        Ok::<(), std::convert::Infallible>(())
    });
    let Ok(intent) = applied.await;
    if intent.status == IntentStatus::Pending {
        state.borrow_mut().refresh_pending_payout(id, &intent);
    }
    state.borrow().payout(id).expect("BUG: unknown payout")
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
    match state.borrow_mut().try_begin_claim(caller) {
        Ok(()) => {}
        Err(Refusal::AlreadyInFlight) => return Err(ClaimError::AlreadyProcessing),
        Err(Refusal::Full { cap }) => return Err(ClaimError::Busy { cap }),
    }
    let _claiming = OnDrop::new(|| {
        if let Ok(mut s) = state.try_borrow_mut() {
            s.end_claim(caller);
        }
    });
    claim_guarded(state, ledger, caller, args, now).await
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
    let unavailable = |e: ledger_adapter::CallFailure| ClaimError::LedgerUnavailable {
        reason: e.to_string(),
    };
    if is_minting_account(ledger, state, &to)
        .await
        .map_err(unavailable)?
    {
        return Err(ClaimError::MintingAccountDestination);
    }
    let fee = ledger_fee(state, ledger).await?;
    let payout = state
        .borrow_mut()
        .record_payout(&account, &to, PayoutKind::Claim, fee, now)?;
    let payout = execute_payout(state, ledger, payout.id, now).await;
    match &payout.status {
        PayoutStatus::Failed { reason } => Err(ClaimError::TransferFailed {
            payout: payout.id,
            reason: reason.clone(),
        }),
        _ => Ok(payout),
    }
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
    let _running = OnDrop::new(|| {
        if let Ok(mut s) = state.try_borrow_mut() {
            s.payout_job_running = false;
        }
    });
    payout_job(state, ledger, now).await
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
        // A stakeholder named by the minting account is never paid automatically (it would be a
        // burn); it may still claim to another account.
        match is_minting_account(ledger, state, &account).await {
            Ok(false) => {}
            Ok(true) => continue,
            // The ledger does not answer: the rest waits for the next run.
            Err(_) => break,
        }
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
    caller: Principal,
) -> Result<AuditReport, AuditError> {
    // Each audit costs a ledger call.
    if caller == Principal::anonymous() {
        return Err(AuditError::AnonymousCaller);
    }
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
