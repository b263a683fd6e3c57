//! Ledger transactions and their ICRC-3 block encoding.
//!
//! A block is an ICRC-3 `Value` map: `btype`, `ts` (ledger time), `phash` (hash of the previous block,
//! absent on the first), `fee` when the ledger charged a fee the caller did not name, and `tx` with what
//! the caller sent (`amt`, `from`, `to`, `spender`, `fee`, `memo`, `ts` = `created_at_time`,
//! `expected_allowance`, `expires_at`). Accounts are encoded as the caller gave them: `[owner]` or
//! `[owner, subaccount]`.

use candid::Nat;
use icrc_ledger_types::icrc::generic_value::ICRC3Value;
use icrc_ledger_types::icrc1::account::Account;
use neuranft_types::icrc3::account_value;
use serde_bytes::ByteBuf;
use std::collections::BTreeMap;

/// The block types this ledger produces, with the standard that defines each.
pub const BLOCK_TYPES: [(&str, &str); 5] = [
    ("1burn", ICRC3_URL),
    ("1mint", ICRC3_URL),
    ("1xfer", ICRC3_URL),
    ("2approve", ICRC3_URL),
    ("2xfer", ICRC3_URL),
];
const ICRC3_URL: &str = "https://github.com/dfinity/ICRC-1/blob/main/standards/ICRC-3/README.md";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operation {
    Mint {
        to: Account,
    },
    Burn {
        from: Account,
        spender: Option<Account>,
    },
    Transfer {
        from: Account,
        to: Account,
        spender: Option<Account>,
    },
    Approve {
        from: Account,
        spender: Account,
        expected_allowance: Option<u128>,
        expires_at: Option<u64>,
    },
}

/// One transaction as the caller specified it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transaction {
    pub operation: Operation,
    pub amount: u128,
    /// The fee the caller named, if any.
    pub fee: Option<u128>,
    pub memo: Option<Vec<u8>>,
    pub created_at_time: Option<u64>,
}

fn nat(v: impl Into<Nat>) -> ICRC3Value {
    ICRC3Value::Nat(v.into())
}

impl Transaction {
    pub fn block_type(&self) -> &'static str {
        match &self.operation {
            Operation::Mint { .. } => "1mint",
            Operation::Burn { .. } => "1burn",
            Operation::Transfer { spender: None, .. } => "1xfer",
            Operation::Transfer {
                spender: Some(_), ..
            } => "2xfer",
            Operation::Approve { .. } => "2approve",
        }
    }

    fn tx_value(&self) -> ICRC3Value {
        let mut tx = BTreeMap::new();
        tx.insert("amt".to_string(), nat(self.amount));
        match &self.operation {
            Operation::Mint { to } => {
                tx.insert("to".into(), account_value(to));
            }
            Operation::Burn { from, spender } => {
                tx.insert("from".into(), account_value(from));
                if let Some(s) = spender {
                    tx.insert("spender".into(), account_value(s));
                }
            }
            Operation::Transfer { from, to, spender } => {
                tx.insert("from".into(), account_value(from));
                tx.insert("to".into(), account_value(to));
                if let Some(s) = spender {
                    tx.insert("spender".into(), account_value(s));
                }
            }
            Operation::Approve {
                from,
                spender,
                expected_allowance,
                expires_at,
            } => {
                tx.insert("from".into(), account_value(from));
                tx.insert("spender".into(), account_value(spender));
                if let Some(e) = expected_allowance {
                    tx.insert("expected_allowance".into(), nat(*e));
                }
                if let Some(e) = expires_at {
                    tx.insert("expires_at".into(), nat(*e));
                }
            }
        }
        if let Some(fee) = self.fee {
            tx.insert("fee".into(), nat(fee));
        }
        if let Some(memo) = &self.memo {
            tx.insert("memo".into(), ICRC3Value::Blob(ByteBuf::from(memo.clone())));
        }
        if let Some(t) = self.created_at_time {
            tx.insert("ts".into(), nat(t));
        }
        ICRC3Value::Map(tx)
    }

    /// The block recording this transaction at ledger time `timestamp`, charged `effective_fee`.
    pub fn to_block(
        &self,
        timestamp: u64,
        effective_fee: u128,
        parent_hash: Option<[u8; 32]>,
    ) -> ICRC3Value {
        let mut block = BTreeMap::new();
        block.insert(
            "btype".to_string(),
            ICRC3Value::Text(self.block_type().into()),
        );
        block.insert("ts".into(), nat(timestamp));
        if let Some(h) = parent_hash {
            block.insert("phash".into(), ICRC3Value::Blob(ByteBuf::from(h.to_vec())));
        }
        if self.fee.is_none() && effective_fee > 0 {
            block.insert("fee".into(), nat(effective_fee));
        }
        block.insert("tx".into(), self.tx_value());
        ICRC3Value::Map(block)
    }
}

/// The representation-independent hash of a block (ICRC-3).
pub fn block_hash(block: &ICRC3Value) -> [u8; 32] {
    block.clone().hash()
}

/// Checks that each block's `phash` is the hash of the block before it (absent on the first) and that
/// the last block hashes to `tip`.
pub fn verify_chain(
    blocks: impl IntoIterator<Item = ICRC3Value>,
    tip: Option<[u8; 32]>,
) -> Result<(), String> {
    if verify_links(blocks, 0, None)? != tip {
        return Err("the tip hash is not the hash of the last block".into());
    }
    Ok(())
}

/// Checks the `phash` links of `blocks`, numbered from `first`, the first of them linking to `parent`
/// (the hash of block `first − 1`, `None` for block 0); returns the hash of the last block (`parent`
/// when there is none), so that a chain can be verified piece by piece as it grows.
pub fn verify_links(
    blocks: impl IntoIterator<Item = ICRC3Value>,
    first: u64,
    mut parent: Option<[u8; 32]>,
) -> Result<Option<[u8; 32]>, String> {
    for (offset, block) in blocks.into_iter().enumerate() {
        let index = first + offset as u64;
        let phash = match neuranft_types::icrc3::field(&block, &["phash"]) {
            None => None,
            Some(ICRC3Value::Blob(b)) => Some(
                <[u8; 32]>::try_from(b.as_slice())
                    .map_err(|_| format!("block {index}: phash is not 32 bytes"))?,
            ),
            Some(_) => return Err(format!("block {index}: phash is not a blob")),
        };
        if phash != parent {
            return Err(format!(
                "block {index}: phash is not the hash of its predecessor"
            ));
        }
        parent = Some(block_hash(&block));
    }
    Ok(parent)
}
