//! Settling a batch of 1,000 receipts natively, on a fresh state and after a long history, to show the
//! per-receipt cost does not grow with past receipts or with stakeholders the batch does not involve.
//!
//! `cargo bench -p royalties --bench settle`

use candid::{Nat, Principal};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use ic_stable_structures::DefaultMemoryImpl;
use icrc_ledger_types::icrc1::account::Account;
use neuranft_types::royalties::*;
use royalties::State;
use serde_bytes::ByteBuf;

const BATCH: u64 = 1_000;
const T0: u64 = 1_700_000_000_000_000_000;

fn p(n: u32) -> Principal {
    let mut bytes = [1u8; 29];
    bytes[..4].copy_from_slice(&n.to_be_bytes());
    Principal::from_slice(&bytes)
}

fn acc(n: u32) -> Account {
    Account {
        owner: p(n),
        subaccount: None,
    }
}

/// A state with `models` models of 10 owners and 4 data owners each, every one with its own accounts.
fn setup(models: u32) -> State {
    let mut s = State::open_small(DefaultMemoryImpl::default());
    s.initialize(InitArgs::with_defaults(p(1), p(2), p(3), acc(4)), T0)
        .unwrap();
    for m in 0..models {
        let base = 1_000 + m * 100;
        s.register_model(
            p(base),
            RegisterModelArgs {
                metadata: ModelMetadata {
                    name: format!("model-{m}"),
                    base_model: "llama3.1:8b".into(),
                    architecture: "decoder".into(),
                    datasets: vec![DatasetRef {
                        uri: "ipfs://x".into(),
                        sha256: ByteBuf::from(vec![0u8; 32]),
                    }],
                    training_params: vec![],
                    licence: "llama3.1".into(),
                },
                price: Price {
                    per_1k_input_tokens: 100,
                    per_1k_output_tokens: 300,
                },
                owners: (0..10)
                    .map(|i| ShareHolding {
                        account: acc(base + i),
                        units: 100_000,
                    })
                    .collect(),
                data_owners: (0..4)
                    .map(|i| DataOwner {
                        account: acc(base + 50 + i),
                        weight: 2_500,
                    })
                    .collect(),
            },
            T0,
        )
        .unwrap();
    }
    s
}

fn batch(id: u64, models: u32) -> SettleArgs {
    SettleArgs {
        batch_id: id,
        funding_block: Nat::from(id),
        receipts: (0..BATCH)
            .map(|i| Receipt {
                id: id * BATCH + i,
                user: p(5),
                model: (i % models as u64),
                node_operator: acc(10 + (i % 8) as u32),
                input_tokens: 500,
                output_tokens: 700,
                amount: 1_000 + i,
                split_version: 0,
                metered_at: T0,
            })
            .collect(),
    }
}

fn bench_settle(c: &mut Criterion) {
    // Under `cargo test` criterion runs each benchmark once: keep the history small there.
    let long_run = std::env::args().any(|a| a == "--bench");
    let history_batches = if long_run { 200 } else { 2 };
    let mut group = c.benchmark_group("settle_1000_receipts");
    group.sample_size(10);

    group.bench_function("fresh_state_10_models", |b| {
        b.iter_batched(
            || (setup(10), batch(0, 10)),
            |(mut s, args)| s.settle(p(3), args, T0).unwrap(),
            BatchSize::LargeInput,
        )
    });

    let mut s = setup(1_000);
    for id in 0..history_batches {
        s.settle(p(3), batch(id, 1_000), T0).unwrap();
    }
    let mut next = history_batches;
    group.bench_function(
        format!("after_{}_receipts_1000_models", history_batches * BATCH),
        |b| {
            b.iter_batched(
                || {
                    next += 1;
                    batch(next, 10)
                },
                |args| s.settle(p(3), args, T0).unwrap(),
                BatchSize::LargeInput,
            )
        },
    );
    group.finish();
}

criterion_group!(benches, bench_settle);
criterion_main!(benches);
