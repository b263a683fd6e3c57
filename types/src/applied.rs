//! What a target of governance remembers of the proposals it applied: the key is (caller, proposal
//! id) and the value the SHA-256 of the payload, so a replay of the same call (an unknown outcome
//! retried) is answered as done, while another payload under the same key — a different caller's
//! proposal 1, or a governance reinstalled from scratch — is a conflict, never silently "done".

use crate::ProposalId;
use candid::{CandidType, Principal};
use ic_stable_structures::storable::Bound;
use ic_stable_structures::{Memory, StableBTreeMap, Storable};
use sha2::{Digest, Sha256};
use std::borrow::Cow;

/// How a proposal's call compares with what this target already applied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// Never applied under this key: apply it, then [`AppliedProposals::record`].
    New,
    /// Applied with this very payload: the call is a replay, done.
    Replay,
    /// Applied with another payload: refuse with a typed conflict.
    Conflict,
}

/// The SHA-256 of `method` and the payload's Candid bytes: what binds a proposal key to its effect.
pub fn payload_hash<T: CandidType>(method: &str, payload: &T) -> [u8; 32] {
    let bytes = candid::encode_one(payload).expect("BUG: a payload does not encode");
    let mut h = Sha256::new();
    h.update((method.len() as u64).to_be_bytes());
    h.update(method.as_bytes());
    h.update(bytes);
    h.finalize().into()
}

/// (caller, proposal id): the caller's principal length, its bytes padded to 29, the id big-endian.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ProposalKey([u8; 38]);

impl ProposalKey {
    pub fn new(caller: Principal, proposal: ProposalId) -> Self {
        let mut key = [0u8; 38];
        let bytes = caller.as_slice();
        key[0] = bytes.len() as u8;
        key[1..1 + bytes.len()].copy_from_slice(bytes);
        key[30..].copy_from_slice(&proposal.to_be_bytes());
        Self(key)
    }

    pub fn as_bytes(&self) -> &[u8; 38] {
        &self.0
    }
}

impl Storable for ProposalKey {
    fn to_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self.0)
    }
    fn into_bytes(self) -> Vec<u8> {
        self.0.to_vec()
    }
    fn from_bytes(bytes: Cow<[u8]>) -> Self {
        Self(
            bytes
                .as_ref()
                .try_into()
                .expect("BUG: a proposal key is 38 bytes"),
        )
    }
    const BOUND: Bound = Bound::Bounded {
        max_size: 38,
        is_fixed_size: true,
    };
}

/// The proposals a target applied, bound to their payloads (in stable memory).
pub struct AppliedProposals<M: Memory> {
    applied: StableBTreeMap<ProposalKey, [u8; 32], M>,
}

impl<M: Memory> AppliedProposals<M> {
    pub fn init(memory: M) -> Self {
        Self {
            applied: StableBTreeMap::init(memory),
        }
    }

    pub fn check(&self, caller: Principal, proposal: ProposalId, payload: &[u8; 32]) -> Applied {
        match self.applied.get(&ProposalKey::new(caller, proposal)) {
            None => Applied::New,
            Some(stored) if &stored == payload => Applied::Replay,
            Some(_) => Applied::Conflict,
        }
    }

    /// Records that `caller`'s `proposal` took effect with `payload`.
    pub fn record(&mut self, caller: Principal, proposal: ProposalId, payload: [u8; 32]) {
        self.applied
            .insert(ProposalKey::new(caller, proposal), payload);
    }

    pub fn len(&self) -> u64 {
        self.applied.len()
    }

    pub fn is_empty(&self) -> bool {
        self.applied.is_empty()
    }

    /// Every entry in key order, for state fingerprints.
    pub fn entries(&self) -> impl Iterator<Item = (ProposalKey, [u8; 32])> + '_ {
        self.applied.iter().map(|e| (*e.key(), e.value()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ic_stable_structures::DefaultMemoryImpl;

    #[test]
    fn a_replay_is_done_and_another_payload_or_caller_is_not() {
        let governance = Principal::from_slice(&[7; 10]);
        let other = Principal::from_slice(&[8; 29]);
        let mut applied = AppliedProposals::init(DefaultMemoryImpl::default());
        let a = payload_hash("set_call_fee", &5u128);
        let b = payload_hash("set_call_fee", &6u128);
        assert_ne!(a, b);
        assert_ne!(a, payload_hash("set_fee", &5u128), "the method is bound");
        assert_eq!(applied.check(governance, 1, &a), Applied::New);
        applied.record(governance, 1, a);
        assert_eq!(applied.check(governance, 1, &a), Applied::Replay);
        assert_eq!(applied.check(governance, 1, &b), Applied::Conflict);
        assert_eq!(applied.check(governance, 2, &a), Applied::New);
        assert_eq!(applied.check(other, 1, &a), Applied::New, "keyed by caller");
        assert_eq!(applied.len(), 1);
    }
}
