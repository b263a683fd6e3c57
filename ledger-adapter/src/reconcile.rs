//! Finding a payload in a ledger's ICRC-3 block log, to settle an outcome that a call left unknown.
//!
//! A ledger accepts a payload only while `created_at_time` is within
//! [`PERMITTED_DRIFT_NANOS`] ahead of its clock and [`TRANSACTION_WINDOW_NANOS`] (+ drift) behind it,
//! and block timestamps never decrease. So the search binary-searches the first block stamped at or
//! after `created_at_time − drift` and scans forward until blocks are stamped past the window.
//! Archived ranges are followed through the callbacks the ledger returns.

use crate::{
    BlockSource, CallFailure, LedgerRuntime, PERMITTED_DRIFT_NANOS, TRANSACTION_WINDOW_NANOS,
};
use icrc_ledger_types::icrc::generic_value::ICRC3Value;
use icrc_ledger_types::icrc1::account::Account;
use icrc_ledger_types::icrc3::blocks::GetBlocksRequest;
use neuranft_types::account_key;
use neuranft_types::icrc3::{blob_field, field, nat_field, value_account};

/// Blocks read per page while scanning.
const PAGE: u64 = 100;
/// A search reads at most this many blocks; past it the outcome stays unknown until the next attempt.
const MAX_SCANNED: u64 = 200_000;

/// What identifies one transfer payload in a block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PayloadMatch {
    pub from: Account,
    pub to: Account,
    pub amount: u128,
    pub memo: Vec<u8>,
    pub created_at_time: u64,
}

impl PayloadMatch {
    pub fn matches(&self, block: &ICRC3Value) -> bool {
        let account = |name: &str| {
            field(block, &["tx", name])
                .and_then(value_account)
                .map(|a| account_key(&a))
        };
        blob_field(block, &["tx", "memo"]) == Some(self.memo.as_slice())
            && nat_field(block, &["tx", "ts"]) == Some(self.created_at_time as u128)
            && nat_field(block, &["tx", "amt"]) == Some(self.amount)
            && account("to") == Some(account_key(&self.to))
            && account("from") == Some(account_key(&self.from))
    }
}

/// The ledger's log length.
pub async fn log_length<R: LedgerRuntime>(runtime: &R) -> Result<u64, CallFailure> {
    let result = runtime
        .icrc3_get_blocks(
            &BlockSource::Ledger,
            vec![GetBlocksRequest {
                start: 0u8.into(),
                length: 0u8.into(),
            }],
        )
        .await?;
    u64::try_from(&result.log_length.0).map_err(|_| CallFailure::BadReply {
        message: "log length exceeds u64".into(),
    })
}

/// Blocks `start .. start + length` (fewer if the ledger returns fewer), following archive callbacks.
pub async fn fetch_blocks<R: LedgerRuntime>(
    runtime: &R,
    start: u64,
    length: u64,
) -> Result<Vec<(u64, ICRC3Value)>, CallFailure> {
    let request = vec![GetBlocksRequest {
        start: start.into(),
        length: length.into(),
    }];
    let result = runtime
        .icrc3_get_blocks(&BlockSource::Ledger, request)
        .await?;
    let mut blocks = Vec::new();
    let mut collect = |list: Vec<icrc_ledger_types::icrc3::blocks::BlockWithId>| {
        for b in list {
            if let Ok(id) = u64::try_from(&b.id.0) {
                blocks.push((id, b.block));
            }
        }
    };
    collect(result.blocks);
    for archived in result.archived_blocks {
        let source = BlockSource::Archive {
            canister_id: archived.callback.canister_id,
            method: archived.callback.method.clone(),
        };
        let part = runtime.icrc3_get_blocks(&source, archived.args).await?;
        collect(part.blocks);
    }
    blocks.sort_by_key(|(id, _)| *id);
    blocks.dedup_by_key(|(id, _)| *id);
    Ok(blocks)
}

async fn block_timestamp<R: LedgerRuntime>(runtime: &R, index: u64) -> Result<u64, CallFailure> {
    let blocks = fetch_blocks(runtime, index, 1).await?;
    blocks
        .into_iter()
        .find(|(id, _)| *id == index)
        .and_then(|(_, b)| nat_field(&b, &["ts"]))
        .and_then(|ts| u64::try_from(ts).ok())
        .ok_or_else(|| CallFailure::BadReply {
            message: format!("block {index} is missing or has no timestamp"),
        })
}

/// The index of the block that executed `payload`, `None` if the log proves it never executed.
pub async fn find_block<R: LedgerRuntime>(
    runtime: &R,
    payload: &PayloadMatch,
) -> Result<Option<u64>, CallFailure> {
    let len = log_length(runtime).await?;
    let earliest = payload
        .created_at_time
        .saturating_sub(PERMITTED_DRIFT_NANOS);
    let latest = payload
        .created_at_time
        .saturating_add(TRANSACTION_WINDOW_NANOS + 2 * PERMITTED_DRIFT_NANOS);
    // First block stamped at or after `earliest`.
    let (mut lo, mut hi) = (0u64, len);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if block_timestamp(runtime, mid).await? < earliest {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    let mut next = lo;
    while next < len {
        if next - lo >= MAX_SCANNED {
            return Err(CallFailure::BadReply {
                message: format!("searched {MAX_SCANNED} blocks without reaching the window's end"),
            });
        }
        let page = fetch_blocks(runtime, next, PAGE.min(len - next)).await?;
        if page.is_empty() {
            return Err(CallFailure::BadReply {
                message: format!("the ledger returned no block at {next}"),
            });
        }
        for (id, block) in &page {
            if payload.matches(block) {
                return Ok(Some(*id));
            }
            if nat_field(block, &["ts"]).is_some_and(|ts| ts > latest as u128) {
                return Ok(None);
            }
            next = id + 1;
        }
    }
    Ok(None)
}
