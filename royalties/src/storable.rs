//! Stable-memory encodings particular to royalties: fixed-width balances.

pub use neuranft_types::storable::Candid;

use ic_stable_structures::storable::{Bound, Storable};
use std::borrow::Cow;

/// A stakeholder's balance in 80 fixed bytes: it is read and written for every recipient of every receipt.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Balance(pub neuranft_types::royalties::StakeholderBalance);

impl Storable for Balance {
    fn to_bytes(&self) -> Cow<'_, [u8]> {
        Cow::Owned(self.clone().into_bytes())
    }

    fn into_bytes(self) -> Vec<u8> {
        let b = self.0;
        [
            b.available,
            b.credited_total,
            b.in_flight,
            b.paid_total,
            b.entitlement_remainder,
        ]
        .iter()
        .flat_map(|v| v.to_be_bytes())
        .collect()
    }

    fn from_bytes(bytes: Cow<[u8]>) -> Self {
        let field = |i: usize| {
            u128::from_be_bytes(bytes[i * 16..(i + 1) * 16].try_into().expect("80 bytes"))
        };
        Balance(neuranft_types::royalties::StakeholderBalance {
            available: field(0),
            credited_total: field(1),
            in_flight: field(2),
            paid_total: field(3),
            entitlement_remainder: field(4),
        })
    }

    const BOUND: Bound = Bound::Bounded {
        max_size: 80,
        is_fixed_size: true,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balance_round_trips() {
        let b = Balance(neuranft_types::royalties::StakeholderBalance {
            available: 1,
            credited_total: u128::MAX,
            in_flight: 3,
            paid_total: 4,
            entitlement_remainder: 5,
        });
        assert_eq!(Balance::from_bytes(b.to_bytes()), b);
    }
}
