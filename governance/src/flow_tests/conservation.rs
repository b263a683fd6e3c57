//! Conservation of the staked tokens against the ledger under random stakes, disbursements,
//! splits, merges and ledger faults.

use super::*;

#[derive(Clone, Debug)]
enum StakeOp {
    Stake { user: u8, tokens: u64 },
    Increase { neuron: usize, tokens: u64 },
    Dissolve { neuron: usize },
    Disburse { neuron: usize },
    Split { neuron: usize, tokens: u64 },
    Merge { target: usize, source: usize },
    Fault(u8),
    Days(u64),
    Drain,
}

fn stake_op() -> impl Strategy<Value = StakeOp> {
    prop_oneof![
        3 => (0..4u8, 1..50u64).prop_map(|(user, tokens)| StakeOp::Stake { user, tokens }),
        2 => (0..8usize, 1..20u64).prop_map(|(neuron, tokens)| StakeOp::Increase { neuron, tokens }),
        1 => (0..8usize).prop_map(|neuron| StakeOp::Dissolve { neuron }),
        2 => (0..8usize).prop_map(|neuron| StakeOp::Disburse { neuron }),
        2 => (0..8usize, 1..60u64).prop_map(|(neuron, tokens)| StakeOp::Split { neuron, tokens }),
        2 => (0..12usize, 0..12usize).prop_map(|(target, source)| StakeOp::Merge { target, source }),
        2 => (0..4u8).prop_map(StakeOp::Fault),
        1 => (1..400u64).prop_map(StakeOp::Days),
        1 => Just(StakeOp::Drain),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Whatever the faults: once transfers resolve, every neuron's stake is exactly its subaccount's
    /// balance, no tokens are created or lost, and a disbursed or merged neuron's subaccount is empty
    /// (splits and merges included).
    #[test]
    fn stakes_are_conserved_against_the_ledger(ops in proptest::collection::vec(stake_op(), 1..40)) {
        let w = world();
        let mut now = T0;
        let ledger = w.nng.client(gov_principal());
        for op in ops {
            match op {
                StakeOp::Stake { user: u, tokens } => {
                    w.approve(user(u), tokens as u128 * E8S as u128 + FEE);
                    let _ = block_on(flows::stake(&w.governance, &w.stakes, &ledger, user(u),
                        StakeArgs { amount: tokens * E8S, dissolve_delay_seconds: 200 * DAY }, now));
                }
                StakeOp::Increase { neuron, tokens } => {
                    let Some(n) = w.governance.borrow().neuron(neuron as u64) else { continue };
                    let owner = n.controller;
                    w.approve(owner, tokens as u128 * E8S as u128 + FEE);
                    let _ = block_on(flows::increase_stake(&w.governance, &w.stakes, &ledger, owner,
                        neuron as u64, tokens * E8S, now));
                }
                StakeOp::Dissolve { neuron } => {
                    let Some(n) = w.governance.borrow().neuron(neuron as u64) else { continue };
                    let _ = w.governance.borrow_mut().start_dissolving(n.controller, n.id, now);
                }
                StakeOp::Disburse { neuron } => {
                    let Some(n) = w.governance.borrow().neuron(neuron as u64) else { continue };
                    let _ = block_on(flows::disburse(&w.governance, &w.stakes, &ledger, n.controller,
                        n.id, None, now));
                }
                StakeOp::Split { neuron, tokens } => {
                    let Some(n) = w.governance.borrow().neuron(neuron as u64) else { continue };
                    let _ = block_on(flows::split_neuron(&w.governance, &w.stakes, &ledger, n.controller,
                        SplitNeuronArgs { neuron: n.id, amount: tokens * E8S }, now));
                }
                StakeOp::Merge { target, source } => {
                    let Some(n) = w.governance.borrow().neuron(target as u64) else { continue };
                    let _ = block_on(flows::merge_neurons(&w.governance, &w.stakes, &ledger, n.controller,
                        MergeNeuronsArgs { target: n.id, source: source as u64 }, now));
                }
                StakeOp::Fault(k) => w.nng.inject(match k {
                    0 => Fault::UnknownAfterExecution,
                    1 => Fault::UnknownBeforeExecution,
                    2 => Fault::TemporarilyUnavailable,
                    _ => Fault::LostReply,
                }),
                StakeOp::Days(d) => {
                    now += d * DAY * NANOS_PER_SECOND;
                    w.nng.set_time(now);
                }
                StakeOp::Drain => w.drain(),
            }
        }
        while w.nng.pending_faults() > 0 {
            let _ = block_on(w.nng.client(user(9)).icrc1_fee());
            w.drain();
            if w.nng.pending_faults() > 0 {
                // A fault nobody triggers: consume it with a harmless call.
                let args = ApproveArgs { from_subaccount: None, spender: acc(user(8)), amount: Nat::from(1u8),
                    expected_allowance: None, expires_at: None, fee: None, memo: None, created_at_time: None };
                let _ = block_on(w.nng.client(user(9)).icrc2_approve(args));
            }
        }
        w.drain();
        prop_assert!(w.stakes.borrow().unresolved(100).is_empty());
        let count = w.governance.borrow().neuron_count();
        // Ids are allocated by stakes and splits, at most one per operation.
        let all: Vec<NeuronId> = (0..count.max(40) + 40).collect();
        w.assert_stakes_backed(&all);
        for n in all {
            if w.governance.borrow().neuron(n).is_none() {
                prop_assert!(w.subaccount_balance(n) <= FEE, "neuron {} left {}", n, w.subaccount_balance(n));
            }
        }
    }
}
