//! The benchmark build's extra methods (feature `bench`): state made in bulk without ledger
//! transfers, so that benchmarks measure governance at scale. Not part of the interface.

use crate::ic::{mutate, read};
use crate::CALL_BUDGET;
use ic_cdk::api::{msg_caller, time};
use ic_cdk::update;
use neuranft_types::governance::*;

/// Benchmark wasm only: `count` neurons of the caller with `stake` each, following `followee`.
#[update]
fn bench_seed_neurons(count: u64, stake: u64, followee: Option<NeuronId>) {
    mutate(|g| g.seed_neurons(msg_caller(), count, stake, followee, time()));
}

/// Benchmark wasm only: `count` Motion proposals made by the caller's neurons from `first` on,
/// each neuron making as many as the parameters let it keep open.
#[update]
fn bench_seed_proposals(first: NeuronId, count: u64) {
    let per_neuron = read(|g| g.parameters().max_open_proposals_per_neuron) as u64;
    for n in 0..count {
        let args = MakeProposalArgs {
            neuron: first + n / per_neuron,
            title: format!("Motion {n}"),
            summary: "A statement the holders vote on.".into(),
            url: String::new(),
            action: Action::Motion {
                text: format!("motion {n}"),
            },
        };
        if let Err(e) = mutate(|g| g.make_proposal(msg_caller(), args, time(), CALL_BUDGET)) {
            ic_cdk::trap(format!("seeding proposal {n}: {e:?}"));
        }
    }
}
