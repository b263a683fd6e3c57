//! The governance canister shell: decode, check callers, call the state, perform the ledger and
//! target calls, and run the job (ballots, following, decisions, transfers, executions) on a timer.

use candid::Principal;
use governance::book::Book;
use governance::flows::{self, TargetOutcome, Targets};
use governance::memory::{
    CONFIG_MEMORY_ID, STAKES_BOOK_FIRST_MEMORY_ID, TREASURY_BOOK_FIRST_MEMORY_ID,
};
use governance::state::status_name;
use governance::Governance;
use ic_cdk::api::{canister_self, msg_caller, time};
use ic_cdk::{init, inspect_message, post_upgrade, query, update};
use ic_cdk_management_canister::{
    CanisterInstallMode, InstallCodeArgs, StartCanisterArgs, StopCanisterArgs,
};
use ic_stable_structures::memory_manager::{MemoryManager, VirtualMemory};
use ic_stable_structures::{DefaultMemoryImpl, StableCell};
use ledger_adapter::ic::IcLedger;
use ledger_adapter::LedgerRuntime;
use neuranft_types::governance::*;
use neuranft_types::proxy::{NodeAction, RegistryError};
use neuranft_types::royalties::{SetSplitArgs, SplitConfig, SplitError, SplitVersion};
use neuranft_types::storable::Candid;
use neuranft_types::Account;
use serde_bytes::ByteBuf;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

/// Ballots written or followers evaluated inside a user's call; the timer does the rest.
const CALL_BUDGET: u64 = 2_000;
/// Work per timer run.
const TIMER_BUDGET: u64 = 10_000;
const JOB_INTERVAL_SECONDS: u64 = 5;

struct CanisterState {
    governance: Rc<RefCell<Governance>>,
    stakes: Rc<RefCell<Book>>,
    treasury: Rc<RefCell<Book>>,
    config: RefCell<StableCell<Candid<Option<GovernanceConfig>>, VirtualMemory<DefaultMemoryImpl>>>,
}

thread_local! {
    static STATE: CanisterState = {
        let mm = MemoryManager::init(DefaultMemoryImpl::default());
        CanisterState {
            governance: Rc::new(RefCell::new(Governance::open_in(&mm))),
            stakes: Rc::new(RefCell::new(governance::book::open(&mm, STAKES_BOOK_FIRST_MEMORY_ID))),
            treasury: Rc::new(RefCell::new(governance::book::open(&mm, TREASURY_BOOK_FIRST_MEMORY_ID))),
            config: RefCell::new(StableCell::init(mm.get(CONFIG_MEMORY_ID), Candid(None))),
        }
    };
    /// The job runs one at a time.
    static JOB_RUNNING: Cell<bool> = const { Cell::new(false) };
}

fn governance() -> Rc<RefCell<Governance>> {
    STATE.with(|s| Rc::clone(&s.governance))
}

fn stakes() -> Rc<RefCell<Book>> {
    STATE.with(|s| Rc::clone(&s.stakes))
}

fn treasury_book() -> Rc<RefCell<Book>> {
    STATE.with(|s| Rc::clone(&s.treasury))
}

fn config() -> GovernanceConfig {
    STATE.with(|s| {
        let mut c = s
            .config
            .borrow()
            .get()
            .0
            .clone()
            .expect("BUG: governance used before initialization");
        c.parameters = s.governance.borrow().parameters();
        c
    })
}

fn set_config(config: GovernanceConfig) {
    STATE.with(|s| s.config.borrow_mut().set(Candid(Some(config))));
}

fn read<R>(f: impl FnOnce(&Governance) -> R) -> R {
    STATE.with(|s| f(&s.governance.borrow()))
}

fn mutate<R>(f: impl FnOnce(&mut Governance) -> R) -> R {
    STATE.with(|s| f(&mut s.governance.borrow_mut()))
}

fn staking_ledger() -> IcLedger {
    IcLedger(config().governance_ledger)
}

fn payment_ledger() -> IcLedger {
    IcLedger(config().payment_ledger)
}

/// Royalties, the proxy and the management canister, reached by bounded-wait calls.
struct IcTargets;

/// A target's call: a failure that may pass is an unknown outcome (retried, within the bound), any
/// other a refusal.
async fn call_target<A, R>(canister: Principal, method: &str, args: A) -> Result<R, TargetOutcome>
where
    A: candid::utils::ArgumentEncoder,
    R: candid::CandidType + for<'de> candid::Deserialize<'de>,
{
    ledger_adapter::ic::call(canister, method, args)
        .await
        .map_err(|e| match e {
            e if e.worth_retrying() => TargetOutcome::Unknown(e.to_string()),
            e => TargetOutcome::Refused(e.to_string()),
        })
}

