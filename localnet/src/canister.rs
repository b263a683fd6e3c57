//! One canister: its instantiated module, persistent system state, and atomic executions (every
//! effect of a trapped execution is undone: heap, mutable globals, stable memory, timer, certified
//! data, cycles, outgoing calls and the reply).

use crate::instrument::Instrumented;
use crate::system_api::{Ctx, EntryKind, Exec};
use std::sync::Arc;
use wasmtime::{Engine, Instance, Linker, Module, Store, Val};

/// A compiled canister module and what instrumentation found in it.
#[derive(Clone)]
pub struct CompiledModule {
    pub module: Module,
    pub meta: Arc<Instrumented>,
    pub hash: [u8; 32],
    /// The module as installed (gzip'd or not): what a saved network keeps.
    pub installed: Arc<Vec<u8>>,
}

/// Where an execution starts.
#[derive(Clone, Debug)]
pub enum Entry {
    /// An exported function: `canister_update foo`, `canister_init`, …
    Export(String),
    /// A function-table entry called with an environment value (callbacks).
    Table { index: u32, env: u32 },
}

#[derive(Debug)]
pub struct Outcome {
    pub exec: Exec,
    /// `Err(message)` when the execution trapped; its effects were rolled back.
    pub result: Result<(), String>,
    pub instructions: u64,
}

struct Snapshot {
    heap: Vec<u8>,
    globals: Vec<Val>,
    stable_len: usize,
    certified_data: Vec<u8>,
    global_timer: u64,
    cycles: u128,
}

pub struct Canister {
    pub module: CompiledModule,
    pub store: Store<Ctx>,
    pub instance: Instance,
}

fn instantiate(
    engine: &Engine,
    linker: &Linker<Ctx>,
    module: &CompiledModule,
    ctx: Ctx,
) -> Result<(Store<Ctx>, Instance), String> {
    let mut store = Store::new(engine, ctx);
    store.set_fuel(u64::MAX / 2).map_err(|e| e.to_string())?;
    let instance = linker
        .instantiate(&mut store, &module.module)
        .map_err(|e| format!("instantiation failed: {e}"))?;
    let memory = instance.get_memory(&mut store, crate::instrument::MEMORY_EXPORT);
    store.data_mut().memory = memory;
    Ok((store, instance))
}

impl Canister {
    pub fn new(
        engine: &Engine,
        linker: &Linker<Ctx>,
        module: CompiledModule,
        ctx: Ctx,
    ) -> Result<Self, String> {
        let (store, instance) = instantiate(engine, linker, &module, ctx)?;
        Ok(Self {
            module,
            store,
            instance,
        })
    }

    pub fn ctx(&self) -> &Ctx {
        self.store.data()
    }

    pub fn ctx_mut(&mut self) -> &mut Ctx {
        self.store.data_mut()
    }

    pub fn exports(&self, name: &str) -> bool {
        self.module.meta.exports.iter().any(|e| e == name)
    }

    fn snapshot(&mut self) -> Snapshot {
        let heap = match self.store.data().memory {
            Some(m) => m.data(&self.store).to_vec(),
            None => Vec::new(),
        };
        let globals = self
            .module
            .meta
            .mutable_globals
            .iter()
            .map(|name| {
                self.instance
                    .get_global(&mut self.store, name)
                    .expect("instrumented global is exported")
                    .get(&mut self.store)
            })
            .collect();
        let ctx = self.store.data();
        Snapshot {
            heap,
            globals,
            stable_len: ctx.stable.len(),
            certified_data: ctx.certified_data.clone(),
            global_timer: ctx.global_timer,
            cycles: ctx.cycles,
        }
    }

    /// Puts heap, globals and system state back as they were at `snapshot`. A heap that grew needs a
    /// fresh instance, since wasm memory cannot shrink.
    fn restore(&mut self, engine: &Engine, linker: &Linker<Ctx>, snapshot: Snapshot) {
        let journal = std::mem::take(&mut self.store.data_mut().stable_journal);
        {
            let ctx = self.store.data_mut();
            for (offset, previous) in journal.into_iter().rev() {
                let start = offset as usize;
                ctx.stable[start..start + previous.len()].copy_from_slice(&previous);
            }
            ctx.stable.truncate(snapshot.stable_len);
            ctx.certified_data = snapshot.certified_data;
            ctx.global_timer = snapshot.global_timer;
            ctx.cycles = snapshot.cycles;
        }
        let grew = match self.store.data().memory {
            Some(m) => m.data_size(&self.store) > snapshot.heap.len(),
            None => false,
        };
        if grew {
            let placeholder = Ctx::new(self.store.data().id, vec![]);
            let old = std::mem::replace(&mut self.store, Store::new(engine, placeholder));
            let ctx = old.into_data();
            let (store, instance) = instantiate(engine, linker, &self.module, ctx)
                .expect("a module that instantiated once instantiates again");
            self.store = store;
            self.instance = instance;
            if let Some(m) = self.store.data().memory {
                let pages_now = m.size(&self.store);
                let pages_needed = snapshot.heap.len() as u64 / crate::system_api::WASM_PAGE;
                if pages_needed > pages_now {
                    m.grow(&mut self.store, pages_needed - pages_now)
                        .expect("memory grows back to its committed size");
                }
            }
        }
        if let Some(m) = self.store.data().memory {
            m.data_mut(&mut self.store)[..snapshot.heap.len()].copy_from_slice(&snapshot.heap);
        }
        for (name, value) in self
            .module
            .meta
            .mutable_globals
            .iter()
            .zip(snapshot.globals)
        {
            self.instance
                .get_global(&mut self.store, name)
                .expect("instrumented global is exported")
                .set(&mut self.store, value)
                .expect("global has its own type");
        }
    }

