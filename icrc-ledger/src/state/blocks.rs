//! The ICRC-3 block log: each transaction appended as a block chained to the last one's hash, the
//! blocks served in pages, and the chain verified.

use super::{nat_to_u128, Ledger, Totals, MAX_BLOCKS_PER_RESPONSE};
use crate::block::{block_hash, Transaction};
use icrc_ledger_types::icrc::generic_value::ICRC3Value;
use icrc_ledger_types::icrc3::blocks::{BlockWithId, GetBlocksRequest, GetBlocksResult};
use neuranft_types::storable::Candid;

impl Ledger {
    /// Appends the block for `tx` and updates the totals; returns the block index.
    pub(super) fn append(
        &mut self,
        tx: &Transaction,
        now: u64,
        effective_fee: u128,
        update_totals: impl FnOnce(&mut Totals),
    ) -> u64 {
        let mut totals = self.totals.get().0.clone();
        let block = tx.to_block(now, effective_fee, totals.tip_hash);
        totals.tip_hash = Some(block_hash(&block));
        update_totals(&mut totals);
        let index = self
            .blocks
            .append(&candid::encode_one(&block).expect("BUG: block encodes"))
            .expect("BUG: stable memory exhausted");
        self.totals.set(Candid(totals));
        index
    }

    pub fn log_length(&self) -> u64 {
        self.blocks.len()
    }

    pub fn block(&self, index: u64) -> Option<ICRC3Value> {
        self.blocks
            .get(index)
            .map(|bytes| candid::decode_one(&bytes).expect("BUG: stored block decodes"))
    }

    /// `icrc3_get_blocks`: the requested ranges clipped to the log, at most
    /// [`MAX_BLOCKS_PER_RESPONSE`] blocks in all. Nothing is archived.
    pub fn get_blocks(&self, requests: &[GetBlocksRequest]) -> GetBlocksResult {
        let len = self.log_length();
        let mut budget = MAX_BLOCKS_PER_RESPONSE;
        let mut blocks = Vec::new();
        for request in requests {
            let Ok(start) = u64::try_from(&request.start.0) else {
                continue;
            };
            let wanted = nat_to_u128(&request.length).unwrap_or(u128::MAX);
            let end = (start as u128)
                .saturating_add(wanted)
                .min(len as u128)
                .min(start as u128 + budget as u128) as u64;
            for index in start..end.max(start) {
                blocks.push(BlockWithId {
                    id: index.into(),
                    block: self.block(index).expect("index below log length"),
                });
            }
            budget -= end.saturating_sub(start).min(budget);
        }
        GetBlocksResult {
            log_length: len.into(),
            blocks,
            archived_blocks: vec![],
        }
    }

    /// The last block's index and hash, for the certified tip.
    pub fn tip(&self) -> Option<(u64, [u8; 32])> {
        let len = self.log_length();
        let hash = self.totals.get().0.tip_hash?;
        Some((len - 1, hash))
    }

    /// Recomputes the chain of block hashes from the log and checks every `phash` link and the tip.
    pub fn verify_chain(&self) -> Result<(), String> {
        self.verify_chain_since(0, None).map(|_| ())
    }

    /// Verifies the blocks from `first` on, block `first` linking to `parent` (the hash of the block
    /// before it, as an earlier call returned), and the tip; returns the tip's hash. The log is
    /// append-only, so a checker that remembers the returned hash verifies each block once.
    pub fn verify_chain_since(
        &self,
        first: u64,
        parent: Option<[u8; 32]>,
    ) -> Result<Option<[u8; 32]>, String> {
        let blocks =
            (first..self.log_length()).map(|i| self.block(i).expect("index below log length"));
        let last = crate::block::verify_links(blocks, first, parent)?;
        if last != self.totals.get().0.tip_hash {
            return Err("the tip hash is not the hash of the last block".into());
        }
        Ok(last)
    }
}
