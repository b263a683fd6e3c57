//! The settlement log: its events, its entries and the rules that chain them.
//!
//! An entry's hash covers the event's bytes exactly as they were written (format 2): a verifier hashes
//! what it was served and decodes the same bytes to read the event, so adding event kinds later never
//! changes an old entry's hash. Entries written before format 2 hashed a re-encoding of the event whose
//! Candid type table listed every event kind of the version that wrote them; they are verified by
//! their links only.

use super::*;
use sha2::{Digest, Sha256};

/// One stakeholder's part of one receipt: its weight (over [`ENTITLEMENT_DENOMINATOR`]) and the whole
/// units credited by it. Only in [`LogEvent::BatchSettled`], which batches no longer write.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Credit {
    pub account: Account,
    pub weight: u64,
    pub amount: u128,
}

/// A receipt as settled one by one (before [`LogEvent::BatchCredited`]).
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SettledReceipt {
    pub receipt: Receipt,
    pub share_epoch: u64,
    pub credits: Vec<Credit>,
}

/// A receipt as the log lists it in a batch: what its credits follow from. `share_epoch` is `None`
/// for a receipt this registry could not attribute (an unknown model or split version), credited whole
/// to the treasury.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LoggedReceipt {
    pub id: ReceiptId,
    pub model: ModelId,
    pub node_operator: Account,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub amount: u64,
    pub split_version: SplitVersion,
    pub metered_at: u64,
    pub share_epoch: Option<u64>,
}

impl LoggedReceipt {
    pub fn of(receipt: &Receipt, share_epoch: Option<u64>) -> Self {
        Self {
            id: receipt.id,
            model: receipt.model,
            node_operator: receipt.node_operator,
            input_tokens: receipt.input_tokens,
            output_tokens: receipt.output_tokens,
            amount: receipt.amount,
            split_version: receipt.split_version,
            metered_at: receipt.metered_at,
            share_epoch,
        }
    }
}

/// The whole units one account was credited by one batch.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct AccountCredit {
    pub account: Account,
    pub amount: u128,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum LogEvent {
    ModelRegistered {
        model: ModelId,
        manager: Principal,
        owners: Vec<ShareHolding>,
        data_owners: Vec<DataOwner>,
    },
    SharesTransferred {
        model: ModelId,
        from: Account,
        to: Account,
        units: u64,
        new_epoch: u64,
    },
    SplitSet {
        record: SplitRecord,
    },
    /// Written by versions that credited receipt by receipt; kept so that their entries decode.
    BatchSettled {
        batch_id: BatchId,
        funding_block: Nat,
        receipts: Vec<SettledReceipt>,
        duplicate_receipts: Vec<ReceiptId>,
    },
    PayoutRecorded {
        payout: Payout,
    },
    PayoutCompleted {
        payout: PayoutId,
        block_index: Nat,
        amount: u128,
        fee: u128,
    },
    PayoutFailed {
        payout: PayoutId,
        reason: String,
        restored: u128,
    },
    ModelModerated {
        model: ModelId,
        status: ModelStatus,
        moderation: Moderation,
    },
    PayoutSettingsSet {
        proposal_id: ProposalId,
        settings: PayoutSettings,
    },
    /// A batch credited at once: for each account, `Σ amount × weight` over the batch's receipts is
    /// added to its remainder and the whole units in it credited — the same floors as crediting the
    /// receipts one by one. `credits` lists every account credited a whole unit or more; a verifier
    /// recomputes them from `receipts`, the share tables and the splits.
    BatchCredited {
        batch_id: BatchId,
        funding_block: Nat,
        receipts: Vec<LoggedReceipt>,
        credits: Vec<AccountCredit>,
        duplicate_receipts: Vec<ReceiptId>,
    },
}

/// The settlement log's length and the hash of its last entry.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LogTip {
    pub length: u64,
    pub hash: ByteBuf,
}

/// The log's tip with the IC's certificate of it: the certificate's tree holds
/// `canister/<royalties>/certified_data` = `hash` (the last entry's hash, which covers its index, so
/// `length` too). `None` in a replicated query or an inter-canister call, which carry no certificate.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CertifiedLogTip {
    pub length: u64,
    pub hash: ByteBuf,
    pub certificate: Option<ByteBuf>,
}