    /// Runs one execution atomically. `rollback_always` discards even a successful execution's state
    /// (queries, `canister_inspect_message`), keeping only what `Outcome::exec` reports.
    pub fn execute(
        &mut self,
        engine: &Engine,
        linker: &Linker<Ctx>,
        entry: &Entry,
        exec: Exec,
        instruction_limit: u64,
        rollback_always: bool,
    ) -> Outcome {
        let snapshot = self.snapshot();
        {
            let ctx = self.store.data_mut();
            ctx.exec = exec;
            ctx.api_instructions = 0;
            ctx.fuel_limit = instruction_limit;
            ctx.stable_journal.clear();
        }
        self.store
            .set_fuel(instruction_limit)
            .expect("fuel is enabled");
        let result = self.call(entry);
        let remaining = self.store.get_fuel().unwrap_or(0);
        let instructions =
            (instruction_limit - remaining).saturating_sub(crate::cost::FUNCTION_ENTRY_FUEL);
        let result = result.map_err(|e| describe_trap(&e, remaining == 0));
        let mut exec = std::mem::replace(
            &mut self.store.data_mut().exec,
            Exec::new(EntryKind::Update, 0),
        );
        if result.is_err() {
            // A trap discards the reply and every call made.
            exec.response = None;
            exec.new_calls.clear();
            exec.building = None;
        }
        if result.is_err() || rollback_always {
            self.restore(engine, linker, snapshot);
        } else {
            self.store.data_mut().stable_journal.clear();
        }
        Outcome {
            exec,
            result,
            instructions,
        }
    }

    fn call(&mut self, entry: &Entry) -> wasmtime::Result<()> {
        match entry {
            Entry::Export(name) => {
                let f = self
                    .instance
                    .get_typed_func::<(), ()>(&mut self.store, name)?;
                f.call(&mut self.store, ())
            }
            Entry::Table { index, env } => {
                let table = self
                    .instance
                    .get_table(&mut self.store, crate::instrument::TABLE_EXPORT)
                    .ok_or_else(|| wasmtime::Error::msg("callback in a module without a table"))?;
                let func = table
                    .get(&mut self.store, *index as u64)
                    .and_then(|r| r.as_func().flatten().copied())
                    .ok_or_else(|| {
                        wasmtime::Error::msg(format!("no function at table index {index}"))
                    })?;
                let f = func.typed::<i32, ()>(&self.store)?;
                f.call(&mut self.store, *env as i32)
            }
        }
    }

    /// Replaces the instance (upgrade, reinstall) keeping the given system state.
    pub fn replace(
        engine: &Engine,
        linker: &Linker<Ctx>,
        module: CompiledModule,
        ctx: Ctx,
    ) -> Result<Self, String> {
        Self::new(engine, linker, module, ctx)
    }

    /// Takes the system state out, leaving the canister unusable (for upgrades).
    pub fn into_ctx(self) -> Ctx {
        self.store.into_data()
    }

    /// A heap-and-globals copy for an upgrade that may have to be undone.
    pub fn full_snapshot(&mut self) -> (Vec<u8>, Vec<Val>, Ctx) {
        let s = self.snapshot();
        let ctx = self.store.data();
        let mut copy = Ctx::new(ctx.id, ctx.controllers.clone());
        copy.stable = ctx.stable.clone();
        copy.certified_data = s.certified_data;
        copy.global_timer = s.global_timer;
        copy.cycles = s.cycles;
        copy.version = ctx.version;
        copy.log = Vec::new();
        (s.heap, s.globals, copy)
    }

    /// Rebuilds a canister from a [`Canister::full_snapshot`].
    pub fn from_snapshot(
        engine: &Engine,
        linker: &Linker<Ctx>,
        module: CompiledModule,
        heap: Vec<u8>,
        globals: Vec<Val>,
        ctx: Ctx,
    ) -> Self {
        let mut canister =
            Self::new(engine, linker, module, ctx).expect("the old module instantiates again");
        let snapshot = Snapshot {
            heap,
            globals,
            stable_len: canister.ctx().stable.len(),
            certified_data: canister.ctx().certified_data.clone(),
            global_timer: canister.ctx().global_timer,
            cycles: canister.ctx().cycles,
        };
        if let Some(m) = canister.store.data().memory {
            let pages_now = m.size(&canister.store);
            let pages_needed = snapshot.heap.len() as u64 / crate::system_api::WASM_PAGE;
            if pages_needed > pages_now {
                m.grow(&mut canister.store, pages_needed - pages_now)
                    .expect("memory grows back");
            }
        }
        canister.restore(engine, linker, snapshot);
        canister
    }
}

fn describe_trap(e: &wasmtime::Error, out_of_fuel: bool) -> String {
    if out_of_fuel {
        return "Canister exceeded the instruction limit for a single message execution".into();
    }
    let text = format!("{e:#}");
    if let Some(at) = text.find("unknown import: `ic0::") {
        let name = text[at + "unknown import: `ic0::".len()..]
            .split('`')
            .next()
            .unwrap_or("?");
        return format!("ic0.{name} is not implemented by localnet");
    }
    if let Some(trap) = e.downcast_ref::<wasmtime::Trap>() {
        return format!("Canister trapped: {trap}");
    }
    // A host function's error (ic0.trap, System API misuse) is its message.
    e.root_cause().to_string()
}
