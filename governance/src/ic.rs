//! The governance canister's I/O: its state cells, the ledgers, the targets adopted proposals act on
//! (royalties, the proxy, the management canister), and the job the timer runs.

use candid::Principal;
use governance::book::Book;
use governance::flows::{self, TargetOutcome, Targets};
use governance::memory::{
    CONFIG_MEMORY_ID, STAKES_BOOK_FIRST_MEMORY_ID, TREASURY_BOOK_FIRST_MEMORY_ID,
};
use governance::Governance;
use ic_cdk::api::time;
use ic_cdk_management_canister::{
    CanisterInstallMode, InstallCodeArgs, StartCanisterArgs, StopCanisterArgs,
};
use ic_stable_structures::memory_manager::{MemoryManager, VirtualMemory};
use ic_stable_structures::{DefaultMemoryImpl, StableCell};
use ledger_adapter::ic::IcLedger;
use neuranft_types::governance::*;
use neuranft_types::proxy::{NodeAction, RegistryError};
use neuranft_types::royalties::{SetSplitArgs, SplitConfig, SplitError, SplitVersion};
use neuranft_types::storable::Candid;
use serde_bytes::ByteBuf;
use std::cell::{Cell, RefCell};
use std::time::Duration;

/// Work per timer run.
pub(crate) const TIMER_BUDGET: u64 = 10_000;
pub(crate) const JOB_INTERVAL_SECONDS: u64 = 5;

thread_local! {
    /// Every cell below opens its memories from this one manager.
    static MEMORY: MemoryManager<DefaultMemoryImpl> = MemoryManager::init(DefaultMemoryImpl::default());
    static CONFIG: RefCell<StableCell<Candid<Option<GovernanceConfig>>, VirtualMemory<DefaultMemoryImpl>>> =
        RefCell::new(MEMORY.with(|mm| StableCell::init(mm.get(CONFIG_MEMORY_ID), Candid(None))));
    /// The job runs one at a time.
    static JOB_RUNNING: Cell<bool> = const { Cell::new(false) };
}

neuranft_types::canister_state!(
    pub(crate) governance_cell: Governance = MEMORY.with(Governance::open_in);
);
neuranft_types::canister_state!(
    stakes_cell: Book = MEMORY.with(|mm| governance::book::open(mm, STAKES_BOOK_FIRST_MEMORY_ID));
);
neuranft_types::canister_state!(
    treasury_cell: Book =
        MEMORY.with(|mm| governance::book::open(mm, TREASURY_BOOK_FIRST_MEMORY_ID));
);
pub(crate) use governance_cell::{mutate, read, shared as governance};
pub(crate) use stakes_cell::shared as stakes;
pub(crate) use treasury_cell::shared as treasury_book;

pub(crate) fn config() -> GovernanceConfig {
    let mut c = CONFIG
        .with(|c| c.borrow().get().0.clone())
        .expect("BUG: governance used before initialization");
    c.parameters = read(|g| g.parameters());
    c
}

pub(crate) fn set_config(config: GovernanceConfig) {
    CONFIG.with(|c| c.borrow_mut().set(Candid(Some(config))));
}

pub(crate) fn staking_ledger() -> IcLedger {
    IcLedger(config().governance_ledger)
}

pub(crate) fn payment_ledger() -> IcLedger {
    IcLedger(config().payment_ledger)
}

/// Royalties, the proxy and the management canister, reached by bounded-wait calls.
pub(crate) struct IcTargets;

/// A target's call: a failure that may pass is an unknown outcome (retried, within the bound), any
/// other a refusal.
pub(crate) async fn call_target<A, R>(
    canister: Principal,
    method: &str,
    args: A,
) -> Result<R, TargetOutcome>
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

/// A target's answer, or the outcome its call had.
fn answered<T, E>(
    r: Result<Result<T, E>, TargetOutcome>,
    judge: impl FnOnce(Result<T, E>) -> TargetOutcome,
) -> TargetOutcome {
    r.map_or_else(|outcome| outcome, judge)
}

impl Targets for IcTargets {
    async fn set_royalty_split(&self, proposal: ProposalId, split: SplitConfig) -> TargetOutcome {
        let args = SetSplitArgs {
            proposal_id: proposal,
            split,
        };
        let response = call_target::<_, Result<SplitVersion, SplitError>>(
            config().royalties,
            "set_split",
            (args,),
        );
        answered(response.await, flows::split_outcome)
    }

    async fn set_call_fee(&self, proposal: ProposalId, call_fee: u128) -> TargetOutcome {
        let response = call_target::<_, Result<(), RegistryError>>(
            config().inference_proxy,
            "set_call_fee",
            (proposal, call_fee),
        );
        answered(response.await, flows::proxy_outcome)
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
        answered(response.await, flows::proxy_outcome)
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
            UpgradeTarget::PaymentLedger => c.payment_ledger,
            UpgradeTarget::GovernanceLedger => c.governance_ledger,
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
pub(crate) async fn run_job() -> JobReport {
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

pub(crate) fn start_timer() {
    ic_cdk_timers::set_timer_interval(Duration::from_secs(JOB_INTERVAL_SECONDS), || async {
        run_job().await;
    });
}
