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
pub mod ingress;
pub mod instrument;
pub mod interface;
pub mod management;
mod persist;
pub mod serve;
pub mod system_api;

use candid::utils::{ArgumentDecoder, ArgumentEncoder};
use candid::Principal;
use canister::{Canister, CompiledModule, Entry, Outcome};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use system_api::{Ctx, EntryKind, Exec, NewCall};
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

/// What a test can make happen to the next call from one canister to another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The call is rejected with `code` before the callee sees it.
    Reject { code: u32, message: String },
    /// The callee executes the call, but the caller sees its deadline expire (`SYS_UNKNOWN`).
    ExpireAfterExecution,
    /// The call is lost before the callee sees it, and the caller sees `SYS_UNKNOWN`.
    ExpireBeforeExecution,
    /// The callee traps on the call.
    TrapCallee,
}

/// A fault waiting for a call, to any method (`None`) or to the one named.
type InjectedFault = (Option<String>, Fault);

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    Ingress(MessageId),
    Callback(u64),
    /// Timers: nobody awaits the answer.
    System,
}

struct CallContext {
    canister: Principal,
    origin: Origin,
    responded: bool,
    outstanding: usize,
    deadline: u64,
    ingress: Option<MessageId>,
}

struct Callback {
    canister: Principal,
    context: u64,
    call: NewCall,
    /// The caller's module version when the call was made: callbacks do not survive an upgrade.
    version: u64,
    deadline: Option<u64>,
    /// The answer the caller will see instead of the callee's (injected expiry).
    doomed: Option<Reject>,
}

enum Message {
    Call {
        origin: Origin,
        caller: Principal,
        callee: Principal,
        method: String,
        arg: Vec<u8>,
        cycles: u128,
        deadline: u64,
        ingress: Option<MessageId>,
    },
    Response {
        callback: u64,
        response: Result<Vec<u8>, Reject>,
        refund: u128,
        ingress: Option<MessageId>,
    },
}

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

/// How long [`LocalNet::await_call`] keeps ticking.
const MAX_ROUNDS_PER_CALL: usize = 1_000;
/// Messages executed per round at most.
const MAX_MESSAGES_PER_ROUND: usize = 100_000;
/// Time a round takes.
const ROUND_NANOS: u64 = 1_000_000;

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

/// An outcall and whom to answer.
struct PendingOutcall {
    request: http::PendingHttpRequest,
    transform: Option<ic_management_canister_types::TransformContext>,
    request_bytes: u64,
    cycles: u128,
    origin: Origin,
    ingress: Option<MessageId>,
}

/// The largest module localnet instantiates once decompressed (the IC's limit for a Wasm module).
pub const MAX_DECOMPRESSED_MODULE_BYTES: u64 = 100 * 1024 * 1024;

