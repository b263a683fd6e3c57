//! Stable-memory encoding shared by every canister's state: a Candid record as an unbounded value.

use candid::{CandidType, Deserialize};
use ic_stable_structures::storable::{Bound, Storable};
use std::borrow::Cow;

/// Wraps a Candid record so it can live in a stable structure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candid<T>(pub T);

impl<T> Storable for Candid<T>
where
    T: CandidType + for<'de> Deserialize<'de>,
{
    fn to_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Owned(candid::encode_one(&self.0).expect("BUG: stable value must encode"))
    }

    fn into_bytes(self) -> Vec<u8> {
        candid::encode_one(&self.0).expect("BUG: stable value must encode")
    }

    fn from_bytes(bytes: Cow<[u8]>) -> Self {
        Candid(candid::decode_one(&bytes).expect("BUG: stable value must decode"))
    }

    const BOUND: Bound = Bound::Unbounded;
}
