//! `localnet`: an embedded local Internet Computer network that runs real canister wasm on wasmtime.
//!
//! The API follows PocketIC's: create and install canisters, make update and query calls as any
//! principal, `tick` rounds and `advance_time`. Executions are atomic (a trap rolls back heap, globals,
//! stable memory, timer and outgoing calls), inter-canister calls go through a message queue with
//! callbacks through the function table, bounded-wait calls expire with `SYS_UNKNOWN`, timers fire,
//! instructions are counted with the IC's weights and cycles charged. Faults can be injected between
//! canisters. See docs/localnet.md for what is and is not modelled.

pub mod canister;
pub mod certification;
pub mod cost;
pub mod gateway;
pub mod http;
mod http_message;
pub mod ingress;
pub mod instrument;
pub mod interface;
pub mod management;
mod persist;
pub mod serve;
pub mod system_api;

mod calls;
mod execution;
mod faults;
mod lifecycle;
mod outcalls;
mod scheduler;

pub use faults::Fault;
pub use lifecycle::{module_metadata, MAX_DECOMPRESSED_MODULE_BYTES};

use candid::Principal;
use canister::{Canister, CompiledModule};
use faults::InjectedFault;
use outcalls::PendingOutcall;
use scheduler::{CallContext, Callback, Message};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use system_api::Ctx;
use wasmtime::{Config, Engine, Linker};

/// IC reject codes.
pub mod reject_code {
    pub const SYS_FATAL: u32 = 1;
    pub const SYS_TRANSIENT: u32 = 2;
    pub const DESTINATION_INVALID: u32 = 3;
    pub const CANISTER_REJECT: u32 = 4;
    pub const CANISTER_ERROR: u32 = 5;
    pub const SYS_UNKNOWN: u32 = 6;
}

/// A call that did not produce a reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("rejected with code {code}: {message}")]
pub struct Reject {
    pub code: u32,
    pub message: String,
}

fn reject(code: u32, message: impl Into<String>) -> Reject {
    Reject {
        code,
        message: message.into(),
    }
}

/// One execution, for reports and benchmarks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExecutionReport {
    pub canister: Principal,
    pub entry: String,
    pub instructions: u64,
    pub cycles: u128,
    pub trapped: Option<String>,
}

/// Everything an ingress message caused: its own execution and all it led to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CallReport {
    pub executions: Vec<ExecutionReport>,
}