/// An entry with its event decoded (what `get_log` serves for reading).
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LogEntry {
    pub index: u64,
    pub timestamp: u64,
    pub prev_hash: ByteBuf,
    pub hash: ByteBuf,
    pub event: LogEvent,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LogPage {
    pub entries: Vec<LogEntry>,
    pub total: u64,
}

/// The entry as hashed (what `get_log_encoded` serves for verifying): `event` is the Candid encoding
/// of one [`LogEvent`], the bytes the hash covers when `format` is [`LOG_FORMAT_V2`].
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct EncodedLogEntry {
    pub index: u64,
    pub timestamp: u64,
    pub prev_hash: ByteBuf,
    pub hash: ByteBuf,
    pub format: u8,
    pub event: ByteBuf,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct EncodedLogPage {
    pub entries: Vec<EncodedLogEntry>,
    pub total: u64,
}

/// Entries hashed over a re-encoding of the event: verified by their links only.
pub const LOG_FORMAT_V1: u8 = 1;
/// Entries hashed over the event's bytes as written.
pub const LOG_FORMAT_V2: u8 = 2;
pub const LOG_DOMAIN_V2: &[u8] = b"neuranft-royalties-log-v2";
/// The first entry's `prev_hash`.
pub const LOG_GENESIS_HASH: [u8; 32] = [0; 32];

/// `sha256("neuranft-royalties-log-v2" ‖ prev_hash ‖ index (u64 BE) ‖ timestamp (u64 BE) ‖ event)`,
/// `event` the bytes as written (the last field, so no length is needed).
pub fn log_entry_hash(prev_hash: &[u8; 32], index: u64, timestamp: u64, event: &[u8]) -> [u8; 32] {
    Sha256::new()
        .chain_update(LOG_DOMAIN_V2)
        .chain_update(prev_hash)
        .chain_update(index.to_be_bytes())
        .chain_update(timestamp.to_be_bytes())
        .chain_update(event)
        .finalize()
        .into()
}

/// Why a run of entries is not an unbroken chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainError {
    /// The entry's index is not the one after its predecessor's.
    OutOfOrder { index: u64, expected: u64 },
    /// The entry's `prev_hash` is not its predecessor's hash.
    BrokenLink { index: u64 },
    /// The entry's hash is not the hash of its contents.
    WrongHash { index: u64 },
    /// A format this verifier does not know.
    UnknownFormat { index: u64, format: u8 },
    /// A format-1 entry after format 2 began: only entries of earlier versions are format 1, and
    /// the label is not hashed, so accepting it would let a server pass off a changed entry.
    LegacyAfterFormat2 { index: u64 },
}

impl std::fmt::Display for ChainError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::OutOfOrder { index, expected } => {
                write!(f, "entry {index} follows where entry {expected} belongs")
            }
            Self::BrokenLink { index } => {
                write!(f, "entry {index} does not name its predecessor's hash")
            }
            Self::WrongHash { index } => write!(f, "entry {index}'s hash is not of its contents"),
            Self::UnknownFormat { index, format } => {
                write!(f, "entry {index} has unknown format {format}")
            }
            Self::LegacyAfterFormat2 { index } => {
                write!(f, "entry {index} claims format 1 after format 2 began")
            }
        }
    }
}

/// Checks that `entries` (consecutive, oldest first) continue the chain whose last hash is `prev` at
/// index `next_index`, `legacy` of the entries before it format 1 (all of them until format 2 began);
/// returns the new last hash.
/// Format-2 entries are rehashed from their bytes; format-1 entries, only the first ones of a log, are
/// checked by their links.
pub fn verify_log_chain(
    mut prev: [u8; 32],
    mut next_index: u64,
    legacy: u64,
    entries: &[EncodedLogEntry],
) -> Result<[u8; 32], ChainError> {
    let mut format2_began = next_index > legacy;
    for e in entries {
        let index = e.index;
        if index != next_index {
            return Err(ChainError::OutOfOrder {
                index,
                expected: next_index,
            });
        }
        if e.prev_hash.as_slice() != prev {
            return Err(ChainError::BrokenLink { index });
        }
        let hash: [u8; 32] = e
            .hash
            .as_slice()
            .try_into()
            .map_err(|_| ChainError::WrongHash { index })?;
        match e.format {
            LOG_FORMAT_V2 => {
                if log_entry_hash(&prev, index, e.timestamp, &e.event) != hash {
                    return Err(ChainError::WrongHash { index });
                }
                format2_began = true;
            }
            LOG_FORMAT_V1 if format2_began => return Err(ChainError::LegacyAfterFormat2 { index }),
            LOG_FORMAT_V1 => {}
            format => return Err(ChainError::UnknownFormat { index, format }),
        }
        prev = hash;
        next_index += 1;
    }
    Ok(prev)
}
