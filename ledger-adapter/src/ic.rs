//! The canister runtime: an ICRC ledger reached by bounded-wait inter-canister calls (ic-cdk 0.20),
//! and the one way every canister of the system calls another ([`call`]: each failure classified as
//! a [`CallFailure`]).

use crate::{BlockSource, CallFailure, LedgerRuntime};
use candid::utils::ArgumentEncoder;
use candid::{CandidType, Deserialize, Nat, Principal};
use ic_cdk::call::{Call, CallFailed};
use icrc_ledger_types::icrc1::account::Account;
use icrc_ledger_types::icrc1::transfer::{TransferArg, TransferError};
use icrc_ledger_types::icrc2::allowance::{Allowance, AllowanceArgs};
use icrc_ledger_types::icrc2::approve::{ApproveArgs, ApproveError};
use icrc_ledger_types::icrc2::transfer_from::{TransferFromArgs, TransferFromError};
use icrc_ledger_types::icrc3::blocks::{GetBlocksRequest, GetBlocksResult};

/// The ledger canister `0`, called by the running canister.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IcLedger(pub Principal);

/// Classifies a failed call by what the callee may have seen.
pub fn call_failure(e: CallFailed) -> CallFailure {
    match e {
        CallFailed::CallRejected(r) => CallFailure::Rejected {
            code: r.raw_reject_code(),
            message: r.reject_message().to_string(),
        },
        // Not enough cycles, or the system refused to enqueue: the callee saw nothing.
        other => CallFailure::NotSent {
            message: other.to_string(),
        },
    }
}

/// A bounded-wait call of `method` on `canister` with `args` (a tuple), its reply decoded as `R`.
pub async fn call<A, R>(canister: Principal, method: &str, args: A) -> Result<R, CallFailure>
where
    A: ArgumentEncoder,
    R: CandidType + for<'de> Deserialize<'de>,
{
    let response = Call::bounded_wait(canister, method)
        .with_args(&args)
        .await
        .map_err(call_failure)?;
    response.candid::<R>().map_err(|e| CallFailure::BadReply {
        message: e.to_string(),
    })
}

/// [`call`] with arguments already encoded as Candid, answering the reply's bytes undecoded: for
/// calls whose types only the callee knows (governance's generic functions).
pub async fn call_raw(
    canister: Principal,
    method: &str,
    args: &[u8],
) -> Result<Vec<u8>, CallFailure> {
    Call::bounded_wait(canister, method)
        .with_raw_args(args)
        .await
        .map(|response| response.into_bytes())
        .map_err(call_failure)
}

impl LedgerRuntime for IcLedger {
    async fn icrc1_transfer(
        &self,
        arg: TransferArg,
    ) -> Result<Result<Nat, TransferError>, CallFailure> {
        call(self.0, "icrc1_transfer", (arg,)).await
    }

    async fn icrc2_transfer_from(
        &self,
        arg: TransferFromArgs,
    ) -> Result<Result<Nat, TransferFromError>, CallFailure> {
        call(self.0, "icrc2_transfer_from", (arg,)).await
    }

    async fn icrc2_approve(
        &self,
        arg: ApproveArgs,
    ) -> Result<Result<Nat, ApproveError>, CallFailure> {
        call(self.0, "icrc2_approve", (arg,)).await
    }

    async fn icrc2_allowance(&self, arg: AllowanceArgs) -> Result<Allowance, CallFailure> {
        call(self.0, "icrc2_allowance", (arg,)).await
    }

    async fn icrc1_fee(&self) -> Result<Nat, CallFailure> {
        call(self.0, "icrc1_fee", ()).await
    }

    async fn icrc1_minting_account(&self) -> Result<Option<Account>, CallFailure> {
        call(self.0, "icrc1_minting_account", ()).await
    }

    async fn icrc1_balance_of(&self, account: Account) -> Result<Nat, CallFailure> {
        call(self.0, "icrc1_balance_of", (account,)).await
    }

    async fn icrc3_get_blocks(
        &self,
        source: &BlockSource,
        args: Vec<GetBlocksRequest>,
    ) -> Result<GetBlocksResult, CallFailure> {
        match source {
            BlockSource::Ledger => call(self.0, "icrc3_get_blocks", (args,)).await,
            BlockSource::Archive {
                canister_id,
                method,
            } => call(*canister_id, method, (args,)).await,
        }
    }

    fn caller(&self) -> Principal {
        ic_cdk::api::canister_self()
    }

    fn now(&self) -> u64 {
        ic_cdk::api::time()
    }
}
