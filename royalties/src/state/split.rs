//! The royalty split: every version ever set, and the governance proposal that set each one.

use super::{hash_map, Memory};
use crate::memory::*;
use crate::storable::Candid;
use ic_stable_structures::memory_manager::MemoryManager;
use ic_stable_structures::{DefaultMemoryImpl, StableBTreeMap};
use neuranft_types::royalties::*;
use neuranft_types::BASIS_POINTS;
use sha2::Sha256;

pub struct Splits {
    splits: StableBTreeMap<SplitVersion, Candid<SplitRecord>, Memory>,
    split_proposals: StableBTreeMap<ProposalId, SplitVersion, Memory>,
}

pub fn validate_split(split: &SplitConfig) -> Result<(), SplitError> {
    let total_bps = split.total_bps();
    if total_bps != BASIS_POINTS as u32 {
        return Err(SplitError::InvalidSplit { total_bps });
    }
    Ok(())
}

impl Splits {
    /// Opens the splits in `mm` (their ids in [`crate::memory`]).
    pub fn init(mm: &MemoryManager<DefaultMemoryImpl>) -> Self {
        Self {
            splits: StableBTreeMap::init(mm.get(SPLITS_MEMORY_ID)),
            split_proposals: StableBTreeMap::init(mm.get(SPLIT_PROPOSALS_MEMORY_ID)),
        }
    }

    pub fn contains(&self, version: SplitVersion) -> bool {
        self.splits.contains_key(&version)
    }

    pub fn get(&self, version: SplitVersion) -> Option<SplitRecord> {
        self.splits.get(&version).map(|s| s.0)
    }

    /// The version a proposal set, if it was applied.
    pub fn applied(&self, proposal_id: ProposalId) -> Option<SplitVersion> {
        self.split_proposals.get(&proposal_id)
    }

    /// Records `split` as the version after `current` (the first split is version 0).
    pub fn record(
        &mut self,
        current: SplitVersion,
        split: SplitConfig,
        proposal_id: Option<ProposalId>,
        now: u64,
    ) -> SplitRecord {
        let version = if self.splits.is_empty() {
            0
        } else {
            current + 1
        };
        let record = SplitRecord {
            version,
            split,
            proposal_id,
            set_at: now,
        };
        self.splits.insert(version, Candid(record.clone()));
        if let Some(p) = proposal_id {
            self.split_proposals.insert(p, version);
        }
        record
    }

    /// Hashes the maps in the order `State::fingerprint` always has.
    pub fn fingerprint(&self, h: &mut Sha256) {
        hash_map(h, &self.splits);
        hash_map(h, &self.split_proposals);
    }
}
