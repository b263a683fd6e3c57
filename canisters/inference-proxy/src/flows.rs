//! Deposits, withdrawals and the resolution of pending transfers, generic over the ledger runtime so
//! the same code runs in the canister and natively. No `RefCell` borrow is held across an await.

use crate::state::{MoneyError, ProxyState};
use candid::Principal;
use ledger_adapter::outbox::{self, IntentId, IntentStatus};
use ledger_adapter::{fetch_fee, LedgerRuntime};
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
    state.borrow_mut().apply_intent(id)
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
