//! The governance canister shell: decode, check callers, call the state, perform the ledger and
//! target calls, and run the job (ballots, following, decisions, transfers, executions) on a timer.

#[cfg(feature = "bench")]
mod bench;
mod ic;

use candid::Principal;
use governance::flows;
use ic::*;
use ic_cdk::api::{msg_caller, time};
use ic_cdk::{init, inspect_message, post_upgrade, query, update};
use neuranft_types::governance::*;
use neuranft_types::Account;

/// Ballots written or followers evaluated inside a user's call; the timer does the rest.
const CALL_BUDGET: u64 = 2_000;

/// Runs a staking flow (`flows::…`) on the staking book and ledger, for the caller, now.
macro_rules! staking {
    ($flow:ident($($arg:expr),*)) => {
        flows::$flow(&governance(), &stakes(), &staking_ledger(), msg_caller(), $($arg,)* time()).await
    };
}
#[init]
fn init(arg: GovernanceArg) {
    let GovernanceArg::Init(config) = arg else {
        ic_cdk::trap("install governance with GovernanceArg::Init");
    };
    if let Err(e) = mutate(|g| g.initialize(config.parameters.clone())) {
        ic_cdk::trap(format!("invalid parameters: {e:?}"));
    }
    set_config(config);
    start_timer();
}

#[post_upgrade]
fn post_upgrade(arg: Option<GovernanceArg>) {
    match arg {
        None | Some(GovernanceArg::Upgrade(None)) => {}
        Some(GovernanceArg::Upgrade(Some(upgrade))) => set_config(config().upgraded(upgrade)),
        Some(GovernanceArg::Init(_)) => {
            ic_cdk::trap("upgrade governance with GovernanceArg::Upgrade")
        }
    }
    flows::restore_busy(&governance(), &stakes());
    start_timer();
}

/// Drops anonymous ingress before it costs anything. Only a courtesy: one replica runs it and may
/// skip it, so every update method refuses the anonymous caller itself.
#[inspect_message]
fn inspect_message() {
    if msg_caller() != Principal::anonymous() {
        ic_cdk::api::accept_message();
    }
}

// ------------------------------------------------------------------ neurons

/// Stakes a new neuron: approve governance on the governance-token ledger for `amount + fee` first.
#[update]
async fn stake_neuron(args: StakeArgs) -> Result<NeuronId, GovernanceError> {
    staking!(stake(args))
}

#[update]
async fn increase_stake(neuron: NeuronId, amount: u64) -> Result<(), GovernanceError> {
    staking!(increase_stake(neuron, amount))
}

/// Moves part of a neuron's stake into a new neuron like it (the controller calls).
#[update]
async fn split_neuron(args: SplitNeuronArgs) -> Result<NeuronId, GovernanceError> {
    staking!(split_neuron(args))
}

/// Moves a neuron's whole stake into another of the same controller and removes it.
#[update]
async fn merge_neurons(args: MergeNeuronsArgs) -> Result<Neuron, GovernanceError> {
    staking!(merge_neurons(args))
}

#[update]
fn increase_dissolve_delay(
    neuron: NeuronId,
    additional_seconds: u64,
) -> Result<Neuron, GovernanceError> {
    mutate(|g| g.increase_dissolve_delay(msg_caller(), neuron, additional_seconds, time()))
}

#[update]
fn start_dissolving(neuron: NeuronId) -> Result<Neuron, GovernanceError> {
    mutate(|g| g.start_dissolving(msg_caller(), neuron, time()))
}

#[update]
fn stop_dissolving(neuron: NeuronId) -> Result<Neuron, GovernanceError> {
    mutate(|g| g.stop_dissolving(msg_caller(), neuron, time()))
}

#[update]
fn add_hot_key(neuron: NeuronId, hot_key: Principal) -> Result<Neuron, GovernanceError> {
    mutate(|g| g.add_hot_key(msg_caller(), neuron, hot_key))
}

#[update]
fn remove_hot_key(neuron: NeuronId, hot_key: Principal) -> Result<Neuron, GovernanceError> {
    mutate(|g| g.remove_hot_key(msg_caller(), neuron, hot_key))
}

/// Gives `principal` some of a hot key's rights on the neuron (an empty list withdraws them).
#[update]
fn set_permissions(
    neuron: NeuronId,
    principal: Principal,
    permissions: Vec<NeuronPermission>,
) -> Result<Neuron, GovernanceError> {
    mutate(|g| g.set_permissions(msg_caller(), neuron, principal, permissions))
}

