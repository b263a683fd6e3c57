//! The fixed-width stable encodings of what the state stores by the million: packed followee lists,
//! ballots and follow-queue entries.

use super::*;

/// A neuron's followees on one topic, packed as big-endian ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Followees(pub(super) Vec<NeuronId>);

impl ic_stable_structures::Storable for Followees {
    fn to_bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Owned(self.0.iter().flat_map(|id| id.to_be_bytes()).collect())
    }

    fn into_bytes(self) -> Vec<u8> {
        self.to_bytes().into_owned()
    }

    fn from_bytes(bytes: std::borrow::Cow<[u8]>) -> Self {
        Followees(
            bytes
                .chunks_exact(8)
                .map(|c| u64::from_be_bytes(c.try_into().expect("8 bytes")))
                .collect(),
        )
    }

    const BOUND: ic_stable_structures::storable::Bound =
        ic_stable_structures::storable::Bound::Bounded {
            max_size: 8 * 50,
            is_fixed_size: false,
        };
}

pub(super) fn encode_ballot(b: Ballot) -> [u8; 17] {
    let mut out = [0u8; 17];
    out[0] = match b.vote {
        Vote::Unspecified => 0,
        Vote::Yes => 1,
        Vote::No => 2,
    };
    out[1..].copy_from_slice(&b.voting_power.to_be_bytes());
    out
}

pub(super) fn decode_ballot(bytes: [u8; 17]) -> Ballot {
    let mut power = [0u8; 16];
    power.copy_from_slice(&bytes[1..]);
    Ballot {
        vote: match bytes[0] {
            1 => Vote::Yes,
            2 => Vote::No,
            _ => Vote::Unspecified,
        },
        voting_power: u128::from_be_bytes(power),
    }
}

/// Followers of `voter` on `topic` still to evaluate for `proposal`, from follower id `next` on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct FollowWork {
    pub(super) proposal: ProposalId,
    pub(super) voter: NeuronId,
    pub(super) topic: u8,
    pub(super) next: NeuronId,
}

impl FollowWork {
    pub(super) fn encode(&self) -> [u8; 25] {
        let mut out = [0u8; 25];
        out[..8].copy_from_slice(&self.proposal.to_be_bytes());
        out[8..16].copy_from_slice(&self.voter.to_be_bytes());
        out[16] = self.topic;
        out[17..].copy_from_slice(&self.next.to_be_bytes());
        out
    }

    pub(super) fn decode(b: [u8; 25]) -> Self {
        let word =
            |r: std::ops::Range<usize>| u64::from_be_bytes(b[r].try_into().expect("8 bytes"));
        Self {
            proposal: word(0..8),
            voter: word(8..16),
            topic: b[16],
            next: word(17..25),
        }
    }
}