impl CallReport {
    pub fn instructions(&self) -> u64 {
        self.executions.iter().map(|e| e.instructions).sum()
    }
    pub fn cycles(&self) -> u128 {
        self.executions.iter().map(|e| e.cycles).sum()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CanisterStatus {
    Running,
    Stopped,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(u64);

struct CanisterSlot {
    controllers: Vec<Principal>,
    status: CanisterStatus,
    code: Option<Canister>,
    /// System state of a canister with no code (created, not installed).
    cycles: u128,
    /// The settings `update_settings` was given (controllers aside, which live above); `None`
    /// fields have their default.
    settings: ic_management_canister_types::CanisterSettings,
    /// Wasm chunks uploaded for `install_chunked_code`, by SHA-256.
    chunks: BTreeMap<[u8; 32], Vec<u8>>,
    /// The code version of a canister with no code (what it had when uninstalled).
    version: u64,
}

pub const MANAGEMENT_CANISTER: Principal = Principal::management_canister();

pub struct LocalNet {
    engine: Engine,
    linker: Linker<Ctx>,
    modules: HashMap<[u8; 32], CompiledModule>,
    canisters: BTreeMap<Principal, CanisterSlot>,
    queue: VecDeque<Message>,
    contexts: HashMap<u64, CallContext>,
    callbacks: BTreeMap<u64, Callback>,
    ingress: HashMap<MessageId, Option<Result<Vec<u8>, Reject>>>,
    reports: HashMap<MessageId, CallReport>,
    /// Faults per (caller, callee), each for any method or for the one it names.
    faults: HashMap<(Principal, Principal), VecDeque<InjectedFault>>,
    time: u64,
    next_id: u64,
    next_canister: u64,
    seed: [u8; 32],
    rand_counter: u64,
    update_instruction_limit: u64,
    http_pending: BTreeMap<u64, PendingOutcall>,
    http_loopback: Vec<String>,
    root_key: Arc<certification::RootKey>,
    /// Time is set from outside (the wall clock, when serving): rounds do not move it.
    external_clock: bool,
}

/// 2026-01-01T00:00:00Z: where localnet's clock starts.
pub const GENESIS_TIME_NANOS: u64 = 1_767_225_600_000_000_000;

impl LocalNet {
    /// A network whose randomness derives from `seed`.
    pub fn new(seed: u64) -> Self {
        let mut config = Config::new();
        config.consume_fuel(true);
        config.operator_cost(cost::ic_operator_cost());
        let engine = Engine::new(&config).expect("wasmtime configuration is valid");
        let mut linker = Linker::new(&engine);
        system_api::link(&mut linker).expect("the System API links");
        Self {
            engine,
            linker,
            modules: HashMap::new(),
            canisters: BTreeMap::new(),
            queue: VecDeque::new(),
            contexts: HashMap::new(),
            callbacks: BTreeMap::new(),
            ingress: HashMap::new(),
            reports: HashMap::new(),
            faults: HashMap::new(),
            time: GENESIS_TIME_NANOS,
            next_id: 0,
            next_canister: 0,
            seed: Sha256::digest(seed.to_be_bytes()).into(),
            rand_counter: 0,
            update_instruction_limit: cost::UPDATE_INSTRUCTION_LIMIT,
            http_pending: BTreeMap::new(),
            http_loopback: Vec::new(),
            root_key: Arc::new(certification::RootKey::from_seed(&seed.to_be_bytes())),
            external_clock: false,
        }
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    // ------------------------------------------------------------------ time

    pub fn time(&self) -> u64 {
        self.time
    }

    /// Rounds stop moving the clock: only [`LocalNet::advance_time`] does (`localnet serve` follows
    /// the wall clock, so that no amount of rounds a client causes puts the network ahead of it).
    pub fn set_external_clock(&mut self, external: bool) {
        self.external_clock = external;
    }

    pub fn advance_time(&mut self, duration: std::time::Duration) {
        self.time += duration.as_nanos() as u64;
    }

    // ------------------------------------------------------------------ canisters

    pub fn status(&self, id: Principal) -> Option<CanisterStatus> {
        self.canisters.get(&id).map(|s| s.status)
    }

    pub fn cycles_balance(&self, id: Principal) -> u128 {
        self.canisters.get(&id).map_or(0, |s| match &s.code {
            Some(c) => c.ctx().cycles,
            None => s.cycles,
        })
    }

    pub fn stable_memory_size(&self, id: Principal) -> usize {
        self.canisters
            .get(&id)
            .and_then(|s| s.code.as_ref())
            .map_or(0, |c| c.ctx().stable.len())
    }

    /// The canister's `ic0.debug_print` lines since install or upgrade.
    pub fn logs(&self, id: Principal) -> Vec<String> {
        self.canisters
            .get(&id)
            .and_then(|s| s.code.as_ref())
            .map_or_else(Vec::new, |c| c.ctx().log.clone())
    }

    /// The canister's controllers (`None` for an unknown canister).
    pub fn controllers(&self, id: Principal) -> Option<Vec<Principal>> {
        self.canisters.get(&id).map(|s| s.controllers.clone())
    }

    /// A metadata section of the canister's module (`candid:service`, …).
    pub fn metadata(&self, id: Principal, name: &str) -> Option<instrument::Metadata> {
        self.canisters
            .get(&id)
            .and_then(|s| s.code.as_ref())
            .and_then(|c| c.module.meta.metadata.iter().find(|m| m.name == name))
            .cloned()
    }

    /// The data the canister certified (`ic0.certified_data_set`), if it has code.
    pub fn certified_data(&self, id: Principal) -> Option<Vec<u8>> {
        self.canisters
            .get(&id)
            .and_then(|s| s.code.as_ref())
            .map(|c| c.ctx().certified_data.clone())
    }

    pub fn module_hash(&self, id: Principal) -> Option<[u8; 32]> {
        self.canisters
            .get(&id)
            .and_then(|s| s.code.as_ref())
            .map(|c| c.module.hash)
    }

    /// Lowers the per-message instruction limit of updates, callbacks and timers (the IC's is 40 B),
    /// so tests of runaway executions finish quickly.
    pub fn set_update_instruction_limit(&mut self, limit: u64) {
        self.update_instruction_limit = limit;
    }

    /// The key that signs the network's certificates (by default, one derived from the seed).
    pub fn root_key(&self) -> &Arc<certification::RootKey> {
        &self.root_key
    }

    /// Signs certificates with `key` from now on (the HTTP interface's key, which clients trust).
    pub fn set_root_key(&mut self, key: Arc<certification::RootKey>) {
        self.root_key = key;
    }
}