fn proxy_outcome<T>(r: Result<Result<T, RegistryError>, TargetOutcome>) -> TargetOutcome {
    match r {
        Ok(Ok(_)) => TargetOutcome::Done,
        Ok(Err(RegistryError::ProposalAlreadyExecuted { .. })) => TargetOutcome::AlreadyDone,
        Ok(Err(e)) => TargetOutcome::Refused(format!("{e:?}")),
        Err(outcome) => outcome,
    }
}

impl Targets for IcTargets {
    async fn set_royalty_split(&self, proposal: ProposalId, split: SplitConfig) -> TargetOutcome {
        let args = SetSplitArgs {
            proposal_id: proposal,
            split,
        };
        match call_target::<_, Result<SplitVersion, SplitError>>(
            config().royalties,
            "set_split",
            (args,),
        )
        .await
        {
            Ok(Ok(_)) => TargetOutcome::Done,
            Ok(Err(SplitError::ProposalAlreadyApplied { .. })) => TargetOutcome::AlreadyDone,
            Ok(Err(e)) => TargetOutcome::Refused(format!("{e:?}")),
            Err(outcome) => outcome,
        }
    }

    async fn set_call_fee(&self, proposal: ProposalId, call_fee: u128) -> TargetOutcome {
        let response = call_target::<_, Result<(), RegistryError>>(
            config().inference_proxy,
            "set_call_fee",
            (proposal, call_fee),
        );
        proxy_outcome(response.await)
    }

    async fn decide_node(
        &self,
        proposal: ProposalId,
        node: u64,
        action: NodeAction,
    ) -> TargetOutcome {
        let response = call_target::<_, Result<candid::Reserved, RegistryError>>(
            config().inference_proxy,
            "decide_node",
            (proposal, node, action),
        );
        proxy_outcome(response.await)
    }

    /// Stops the target (its calls in flight finish), installs the new code in upgrade mode, and
    /// starts it again whatever the installation's outcome. A failed stop is an unknown outcome
    /// (retried, within the bound); the target is started again first, since a stop that timed out
    /// may still leave it stopping or stopped, refusing every call until the next attempt.
    async fn upgrade(&self, target: UpgradeTarget, wasm: ByteBuf, arg: ByteBuf) -> TargetOutcome {
        let c = config();
        let canister_id = match target {
            UpgradeTarget::Royalties => c.royalties,
            UpgradeTarget::InferenceProxy => c.inference_proxy,
        };
        if let Err(e) =
            ic_cdk_management_canister::stop_canister(&StopCanisterArgs { canister_id }).await
        {
            let restarted =
                ic_cdk_management_canister::start_canister(&StartCanisterArgs { canister_id })
                    .await;
            return TargetOutcome::Unknown(match restarted {
                Ok(()) => format!("stop_canister: {e}"),
                Err(s) => format!("stop_canister: {e}; then start_canister: {s}"),
            });
        }
        let installed = ic_cdk_management_canister::install_code(&InstallCodeArgs {
            mode: CanisterInstallMode::Upgrade(None),
            canister_id,
            wasm_module: wasm.into_vec(),
            arg: arg.into_vec(),
        })
        .await;
        let started =
            ic_cdk_management_canister::start_canister(&StartCanisterArgs { canister_id }).await;
        match (installed, started) {
            (Ok(()), Ok(())) => TargetOutcome::Done,
            (Ok(()), Err(e)) => {
                TargetOutcome::Refused(format!("upgraded, but start_canister: {e}"))
            }
            (Err(e), _) => TargetOutcome::Refused(format!("install_code: {e}")),
        }
    }
}

/// Ballots, following and decisions; then the stake and treasury transfers; then the executions.
async fn run_job() -> JobReport {
    if JOB_RUNNING.with(|r| r.replace(true)) {
        return JobReport::default();
    }
    // Released however the job ends: a trap in one of its callbacks must not stop ballots and
    // executions until an upgrade.
    let _running = neuranft_types::guard::OnDrop::new(|| JOB_RUNNING.with(|r| r.set(false)));
    let progress = mutate(|g| g.advance(time(), TIMER_BUDGET));
    let stakes_driven = flows::drive_pending(&governance(), &stakes(), &staking_ledger()).await;
    let treasury_driven =
        flows::drive_pending(&governance(), &treasury_book(), &payment_ledger()).await;
    let executed = flows::execute_due(
        &governance(),
        &treasury_book(),
        &payment_ledger(),
        &IcTargets,
        time(),
    )
    .await;
    JobReport {
        ballots_written: progress.ballots_written,
        followers_evaluated: progress.followers_evaluated,
        decided: progress.decided,
        transfers_driven: (stakes_driven + treasury_driven) as u64,
        executions_attempted: executed,
        work_left: !progress.finished,
    }
}

