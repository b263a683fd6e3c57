//! Update calls per second through localnet: the conformance canister's `inc` (a small heap) and the
//! icrc-ledger wasm's `icrc1_transfer` (a Rust canister with stable structures), when built.
//! `cargo bench -p localnet --bench calls`; calls per second = 1 / the reported time.

use candid::Principal;
use criterion::{criterion_group, criterion_main, Criterion};
use localnet::LocalNet;

mod support;

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
    let Some(wasm) = support::ledger_wasm() else {
        return;
    };
    let mut net = LocalNet::new(1);
    let ledger = support::install_ledger(&mut net, &wasm, &[user()]);
    let mut n = 0u64;
    c.bench_function("update call: icrc-ledger icrc1_transfer", |b| {
        b.iter(|| {
            n += 1;
            net.update_call(ledger, user(), "icrc1_transfer", support::transfer(n))
                .unwrap()
        })
    });
}

criterion_group!(benches, simple_update, ledger_transfer);
criterion_main!(benches);
