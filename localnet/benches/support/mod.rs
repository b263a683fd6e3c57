//! What the benchmarks share: the icrc-ledger wasm as scripts/build-canisters.sh builds it, installed
//! with balances for the principals given.

use candid::{Encode, Nat, Principal};
use icrc_ledger_types::icrc1::account::Account;
use localnet::LocalNet;

/// `<target>/canisters/icrc-ledger.wasm.gz` (`CARGO_TARGET_DIR` or `target/`), if built.
pub fn ledger_wasm() -> Option<Vec<u8>> {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into());
    let path = workspace.join(target).join("canisters/icrc-ledger.wasm.gz");
    let wasm = std::fs::read(&path).ok();
    if wasm.is_none() {
        eprintln!(
            "{} not built (scripts/build-canisters.sh): skipping the ledger benchmark",
            path.display()
        );
    }
    wasm
}

/// Installs the ledger (fee 1) with `holders` each holding 2^60 units.
pub fn install_ledger(net: &mut LocalNet, wasm: &[u8], holders: &[Principal]) -> Principal {
    let controller = Principal::from_slice(&[1; 29]);
    let ledger = net.create_canister(controller);
    let init = neuranft_types::ledger::LedgerArg::Init(neuranft_types::ledger::LedgerInitArgs {
        token_name: "Bench".into(),
        token_symbol: "B".into(),
        decimals: 8,
        transfer_fee: Nat::from(1u8),
        minting_account: Account {
            owner: controller,
            subaccount: None,
        },
        initial_balances: holders
            .iter()
            .map(|h| {
                (
                    Account {
                        owner: *h,
                        subaccount: None,
                    },
                    Nat::from(1u64 << 60),
                )
            })
            .collect(),
        max_memo_length: None,
        min_burn_amount: None,
    });
    net.install_canister(ledger, wasm, Encode!(&init).unwrap(), controller)
        .unwrap();
    ledger
}

/// A transfer of 1 unit to a recipient numbered `n`.
pub fn transfer(n: u64) -> Vec<u8> {
    let arg = icrc_ledger_types::icrc1::transfer::TransferArg {
        from_subaccount: None,
        to: Account {
            owner: Principal::from_slice(&[(n % 200) as u8 + 2; 29]),
            subaccount: None,
        },
        fee: None,
        created_at_time: None,
        memo: None,
        amount: Nat::from(1u8),
    };
    Encode!(&arg).unwrap()
}
