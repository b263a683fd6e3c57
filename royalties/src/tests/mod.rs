//! Native tests of the royalties state machine and its flows: the set-up they share, and one module
//! per part of the state.

mod governed;
mod payouts;
mod pushes;
mod registry;
mod settlement;
mod split;
mod upgrade;

use crate::state::*;
use candid::{Nat, Principal};
use ic_stable_structures::DefaultMemoryImpl;
use icrc_ledger_types::icrc1::account::Account;
use neuranft_types::royalties::*;
use serde_bytes::ByteBuf;

const SEC: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * SEC;
const FEE: u128 = 10_000;

fn p(n: u8) -> Principal {
    Principal::from_slice(&[n; 29])
}
fn acc(n: u8) -> Account {
    Account {
        owner: p(n),
        subaccount: None,
    }
}
fn proxy() -> Principal {
    p(200)
}
fn governance() -> Principal {
    p(201)
}
fn royalties_id() -> Principal {
    p(202)
}
fn treasury() -> Account {
    acc(203)
}

fn split(host: u16, owners: u16, data: u16, treasury: u16) -> SplitConfig {
    SplitConfig {
        host_bps: host,
        model_owners_bps: owners,
        data_owners_bps: data,
        treasury_bps: treasury,
    }
}

fn fresh_with(memory: DefaultMemoryImpl) -> State {
    let mut s = State::open_small(memory);
    s.initialize(
        InitArgs {
            ledger: p(204),
            governance: governance(),
            inference_proxy: proxy(),
            treasury: treasury(),
            split: split(3_000, 5_000, 1_000, 1_000),
            auto_payout_fee_multiple: 10,
            payout_interval_seconds: 60,
        },
        T0,
    )
    .unwrap();
    s
}

fn fresh() -> State {
    fresh_with(DefaultMemoryImpl::default())
}

fn metadata() -> ModelMetadata {
    ModelMetadata {
        name: "medical-llama".into(),
        base_model: "llama3.1:8b".into(),
        architecture: "transformer decoder, 8B".into(),
        datasets: vec![DatasetRef {
            uri: "ipfs://bafy-medqa".into(),
            sha256: ByteBuf::from(vec![7u8; 32]),
        }],
        training_params: vec![TrainingParam {
            key: "lora_rank".into(),
            value: "16".into(),
        }],
        licence: "llama3.1-community".into(),
    }
}

fn register(s: &mut State, owners: &[(u8, u64)], data: &[(u8, u64)]) -> ModelId {
    s.register_model(
        p(owners[0].0),
        RegisterModelArgs {
            metadata: metadata(),
            price: Price {
                per_1k_input_tokens: 100,
                per_1k_output_tokens: 300,
            },
            owners: owners
                .iter()
                .map(|(o, u)| ShareHolding {
                    account: acc(*o),
                    units: *u,
                })
                .collect(),
            data_owners: data
                .iter()
                .map(|(o, w)| DataOwner {
                    account: acc(*o),
                    weight: *w,
                })
                .collect(),
        },
        T0,
    )
    .unwrap()
}

fn receipt(
    id: u64,
    model: ModelId,
    host: u8,
    amount: u64,
    version: SplitVersion,
    at: u64,
) -> Receipt {
    Receipt {
        id,
        user: p(99),
        model,
        node_operator: acc(host),
        input_tokens: 100,
        output_tokens: 200,
        amount,
        split_version: version,
        metered_at: at,
    }
}

fn batch(id: u64, receipts: Vec<Receipt>) -> SettleArgs {
    SettleArgs {
        batch_id: id,
        funding_block: Nat::from(id),
        receipts,
    }
}

/// Internal consistency: O(1) counters equal what the maps say, and money is conserved.
fn assert_consistent(s: &State) {
    let l = s.liabilities();
    let (available, in_flight, undistributed) = s.recompute_totals();
    assert_eq!(l.available, available);
    assert_eq!(l.in_flight, in_flight);
    assert_eq!(l.undistributed, undistributed);
    assert_eq!(
        l.settled_total,
        l.available + l.in_flight + l.paid_total + l.undistributed
    );
}

/// Verifies the log's chain from the entries as hashed and replays it from the log alone (the
/// independent reckoning); every account it credited holds exactly what it recomputes.
fn replay_and_compare(s: &State) -> LogReplay {
    let mut replay = LogReplay::new(treasury());
    let mut tip = LOG_GENESIS_HASH;
    loop {
        let page = s.encoded_log_page(replay.next_index, 100);
        if page.entries.is_empty() {
            break;
        }
        tip = verify_log_chain(tip, replay.next_index, 0, &page.entries)
            .unwrap_or_else(|e| panic!("the chain breaks: {e}"));
        for e in &page.entries {
            assert_eq!(e.format, LOG_FORMAT_V2);
            let event: LogEvent = candid::decode_one(&e.event).expect("a logged event decodes");
            replay
                .apply(e.index, e.timestamp, &e.hash, &event)
                .unwrap_or_else(|err| panic!("the replay disagrees: {err}"));
        }
    }
    assert_eq!(tip, s.log_tip_hash());
    for (account, replayed) in replay.accounts() {
        let b = s.balance_of(account);
        assert_eq!(b.credited_total, replayed.credited_total, "{account}");
        assert_eq!(b.entitlement_remainder, replayed.remainder, "{account}");
    }
    let l = s.liabilities();
    let credited: u128 = replay.accounts().map(|(_, a)| a.credited_total).sum();
    assert_eq!(
        credited,
        l.settled_total - l.undistributed,
        "no account is missing"
    );
    replay
}
