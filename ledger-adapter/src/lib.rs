//! The one place that talks to ICRC ledgers.
//!
//! The canister-side code is generic over [`LedgerRuntime`]: canisters use [`ic::IcLedger`] (real
//! bounded-wait calls, feature `ic`); tests and the simulation use [`memory::MemoryLedger`] (feature
//! `memory-ledger`), which runs the icrc-ledger canister's own state machine in memory, with fault
//! injection. Transfers that must happen exactly once go through the [`outbox`].

pub mod book;
#[cfg(feature = "ic")]
pub mod ic;
#[cfg(feature = "memory-ledger")]
pub mod memory;
pub mod outbox;
pub mod reconcile;

use candid::{Nat, Principal};
use icrc_ledger_types::icrc1::account::Account;
use icrc_ledger_types::icrc1::transfer::{TransferArg, TransferError};
use icrc_ledger_types::icrc2::allowance::{Allowance, AllowanceArgs};
use icrc_ledger_types::icrc2::approve::{ApproveArgs, ApproveError};
use icrc_ledger_types::icrc2::transfer_from::{TransferFromArgs, TransferFromError};
use icrc_ledger_types::icrc3::blocks::{GetBlocksRequest, GetBlocksResult};
use num_traits_like::nat_to_u128;

/// Deduplication window of ICRC ledgers (ICRC-1 `TX_WINDOW`).
pub const TRANSACTION_WINDOW_NANOS: u64 = 24 * 60 * 60 * 1_000_000_000;
/// How far ahead of the ledger's clock `created_at_time` may be (ICRC-1 `PERMITTED_DRIFT`).
pub const PERMITTED_DRIFT_NANOS: u64 = 60 * 1_000_000_000;

pub use icrc_ledger_types::icrc1::transfer::{Memo, TransferArg as Icrc1TransferArg};

/// Why a call to the ledger produced no answer from the ledger itself.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallFailure {
    /// The call was rejected with a reject code (IC codes: 1 SYS_FATAL … 6 SYS_UNKNOWN).
    #[error("call rejected with code {code}: {message}")]
    Rejected { code: u32, message: String },
    /// The canister could not even send the call (e.g. not enough cycles); the ledger saw nothing.
    #[error("call not sent: {message}")]
    NotSent { message: String },
    /// The reply could not be decoded.
    #[error("undecodable reply: {message}")]
    BadReply { message: String },
}

impl CallFailure {
    /// Whether the ledger may have executed the call. Only a call that was never sent is known not to
    /// have run; every other failure is treated as an unknown outcome and resolved by resending the
    /// identical payload, which ledger deduplication makes safe.
    pub fn outcome_unknown(&self) -> bool {
        !matches!(self, CallFailure::NotSent { .. })
    }

    /// Whether the same call may succeed later: it was never sent, its fate is unknown
    /// (`SYS_UNKNOWN`), the system was briefly unable (`SYS_TRANSIENT`), or the callee was stopped or
    /// trapped (`CANISTER_ERROR`). A fatal system error, an invalid destination, an explicit reject by
    /// the callee or an unreadable reply is the same every time.
    pub fn worth_retrying(&self) -> bool {
        match self {
            CallFailure::NotSent { .. } => true,
            CallFailure::Rejected { code, .. } => {
                matches!(*code, SYS_TRANSIENT | CANISTER_ERROR | SYS_UNKNOWN)
            }
            CallFailure::BadReply { .. } => false,
        }
    }
}

/// The IC's reject codes that [`CallFailure::worth_retrying`] tells apart.
pub const SYS_TRANSIENT: u32 = 2;
pub const CANISTER_ERROR: u32 = 5;
pub const SYS_UNKNOWN: u32 = 6;

/// Where `icrc3_get_blocks` is asked: the ledger itself, or an archive callback it pointed to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockSource {
    Ledger,
    Archive {
        canister_id: Principal,
        method: String,
    },
}

/// The ledger calls the canisters make. Implemented over real calls in canisters and in memory in tests.
#[allow(async_fn_in_trait)]
pub trait LedgerRuntime {
    async fn icrc1_transfer(
        &self,
        arg: TransferArg,
    ) -> Result<Result<Nat, TransferError>, CallFailure>;
    async fn icrc2_transfer_from(
        &self,
        arg: TransferFromArgs,
    ) -> Result<Result<Nat, TransferFromError>, CallFailure>;
    async fn icrc2_approve(
        &self,
        arg: ApproveArgs,
    ) -> Result<Result<Nat, ApproveError>, CallFailure>;
    async fn icrc2_allowance(&self, arg: AllowanceArgs) -> Result<Allowance, CallFailure>;
    async fn icrc1_fee(&self) -> Result<Nat, CallFailure>;
    async fn icrc1_minting_account(&self) -> Result<Option<Account>, CallFailure>;
    async fn icrc1_balance_of(&self, account: Account) -> Result<Nat, CallFailure>;
    async fn icrc3_get_blocks(
        &self,
        source: &BlockSource,
        args: Vec<GetBlocksRequest>,
    ) -> Result<GetBlocksResult, CallFailure>;
    /// The principal the ledger sees as the caller (the canister itself).
    fn caller(&self) -> Principal;
    /// The caller's clock (the canister's `time()`), in nanoseconds since the epoch.
    fn now(&self) -> u64;
}

