//! Canister lifecycle: modules compiled (gzip'd or raw), canisters created, installed, upgraded,
//! reinstalled, stopped and started, and the controller checks guarding them.

use crate::canister::{Canister, CompiledModule, Entry};
use crate::scheduler::MAX_ROUNDS_PER_CALL;
use crate::system_api::{Ctx, EntryKind, Exec};
use crate::{
    instrument, reject, reject_code, CallReport, CanisterSlot, CanisterStatus, LocalNet, Reject,
};
use candid::Principal;
use sha2::{Digest, Sha256};
use std::sync::Arc;

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

impl LocalNet {
    /// Compiles a module as installed: raw wasm or gzip-compressed wasm (the module hash is that of
    /// the bytes installed, as on the IC).
    pub(crate) fn compile(&mut self, installed: &[u8]) -> Result<CompiledModule, Reject> {
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

    pub(crate) fn slot(&self, id: Principal) -> Result<&CanisterSlot, Reject> {
        self.canisters.get(&id).ok_or_else(|| {
            reject(
                reject_code::DESTINATION_INVALID,
                format!("canister {id} does not exist"),
            )
        })
    }

    pub(crate) fn code_mut(&mut self, id: Principal) -> Option<&mut Canister> {
        self.canisters.get_mut(&id).and_then(|s| s.code.as_mut())
    }

    pub(crate) fn check_controller(&self, id: Principal, sender: Principal) -> Result<(), Reject> {
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
}
