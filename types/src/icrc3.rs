//! Reading and writing ICRC-3 blocks: the encoding of accounts and field lookup, shared by the ledger
//! that writes blocks and the adapter that searches them.

use candid::Principal;
use icrc_ledger_types::icrc::generic_value::ICRC3Value;
use icrc_ledger_types::icrc1::account::Account;
use serde_bytes::ByteBuf;

/// An account as ICRC-3 blocks hold it: `[owner]` or `[owner, subaccount]`.
pub fn account_value(account: &Account) -> ICRC3Value {
    let mut parts = vec![ICRC3Value::Blob(ByteBuf::from(account.owner.as_slice()))];
    if let Some(sub) = account.subaccount {
        parts.push(ICRC3Value::Blob(ByteBuf::from(sub.to_vec())));
    }
    ICRC3Value::Array(parts)
}

/// Inverse of [`account_value`]; `None` for anything that is not an account.
pub fn value_account(value: &ICRC3Value) -> Option<Account> {
    let ICRC3Value::Array(parts) = value else {
        return None;
    };
    let owner = match parts.first()? {
        ICRC3Value::Blob(b) => Principal::try_from_slice(b).ok()?,
        _ => return None,
    };
    let subaccount = match parts.get(1) {
        None => None,
        Some(ICRC3Value::Blob(b)) => Some(<[u8; 32]>::try_from(b.as_slice()).ok()?),
        Some(_) => return None,
    };
    (parts.len() <= 2).then_some(Account { owner, subaccount })
}

/// A field of a block by path (`["tx", "amt"]`), if the block is a map that has it.
pub fn field<'a>(block: &'a ICRC3Value, path: &[&str]) -> Option<&'a ICRC3Value> {
    let mut value = block;
    for key in path {
        let ICRC3Value::Map(map) = value else {
            return None;
        };
        value = map.get(*key)?;
    }
    Some(value)
}

/// A field that holds a natural number small enough for `u128`.
pub fn nat_field(block: &ICRC3Value, path: &[&str]) -> Option<u128> {
    match field(block, path)? {
        ICRC3Value::Nat(n) => u128::try_from(&n.0).ok(),
        _ => None,
    }
}

/// A field that holds a blob.
pub fn blob_field<'a>(block: &'a ICRC3Value, path: &[&str]) -> Option<&'a [u8]> {
    match field(block, path)? {
        ICRC3Value::Blob(b) => Some(b.as_slice()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_round_trip_through_block_values() {
        let plain = Account {
            owner: Principal::from_slice(&[3; 29]),
            subaccount: None,
        };
        let sub = Account {
            subaccount: Some([9; 32]),
            ..plain
        };
        assert_eq!(value_account(&account_value(&plain)), Some(plain));
        assert_eq!(value_account(&account_value(&sub)), Some(sub));
        assert_eq!(value_account(&ICRC3Value::Text("x".into())), None);
    }
}
