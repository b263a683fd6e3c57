//! Candid types that cross canister boundaries. This crate must not depend on `ic-cdk`, so that
//! clients, the simulation and every canister can share it.

pub mod applied;
mod canister_state;
#[cfg(feature = "did-check")]
pub mod did;
pub mod governance;
pub mod guard;
pub mod icrc3;
pub mod ledger;
pub mod node;
pub mod proxy;
pub mod root;
pub mod royalties;
pub mod storable;

pub use candid::Principal;

/// A governance proposal's id: the key every target applies an adopted proposal under.
pub type ProposalId = u64;
pub use icrc_ledger_types::icrc1::account::{Account, Subaccount};

/// Basis points in a whole: a split's parts must sum to this.
pub const BASIS_POINTS: u16 = 10_000;

/// Canonical 61-byte form of an account: the principal length, the principal bytes padded to 29, and the
/// 32-byte subaccount, where a missing subaccount is the default (all zeros).
///
/// Use it for balances (ICRC-1 says `None` and the default subaccount are the same account), never for
/// ledger deduplication (where they are different payloads).
pub fn account_key(account: &Account) -> [u8; 62] {
    let mut key = [0u8; 62];
    let principal = account.owner.as_slice();
    key[0] = principal.len() as u8;
    key[1..1 + principal.len()].copy_from_slice(principal);
    if let Some(sub) = account.subaccount {
        key[30..62].copy_from_slice(&sub);
    }
    key
}

/// Inverse of [`account_key`]; the default subaccount comes back as `None`.
pub fn account_from_key(key: &[u8; 62]) -> Account {
    let len = key[0] as usize;
    let owner = Principal::from_slice(&key[1..1 + len]);
    let mut sub = [0u8; 32];
    sub.copy_from_slice(&key[30..62]);
    Account {
        owner,
        subaccount: (sub != [0u8; 32]).then_some(sub),
    }
}

/// The same account in the canonical form (`Some([0; 32])` becomes `None`).
pub fn normalize_account(account: &Account) -> Account {
    account_from_key(&account_key(account))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_key_round_trips_and_treats_default_subaccount_as_none() {
        let owner = Principal::from_slice(&[7; 29]);
        let plain = Account {
            owner,
            subaccount: None,
        };
        let zero = Account {
            owner,
            subaccount: Some([0; 32]),
        };
        let other = Account {
            owner,
            subaccount: Some([1; 32]),
        };
        assert_eq!(account_key(&plain), account_key(&zero));
        assert_ne!(account_key(&plain), account_key(&other));
        assert_eq!(account_from_key(&account_key(&other)), other);
        assert_eq!(account_from_key(&account_key(&zero)), plain);
        let anon = Account {
            owner: Principal::anonymous(),
            subaccount: None,
        };
        assert_eq!(account_from_key(&account_key(&anon)), anon);
    }
}
