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
    CanisterInstallMode, ChunkHash, ClearChunkStoreArgs, InstallChunkedCodeArgs, StartCanisterArgs,
    StopCanisterArgs, UploadChunkArgs,
};
use ic_stable_structures::memory_manager::{MemoryManager, VirtualMemory};
use ic_stable_structures::{DefaultMemoryImpl, StableCell};
use ledger_adapter::ic::IcLedger;
use neuranft_types::governance::*;
use neuranft_types::proxy::{NodeAction, ProxyLimits, RegistryError};
use neuranft_types::root::{RootError, UpgradeGovernanceArgs, UpgradeStatus};
use neuranft_types::royalties::{
    GovernedError, ModelStatus, ModerateModelArgs, PayoutSettings, SetPayoutSettingsArgs,
    SetSplitArgs, SplitConfig, SplitError, SplitVersion,
};
use neuranft_types::storable::Candid;
use serde_bytes::ByteBuf;
use sha2::{Digest, Sha256};
use std::cell::{Cell, RefCell};
use std::time::Duration;

/// Work per timer run.
pub(crate) const TIMER_BUDGET: u64 = 10_000;
pub(crate) const JOB_INTERVAL_SECONDS: u64 = 5;
/// Staged chunks past their lifetime dropped per timer run.
const EXPIRED_CHUNKS_PER_RUN: usize = 16;
/// Ballots of long-final proposals deleted per timer run (each a stable B-tree removal).
const BALLOTS_PRUNED_PER_RUN: u64 = 1_000;
/// Proposals made before the listing indexes that one timer run indexes (each a record decoded).
const PROPOSALS_INDEXED_PER_RUN: usize = 500;

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

    async fn moderate_model(&self, args: ModerateModelArgs) -> TargetOutcome {
        let response = call_target::<_, Result<ModelStatus, GovernedError>>(
            config().royalties,
            "moderate_model",
            (args,),
        );
        answered(response.await, flows::governed_outcome)
    }

    async fn set_payout_settings(
        &self,
        proposal: ProposalId,
        settings: PayoutSettings,
    ) -> TargetOutcome {
        let args = SetPayoutSettingsArgs {
            proposal_id: proposal,
            settings,
        };
        let response = call_target::<_, Result<(), GovernedError>>(
            config().royalties,
            "set_payout_settings",
            (args,),
        );
        answered(response.await, flows::governed_outcome)
    }

    async fn set_proxy_limits(&self, proposal: ProposalId, limits: ProxyLimits) -> TargetOutcome {
        let response = call_target::<_, Result<(), RegistryError>>(
            config().inference_proxy,
            "set_limits_by_proposal",
            (proposal, limits),
        );
        answered(response.await, flows::proxy_outcome)
    }

    /// Any size of module travels as chunks: uploaded to the target's chunk store first (while it
    /// still runs), then the target is stopped (its calls in flight finish), the module installed
    /// from the chunks in upgrade mode (the IC checks their concatenation against the module's
    /// SHA-256), the target started again whatever the installation's outcome, and the store
    /// cleared. A failed upload or stop is an unknown outcome (retried, within the bound); after a
    /// failed stop the target is started again first, since a stop that timed out may still leave it
    /// stopping or stopped. Governance itself is installed by root (see [`upgrade_governance`]).
    async fn upgrade(
        &self,
        proposal: ProposalId,
        target: UpgradeTarget,
        wasm: ByteBuf,
        arg: ByteBuf,
    ) -> TargetOutcome {
        let c = config();
        let Some(canister_id) = c.canister_of(target, ic_cdk::api::canister_self()) else {
            return TargetOutcome::Refused(format!(
                "this deployment has no {target:?} canister (GovernanceConfig)"
            ));
        };
        if target == UpgradeTarget::Governance {
            return upgrade_governance(c.root, proposal, wasm, arg).await;
        }
        let chunk_hashes_list = match upload_chunks(canister_id, &wasm).await {
            Ok(hashes) => hashes,
            Err(e) => return TargetOutcome::Unknown(e),
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
        let installed = ic_cdk_management_canister::install_chunked_code(&InstallChunkedCodeArgs {
            mode: CanisterInstallMode::Upgrade(None),
            target_canister: canister_id,
            store_canister: None,
            chunk_hashes_list,
            wasm_module_hash: Sha256::digest(&wasm).to_vec(),
            arg: arg.into_vec(),
        })
        .await;
        let started =
            ic_cdk_management_canister::start_canister(&StartCanisterArgs { canister_id }).await;
        // The chunks are not needed any more; a store left full is cleared by the next upload.
        let _ = ic_cdk_management_canister::clear_chunk_store(&ClearChunkStoreArgs { canister_id })
            .await;
        match (installed, started) {
            (Ok(()), Ok(())) => TargetOutcome::Done,
            (Ok(()), Err(e)) => {
                TargetOutcome::Refused(format!("upgraded, but start_canister: {e}"))
            }
            (Err(e), _) => TargetOutcome::Refused(format!("install_chunked_code: {e}")),
        }
    }

    fn generic_target_refusal(&self, target: Principal) -> Option<&'static str> {
        config().generic_target_refusal(target, ic_cdk::api::canister_self())
    }

    async fn validate_generic(
        &self,
        function: &GenericFunction,
        payload: &[u8],
    ) -> Result<String, TargetOutcome> {
        if let Some(what) = self.generic_target_refusal(function.target) {
            return Err(TargetOutcome::Refused(format!(
                "{what} may not be a generic function's target"
            )));
        }
        let reply = ledger_adapter::ic::call_raw(function.target, &function.validator, payload)
            .await
            .map_err(|e| match e {
                e if e.worth_retrying() => TargetOutcome::Unknown(e.to_string()),
                e => TargetOutcome::Refused(e.to_string()),
            })?;
        let (answer,): (Result<String, String>,) = candid::decode_args(&reply).map_err(|e| {
            TargetOutcome::Refused(format!(
                "the validator {} did not answer `variant {{ Ok : text; Err : text }}`: {e}",
                function.validator
            ))
        })?;
        answer.map_err(|reason| TargetOutcome::Refused(format!("the validator: {reason}")))
    }

    async fn call_generic(&self, function: &GenericFunction, payload: ByteBuf) -> TargetOutcome {
        if let Some(what) = self.generic_target_refusal(function.target) {
            return TargetOutcome::Refused(format!(
                "{what} may not be a generic function's target"
            ));
        }
        match ledger_adapter::ic::call_raw(function.target, &function.method, &payload).await {
            Ok(_) => TargetOutcome::Done,
            Err(e) if e.worth_retrying() => TargetOutcome::Unknown(e.to_string()),
            Err(e) => TargetOutcome::Refused(e.to_string()),
        }
    }
}

