//! Root's state: which governance upgrades it was asked for, bound to their payloads, and how each
//! went. Plain Rust over stable structures; the canister shell (`main.rs`) does the calls.

use candid::Principal;
use ic_stable_structures::memory_manager::{MemoryId, MemoryManager, VirtualMemory};
use ic_stable_structures::{DefaultMemoryImpl, StableBTreeMap};
use neuranft_types::applied::{payload_hash, Applied, AppliedProposals};
use neuranft_types::governance::{MAX_CHUNK_BYTES, MAX_MODULE_BYTES};
use neuranft_types::root::{RootError, UpgradeGovernanceArgs, UpgradeStatus};
use neuranft_types::storable::Candid;
use neuranft_types::ProposalId;

/// The configuration cell (`main.rs`).
pub const CONFIG_MEMORY_ID: MemoryId = MemoryId::new(0);
/// (caller, proposal) → the SHA-256 of the upgrade asked for.
pub const APPLIED_MEMORY_ID: MemoryId = MemoryId::new(1);
/// Proposal → where its upgrade stands.
pub const STATUS_MEMORY_ID: MemoryId = MemoryId::new(2);

type Mem = VirtualMemory<DefaultMemoryImpl>;

pub struct Upgrades {
    applied: AppliedProposals<Mem>,
    status: StableBTreeMap<ProposalId, Candid<UpgradeStatus>, Mem>,
}

const METHOD: &str = "upgrade_governance";

impl Upgrades {
    pub fn open_in(mm: &MemoryManager<DefaultMemoryImpl>) -> Self {
        Self {
            applied: AppliedProposals::init(mm.get(APPLIED_MEMORY_ID)),
            status: StableBTreeMap::init(mm.get(STATUS_MEMORY_ID)),
        }
    }

    /// Where `args`'s upgrade stands: `None` if it was never asked for (and could start now).
    pub fn status(
        &self,
        caller: Principal,
        governance: Principal,
        args: &UpgradeGovernanceArgs,
    ) -> Result<Option<UpgradeStatus>, RootError> {
        if caller != governance {
            return Err(RootError::NotGovernance);
        }
        match self
            .applied
            .check(caller, args.proposal, &payload_hash(METHOD, args))
        {
            Applied::Replay => Ok(self.status.get(&args.proposal).map(|s| s.0)),
            Applied::Conflict => Err(RootError::ProposalConflict {
                proposal: args.proposal,
            }),
            Applied::New => {
                if let Some(busy) = self.in_progress() {
                    return Err(RootError::Busy { proposal: busy });
                }
                check(args)?;
                Ok(None)
            }
        }
    }

    /// Accepts `args`'s upgrade (its status becomes InProgress), or answers a replay with its status.
    /// Returns whether the caller must now perform it.
    pub fn begin(
        &mut self,
        caller: Principal,
        governance: Principal,
        args: &UpgradeGovernanceArgs,
    ) -> Result<(UpgradeStatus, bool), RootError> {
        if let Some(status) = self.status(caller, governance, args)? {
            return Ok((status, false));
        }
        self.applied
            .record(caller, args.proposal, payload_hash(METHOD, args));
        self.status
            .insert(args.proposal, Candid(UpgradeStatus::InProgress));
        Ok((UpgradeStatus::InProgress, true))
    }

    /// How the upgrade of `proposal` ended.
    pub fn finish(&mut self, proposal: ProposalId, status: UpgradeStatus) {
        self.status.insert(proposal, Candid(status));
    }

    /// The upgrade under way, if any: one at a time, since they share root's chunk store.
    pub fn in_progress(&self) -> Option<ProposalId> {
        self.status
            .iter()
            .find(|e| e.value().0 == UpgradeStatus::InProgress)
            .map(|e| *e.key())
    }

    /// Every upgrade asked for, with its status, oldest first.
    pub fn all(&self) -> Vec<(ProposalId, UpgradeStatus)> {
        self.status
            .iter()
            .map(|e| (*e.key(), e.value().0))
            .collect()
    }
}

fn invalid(field: &str, reason: impl Into<String>) -> RootError {
    RootError::InvalidArgument {
        field: field.into(),
        reason: reason.into(),
    }
}

fn check(args: &UpgradeGovernanceArgs) -> Result<(), RootError> {
    if args.wasm_module_hash.len() != 32 {
        return Err(invalid("wasm_module_hash", "a SHA-256: 32 bytes"));
    }
    let max_chunks = MAX_MODULE_BYTES.div_ceil(MAX_CHUNK_BYTES);
    if args.chunk_hashes.is_empty() || args.chunk_hashes.len() > max_chunks {
        return Err(invalid("chunk_hashes", format!("1–{max_chunks} chunks")));
    }
    if args.chunk_hashes.iter().any(|h| h.len() != 32) {
        return Err(invalid("chunk_hashes", "each a SHA-256: 32 bytes"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_bytes::ByteBuf;

    fn upgrades() -> Upgrades {
        Upgrades::open_in(&MemoryManager::init(DefaultMemoryImpl::default()))
    }

    fn args(proposal: ProposalId, arg: &[u8]) -> UpgradeGovernanceArgs {
        UpgradeGovernanceArgs {
            proposal,
            wasm_module_hash: ByteBuf::from(vec![7; 32]),
            chunk_hashes: vec![ByteBuf::from(vec![8; 32])],
            arg: ByteBuf::from(arg.to_vec()),
        }
    }

    #[test]
    fn only_governance_may_ask_and_each_proposal_is_performed_once() {
        let governance = Principal::from_slice(&[1; 10]);
        let attacker = Principal::from_slice(&[2; 10]);
        let mut u = upgrades();
        assert_eq!(
            u.begin(attacker, governance, &args(1, b"a")),
            Err(RootError::NotGovernance)
        );
        assert_eq!(u.in_progress(), None, "the refusal changed nothing");
        assert_eq!(u.status(governance, governance, &args(1, b"a")), Ok(None));
        assert_eq!(
            u.begin(governance, governance, &args(1, b"a")),
            Ok((UpgradeStatus::InProgress, true))
        );
        // A replay is answered with its status and not performed again.
        assert_eq!(
            u.begin(governance, governance, &args(1, b"a")),
            Ok((UpgradeStatus::InProgress, false))
        );
        // Another payload under the same proposal id is a conflict.
        assert_eq!(
            u.begin(governance, governance, &args(1, b"b")),
            Err(RootError::ProposalConflict { proposal: 1 })
        );
        // One at a time: they share root's chunk store.
        assert_eq!(
            u.begin(governance, governance, &args(2, b"a")),
            Err(RootError::Busy { proposal: 1 })
        );
        u.finish(1, UpgradeStatus::Done);
        assert_eq!(
            u.status(governance, governance, &args(1, b"a")),
            Ok(Some(UpgradeStatus::Done))
        );
        assert_eq!(
            u.begin(governance, governance, &args(2, b"a")),
            Ok((UpgradeStatus::InProgress, true))
        );
    }

    #[test]
    fn malformed_hashes_are_refused() {
        let governance = Principal::from_slice(&[1; 10]);
        let mut u = upgrades();
        let mut bad = args(1, b"");
        bad.wasm_module_hash = ByteBuf::from(vec![1; 31]);
        assert!(matches!(
            u.begin(governance, governance, &bad),
            Err(RootError::InvalidArgument { .. })
        ));
        let mut bad = args(1, b"");
        bad.chunk_hashes.clear();
        assert!(matches!(
            u.begin(governance, governance, &bad),
            Err(RootError::InvalidArgument { .. })
        ));
        assert_eq!(u.all(), vec![], "nothing recorded");
    }
}
