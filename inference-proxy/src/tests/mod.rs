//! Native tests of the proxy's state machine; the shared helpers are here.

use crate::metering::*;
use crate::signed_usage::{verify, VerifiedUsage};
use candid::{Nat, Principal};
use ed25519_dalek::{Signer, SigningKey};
use ic_stable_structures::memory_manager::MemoryManager;
use ic_stable_structures::DefaultMemoryImpl;
use neuranft_types::node::{signed_usage_message, InferResponse, Usage};
use neuranft_types::royalties::Price;
use neuranft_types::Account;
use proptest::prelude::*;

const PRICE: Price = Price {
    per_1k_input_tokens: 2_000,
    per_1k_output_tokens: 6_000,
};
const CALL_FEE: u128 = 50;

fn user(n: u8) -> Principal {
    Principal::from_slice(&[n + 1; 29])
}

fn node() -> Account {
    Account {
        owner: Principal::from_slice(&[0xEE; 29]),
        subaccount: None,
    }
}

fn metering(memory: &DefaultMemoryImpl) -> Metering {
    Metering::init(&MemoryManager::init_with_bucket_size(memory.clone(), 1))
}

/// A node's signed answer, verified as the proxy would.
fn usage(input: u64, output: u64) -> VerifiedUsage {
    let key = SigningKey::from_bytes(&[9; 32]);
    let usage = Usage {
        input_tokens: input,
        output_tokens: output,
        total_duration_ns: 1,
        eval_duration_ns: 1,
    };
    let message = signed_usage_message("r", "m", &usage, "out");
    let body = serde_json::to_vec(&InferResponse {
        request_id: "r".into(),
        model: "m".into(),
        output: "out".into(),
        usage,
        signature: hex::encode(key.sign(&message).to_bytes()),
    })
    .unwrap();
    verify(&body, &key.verifying_key().to_bytes(), "r", "m", u64::MAX).unwrap()
}

mod inference;
pub(crate) mod inference_support;
mod metering;
mod money;
mod money_path;
