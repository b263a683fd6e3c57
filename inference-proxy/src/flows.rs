//! Deposits, withdrawals and the resolution of pending transfers, generic over the ledger runtime so
//! the same code runs in the canister and natively. No `RefCell` borrow is held across an await.

use crate::metering::BatchStatus;
use crate::state::{ApplyError, MoneyError, ProxyState};
use candid::Principal;
use ledger_adapter::book;
use ledger_adapter::book::BookHost;
use ledger_adapter::outbox::is_minting_account;
use ledger_adapter::outbox::{IntentId, IntentStatus};
use ledger_adapter::{fetch_fee, CallFailure, LedgerRuntime};
use neuranft_types::guard::{OnDrop, Refusal};
use neuranft_types::proxy::{ProxyAudit, ProxyAuditError};
use neuranft_types::royalties::{SettleArgs, SettleError, SettleOk};
use neuranft_types::Account;
use std::cell::RefCell;

/// Intents driven per timer run.
pub const INTENTS_PER_RUN: usize = 50;

async fn ledger_fee<L: LedgerRuntime>(
    state: &RefCell<ProxyState>,
    ledger: &L,
) -> Result<u128, MoneyError> {
    book::ledger_fee(ledger, state)
        .await
        .map_err(|e| MoneyError::LedgerUnavailable {
            reason: e.to_string(),
        })
}

/// Drives an intent and applies it if it resolved.
pub async fn settle_intent<L: LedgerRuntime>(
    state: &RefCell<ProxyState>,
    ledger: &L,
    id: IntentId,
) -> Result<IntentStatus, ApplyError> {
    book::resolve(ledger, state, id, |s, op, intent| s.apply(op, intent))
        .await
        .map(|intent| intent.status)
}

fn outcome(id: IntentId, status: Result<IntentStatus, ApplyError>) -> Result<(), MoneyError> {
    match status {
        Ok(IntentStatus::Completed { .. }) => Ok(()),
        Ok(IntentStatus::Failed { reason }) => Err(MoneyError::TransferFailed { reason }),
        Ok(IntentStatus::Pending) | Err(_) => Err(MoneyError::Pending { intent: id }),
    }
}

async fn guarded<T>(
    state: &RefCell<ProxyState>,
    caller: Principal,
    body: impl std::future::Future<Output = Result<T, MoneyError>>,
) -> Result<T, MoneyError> {
    if caller == Principal::anonymous() {
        return Err(MoneyError::AnonymousCaller);
    }
    match state.borrow_mut().try_begin(caller) {
        Ok(()) => {}
        Err(Refusal::AlreadyInFlight) => return Err(MoneyError::AlreadyProcessing),
        Err(Refusal::Full { cap }) => return Err(MoneyError::Busy { cap }),
    }
    // The caller's turn ends however the body ends, a trap in a later callback included.
    let _busy = OnDrop::new(|| {
        if let Ok(mut s) = state.try_borrow_mut() {
            s.end(caller);
        }
    });
    body.await
}

/// `deposit(amount)`: pulls `amount` from the caller with ICRC-2 `transfer_from` (the caller approved
/// `amount + fee`) and credits it once the ledger has moved it.
pub async fn deposit<L: LedgerRuntime>(
    state: &RefCell<ProxyState>,
    ledger: &L,
    caller: Principal,
    amount: u128,
    now: u64,
) -> Result<(), MoneyError> {
    guarded(state, caller, async {
        let fee = ledger_fee(state, ledger).await?;
        let intent =
            state
                .borrow_mut()
                .record_deposit(caller, ledger.caller(), amount, fee, now)?;
        outcome(intent.id, settle_intent(state, ledger, intent.id).await)
    })
    .await
}

/// `withdraw(amount, to)`: pays `amount − fee` to `to` from the caller's balance, exactly once; a
/// definite failure restores the balance.
pub async fn withdraw<L: LedgerRuntime>(
    state: &RefCell<ProxyState>,
    ledger: &L,
    caller: Principal,
    amount: u128,
    to: Option<Account>,
    now: u64,
) -> Result<(), MoneyError> {
    guarded(state, caller, async {
        let fee = ledger_fee(state, ledger).await?;
        let to = to.unwrap_or(Account {
            owner: caller,
            subaccount: None,
        });
        let burn = is_minting_account(ledger, state, &to).await.map_err(|e| {
            MoneyError::LedgerUnavailable {
                reason: e.to_string(),
            }
        })?;
        if burn {
            return Err(MoneyError::MintingAccountDestination);
        }
        let intent = state
            .borrow_mut()
            .record_withdrawal(caller, to, amount, fee, now)?;
        outcome(intent.id, settle_intent(state, ledger, intent.id).await)
    })
    .await
}