/// Follows `followees` on `topic` (`CatchAll`: every normal topic without its own followees).
#[update]
fn follow(
    neuron: NeuronId,
    topic: Topic,
    followees: Vec<NeuronId>,
) -> Result<Neuron, GovernanceError> {
    mutate(|g| g.follow(msg_caller(), neuron, topic, followees, time()))
}

/// Pays a dissolved neuron's stake minus its reject costs to `to` (default: the caller).
#[update]
async fn disburse(neuron: NeuronId, to: Option<Account>) -> Result<u64, GovernanceError> {
    staking!(disburse(neuron, to))
}

#[query]
fn get_neuron(neuron: NeuronId) -> Option<Neuron> {
    read(|g| g.neuron(neuron))
}

/// The neurons `principal` controls or is a hot key or grantee of.
#[query]
fn neurons_of(principal: Principal) -> Vec<Neuron> {
    read(|g| g.neurons_of(principal))
}

/// A neuron's voting power now (`null` below the minimum dissolve delay).
#[query]
fn voting_power(neuron: NeuronId) -> Option<u128> {
    read(|g| {
        g.neuron(neuron)
            .and_then(|n| governance::power::voting_power(&n, &g.parameters(), time()))
    })
}

// ------------------------------------------------------------------ proposals

/// Makes a proposal (see `Action`); a generic call only once its function's validator accepted the
/// payload, whose text voters then read.
#[update]
async fn make_proposal(args: MakeProposalArgs) -> Result<ProposalId, GovernanceError> {
    governance::flows::make_proposal(
        &ic::governance(),
        &ic::IcTargets,
        msg_caller(),
        args,
        time,
        CALL_BUDGET,
    )
    .await
}

/// The generic functions the DAO registered, which `ExecuteGenericFunction` proposals call.
#[query]
fn generic_functions() -> Vec<GenericFunction> {
    read(|g| g.generic_functions())
}

/// Stages one chunk (≤ 1 MiB) of a module for an upgrade proposal of `args.neuron` (its controller
/// or a hot key calls; the neuron must be able to propose). Returns the chunk's SHA-256, which the
/// proposal's `chunked_wasm` names.
#[update]
fn stage_wasm_chunk(args: StageChunkArgs) -> Result<serde_bytes::ByteBuf, GovernanceError> {
    mutate(|g| g.stage_chunk(msg_caller(), args, time()))
}

/// What `neuron` has staged.
#[query]
fn staged_chunks(neuron: NeuronId) -> Vec<StagedChunk> {
    read(|g| g.staged_chunks(neuron))
}

#[update]
fn clear_staged_chunks(neuron: NeuronId) -> Result<(), GovernanceError> {
    mutate(|g| g.clear_staged_chunks(msg_caller(), neuron))
}

#[update]
fn register_vote(
    neuron: NeuronId,
    proposal: ProposalId,
    vote: Vote,
) -> Result<Tally, GovernanceError> {
    mutate(|g| g.register_vote(msg_caller(), neuron, proposal, vote, time(), CALL_BUDGET))
}

#[query]
fn list_proposals(args: ListProposalsArgs) -> Vec<ProposalInfo> {
    read(|g| g.proposal_page(&args))
}

/// One proposal with its tally, its rendered action and a page of ballots from neuron `ballots_from`.
#[query]
fn get_proposal(
    proposal: ProposalId,
    ballots_from: NeuronId,
    ballots_limit: u32,
) -> Option<ProposalDetail> {
    read(|g| {
        Some(ProposalDetail {
            info: g.proposal(proposal)?,
            ballots: g.ballots(proposal, ballots_from, ballots_limit.min(1_000) as usize),
        })
    })
}

#[query]
fn get_parameters() -> Parameters {
    read(|g| g.parameters())
}

#[query]
fn get_config() -> GovernanceConfig {
    config()
}

/// The DAO treasury on the payment ledger and what `TransferTreasury` may still move.
#[update]
async fn treasury() -> Result<TreasuryView, GovernanceError> {
    flows::treasury_view(&governance(), &payment_ledger(), msg_caller(), time()).await
}

/// Runs the timer's job now (anyone but the anonymous principal may: it only does what the state
/// says is due).
#[update]
async fn run_jobs() -> Result<JobReport, GovernanceError> {
    // The job's ledger and target calls cost cycles.
    if msg_caller() == Principal::anonymous() {
        return Err(GovernanceError::AnonymousCaller);
    }
    Ok(run_job().await)
}

/// The status names `list_proposals` filters by.
#[query]
fn proposal_statuses() -> Vec<String> {
    governance::state::status_names()
}

ic_cdk::export_candid!();

fn main() {}

#[cfg(test)]
mod did_tests;
