//! Why a transaction was refused, and each refusal as the error type of the endpoint that refused.

use icrc_ledger_types::icrc1::transfer::TransferError;
use icrc_ledger_types::icrc2::approve::ApproveError;
use icrc_ledger_types::icrc2::transfer_from::TransferFromError;

/// Why a transaction was refused, before it is mapped to the endpoint's own error type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refusal {
    BadFee(u128),
    BadBurn(u128),
    InsufficientFunds(u128),
    InsufficientAllowance(u128),
    AllowanceChanged(u128),
    Expired(u64),
    TooOld,
    CreatedInFuture(u64),
    Duplicate(u64),
    Generic(u64, String),
}

pub(super) fn generic(code: u64, message: impl Into<String>) -> Refusal {
    Refusal::Generic(code, message.into())
}

impl From<Refusal> for TransferError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::BadFee(f) => TransferError::BadFee {
                expected_fee: f.into(),
            },
            Refusal::BadBurn(m) => TransferError::BadBurn {
                min_burn_amount: m.into(),
            },
            Refusal::InsufficientFunds(b) => TransferError::InsufficientFunds { balance: b.into() },
            Refusal::TooOld => TransferError::TooOld,
            Refusal::CreatedInFuture(t) => TransferError::CreatedInFuture { ledger_time: t },
            Refusal::Duplicate(i) => TransferError::Duplicate {
                duplicate_of: i.into(),
            },
            Refusal::Generic(c, m) => TransferError::GenericError {
                error_code: c.into(),
                message: m,
            },
            other => unreachable!("transfer cannot be refused with {other:?}"),
        }
    }
}

impl From<Refusal> for TransferFromError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::InsufficientAllowance(a) => TransferFromError::InsufficientAllowance {
                allowance: a.into(),
            },
            Refusal::BadFee(f) => TransferFromError::BadFee {
                expected_fee: f.into(),
            },
            Refusal::BadBurn(m) => TransferFromError::BadBurn {
                min_burn_amount: m.into(),
            },
            Refusal::InsufficientFunds(b) => {
                TransferFromError::InsufficientFunds { balance: b.into() }
            }
            Refusal::TooOld => TransferFromError::TooOld,
            Refusal::CreatedInFuture(t) => TransferFromError::CreatedInFuture { ledger_time: t },
            Refusal::Duplicate(i) => TransferFromError::Duplicate {
                duplicate_of: i.into(),
            },
            Refusal::Generic(c, m) => TransferFromError::GenericError {
                error_code: c.into(),
                message: m,
            },
            other => unreachable!("transfer_from cannot be refused with {other:?}"),
        }
    }
}

impl From<Refusal> for ApproveError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::BadFee(f) => ApproveError::BadFee {
                expected_fee: f.into(),
            },
            Refusal::InsufficientFunds(b) => ApproveError::InsufficientFunds { balance: b.into() },
            Refusal::AllowanceChanged(a) => ApproveError::AllowanceChanged {
                current_allowance: a.into(),
            },
            Refusal::Expired(t) => ApproveError::Expired { ledger_time: t },
            Refusal::TooOld => ApproveError::TooOld,
            Refusal::CreatedInFuture(t) => ApproveError::CreatedInFuture { ledger_time: t },
            Refusal::Duplicate(i) => ApproveError::Duplicate {
                duplicate_of: i.into(),
            },
            Refusal::Generic(c, m) => ApproveError::GenericError {
                error_code: c.into(),
                message: m,
            },
            other => unreachable!("approve cannot be refused with {other:?}"),
        }
    }
}