/// The timer's part: drive every unresolved transfer (deposits, withdrawals, batch transfers) and
/// apply those that resolve. Returns how many were driven.
pub async fn drive_pending<L: LedgerRuntime>(state: &RefCell<ProxyState>, ledger: &L) -> usize {
    let ids = state.borrow().unresolved_intents(INTENTS_PER_RUN);
    for id in &ids {
        // An intent that cannot be applied keeps its record: the audit shows it as unresolved.
        let _ = settle_intent(state, ledger, *id).await;
    }
    ids.len()
}

/// How the proxy reaches royalties' `settle`.
#[allow(async_fn_in_trait)]
pub trait RoyaltiesClient {
    async fn settle(
        &self,
        args: SettleArgs,
    ) -> Result<Result<SettleOk, SettleError>, ledger_adapter::CallFailure>;
}

/// Batches settled per run at most.
pub const SETTLES_PER_RUN: usize = 20;
/// Batches closed per run at most: one message never does unbounded work however many receipts wait.
pub const CLOSES_PER_RUN: usize = 10;
/// Set-aside batches offered to royalties again per run.
pub const SET_ASIDE_RETRIES_PER_RUN: usize = 2;
/// Failed `settle` calls after which a run stops offering batches.
pub const FAILED_SETTLES_PER_RUN: usize = 3;
/// Flushes in which one batch's `settle` call failed before the batch is set aside.
pub const SETTLE_FAILURES_BEFORE_SET_ASIDE: u32 = 5;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlushReport {
    pub closed: Vec<u64>,
    pub settled: Vec<u64>,
    /// Why a step stopped early (a low fee reserve, royalties unreachable, a refused batch).
    pub waiting: Vec<String>,
}

/// The flush: resolve earlier transfers; with the ledger's fee as it is now, send again the batches
/// whose transfer failed and close batches of the open receipts (all of them, or only full batches
/// unless `all`); transfer each to royalties through the outbox; then `settle` every transferred
/// batch. A batch royalties refuses is set aside — it never holds up later ones — and offered again
/// a few at a time. Each step is idempotent and resumes where it stopped, across upgrades.
pub async fn flush<L: LedgerRuntime, R: RoyaltiesClient>(
    state: &RefCell<ProxyState>,
    ledger: &L,
    royalties: &R,
    all: bool,
) -> FlushReport {
    let mut report = FlushReport::default();
    // One flush at a time (the timer and callers may overlap): two would both see a batch to send
    // again across their awaits.
    if !state.borrow_mut().try_begin_flush() {
        report.waiting.push("another flush is running".into());
        return report;
    }
    let _flushing = OnDrop::new(|| {
        if let Ok(mut s) = state.try_borrow_mut() {
            s.end_flush();
        }
    });
    drive_pending(state, ledger).await;
    let max = state.borrow().config().max_receipts_per_batch as u64;
    let open = state.borrow().metering.open_receipt_count();
    let resend_waiting = !state.borrow().batches_to_send(1).is_empty();
    let mut sent = Vec::new();
    if resend_waiting || open >= max || (all && open > 0) {
        // The fee of the moment, not the cached one: a batch closed with a stale fee would go out
        // with a payload the ledger refuses.
        match fetch_fee(ledger).await {
            Ok(fee) => {
                state.borrow_mut().book().set_fee(fee);
                sent = send_batches(state, fee, all, ledger.now(), &mut report);
            }
            Err(e) => report
                .waiting
                .push(format!("the ledger fee is unknown: {e}")),
        }
    }
    for id in sent {
        let _ = settle_intent(state, ledger, id).await;
    }
    let to_settle = state.borrow().batches_to_settle(SETTLES_PER_RUN);
    let retries = state
        .borrow_mut()
        .set_aside_batches_to_retry(SET_ASIDE_RETRIES_PER_RUN);
    let mut failed_calls = 0;
    for id in to_settle.into_iter().chain(retries) {
        if !settle_batch(state, royalties, id, &mut report).await {
            failed_calls += 1;
            // Royalties is most likely stopped or unreachable: the rest waits for the next run.
            if failed_calls >= FAILED_SETTLES_PER_RUN {
                break;
            }
        }
    }
    report
}

