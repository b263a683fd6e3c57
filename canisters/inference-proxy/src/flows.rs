//! Deposits, withdrawals and the resolution of pending transfers, generic over the ledger runtime so
//! the same code runs in the canister and natively. No `RefCell` borrow is held across an await.

use crate::metering::BatchStatus;
use crate::state::{MoneyError, ProxyState};
use candid::Principal;
use ledger_adapter::outbox::{self, IntentId, IntentStatus};
use ledger_adapter::{fetch_fee, LedgerRuntime};
use neuranft_types::royalties::{SettleArgs, SettleError, SettleOk};
use neuranft_types::Account;
use std::cell::RefCell;

/// Intents driven per timer run.
pub const INTENTS_PER_RUN: usize = 50;

async fn ledger_fee<L: LedgerRuntime>(
    state: &RefCell<ProxyState>,
    ledger: &L,
) -> Result<u128, MoneyError> {
    if let Some(fee) = state.borrow().ledger_fee() {
        return Ok(fee);
    }
    let fee = fetch_fee(ledger)
        .await
        .map_err(|e| MoneyError::LedgerUnavailable {
            reason: e.to_string(),
        })?;
    state.borrow_mut().set_ledger_fee(fee);
    Ok(fee)
}

/// Drives an intent and applies it if it resolved.
pub async fn settle_intent<L: LedgerRuntime>(
    state: &RefCell<ProxyState>,
    ledger: &L,
    id: IntentId,
) -> IntentStatus {
    let intent = outbox::drive(ledger, state, id).await;
    state.borrow_mut().set_ledger_fee(intent.fee);
    state.borrow_mut().apply_intent(id, ledger.now())
}

fn outcome(id: IntentId, status: IntentStatus) -> Result<(), MoneyError> {
    match status {
        IntentStatus::Completed { .. } => Ok(()),
        IntentStatus::Failed { reason } => Err(MoneyError::TransferFailed { reason }),
        IntentStatus::Pending => Err(MoneyError::Pending { intent: id }),
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
    if !state.borrow_mut().try_begin(caller) {
        return Err(MoneyError::AlreadyProcessing);
    }
    let result = body.await;
    state.borrow_mut().end(caller);
    result
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
        settle_intent(state, ledger, *id).await;
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
pub const SETTLES_PER_RUN: u64 = 20;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlushReport {
    pub closed: Vec<u64>,
    pub settled: Vec<u64>,
    /// Why a step stopped early (a low fee reserve, royalties unreachable, a refused batch).
    pub waiting: Vec<String>,
}

/// The flush: close batches of the open receipts (all of them, or only full batches unless `all`),
/// transfer each batch total to royalties through the outbox, then `settle` every transferred batch.
/// Each step is idempotent and resumes where it stopped, across upgrades.
pub async fn flush<L: LedgerRuntime, R: RoyaltiesClient>(
    state: &RefCell<ProxyState>,
    ledger: &L,
    royalties: &R,
    all: bool,
) -> FlushReport {
    let mut report = FlushReport::default();
    let config = state.borrow().config();
    let max = config.max_receipts_per_batch as u64;
    if let Ok(fee) = ledger_fee(state, ledger).await {
        loop {
            let open = state.borrow().metering.open_receipt_count();
            if open == 0 || (!all && open < max) {
                break;
            }
            let mut s = state.borrow_mut();
            match s.metering.close_batch(max as usize, fee, ledger.now()) {
                Ok(Some(batch)) => {
                    s.record_batch_transfer(
                        batch.id,
                        config.royalties,
                        batch.total,
                        fee,
                        ledger.now(),
                    );
                    report.closed.push(batch.id);
                }
                Ok(None) => break,
                Err(e) => {
                    report.waiting.push(format!("cannot close a batch: {e:?}"));
                    break;
                }
            }
        }
    }
    drive_pending(state, ledger).await;
    let first = state.borrow().first_unsettled_batch();
    let mut cursor = first;
    let mut all_settled_so_far = true;
    for id in first..first + SETTLES_PER_RUN {
        let Some(batch) = state.borrow().metering.batch(id) else {
            break;
        };
        match batch.status {
            BatchStatus::Settled => {}
            BatchStatus::AwaitingTransfer { .. } => all_settled_so_far = false,
            BatchStatus::Transferred { block } => {
                let args = SettleArgs {
                    batch_id: id,
                    funding_block: block,
                    receipts: batch.receipts,
                };
                match royalties.settle(args).await {
                    Ok(Ok(_)) => {
                        state
                            .borrow_mut()
                            .metering
                            .batch_settled(id)
                            .expect("batch exists");
                        report.settled.push(id);
                    }
                    Ok(Err(e)) => {
                        report
                            .waiting
                            .push(format!("royalties refused batch {id}: {e:?}"));
                        all_settled_so_far = false;
                    }
                    Err(e) => {
                        report.waiting.push(format!("royalties unreachable: {e}"));
                        break;
                    }
                }
            }
        }
        if all_settled_so_far {
            cursor = id + 1;
        }
    }
    state.borrow_mut().set_first_unsettled_batch(cursor);
    report
}
