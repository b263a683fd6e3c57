//! Native throughput of the proxy's metering state machine over stable structures: one paid call is
//! hold → verify the node's signed receipt → charge (receipt appended), and every 500 calls a batch is
//! closed. Reported as calls per second (criterion's `elem/s`).
//!
//! `cargo bench -p inference-proxy --bench metering`

use candid::Principal;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use ed25519_dalek::{Signer, SigningKey};
use ic_stable_structures::memory_manager::MemoryManager;
use ic_stable_structures::DefaultMemoryImpl;
use inference_proxy::metering::Metering;
use inference_proxy::signed_usage::verify;
use neuranft_types::node::{signed_usage_message, InferResponse, Usage};
use neuranft_types::royalties::Price;
use neuranft_types::Account;

const CALLS: u64 = 1_000;
const BATCH: usize = 500;
const PRICE: Price = Price {
    per_1k_input_tokens: 2_000,
    per_1k_output_tokens: 6_000,
};

fn signed_answer(key: &SigningKey) -> Vec<u8> {
    let usage = Usage {
        input_tokens: 420,
        output_tokens: 180,
        total_duration_ns: 900_000_000,
        eval_duration_ns: 700_000_000,
    };
    let output = "The ECG shows sinus rhythm at 72 beats per minute.";
    let message = signed_usage_message("r1", "llama3.1:8b", &usage, output);
    serde_json::to_vec(&InferResponse {
        request_id: "r1".into(),
        model: "llama3.1:8b".into(),
        output: output.into(),
        usage,
        signature: hex::encode(key.sign(&message).to_bytes()),
    })
    .unwrap()
}

/// `CALLS` paid calls by 100 users against a fresh metering state.
fn paid_calls(verify_each: bool, body: &[u8], public_key: &[u8; 32]) {
    let mm = MemoryManager::init(DefaultMemoryImpl::default());
    let mut metering = Metering::init(&mm);
    let users: Vec<Principal> = (0..100u8)
        .map(|i| Principal::from_slice(&[i + 1; 29]))
        .collect();
    for user in &users {
        metering.credit_deposit(user, 1_000_000_000_000).unwrap();
    }
    let operator = Account {
        owner: Principal::from_slice(&[0xEE; 29]),
        subaccount: None,
    };
    let verified = verify(body, public_key, "r1", "llama3.1:8b", 512).unwrap();
    for i in 0..CALLS {
        let user = &users[(i % 100) as usize];
        let hold = metering.hold(user, 0, 10_000_000, i).unwrap();
        let usage = if verify_each {
            verify(body, public_key, "r1", "llama3.1:8b", 512).unwrap()
        } else {
            verified.clone()
        };
        metering
            .charge(hold.id, &usage, &PRICE, 20_000, operator, 0, i)
            .unwrap();
        if (i + 1) % BATCH as u64 == 0 {
            metering.close_batch(BATCH, 10_000, i).unwrap();
        }
    }
}

fn bench(c: &mut Criterion) {
    let key = SigningKey::from_bytes(&[7; 32]);
    let public_key = key.verifying_key().to_bytes();
    let body = signed_answer(&key);
    let mut group = c.benchmark_group("metering");
    group.throughput(Throughput::Elements(CALLS));
    group.sample_size(20);
    group.bench_function("hold_charge_batch_1000_calls", |b| {
        b.iter(|| paid_calls(false, &body, &public_key))
    });
    group.bench_function("hold_verify_charge_batch_1000_calls", |b| {
        b.iter(|| paid_calls(true, &body, &public_key))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