/// What a transfer attempt means for the intent that made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TransferOutcome {
    /// Executed, now or by an earlier attempt of the same payload (`Duplicate`).
    Completed { block_index: Nat },
    /// Outcome unknown or the ledger is busy: send the identical payload again later.
    RetrySamePayload { reason: String },
    /// The fee changed: nothing happened; a new payload must be built with `expected_fee`.
    FeeChanged { expected_fee: Nat },
    /// Definitely not executed, for a reason a retry will not cure.
    Rejected { reason: String },
    /// The payload's `created_at_time` left the dedup window. If an earlier attempt's outcome was unknown,
    /// the ledger's blocks must be searched before anything new is built.
    Expired,
    /// The ledger answered with something our own arguments rule out.
    Bug { reason: String },
}

/// Classifies every answer to `icrc1_transfer`.
pub fn classify_transfer(
    result: Result<Result<Nat, TransferError>, CallFailure>,
) -> TransferOutcome {
    match result {
        Ok(Ok(block_index)) => TransferOutcome::Completed { block_index },
        Ok(Err(err)) => classify_transfer_error(err),
        // Unknown outcome, or not sent at all: resending the identical payload is safe either way.
        Err(failure) => TransferOutcome::RetrySamePayload {
            reason: failure.to_string(),
        },
    }
}

/// Every ICRC-1 `TransferError` variant, mapped.
pub fn classify_transfer_error(err: TransferError) -> TransferOutcome {
    match err {
        TransferError::Duplicate { duplicate_of } => TransferOutcome::Completed {
            block_index: duplicate_of,
        },
        TransferError::TemporarilyUnavailable => TransferOutcome::RetrySamePayload {
            reason: "ledger temporarily unavailable".into(),
        },
        // Our clock ran ahead of the ledger's: the same payload becomes valid once the ledger catches up.
        TransferError::CreatedInFuture { ledger_time } => TransferOutcome::RetrySamePayload {
            reason: format!("created in the future (ledger time {ledger_time})"),
        },
        TransferError::BadFee { expected_fee } => TransferOutcome::FeeChanged { expected_fee },
        TransferError::TooOld => TransferOutcome::Expired,
        TransferError::InsufficientFunds { balance } => TransferOutcome::Rejected {
            reason: format!("insufficient funds (ledger balance {balance})"),
        },
        TransferError::GenericError {
            error_code,
            message,
        } => TransferOutcome::Rejected {
            reason: format!("ledger error {error_code}: {message}"),
        },
        TransferError::BadBurn { min_burn_amount } => TransferOutcome::Bug {
            reason: format!("BUG: transfer treated as a burn (min burn {min_burn_amount})"),
        },
    }
}

/// Every ICRC-2 `TransferFromError` variant, mapped like its ICRC-1 counterpart.
pub fn classify_transfer_from_error(err: TransferFromError) -> TransferOutcome {
    match err {
        TransferFromError::InsufficientAllowance { allowance } => TransferOutcome::Rejected {
            reason: format!("insufficient allowance ({allowance})"),
        },
        TransferFromError::BadFee { expected_fee } => {
            classify_transfer_error(TransferError::BadFee { expected_fee })
        }
        TransferFromError::BadBurn { min_burn_amount } => {
            classify_transfer_error(TransferError::BadBurn { min_burn_amount })
        }
        TransferFromError::InsufficientFunds { balance } => {
            classify_transfer_error(TransferError::InsufficientFunds { balance })
        }
        TransferFromError::TooOld => classify_transfer_error(TransferError::TooOld),
        TransferFromError::CreatedInFuture { ledger_time } => {
            classify_transfer_error(TransferError::CreatedInFuture { ledger_time })
        }
        TransferFromError::Duplicate { duplicate_of } => {
            classify_transfer_error(TransferError::Duplicate { duplicate_of })
        }
        TransferFromError::TemporarilyUnavailable => {
            classify_transfer_error(TransferError::TemporarilyUnavailable)
        }
        TransferFromError::GenericError {
            error_code,
            message,
        } => classify_transfer_error(TransferError::GenericError {
            error_code,
            message,
        }),
    }
}