fn start_timer() {
    ic_cdk_timers::set_timer_interval(Duration::from_secs(JOB_INTERVAL_SECONDS), || async {
        run_job().await;
    });
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
        Some(GovernanceArg::Upgrade(Some(upgrade))) => {
            let mut c = config();
            if let Some(r) = upgrade.royalties {
                c.royalties = r;
            }
            if let Some(p) = upgrade.inference_proxy {
                c.inference_proxy = p;
            }
            set_config(c);
        }
        Some(GovernanceArg::Init(_)) => {
            ic_cdk::trap("upgrade governance with GovernanceArg::Upgrade")
        }
    }
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
    flows::stake(
        &governance(),
        &stakes(),
        &staking_ledger(),
        msg_caller(),
        args,
        time(),
    )
    .await
}

#[update]
async fn increase_stake(neuron: NeuronId, amount: u64) -> Result<(), GovernanceError> {
    flows::increase_stake(
        &governance(),
        &stakes(),
        &staking_ledger(),
        msg_caller(),
        neuron,
        amount,
        time(),
    )
    .await
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
    flows::disburse(
        &governance(),
        &stakes(),
        &staking_ledger(),
        msg_caller(),
        neuron,
        to,
        time(),
    )
    .await
}

#[query]
fn get_neuron(neuron: NeuronId) -> Option<Neuron> {
    read(|g| g.neuron(neuron))
}

/// The neurons `principal` controls or is a hot key of.
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

#[update]
fn make_proposal(args: MakeProposalArgs) -> Result<ProposalId, GovernanceError> {
    mutate(|g| g.make_proposal(msg_caller(), args, time(), CALL_BUDGET))
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
    read(|g| {
        g.list_proposals(
            args.before,
            args.limit.min(100) as usize,
            args.topic,
            args.status.as_deref(),
        )
    })
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
async fn treasury() -> Result<TreasuryView, String> {
    // Each call costs a ledger call.
    if msg_caller() == Principal::anonymous() {
        return Err(format!("{:?}", GovernanceError::AnonymousCaller));
    }
    let account = Account {
        owner: canister_self(),
        subaccount: Some(TREASURY_SUBACCOUNT),
    };
    let balance = payment_ledger()
        .icrc1_balance_of(account)
        .await
        .map_err(|e| e.to_string())?;
    let now = time();
    Ok(TreasuryView {
        account,
        ledger_balance: u128::try_from(&balance.0).map_err(|e| e.to_string())?,
        cap_per_7_days: read(|g| g.parameters().treasury_cap_per_7_days),
        used_last_7_days: read(|g| g.treasury_used(now)),
    })
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
    [
        ProposalStatus::Preparing,
        ProposalStatus::Open,
        ProposalStatus::Rejected,
        ProposalStatus::Adopted,
        ProposalStatus::Executed,
        ProposalStatus::Failed {
            reason: String::new(),
        },
    ]
    .iter()
    .map(|s| status_name(s).to_string())
    .collect()
}

/// Benchmark wasm only: `count` neurons of the caller with `stake` each, following `followee`.
#[cfg(feature = "bench")]
#[update]
fn bench_seed_neurons(count: u64, stake: u64, followee: Option<NeuronId>) {
    mutate(|g| g.seed_neurons(msg_caller(), count, stake, followee, time()));
}

ic_cdk::export_candid!();

fn main() {}

#[cfg(test)]
mod tests {
    fn did_path() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("governance.did")
    }

    /// The benchmark build's extra method is not part of the interface.
    #[test]
    fn did_file_matches_exported_interface() {
        let exported: String = super::__export_service()
            .lines()
            .filter(|l| !l.contains("bench_seed_neurons") && !l.contains("Benchmark wasm only"))
            .map(|l| format!("{l}\n"))
            .collect();
        neuranft_types::did::assert_did_matches(&did_path(), &exported);
    }

    /// Every dfx command the docs show for governance type-checks against governance.did.
    #[test]
    fn readme_dfx_arguments_typecheck() {
        neuranft_types::did::assert_readme_dfx_commands(
            &neuranft_types::did::documented_dfx_commands(),
            "governance",
            &did_path(),
            17,
        );
    }
}