/// The wasm inside a gzip-compressed module (magic `1f 8b`), or the module itself.
fn decompress_module(installed: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, Reject> {
    use std::io::Read;
    if !installed.starts_with(&[0x1f, 0x8b]) {
        return Ok(std::borrow::Cow::Borrowed(installed));
    }
    let mut wasm = Vec::new();
    flate2::read::GzDecoder::new(installed)
        .take(MAX_DECOMPRESSED_MODULE_BYTES + 1)
        .read_to_end(&mut wasm)
        .map_err(|e| {
            reject(
                reject_code::CANISTER_ERROR,
                format!("invalid gzip module: {e}"),
            )
        })?;
    if wasm.len() as u64 > MAX_DECOMPRESSED_MODULE_BYTES {
        return Err(reject(
            reject_code::CANISTER_ERROR,
            format!("the module exceeds {MAX_DECOMPRESSED_MODULE_BYTES} bytes decompressed"),
        ));
    }
    Ok(std::borrow::Cow::Owned(wasm))
}

/// The metadata section `name` of a module as installed (raw or gzip'd wasm), if it has one.
pub fn module_metadata(
    installed: &[u8],
    name: &str,
) -> Result<Option<instrument::Metadata>, String> {
    let wasm = decompress_module(installed).map_err(|e| e.message)?;
    let meta = instrument::instrument(&wasm)?;
    Ok(meta.metadata.into_iter().find(|m| m.name == name))
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

    /// One round: time moves on, due timers fire, expired calls are answered, queued messages run.
    pub fn tick(&mut self) {
        if !self.external_clock {
            self.time += ROUND_NANOS;
        }
        self.serve_loopback_outcalls();
        self.expire_callbacks();
        self.fire_timers();
        let mut executed = 0;
        while let Some(message) = self.queue.pop_front() {
            self.handle(message);
            executed += 1;
            if executed >= MAX_MESSAGES_PER_ROUND {
                break;
            }
        }
    }

    fn expire_callbacks(&mut self) {
        let now = self.time;
        let expired: Vec<u64> = self
            .callbacks
            .iter()
            .filter(|(_, cb)| cb.deadline.is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            let ingress = self
                .callbacks
                .get(&id)
                .and_then(|cb| self.contexts.get(&cb.context).and_then(|c| c.ingress));
            self.queue.push_back(Message::Response {
                callback: id,
                response: Err(reject(
                    reject_code::SYS_UNKNOWN,
                    "the call's deadline expired",
                )),
                refund: 0,
                ingress,
            });
            if let Some(cb) = self.callbacks.get_mut(&id) {
                cb.deadline = None;
            }
        }
    }

    fn fire_timers(&mut self) {
        let now = self.time;
        let due: Vec<Principal> = self
            .canisters
            .iter()
            .filter(|(_, slot)| slot.status == CanisterStatus::Running)
            .filter_map(|(id, slot)| {
                let code = slot.code.as_ref()?;
                let timer = code.ctx().global_timer;
                (timer != 0 && timer <= now && code.exports("canister_global_timer")).then_some(*id)
            })
            .collect();
        for id in due {
            let code = self.code_mut(id).expect("due canister has code");
            // The timer is deactivated before it runs; the handler may set it again.
            code.ctx_mut().global_timer = 0;
            let context = self.fresh_id();
            self.contexts.insert(
                context,
                CallContext {
                    canister: id,
                    origin: Origin::System,
                    responded: true,
                    outstanding: 0,
                    deadline: 0,
                    ingress: None,
                },
            );
            let exec = Exec::new(EntryKind::GlobalTimer, now);
            let outcome = self.run(
                id,
                &Entry::Export("canister_global_timer".into()),
                exec,
                None,
            );
            self.finish(context, outcome);
        }
    }

    // ------------------------------------------------------------------ canisters

    /// Compiles a module as installed: raw wasm or gzip-compressed wasm (the module hash is that of
    /// the bytes installed, as on the IC).
    fn compile(&mut self, installed: &[u8]) -> Result<CompiledModule, Reject> {
        let hash: [u8; 32] = Sha256::digest(installed).into();
        if let Some(m) = self.modules.get(&hash) {
            return Ok(m.clone());
        }
        let wasm = decompress_module(installed)?;
        let meta = instrument::instrument(&wasm)
            .map_err(|e| reject(reject_code::CANISTER_ERROR, format!("invalid wasm: {e}")))?;
        let module = wasmtime::Module::new(&self.engine, &meta.wasm)
            .map_err(|e| reject(reject_code::CANISTER_ERROR, format!("invalid wasm: {e:#}")))?;
        self.linker
            .define_unknown_imports_as_traps(&module)
            .map_err(|e| reject(reject_code::CANISTER_ERROR, e.to_string()))?;
        let compiled = CompiledModule {
            installed: Arc::new(installed.to_vec()),
            module,
            meta: Arc::new(meta),
            hash,
        };
        self.modules.insert(hash, compiled.clone());
        Ok(compiled)
    }

    /// Creates an empty canister controlled by `controller`.
    pub fn create_canister(&mut self, controller: Principal) -> Principal {
        // Ids run in order; one taken by a provisional creation at a specified id is skipped.
        let id = loop {
            let mut bytes = self.next_canister.to_be_bytes().to_vec();
            bytes.extend_from_slice(&[1, 1]);
            self.next_canister += 1;
            let id = Principal::from_slice(&bytes);
            if !self.canisters.contains_key(&id) {
                break id;
            }
        };
        self.insert_canister(id, vec![controller]);
        id
    }

    fn slot(&self, id: Principal) -> Result<&CanisterSlot, Reject> {
        self.canisters.get(&id).ok_or_else(|| {
            reject(
                reject_code::DESTINATION_INVALID,
                format!("canister {id} does not exist"),
            )
        })
    }

    fn code_mut(&mut self, id: Principal) -> Option<&mut Canister> {
        self.canisters.get_mut(&id).and_then(|s| s.code.as_mut())
    }

    fn check_controller(&self, id: Principal, sender: Principal) -> Result<(), Reject> {
        if self.slot(id)?.controllers.contains(&sender) {
            Ok(())
        } else {
            Err(reject(
                reject_code::CANISTER_ERROR,
                format!("{sender} is not a controller of {id}"),
            ))
        }
    }

    /// Replaces the canister's controllers (as `update_settings` would); only a controller may.
    pub fn set_controllers(
        &mut self,
        id: Principal,
        sender: Principal,
        controllers: Vec<Principal>,
    ) -> Result<(), Reject> {
        self.check_controller(id, sender)?;
        let slot = self.canisters.get_mut(&id).expect("checked above");
        if let Some(code) = slot.code.as_mut() {
            code.ctx_mut().controllers = controllers.clone();
        }
        slot.controllers = controllers;
        Ok(())
    }

    /// Installs `wasm` in an empty canister and runs `canister_init` with `arg`. A trap leaves the
    /// canister empty.
    pub fn install_canister(
        &mut self,
        id: Principal,
        wasm: &[u8],
        arg: Vec<u8>,
        sender: Principal,
    ) -> Result<CallReport, Reject> {
        self.check_controller(id, sender)?;
        if self.slot(id)?.code.is_some() {
            return Err(reject(
                reject_code::CANISTER_ERROR,
                format!("canister {id} already has code: upgrade or reinstall it"),
            ));
        }
        let module = self.compile(wasm)?;
        let slot = self.slot(id)?;
        let mut ctx = Ctx::new(id, slot.controllers.clone());
        ctx.cycles = slot.cycles;
        // The version never goes back (an uninstalled canister's calls must not reach new code).
        ctx.version = slot.version;
        self.start_code(id, module, ctx, EntryKind::Init, arg, sender)
    }

    /// Instantiates `module` with `ctx` and runs its init or post-upgrade entry point; on a trap
    /// nothing is kept (the caller restores what was there).
    fn start_code(
        &mut self,
        id: Principal,
        module: CompiledModule,
        mut ctx: Ctx,
        kind: EntryKind,
        arg: Vec<u8>,
        sender: Principal,
    ) -> Result<CallReport, Reject> {
        ctx.version += 1;
        let canister = Canister::new(&self.engine, &self.linker, module, ctx)
            .map_err(|e| reject(reject_code::CANISTER_ERROR, e))?;
        let export = match kind {
            EntryKind::Init => "canister_init",
            _ => "canister_post_upgrade",
        };
        let has_entry = canister.exports(export);
        self.canisters.get_mut(&id).expect("slot exists").code = Some(canister);
        let mut report = CallReport::default();
        if has_entry {
            let mut exec = Exec::new(kind, self.time);
            exec.arg = arg;
            exec.caller = sender;
            let outcome = self.run(id, &Entry::Export(export.into()), exec, None);
            report.executions.push(self.report(id, export, &outcome, 0));
            if let Err(message) = outcome.result {
                self.canisters.get_mut(&id).expect("slot exists").code = None;
                return Err(reject(reject_code::CANISTER_ERROR, message));
            }
        }
        Ok(report)
    }

    /// Upgrades: `canister_pre_upgrade` on the old code, then the new code over the same stable
    /// memory with a fresh heap and no timer, then `canister_post_upgrade(arg)`. Any trap restores
    /// the old canister exactly.
    pub fn upgrade_canister(
        &mut self,
        id: Principal,
        wasm: &[u8],
        arg: Vec<u8>,
        sender: Principal,
    ) -> Result<CallReport, Reject> {
        self.check_controller(id, sender)?;
        let module = self.compile(wasm)?;
        let Some(mut old) = self.canisters.get_mut(&id).and_then(|s| s.code.take()) else {
            return Err(reject(
                reject_code::CANISTER_ERROR,
                format!("canister {id} has no code to upgrade"),
            ));
        };
        let (heap, globals, saved_ctx) = old.full_snapshot();
        let old_module = old.module.clone();
        self.canisters.get_mut(&id).expect("slot exists").code = Some(old);
        let mut report = CallReport::default();
        let restore = |net: &mut Self, heap: Vec<u8>, globals, ctx: Ctx| {
            let canister = Canister::from_snapshot(
                &net.engine,
                &net.linker,
                old_module.clone(),
                heap,
                globals,
                ctx,
            );
            net.canisters.get_mut(&id).expect("slot exists").code = Some(canister);
        };
        let code = self.code_mut(id).expect("just put back");
        if code.exports("canister_pre_upgrade") {
            let exec = Exec::new(EntryKind::PreUpgrade, self.time);
            let outcome = self.run(
                id,
                &Entry::Export("canister_pre_upgrade".into()),
                exec,
                None,
            );
            report
                .executions
                .push(self.report(id, "canister_pre_upgrade", &outcome, 0));
            if let Err(message) = outcome.result {
                return Err(reject(reject_code::CANISTER_ERROR, message));
            }
        }
        let old = self
            .canisters
            .get_mut(&id)
            .and_then(|s| s.code.take())
            .expect("code present");
        let mut ctx = old.into_ctx();
        // An upgrade clears the timer and the log; heap and globals start fresh.
        ctx.global_timer = 0;
        ctx.log.clear();
        ctx.memory = None;
        ctx.stable_journal.clear();
        match self.start_code(id, module, ctx, EntryKind::PostUpgrade, arg, sender) {
            Ok(more) => {
                report.executions.extend(more.executions);
                Ok(report)
            }
            Err(e) => {
                restore(self, heap, globals, saved_ctx);
                Err(e)
            }
        }
    }

    /// Replaces the code and clears all state, stable memory included, then runs `canister_init`.
    pub fn reinstall_canister(
        &mut self,
        id: Principal,
        wasm: &[u8],
        arg: Vec<u8>,
        sender: Principal,
    ) -> Result<CallReport, Reject> {
        self.check_controller(id, sender)?;
        // Compiled first: a module that does not compile leaves the canister as it was.
        let module = self.compile(wasm)?;
        let slot_cycles = self.slot(id)?.cycles;
        let old = self.canisters.get_mut(&id).and_then(|s| s.code.take());
        let cycles = old.as_ref().map_or(slot_cycles, |c| c.ctx().cycles);
        let slot = self.slot(id)?;
        let mut ctx = Ctx::new(id, slot.controllers.clone());
        ctx.cycles = cycles;
        ctx.version = old.as_ref().map_or(0, |c| c.ctx().version);
        let result = self.start_code(id, module, ctx, EntryKind::Init, arg, sender);
        if result.is_err() {
            self.canisters.get_mut(&id).expect("slot exists").code = old;
        }
        result
    }

    pub fn stop_canister(&mut self, id: Principal, sender: Principal) -> Result<(), Reject> {
        self.check_controller(id, sender)?;
        // Stopping waits until the canister has no call of its own in flight.
        for _ in 0..MAX_ROUNDS_PER_CALL {
            if !self.callbacks.values().any(|cb| cb.canister == id) {
                break;
            }
            self.tick();
        }
        self.canisters.get_mut(&id).expect("slot exists").status = CanisterStatus::Stopped;
        Ok(())
    }

    pub fn start_canister(&mut self, id: Principal, sender: Principal) -> Result<(), Reject> {
        self.check_controller(id, sender)?;
        self.canisters.get_mut(&id).expect("slot exists").status = CanisterStatus::Running;
        Ok(())
    }

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

    /// Injected faults not yet consumed.
    pub fn pending_faults(&self) -> usize {
        self.faults.values().map(VecDeque::len).sum()
    }

    /// Makes the next call from `caller` to `callee` suffer `fault`.
    pub fn inject_fault(&mut self, caller: Principal, callee: Principal, fault: Fault) {
        self.faults
            .entry((caller, callee))
            .or_default()
            .push_back((None, fault));
    }

    /// Makes the next call from `caller` to `callee`'s `method` suffer `fault` (calls to other
    /// methods pass by it).
    pub fn inject_fault_on(
        &mut self,
        caller: Principal,
        callee: Principal,
        method: &str,
        fault: Fault,
    ) {
        self.faults
            .entry((caller, callee))
            .or_default()
            .push_back((Some(method.to_string()), fault));
    }

    // ------------------------------------------------------------------ ingress

    /// Submits an update call; `canister_inspect_message` may refuse it at once.
    pub fn submit_call(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> Result<MessageId, Reject> {
        if canister == MANAGEMENT_CANISTER {
            if !management::INGRESS_METHODS.contains(&method) {
                return Err(reject(
                    reject_code::CANISTER_REJECT,
                    format!("the management canister's {method} cannot be called by ingress"),
                ));
            }
            return Ok(self.enqueue_ingress(canister, sender, method, arg));
        }
        let slot = self.slot(canister)?;
        if slot
            .code
            .as_ref()
            .is_some_and(|c| c.exports("canister_inspect_message"))
        {
            let mut exec = Exec::new(EntryKind::InspectMessage, self.time);
            exec.method = method.to_string();
            exec.arg = arg.clone();
            exec.caller = sender;
            let outcome = self.run_with_rollback(
                canister,
                &Entry::Export("canister_inspect_message".into()),
                exec,
            );
            match outcome.result {
                Err(message) => return Err(reject(reject_code::CANISTER_ERROR, message)),
                Ok(()) if !outcome.exec.accepted => {
                    return Err(reject(
                        reject_code::CANISTER_REJECT,
                        "the canister's inspect_message did not accept the call",
                    ))
                }
                Ok(()) => {}
            }
        }
        Ok(self.enqueue_ingress(canister, sender, method, arg))
    }

    fn enqueue_ingress(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> MessageId {
        let id = MessageId(self.fresh_id());
        self.ingress.insert(id, None);
        self.reports.insert(id, CallReport::default());
        self.queue.push_back(Message::Call {
            origin: Origin::Ingress(id),
            caller: sender,
            callee: canister,
            method: method.to_string(),
            arg,
            cycles: 0,
            deadline: 0,
            ingress: Some(id),
        });
        id
    }

    /// Ticks until the message is answered.
    pub fn await_call(&mut self, id: MessageId) -> Result<Vec<u8>, Reject> {
        for _ in 0..MAX_ROUNDS_PER_CALL {
            if let Some(Some(result)) = self.ingress.get(&id) {
                return result.clone();
            }
            self.tick();
        }
        Err(reject(
            reject_code::SYS_TRANSIENT,
            format!("message {id:?} did not complete in {MAX_ROUNDS_PER_CALL} rounds"),
        ))
    }

    /// The answer to a submitted call, if it has one yet.
    pub fn call_result(&self, id: MessageId) -> Option<Result<Vec<u8>, Reject>> {
        self.ingress.get(&id).cloned().flatten()
    }

    /// Forgets a submitted call's answer and report (the HTTP interface does once its request expired).
    pub fn forget_message(&mut self, id: MessageId) {
        self.ingress.remove(&id);
        self.reports.remove(&id);
    }

    /// What a submitted call's executions cost.
    pub fn call_report(&self, id: MessageId) -> CallReport {
        self.reports.get(&id).cloned().unwrap_or_default()
    }

    pub fn update_call(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> Result<Vec<u8>, Reject> {
        let id = self.submit_call(canister, sender, method, arg)?;
        self.await_call(id)
    }

    /// An update call that also returns its report.
    pub fn update_call_with_report(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> (Result<Vec<u8>, Reject>, CallReport) {
        match self.submit_call(canister, sender, method, arg) {
            Ok(id) => {
                let result = self.await_call(id);
                (result, self.call_report(id))
            }
            Err(e) => (Err(e), CallReport::default()),
        }
    }

    /// A query: runs now, and its state changes are discarded.
    pub fn query_call(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> Result<Vec<u8>, Reject> {
        let slot = self.slot(canister)?;
        if slot.status != CanisterStatus::Running {
            return Err(reject(
                reject_code::CANISTER_ERROR,
                format!("canister {canister} is stopped"),
            ));
        }
        let Some(code) = slot.code.as_ref() else {
            return Err(reject(
                reject_code::DESTINATION_INVALID,
                format!("canister {canister} is empty"),
            ));
        };
        let export = format!("canister_query {method}");
        if !code.exports(&export) {
            return Err(reject(
                reject_code::DESTINATION_INVALID,
                format!("canister {canister} has no query method '{method}'"),
            ));
        }
        let mut exec = Exec::new(EntryKind::Query, self.time);
        exec.method = method.to_string();
        exec.arg = arg;
        exec.caller = sender;
        exec.can_respond = true;
        exec.certificate = Some(self.certificate(canister));
        let outcome = self.run_with_rollback(canister, &Entry::Export(export), exec);
        match (outcome.result, outcome.exec.response) {
            (Err(message), _) => Err(reject(reject_code::CANISTER_ERROR, message)),
            (Ok(()), Some(response)) => response.map_err(|(code, message)| reject(code, message)),
            (Ok(()), None) => Err(reject(
                reject_code::CANISTER_ERROR,
                "the query did not reply",
            )),
        }
    }

    /// The certificate a query sees of the canister's certified data: `/canister/<id>/certified_data`
    /// and `/time`, signed by the network's root key, as a subnet certifies them.
    fn certificate(&self, canister: Principal) -> system_api::DataCertificate {
        let data = self
            .canisters
            .get(&canister)
            .and_then(|s| s.code.as_ref())
            .map_or_else(Vec::new, |c| c.ctx().certified_data.clone());
        let root_key = Arc::clone(&self.root_key);
        let time = self.time;
        system_api::DataCertificate::Deferred(Box::new(move || {
            use certification::{labeled_tree, leb128};
            let canister_tree = labeled_tree(BTreeMap::from([(
                canister.as_slice().to_vec(),
                labeled_tree(BTreeMap::from([(
                    b"certified_data".to_vec(),
                    ic_certification::leaf(data),
                )])),
            )]));
            root_key.certify(labeled_tree(BTreeMap::from([
                (b"canister".to_vec(), canister_tree),
                (b"time".to_vec(), ic_certification::leaf(leb128(time))),
            ])))
        }))
    }

    /// The key that signs the network's certificates (by default, one derived from the seed).
    pub fn root_key(&self) -> &Arc<certification::RootKey> {
        &self.root_key
    }

    /// Signs certificates with `key` from now on (the HTTP interface's key, which clients trust).
    pub fn set_root_key(&mut self, key: Arc<certification::RootKey>) {
        self.root_key = key;
    }

    /// Update call with Candid arguments and results.
    pub fn update<A: ArgumentEncoder, R: for<'a> ArgumentDecoder<'a>>(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        args: A,
    ) -> Result<R, Reject> {
        let arg = candid::encode_args(args).expect("arguments encode");
        let bytes = self.update_call(canister, sender, method, arg)?;
        candid::decode_args(&bytes).map_err(|e| {
            reject(
                reject_code::CANISTER_ERROR,
                format!("undecodable reply: {e}"),
            )
        })
    }

    /// Query call with Candid arguments and results.
    pub fn query<A: ArgumentEncoder, R: for<'a> ArgumentDecoder<'a>>(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        args: A,
    ) -> Result<R, Reject> {
        let arg = candid::encode_args(args).expect("arguments encode");
        let bytes = self.query_call(canister, sender, method, arg)?;
        candid::decode_args(&bytes).map_err(|e| {
            reject(
                reject_code::CANISTER_ERROR,
                format!("undecodable reply: {e}"),
            )
        })
    }

    // ------------------------------------------------------------------ execution

    fn run(
        &mut self,
        id: Principal,
        entry: &Entry,
        exec: Exec,
        ingress: Option<MessageId>,
    ) -> Outcome {
        let limit = match exec.kind {
            EntryKind::Init | EntryKind::PreUpgrade | EntryKind::PostUpgrade => {
                cost::INSTALL_INSTRUCTION_LIMIT
            }
            EntryKind::Query | EntryKind::InspectMessage => cost::QUERY_INSTRUCTION_LIMIT,
            _ => self.update_instruction_limit,
        };
        let engine = self.engine.clone();
        let code = self
            .canisters
            .get_mut(&id)
            .and_then(|s| s.code.as_mut())
            .expect("executing canister has code");
        let outcome = code.execute(&engine, &self.linker, entry, exec, limit, false);
        let execution_fee =
            cost::UPDATE_MESSAGE_FEE + outcome.instructions as u128 * cost::CYCLES_PER_INSTRUCTION;
        let ctx = code.ctx_mut();
        ctx.cycles = ctx.cycles.saturating_sub(execution_fee);
        // The calls' fees were taken by `call_perform`; the report shows them with the execution.
        let call_fees: u128 = outcome
            .exec
            .new_calls
            .iter()
            .map(|c| cost::call_cost((c.method.len() + c.arg.len()) as u64))
            .sum();
        let cycles = execution_fee + call_fees;
        if let Some(ingress) = ingress {
            let name = match entry {
                Entry::Export(name) => name.clone(),
                Entry::Table { .. } => format!("{:?}", outcome.exec.kind),
            };
            let report = self.report(id, &name, &outcome, cycles);
            self.reports
                .entry(ingress)
                .or_default()
                .executions
                .push(report);
        }
        outcome
    }

    fn run_with_rollback(&mut self, id: Principal, entry: &Entry, exec: Exec) -> Outcome {
        let engine = self.engine.clone();
        let code = self
            .canisters
            .get_mut(&id)
            .and_then(|s| s.code.as_mut())
            .expect("executing canister has code");
        code.execute(
            &engine,
            &self.linker,
            entry,
            exec,
            cost::QUERY_INSTRUCTION_LIMIT,
            true,
        )
    }

    fn report(
        &self,
        id: Principal,
        entry: &str,
        outcome: &Outcome,
        cycles: u128,
    ) -> ExecutionReport {
        ExecutionReport {
            canister: id,
            entry: entry.to_string(),
            instructions: outcome.instructions,
            cycles,
            trapped: outcome.result.clone().err(),
        }
    }

    fn handle(&mut self, message: Message) {
        match message {
            Message::Call {
                origin,
                caller,
                callee,
                method,
                arg,
                cycles,
                deadline,
                ingress,
            } => self.handle_call(
                origin, caller, callee, method, arg, cycles, deadline, ingress,
            ),
            Message::Response {
                callback,
                response,
                refund,
                ingress,
            } => self.handle_response(callback, response, refund, ingress),
        }
    }

    fn answer(
        &mut self,
        origin: Origin,
        response: Result<Vec<u8>, Reject>,
        refund: u128,
        ingress: Option<MessageId>,
    ) {
        match origin {
            Origin::Ingress(id) => {
                self.ingress.insert(id, Some(response));
            }
            Origin::Callback(callback) => self.queue.push_back(Message::Response {
                callback,
                response,
                refund,
                ingress,
            }),
            Origin::System => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_call(
        &mut self,
        origin: Origin,
        caller: Principal,
        callee: Principal,
        method: String,
        arg: Vec<u8>,
        cycles: u128,
        deadline: u64,
        ingress: Option<MessageId>,
    ) {
        if let Origin::Callback(cb) = origin {
            let fault = self.faults.get_mut(&(caller, callee)).and_then(|q| {
                let due = q
                    .iter()
                    .position(|(m, _)| m.as_ref().is_none_or(|m| *m == method))?;
                q.remove(due).map(|(_, fault)| fault)
            });
            match fault {
                None => {}
                Some(Fault::Reject { code, message }) => {
                    return self.answer(origin, Err(reject(code, message)), cycles, ingress)
                }
                Some(Fault::ExpireBeforeExecution) => {
                    return self.answer(
                        origin,
                        Err(reject(
                            reject_code::SYS_UNKNOWN,
                            "the call's deadline expired",
                        )),
                        0,
                        ingress,
                    )
                }
                Some(Fault::ExpireAfterExecution) => {
                    if let Some(callback) = self.callbacks.get_mut(&cb) {
                        callback.doomed = Some(reject(
                            reject_code::SYS_UNKNOWN,
                            "the call's deadline expired",
                        ));
                    }
                }
                Some(Fault::TrapCallee) => {
                    return self.answer(
                        origin,
                        Err(reject(
                            reject_code::CANISTER_ERROR,
                            "Canister trapped: injected fault",
                        )),
                        cycles,
                        ingress,
                    )
                }
            }
        }
        if callee == MANAGEMENT_CANISTER {
            if let Some((response, refund)) =
                self.management(caller, &method, &arg, cycles, origin, ingress)
            {
                self.answer(origin, response, refund, ingress);
            }
            return;
        }
        let slot = match self.slot(callee) {
            Ok(slot) => slot,
            Err(e) => return self.answer(origin, Err(e), cycles, ingress),
        };
        if slot.status != CanisterStatus::Running {
            let e = reject(
                reject_code::CANISTER_ERROR,
                format!("canister {callee} is stopped"),
            );
            return self.answer(origin, Err(e), cycles, ingress);
        }
        let Some(code) = slot.code.as_ref() else {
            let e = reject(
                reject_code::DESTINATION_INVALID,
                format!("canister {callee} is empty"),
            );
            return self.answer(origin, Err(e), cycles, ingress);
        };
        let update = format!("canister_update {method}");
        let query = format!("canister_query {method}");
        let (entry, kind) = if code.exports(&update) {
            (update, EntryKind::Update)
        } else if code.exports(&query) {
            // A query called as an update (by a canister, or by ingress as icp-cli and dfx do
            // without `--query`) runs replicated, and its state changes are discarded.
            (query, EntryKind::Query)
        } else {
            let e = reject(
                reject_code::DESTINATION_INVALID,
                format!("canister {callee} has no update method '{method}'"),
            );
            return self.answer(origin, Err(e), cycles, ingress);
        };
        let context = self.fresh_id();
        self.contexts.insert(
            context,
            CallContext {
                canister: callee,
                origin,
                responded: false,
                outstanding: 0,
                deadline,
                ingress,
            },
        );
        let mut exec = Exec::new(kind, self.time);
        exec.method = method;
        exec.arg = arg;
        exec.caller = caller;
        exec.can_respond = true;
        exec.deadline = deadline;
        exec.cycles_available = cycles;
        let outcome = if kind == EntryKind::Query {
            // A query reached by a call runs, and its state is discarded.
            self.run_with_rollback(callee, &Entry::Export(entry), exec)
        } else {
            self.run(callee, &Entry::Export(entry), exec, ingress)
        };
        self.finish(context, outcome);
    }

    fn handle_response(
        &mut self,
        callback: u64,
        response: Result<Vec<u8>, Reject>,
        refund: u128,
        ingress: Option<MessageId>,
    ) {
        // A callback answers once: a late reply after an expiry is dropped.
        let Some(cb) = self.callbacks.remove(&callback) else {
            return;
        };
        let response = match cb.doomed.clone() {
            Some(doomed) => Err(doomed),
            None => response,
        };
        let Some(context) = self.contexts.get_mut(&cb.context) else {
            return;
        };
        context.outstanding -= 1;
        let can_respond = !context.responded;
        let deadline = context.deadline;
        let version_now = self
            .canisters
            .get(&cb.canister)
            .and_then(|s| s.code.as_ref())
            .map(|c| c.ctx().version);
        // Refunds reach the canister whether or not its callback still exists.
        if let Some(slot) = self.canisters.get_mut(&cb.canister) {
            match slot.code.as_mut() {
                Some(code) => code.ctx_mut().cycles = code.ctx().cycles.saturating_add(refund),
                None => slot.cycles = slot.cycles.saturating_add(refund),
            }
        }
        if version_now != Some(cb.version) {
            // The caller was upgraded or uninstalled: its callbacks no longer exist.
            return self.close_if_done(cb.context);
        }
        let (kind, entry, arg, reject_info) = match response {
            Ok(data) => (EntryKind::ReplyCallback, cb.call.reply, data, None),
            Err(r) => (
                EntryKind::RejectCallback,
                cb.call.reject,
                Vec::new(),
                Some((r.code, r.message)),
            ),
        };
        let mut exec = Exec::new(kind, self.time);
        exec.arg = arg;
        exec.reject = reject_info;
        exec.can_respond = can_respond;
        exec.deadline = deadline;
        exec.caller = cb.call.callee;
        exec.cycles_refunded = refund;
        let entry = Entry::Table {
            index: entry.0,
            env: entry.1,
        };
        let outcome = self.run(cb.canister, &entry, exec, ingress);
        if outcome.result.is_err() {
            if let Some((index, env)) = cb.call.cleanup {
                let exec = Exec::new(EntryKind::Cleanup, self.time);
                let cleanup = self.run(cb.canister, &Entry::Table { index, env }, exec, ingress);
                if let Err(message) = &cleanup.result {
                    self.log(cb.canister, format!("cleanup trapped: {message}"));
                }
            }
        }
        self.finish(cb.context, outcome);
    }

    fn log(&mut self, id: Principal, line: String) {
        if let Some(code) = self.code_mut(id) {
            code.ctx_mut().log.push(line);
        }
    }

    /// Applies an execution's results to its call context: calls made, the answer given.
    fn finish(&mut self, context_id: u64, outcome: Outcome) {
        let Some(context) = self.contexts.get(&context_id) else {
            return;
        };
        let canister = context.canister;
        let origin = context.origin;
        let ingress = context.ingress;
        let version = self
            .canisters
            .get(&canister)
            .and_then(|s| s.code.as_ref())
            .map_or(0, |c| c.ctx().version);
        for call in outcome.exec.new_calls {
            let id = self.fresh_id();
            let deadline = call
                .timeout_seconds
                .map(|s| self.time + s as u64 * 1_000_000_000);
            self.queue.push_back(Message::Call {
                origin: Origin::Callback(id),
                caller: canister,
                callee: call.callee,
                method: call.method.clone(),
                arg: call.arg.clone(),
                cycles: call.cycles,
                deadline: deadline.unwrap_or(0),
                ingress,
            });
            self.callbacks.insert(
                id,
                Callback {
                    canister,
                    context: context_id,
                    call,
                    version,
                    deadline,
                    doomed: None,
                },
            );
            self.contexts
                .get_mut(&context_id)
                .expect("context exists")
                .outstanding += 1;
        }
        let refund = outcome.exec.cycles_available - outcome.exec.cycles_accepted;
        if let Some(response) = outcome.exec.response {
            let context = self.contexts.get_mut(&context_id).expect("context exists");
            if !context.responded {
                context.responded = true;
                let response = response.map_err(|(code, message)| reject(code, message));
                self.answer(origin, response, refund, ingress);
            }
        } else if let Err(message) = outcome.result {
            let context = self.contexts.get_mut(&context_id).expect("context exists");
            if !context.responded && context.outstanding == 0 {
                context.responded = true;
                self.answer(
                    origin,
                    Err(reject(reject_code::CANISTER_ERROR, message)),
                    refund,
                    ingress,
                );
            }
        }
        self.close_if_done(context_id);
    }

    fn close_if_done(&mut self, context_id: u64) {
        let Some(context) = self.contexts.get_mut(&context_id) else {
            return;
        };
        if context.outstanding > 0 {
            return;
        }
        if !context.responded {
            context.responded = true;
            let (origin, ingress, canister) = (context.origin, context.ingress, context.canister);
            self.answer(
                origin,
                Err(reject(
                    reject_code::CANISTER_ERROR,
                    format!("canister {canister} did not reply to the call"),
                )),
                0,
                ingress,
            );
        }
        self.contexts.remove(&context_id);
    }

    // ------------------------------------------------------------------ HTTPS outcalls

    fn start_outcall(
        &mut self,
        caller: Principal,
        arg: &[u8],
        cycles: u128,
        origin: Origin,
        ingress: Option<MessageId>,
    ) -> Result<(), Reject> {
        let args: ic_management_canister_types::HttpRequestArgs =
            candid::decode_one(arg).map_err(|e| {
                reject(
                    reject_code::CANISTER_ERROR,
                    format!("invalid http_request: {e}"),
                )
            })?;
        let request_bytes = http::request_bytes(&args);
        if request_bytes > http::MAX_REQUEST_BYTES || args.headers.len() > 64 {
            return Err(reject(
                reject_code::CANISTER_REJECT,
                "the request exceeds 2 MB or 64 headers",
            ));
        }
        let max_response_bytes = args.max_response_bytes.unwrap_or(http::MAX_RESPONSE_BYTES);
        if max_response_bytes > http::MAX_RESPONSE_BYTES {
            return Err(reject(
                reject_code::CANISTER_REJECT,
                format!("max_response_bytes above {}", http::MAX_RESPONSE_BYTES),
            ));
        }
        let replicated = args.is_replicated != Some(false);
        let floor = cost::http_request_cost_v2(&cost::HttpUsage {
            request_bytes,
            replicated,
            ..Default::default()
        });
        if cycles < floor {
            return Err(reject(
                reject_code::CANISTER_REJECT,
                format!("http_request needs at least {floor} cycles attached, got {cycles}"),
            ));
        }
        let id = self.fresh_id();
        self.http_pending.insert(
            id,
            PendingOutcall {
                request: http::PendingHttpRequest {
                    id,
                    canister: caller,
                    url: args.url,
                    method: args.method,
                    headers: args.headers,
                    body: args.body.unwrap_or_default(),
                    max_response_bytes,
                    is_replicated: replicated,
                },
                transform: args.transform,
                request_bytes,
                cycles,
                origin,
                ingress,
            },
        );
        Ok(())
    }

    /// Outcalls waiting for a response.
    pub fn pending_http_requests(&self) -> Vec<http::PendingHttpRequest> {
        self.http_pending
            .values()
            .map(|p| p.request.clone())
            .collect()
    }

    /// Lets localnet make outcalls to these `host:port`s itself, over plain HTTP.
    pub fn allow_loopback_http(&mut self, authority: impl Into<String>) {
        self.http_loopback.push(authority.into());
    }

    /// Answers a pending outcall as the remote server would (or fails it with a reject): the
    /// transform runs as a query on the calling canister, the response size is checked, the cycles
    /// are charged for what the outcall used and the rest refunded.
    pub fn mock_http_response(
        &mut self,
        id: u64,
        response: Result<ic_management_canister_types::HttpRequestResult, Reject>,
        roundtrip_ms: u64,
    ) {
        let Some(p) = self.http_pending.remove(&id) else {
            return;
        };
        let raw_bytes = response.as_ref().map_or(0, |r| {
            (r.body.len()
                + r.headers
                    .iter()
                    .map(|h| h.name.len() + h.value.len())
                    .sum::<usize>()) as u64
        });
        let mut transform_instructions = 0;
        let result = response.and_then(|raw| {
            if raw.body.len() as u64 > p.request.max_response_bytes {
                return Err(reject(
                    reject_code::SYS_FATAL,
                    format!(
                        "Http body exceeds size limit of {} bytes",
                        p.request.max_response_bytes
                    ),
                ));
            }
            let Some(transform) = &p.transform else {
                return Ok(raw);
            };
            let target = transform.function.0.principal;
            let method = transform.function.0.method.clone();
            let arg = candid::encode_one(ic_management_canister_types::TransformArgs {
                response: raw,
                context: transform.context.clone(),
            })
            .expect("transform args encode");
            let mut exec = Exec::new(EntryKind::Query, self.time);
            exec.method = method.clone();
            exec.arg = arg;
            exec.caller = MANAGEMENT_CANISTER;
            exec.can_respond = true;
            if target != p.request.canister
                || self.slot(target).map(|s| s.code.is_none()).unwrap_or(true)
            {
                return Err(reject(
                    reject_code::CANISTER_ERROR,
                    "the transform must be a query of the calling canister",
                ));
            }
            let outcome = self.run_with_rollback(
                target,
                &Entry::Export(format!("canister_query {method}")),
                exec,
            );
            transform_instructions = outcome.instructions;
            match (outcome.result, outcome.exec.response) {
                (Ok(()), Some(Ok(bytes))) => candid::decode_one(&bytes).map_err(|e| {
                    reject(
                        reject_code::CANISTER_ERROR,
                        format!("bad transform result: {e}"),
                    )
                }),
                (Ok(()), Some(Err((code, message)))) => Err(reject(code, message)),
                (Ok(()), None) => Err(reject(
                    reject_code::CANISTER_ERROR,
                    "the transform did not reply",
                )),
                (Err(message), _) => Err(reject(reject_code::CANISTER_ERROR, message)),
            }
        });
        let transformed_bytes = result.as_ref().map_or(0, |r| r.body.len() as u64);
        let used = cost::http_request_cost_v2(&cost::HttpUsage {
            request_bytes: p.request_bytes,
            roundtrip_ms,
            raw_response_bytes: raw_bytes,
            transformed_response_bytes: transformed_bytes,
            transform_instructions,
            replicated: p.request.is_replicated,
        });
        let (result, refund) = if used > p.cycles {
            (
                Err(reject(
                    reject_code::CANISTER_REJECT,
                    format!(
                        "the outcall used {used} cycles, more than the {} attached",
                        p.cycles
                    ),
                )),
                0,
            )
        } else {
            (result, p.cycles - used)
        };
        let reply = result.map(|r| candid::encode_one(r).expect("result encodes"));
        self.answer(p.origin, reply, refund, p.ingress);
    }

    fn serve_loopback_outcalls(&mut self) {
        let due: Vec<http::PendingHttpRequest> = self
            .http_pending
            .values()
            .filter(|p| {
                http::split_url(&p.request.url)
                    .is_some_and(|(authority, _)| self.http_loopback.contains(&authority))
            })
            .map(|p| p.request.clone())
            .collect();
        for request in due {
            let started = std::time::Instant::now();
            let response = http::send(&request, std::time::Duration::from_secs(60))
                .map_err(|e| reject(reject_code::SYS_TRANSIENT, e));
            let ms = started.elapsed().as_millis() as u64;
            self.mock_http_response(request.id, response, ms);
        }
    }
}