/// A memo of at most 32 bytes: a short tag and an id, unique per tag.
pub fn tagged_memo(tag: &[u8; 8], id: u64) -> Vec<u8> {
    let mut memo = Vec::with_capacity(16);
    memo.extend_from_slice(tag);
    memo.extend_from_slice(&id.to_be_bytes());
    memo
}

/// Reads the fee, refusing a fee that does not fit `u128`.
pub async fn fetch_fee<L: LedgerRuntime>(ledger: &L) -> Result<u128, CallFailure> {
    let fee = ledger.icrc1_fee().await?;
    nat_to_u128(&fee).ok_or_else(|| CallFailure::BadReply {
        message: format!("fee {fee} does not fit u128"),
    })
}

mod num_traits_like {
    use candid::Nat;

    /// `Nat` to `u128` when it fits.
    pub fn nat_to_u128(n: &Nat) -> Option<u128> {
        let digits = n.0.to_u64_digits();
        match digits.len() {
            0 => Some(0),
            1 => Some(digits[0] as u128),
            2 => Some(digits[0] as u128 | (digits[1] as u128) << 64),
            _ => None,
        }
    }
}

pub use num_traits_like::nat_to_u128 as nat_to_u128_checked;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_transfer_error_is_classified() {
        let n = |v: u64| Nat::from(v);
        assert_eq!(
            classify_transfer_error(TransferError::Duplicate { duplicate_of: n(7) }),
            TransferOutcome::Completed { block_index: n(7) }
        );
        assert!(matches!(
            classify_transfer_error(TransferError::TemporarilyUnavailable),
            TransferOutcome::RetrySamePayload { .. }
        ));
        assert!(matches!(
            classify_transfer_error(TransferError::CreatedInFuture { ledger_time: 1 }),
            TransferOutcome::RetrySamePayload { .. }
        ));
        assert_eq!(
            classify_transfer_error(TransferError::BadFee {
                expected_fee: n(20)
            }),
            TransferOutcome::FeeChanged {
                expected_fee: n(20)
            }
        );
        assert_eq!(
            classify_transfer_error(TransferError::TooOld),
            TransferOutcome::Expired
        );
        assert!(matches!(
            classify_transfer_error(TransferError::InsufficientFunds { balance: n(1) }),
            TransferOutcome::Rejected { .. }
        ));
        assert!(matches!(
            classify_transfer_error(TransferError::GenericError {
                error_code: n(1),
                message: "x".into()
            }),
            TransferOutcome::Rejected { .. }
        ));
        assert!(matches!(
            classify_transfer_error(TransferError::BadBurn {
                min_burn_amount: n(1)
            }),
            TransferOutcome::Bug { .. }
        ));
    }

    #[test]
    fn call_failures_are_unknown_outcomes_unless_never_sent() {
        let rejected = CallFailure::Rejected {
            code: 6,
            message: "timeout".into(),
        };
        assert!(rejected.outcome_unknown());
        assert!(matches!(
            classify_transfer(Err(rejected)),
            TransferOutcome::RetrySamePayload { .. }
        ));
        assert!(!CallFailure::NotSent {
            message: "cycles".into()
        }
        .outcome_unknown());
    }

    #[test]
    fn only_failures_that_can_pass_are_worth_retrying() {
        let rejected = |code| CallFailure::Rejected {
            code,
            message: String::new(),
        };
        let retry: Vec<u32> = (1..=6).filter(|c| rejected(*c).worth_retrying()).collect();
        assert_eq!(retry, vec![SYS_TRANSIENT, CANISTER_ERROR, SYS_UNKNOWN]);
        assert!(CallFailure::NotSent {
            message: String::new()
        }
        .worth_retrying());
        assert!(!CallFailure::BadReply {
            message: String::new()
        }
        .worth_retrying());
    }

    #[test]
    fn nat_conversion_checks_range() {
        assert_eq!(nat_to_u128_checked(&Nat::from(u128::MAX)), Some(u128::MAX));
        assert_eq!(nat_to_u128_checked(&Nat::from(0u8)), Some(0));
        let too_big = Nat::from(u128::MAX) + Nat::from(1u8);
        assert_eq!(nat_to_u128_checked(&too_big), None);
    }

    #[test]
    fn memos_fit_the_standard_limit_and_differ_by_id() {
        let a = tagged_memo(b"NNFT-PAY", 1);
        assert!(a.len() <= 32);
        assert_ne!(a, tagged_memo(b"NNFT-PAY", 2));
    }
}
