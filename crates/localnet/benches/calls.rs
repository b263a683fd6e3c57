//! Update calls per second through localnet: the conformance canister's `inc` (a small heap) and the
//! icrc-ledger wasm's `icrc1_transfer` (a Rust canister with stable structures), when built.
//! `cargo bench -p localnet --bench calls`; calls per second = 1 / the reported time.

use candid::{Encode, Nat, Principal};
use criterion::{criterion_group, criterion_main, Criterion};
use localnet::LocalNet;

fn user() -> Principal {
    Principal::from_slice(&[7; 29])
}

fn simple_update(c: &mut Criterion) {
    let wasm = wat::parse_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance.wat"
    ))
    .unwrap();
    let mut net = LocalNet::new(1);
    let id = net.create_canister(user());
    net.install_canister(id, &wasm, vec![], user()).unwrap();
    c.bench_function("update call: wat canister inc", |b| {
        b.iter(|| net.update_call(id, user(), "inc", vec![]).unwrap())
    });
}

fn ledger_transfer(c: &mut Criterion) {
    // <target>/canisters, as scripts/build-canisters.sh writes it (CARGO_TARGET_DIR or target/).
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = std::env::var_os("CARGO_TARGET_DIR").unwrap_or_else(|| "target".into());
    let path = workspace.join(target).join("canisters/icrc-ledger.wasm.gz");
    let Ok(wasm) = std::fs::read(&path) else {
        eprintln!(
            "{} not built (scripts/build-canisters.sh): skipping the ledger benchmark",
            path.display()
        );
        return;
    };
    let mut net = LocalNet::new(1);
    let ledger = net.create_canister(user());
    let minter = icrc_ledger_types::icrc1::account::Account {
        owner: Principal::from_slice(&[1; 29]),
        subaccount: None,
    };
    let me = icrc_ledger_types::icrc1::account::Account {
        owner: user(),
        subaccount: None,
    };
    let init = neuranft_types::ledger::LedgerArg::Init(neuranft_types::ledger::LedgerInitArgs {
        token_name: "Bench".into(),
        token_symbol: "B".into(),
        decimals: 8,
        transfer_fee: Nat::from(1u8),
        minting_account: minter,
        initial_balances: vec![(me, Nat::from(u64::MAX))],
        max_memo_length: None,
        min_burn_amount: None,
    });
    net.install_canister(ledger, &wasm, Encode!(&init).unwrap(), user())
        .unwrap();
    let mut n = 0u64;
    c.bench_function("update call: icrc-ledger icrc1_transfer", |b| {
        b.iter(|| {
            n += 1;
            let arg = icrc_ledger_types::icrc1::transfer::TransferArg {
                from_subaccount: None,
                to: icrc_ledger_types::icrc1::account::Account {
                    owner: Principal::from_slice(&[(n % 200) as u8 + 2; 29]),
                    subaccount: None,
                },
                fee: None,
                created_at_time: None,
                memo: None,
                amount: Nat::from(1u8),
            };
            net.update_call(ledger, user(), "icrc1_transfer", Encode!(&arg).unwrap())
                .unwrap()
        })
    });
}

criterion_group!(benches, simple_update, ledger_transfer);
criterion_main!(benches);