/// Records the transfers of batches to send again and of newly closed ones; returns their intents.
fn send_batches(
    state: &RefCell<ProxyState>,
    fee: u128,
    all: bool,
    now: u64,
    report: &mut FlushReport,
) -> Vec<IntentId> {
    let mut s = state.borrow_mut();
    let mut intents = Vec::new();
    for batch in s.batches_to_send(CLOSES_PER_RUN) {
        match s.resend_batch(batch, fee, now) {
            Ok(intent) => intents.push(intent),
            Err(e) => report
                .waiting
                .push(format!("batch {batch} waits to be sent again: {e:?}")),
        }
    }
    let config = s.config();
    let max = config.max_receipts_per_batch as u64;
    for _ in 0..CLOSES_PER_RUN {
        let open = s.metering.open_receipt_count();
        if open == 0 || (!all && open < max) {
            break;
        }
        let closed = s.metering.close_batch(max as usize, fee, now);
        let recorded = closed.and_then(|batch| match batch {
            Some(batch) => s
                .record_batch_transfer(batch.id, config.royalties, batch.total, fee, now)
                .map(|intent| Some((batch.id, intent.id))),
            None => Ok(None),
        });
        match recorded {
            Ok(Some((batch, intent))) => {
                report.closed.push(batch);
                intents.push(intent);
            }
            Ok(None) => break,
            Err(e) => {
                report.waiting.push(format!("cannot close a batch: {e:?}"));
                break;
            }
        }
    }
    intents
}

/// Offers one transferred (or set-aside) batch to royalties. `false` when the call failed.
async fn settle_batch<R: RoyaltiesClient>(
    state: &RefCell<ProxyState>,
    royalties: &R,
    id: u64,
    report: &mut FlushReport,
) -> bool {
    let Some(batch) = state.borrow().metering.batch(id) else {
        state.borrow_mut().forget_settle_entry(id);
        return true;
    };
    let block = match batch.status {
        BatchStatus::Transferred { block } | BatchStatus::SetAside { block, .. } => block,
        BatchStatus::AwaitingTransfer { .. } | BatchStatus::Settled => {
            state.borrow_mut().forget_settle_entry(id);
            return true;
        }
    };
    let args = SettleArgs {
        batch_id: id,
        funding_block: block,
        receipts: batch.receipts,
    };
    let answer = royalties.settle(args).await;
    let mut s = state.borrow_mut();
    match answer {
        Ok(Ok(_)) => {
            if s.batch_settled(id).is_ok() {
                report.settled.push(id);
            }
            true
        }
        Ok(Err(e)) => {
            let reason = format!("{e:?}");
            report
                .waiting
                .push(format!("royalties refused batch {id}, set aside: {reason}"));
            let _ = s.set_batch_aside(id, reason);
            true
        }
        // An answer this proxy cannot read (an older royalties' error type, say) is the same every
        // time: set aside like a refusal.
        Err(e @ CallFailure::BadReply { .. }) => {
            let reason = e.to_string();
            report.waiting.push(format!(
                "royalties' answer on batch {id} is unreadable, set aside: {reason}"
            ));
            let _ = s.set_batch_aside(id, reason);
            true
        }
        // Stopped, busy, or trapping on this batch (the reject code alone cannot tell a stopped
        // canister from a trap): the batch stays, unless it failed in too many flushes — then it is
        // set aside, so that a batch royalties traps on cannot hold up the others for ever.
        Err(e) => {
            let failures = s.count_settle_failure(id);
            if failures >= SETTLE_FAILURES_BEFORE_SET_ASIDE {
                let _ = s.set_batch_aside(id, e.to_string());
            }
            report
                .waiting
                .push(format!("royalties did not settle batch {id}: {e}"));
            false
        }
    }
}

/// `audit`: compares the proxy's ledger balance with what it owes.
pub async fn audit<L: LedgerRuntime>(
    state: &RefCell<ProxyState>,
    ledger: &L,
    caller: Principal,
) -> Result<ProxyAudit, ProxyAuditError> {
    if caller == Principal::anonymous() {
        return Err(ProxyAuditError::AnonymousCaller);
    }
    let own = Account {
        owner: ledger.caller(),
        subaccount: None,
    };
    let unavailable = |reason: String| ProxyAuditError::LedgerUnavailable { reason };
    let balance = ledger
        .icrc1_balance_of(own)
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    let ledger_balance = ledger_adapter::nat_to_u128_checked(&balance)
        .ok_or_else(|| unavailable(format!("balance {balance} exceeds u128")))?;
    let s = state.borrow();
    let liabilities = s.metering.liabilities();
    let (set_aside_batches, set_aside_total) = s.set_aside_summary();
    Ok(ProxyAudit {
        agrees: ledger_balance == liabilities.total,
        ledger_balance,
        liabilities,
        unresolved_transfers: s.unresolved_count(),
        set_aside_batches,
        set_aside_total,
    })
}
