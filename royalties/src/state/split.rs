//! The royalty split: every version ever set, and the governance proposal that set each one.

use super::{hash_map, Memory};
use crate::memory::*;
use crate::storable::Candid;
use ic_stable_structures::memory_manager::MemoryManager;
use ic_stable_structures::{DefaultMemoryImpl, StableBTreeMap};
use neuranft_types::applied::{payload_hash, Applied, AppliedProposals};
use neuranft_types::royalties::*;
use neuranft_types::Principal;
use neuranft_types::BASIS_POINTS;
use sha2::Sha256;

pub struct Splits {
    splits: StableBTreeMap<SplitVersion, Candid<SplitRecord>, Memory>,
    split_proposals: StableBTreeMap<ProposalId, SplitVersion, Memory>,
    payloads: AppliedProposals<Memory>,
}

/// What binds a `set_split` proposal key to its effect.
pub fn split_payload(split: &SplitConfig) -> [u8; 32] {
    payload_hash("set_split", split)
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
            payloads: AppliedProposals::init(mm.get(SPLIT_PAYLOADS_MEMORY_ID)),
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

    /// How `caller`'s `proposal_id` setting `split` compares with what was applied. An id applied
    /// without a recorded payload (before payloads were recorded, or by another caller) is judged by
    /// the split its version holds: the same split is done, another a conflict.
    pub fn check_proposal(
        &self,
        caller: Principal,
        proposal_id: ProposalId,
        split: &SplitConfig,
    ) -> Applied {
        let checked = self
            .payloads
            .check(caller, proposal_id, &split_payload(split));
        match (checked, self.applied(proposal_id)) {
            (Applied::New, Some(version)) => match self.get(version) {
                Some(record) if record.split == *split => Applied::Replay,
                _ => Applied::Conflict,
            },
            (checked, _) => checked,
        }
    }

    pub fn record_proposal(
        &mut self,
        caller: Principal,
        proposal_id: ProposalId,
        split: &SplitConfig,
    ) {
        self.payloads
            .record(caller, proposal_id, split_payload(split));
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
        for (key, payload) in self.payloads.entries() {
            sha2::Digest::update(h, key.as_bytes());
            sha2::Digest::update(h, payload);
        }
    }
}