/// Clears `store`'s chunk store (what an earlier attempt left) and uploads `module` to it in
/// chunks; returns their hashes, in order.
async fn upload_chunks(store: Principal, module: &[u8]) -> Result<Vec<ChunkHash>, String> {
    ic_cdk_management_canister::clear_chunk_store(&ClearChunkStoreArgs { canister_id: store })
        .await
        .map_err(|e| format!("clear_chunk_store: {e}"))?;
    let mut hashes = Vec::new();
    for chunk in governance::state::module_chunks(module) {
        let hash = ic_cdk_management_canister::upload_chunk(&UploadChunkArgs {
            canister_id: store,
            chunk: chunk.to_vec(),
        })
        .await
        .map_err(|e| format!("upload_chunk: {e}"))?;
        hashes.push(hash);
    }
    Ok(hashes)
}

/// Governance's own upgrade: a canister cannot install code on itself, so root (governance's
/// controller, which governance controls) does it. Governance uploads the module to root's chunk
/// store and asks root, which answers at once and then stops governance, installs the module and
/// starts governance again. The proposal stays Adopted meanwhile; the attempt after the restart
/// asks root how it went (under the same payload-bound key).
async fn upgrade_governance(
    root: Option<Principal>,
    proposal: ProposalId,
    wasm: ByteBuf,
    arg: ByteBuf,
) -> TargetOutcome {
    let Some(root) = root else {
        return TargetOutcome::Refused(
            "governance has no root canister: it can upgrade itself only after the hand-over \
             (docs/sovereignty.md)"
                .into(),
        );
    };
    let mut args = UpgradeGovernanceArgs {
        proposal,
        wasm_module_hash: ByteBuf::from(Sha256::digest(&wasm).to_vec()),
        chunk_hashes: Vec::new(),
        arg,
    };
    let chunks = governance::state::module_chunks(&wasm);
    args.chunk_hashes = chunks
        .map(|c| ByteBuf::from(Sha256::digest(c).to_vec()))
        .collect();
    let status = call_target::<_, Result<Option<UpgradeStatus>, RootError>>(
        root,
        "upgrade_status",
        (args.clone(),),
    )
    .await;
    let answered = match status {
        Err(outcome) => return outcome,
        Ok(Err(e)) => return root_refusal(e),
        Ok(Ok(Some(status))) => status,
        Ok(Ok(None)) => {
            if let Err(e) = upload_chunks(root, &wasm).await {
                return TargetOutcome::Unknown(e);
            }
            let started = call_target::<_, Result<UpgradeStatus, RootError>>(
                root,
                "upgrade_governance",
                (args,),
            )
            .await;
            match started {
                Err(outcome) => return outcome,
                Ok(Err(e)) => return root_refusal(e),
                Ok(Ok(status)) => status,
            }
        }
    };
    match answered {
        UpgradeStatus::InProgress => {
            TargetOutcome::Unknown("root is installing governance's upgrade".into())
        }
        // Root's store is left as it is: another upgrade may already be using it, and the next
        // upload clears it.
        UpgradeStatus::Failed { reason } => TargetOutcome::Refused(format!("root: {reason}")),
        UpgradeStatus::Done => TargetOutcome::Done,
    }
}

/// Root's refusal: busy with another upgrade of governance is worth another attempt.
fn root_refusal(e: RootError) -> TargetOutcome {
    match e {
        RootError::Busy { .. } => TargetOutcome::Unknown(format!("root: {e:?}")),
        e => TargetOutcome::Refused(format!("root: {e:?}")),
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
    mutate(|g| g.drop_expired_chunks(time(), EXPIRED_CHUNKS_PER_RUN));
    mutate(|g| g.prune_ballots(time(), BALLOTS_PRUNED_PER_RUN));
    mutate(|g| g.index_history(PROPOSALS_INDEXED_PER_RUN));
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
