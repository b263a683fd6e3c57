//! The root canister shell. After the hand-over root is governance's only controller and governance
//! is root's: governance cannot install code on itself, so it uploads its new module to root's chunk
//! store and asks root, which stops governance, installs the module and starts governance again —
//! only for governance, once per (proposal, payload).

use candid::Principal;
use ic_cdk::api::msg_caller;
use ic_cdk::{init, post_upgrade, query, update};
use ic_cdk_management_canister::{
    CanisterInstallMode, ChunkHash, InstallChunkedCodeArgs, StartCanisterArgs, StopCanisterArgs,
};
use ic_stable_structures::memory_manager::{MemoryManager, VirtualMemory};
use ic_stable_structures::{DefaultMemoryImpl, StableCell};
use neuranft_types::root::*;
use neuranft_types::storable::Candid;
use neuranft_types::ProposalId;
use root::{Upgrades, CONFIG_MEMORY_ID};
use std::cell::{Cell, RefCell};
use std::time::Duration;

/// How often root checks whether an interrupted upgrade left governance stopped.
const RESTART_CHECK_SECONDS: u64 = 60;

thread_local! {
    static MEMORY: MemoryManager<DefaultMemoryImpl> = MemoryManager::init(DefaultMemoryImpl::default());
    static CONFIG: RefCell<StableCell<Candid<Option<RootConfig>>, VirtualMemory<DefaultMemoryImpl>>> =
        RefCell::new(MEMORY.with(|mm| StableCell::init(mm.get(CONFIG_MEMORY_ID), Candid(None))));
    static UPGRADES: RefCell<Upgrades> = RefCell::new(MEMORY.with(Upgrades::open_in));
    /// An upgrade was interrupted (a callback trapped) and may have left governance stopped.
    static RESTART_GOVERNANCE: Cell<bool> = const { Cell::new(false) };
}

fn governance() -> Principal {
    CONFIG
        .with(|c| c.borrow().get().0.clone())
        .expect("BUG: root used before initialization")
        .governance
}

#[init]
fn init(arg: RootArg) {
    let RootArg::Init(config) = arg else {
        ic_cdk::trap("install root with RootArg::Init");
    };
    CONFIG.with(|c| c.borrow_mut().set(Candid(Some(config))));
    start_timer();
}

#[post_upgrade]
fn post_upgrade(arg: Option<RootArg>) {
    if let Some(RootArg::Init(_)) = arg {
        ic_cdk::trap("upgrade root with RootArg::Upgrade");
    }
    start_timer();
}

fn start_timer() {
    ic_cdk_timers::set_timer_interval(Duration::from_secs(RESTART_CHECK_SECONDS), || async {
        if RESTART_GOVERNANCE.with(|r| r.replace(false)) {
            let canister_id = governance();
            if ic_cdk_management_canister::start_canister(&StartCanisterArgs { canister_id })
                .await
                .is_err()
            {
                RESTART_GOVERNANCE.with(|r| r.set(true));
            }
        }
    });
}

/// Where the upgrade `args` names stands (`null`: never asked for). Governance asks this before it
/// uploads a module, and after its own restart.
#[query]
fn upgrade_status(args: UpgradeGovernanceArgs) -> Result<Option<UpgradeStatus>, RootError> {
    UPGRADES.with(|u| u.borrow().status(msg_caller(), governance(), &args))
}

/// Accepts governance's upgrade and answers at once (InProgress); then, on a timer, stops
/// governance, installs the module from root's chunk store (where governance uploaded it) and starts
/// governance again. A replay is answered with its status.
#[update]
fn upgrade_governance(args: UpgradeGovernanceArgs) -> Result<UpgradeStatus, RootError> {
    let governance = governance();
    let (status, perform) =
        UPGRADES.with(|u| u.borrow_mut().begin(msg_caller(), governance, &args))?;
    if perform {
        ic_cdk_timers::set_timer(Duration::ZERO, install(governance, args));
    }
    Ok(status)
}

/// Every governance upgrade root was asked for, with how it went.
#[query]
fn upgrades() -> Vec<(ProposalId, UpgradeStatus)> {
    UPGRADES.with(|u| u.borrow().all())
}

#[query]
fn get_config() -> Option<RootConfig> {
    CONFIG.with(|c| c.borrow().get().0.clone())
}

/// Marks an upgrade failed and asks for governance's restart unless disarmed: dropped in the cleanup
/// callback if a callback of [`install`] traps, it keeps governance from staying stopped.
struct Interrupted {
    proposal: ProposalId,
    armed: bool,
}

impl Drop for Interrupted {
    fn drop(&mut self) {
        if self.armed {
            finish(
                self.proposal,
                UpgradeStatus::Failed {
                    reason: "interrupted; root starts governance again".into(),
                },
            );
            RESTART_GOVERNANCE.with(|r| r.set(true));
        }
    }
}

async fn install(governance: Principal, args: UpgradeGovernanceArgs) {
    let mut guard = Interrupted {
        proposal: args.proposal,
        armed: true,
    };
    let status = perform(governance, args).await;
    finish(guard.proposal, status);
    guard.armed = false;
}

fn finish(proposal: ProposalId, status: UpgradeStatus) {
    UPGRADES.with(|u| u.borrow_mut().finish(proposal, status));
}

async fn perform(canister_id: Principal, args: UpgradeGovernanceArgs) -> UpgradeStatus {
    if let Err(e) =
        ic_cdk_management_canister::stop_canister(&StopCanisterArgs { canister_id }).await
    {
        let started =
            ic_cdk_management_canister::start_canister(&StartCanisterArgs { canister_id }).await;
        return UpgradeStatus::Failed {
            reason: match started {
                Ok(()) => format!("stop_canister: {e}"),
                Err(s) => format!("stop_canister: {e}; then start_canister: {s}"),
            },
        };
    }
    let installed = ic_cdk_management_canister::install_chunked_code(&InstallChunkedCodeArgs {
        mode: CanisterInstallMode::Upgrade(None),
        target_canister: canister_id,
        store_canister: Some(ic_cdk::api::canister_self()),
        chunk_hashes_list: args
            .chunk_hashes
            .iter()
            .map(|h| ChunkHash { hash: h.to_vec() })
            .collect(),
        wasm_module_hash: args.wasm_module_hash.to_vec(),
        arg: args.arg.into_vec(),
    })
    .await;
    let started =
        ic_cdk_management_canister::start_canister(&StartCanisterArgs { canister_id }).await;
    if started.is_err() {
        RESTART_GOVERNANCE.with(|r| r.set(true));
    }
    match (installed, started) {
        (Ok(()), Ok(())) => UpgradeStatus::Done,
        (Ok(()), Err(e)) => UpgradeStatus::Failed {
            reason: format!("installed, but start_canister: {e} (root retries the start)"),
        },
        (Err(e), _) => UpgradeStatus::Failed {
            reason: format!("install_chunked_code: {e}"),
        },
    }
}

ic_cdk::export_candid!();

fn main() {}

#[cfg(test)]
mod tests {
    #[test]
    fn did_file_matches_exported_interface() {
        let did = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("root.did");
        neuranft_types::did::assert_did_matches(&did, &super::__export_service());
    }
}
