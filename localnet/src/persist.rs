//! A network saved to a directory and loaded back (`localnet serve --state-dir`): every canister's
//! module as installed, heap, mutable globals, stable memory, certified data, timer, cycles, version,
//! controllers, status, settings and chunk store, and the network's clock and counters, in one CBOR file
//! written atomically. Calls in flight are run to completion first (at most 1,000 rounds); what is still
//! in flight after that — an outcall no server answers, a call waiting on one — is not saved, and its
//! caller is never answered. The ingress history (request statuses for polling) is not kept either.

use crate::canister::Canister;
use crate::system_api::Ctx;
use crate::{CanisterSlot, CanisterStatus, LocalNet};
use candid::Principal;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;
use wasmtime::Val;

/// The file a state directory holds.
pub const STATE_FILE: &str = "localnet-state.cbor";
const FORMAT_VERSION: u32 = 1;
/// Rounds run at most to finish calls in flight before saving.
const SETTLE_ROUNDS: usize = 1_000;

#[derive(Serialize, Deserialize)]
struct SavedNet {
    format: u32,
    time: u64,
    next_id: u64,
    next_canister: u64,
    rand_counter: u64,
    seed: [u8; 32],
    http_loopback: Vec<String>,
    canisters: Vec<SavedCanister>,
}

#[derive(Serialize, Deserialize)]
struct SavedCanister {
    #[serde(with = "serde_bytes")]
    id: Vec<u8>,
    controllers: Vec<serde_bytes::ByteBuf>,
    running: bool,
    /// Cycles, big-endian (CBOR has no 128-bit integers).
    cycles: [u8; 16],
    /// The settings, Candid-encoded.
    #[serde(with = "serde_bytes")]
    settings: Vec<u8>,
    chunks: Vec<serde_bytes::ByteBuf>,
    /// The version of a canister with no code (with code, the code's).
    version: u64,
    code: Option<SavedCode>,
}

#[derive(Serialize, Deserialize)]
struct SavedCode {
    #[serde(with = "serde_bytes")]
    module: Vec<u8>,
    #[serde(with = "serde_bytes")]
    heap: Vec<u8>,
    globals: Vec<SavedGlobal>,
    #[serde(with = "serde_bytes")]
    stable: Vec<u8>,
    #[serde(with = "serde_bytes")]
    certified_data: Vec<u8>,
    global_timer: u64,
    version: u64,
}

#[derive(Serialize, Deserialize)]
enum SavedGlobal {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
}

fn saved_global(value: &Val) -> Result<SavedGlobal, String> {
    match value {
        Val::I32(v) => Ok(SavedGlobal::I32(*v)),
        Val::I64(v) => Ok(SavedGlobal::I64(*v)),
        Val::F32(v) => Ok(SavedGlobal::F32(*v)),
        Val::F64(v) => Ok(SavedGlobal::F64(*v)),
        other => Err(format!("a global of type {other:?} cannot be saved")),
    }
}

fn global(saved: &SavedGlobal) -> Val {
    match saved {
        SavedGlobal::I32(v) => Val::I32(*v),
        SavedGlobal::I64(v) => Val::I64(*v),
        SavedGlobal::F32(v) => Val::F32(*v),
        SavedGlobal::F64(v) => Val::F64(*v),
    }
}

impl LocalNet {
    /// Whether anything is still in flight: messages, callbacks or outcalls.
    fn busy(&self) -> bool {
        !self.queue.is_empty() || !self.callbacks.is_empty() || !self.http_pending.is_empty()
    }

    /// Saves the network in `dir` (created if missing), after running the calls in flight to
    /// completion (at most [`SETTLE_ROUNDS`] rounds).
    pub fn save(&mut self, dir: &Path) -> Result<(), String> {
        for _ in 0..SETTLE_ROUNDS {
            if !self.busy() {
                break;
            }
            self.tick();
        }
        let mut canisters = Vec::new();
        let ids: Vec<Principal> = self.canisters.keys().copied().collect();
        for id in ids {
            let slot = self.canisters.get_mut(&id).expect("listed above");
            let code = match slot.code.as_mut() {
                None => None,
                Some(code) => {
                    let (heap, globals, ctx) = code.full_snapshot();
                    Some(SavedCode {
                        module: code.module.installed.to_vec(),
                        heap,
                        globals: globals.iter().map(saved_global).collect::<Result<_, _>>()?,
                        stable: ctx.stable,
                        certified_data: ctx.certified_data,
                        global_timer: ctx.global_timer,
                        version: ctx.version,
                    })
                }
            };
            let slot = &self.canisters[&id];
            canisters.push(SavedCanister {
                id: id.as_slice().to_vec(),
                controllers: slot
                    .controllers
                    .iter()
                    .map(|c| serde_bytes::ByteBuf::from(c.as_slice().to_vec()))
                    .collect(),
                running: slot.status == CanisterStatus::Running,
                cycles: self.cycles_balance(id).to_be_bytes(),
                settings: candid::encode_one(&slot.settings).map_err(|e| e.to_string())?,
                chunks: slot
                    .chunks
                    .values()
                    .map(|c| serde_bytes::ByteBuf::from(c.clone()))
                    .collect(),
                version: slot.version,
                code,
            });
        }
        let saved = SavedNet {
            format: FORMAT_VERSION,
            time: self.time,
            next_id: self.next_id,
            next_canister: self.next_canister,
            rand_counter: self.rand_counter,
            seed: self.seed,
            http_loopback: self.http_loopback.clone(),
            canisters,
        };
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let path = dir.join(STATE_FILE);
        let partial = dir.join(format!("{STATE_FILE}.partial"));
        let file =
            std::fs::File::create(&partial).map_err(|e| format!("{}: {e}", partial.display()))?;
        let mut writer = std::io::BufWriter::new(file);
        ciborium::ser::into_writer(&saved, &mut writer).map_err(|e| e.to_string())?;
        let file = writer.into_inner().map_err(|e| e.to_string())?;
        file.sync_all().map_err(|e| e.to_string())?;
        std::fs::rename(&partial, &path).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The network saved in `dir`, or `None` if nothing was saved there.
    pub fn load(dir: &Path) -> Result<Option<LocalNet>, String> {
        let path = dir.join(STATE_FILE);
        let file = match std::fs::File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let saved: SavedNet = ciborium::de::from_reader(std::io::BufReader::new(file))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if saved.format != FORMAT_VERSION {
            return Err(format!(
                "{} has format {}, this localnet reads {FORMAT_VERSION}",
                path.display(),
                saved.format
            ));
        }
        let mut net = LocalNet::new(0);
        net.time = saved.time;
        net.next_id = saved.next_id;
        net.next_canister = saved.next_canister;
        net.rand_counter = saved.rand_counter;
        net.seed = saved.seed;
        net.http_loopback = saved.http_loopback;
        for c in saved.canisters {
            let id = Principal::try_from_slice(&c.id).map_err(|e| e.to_string())?;
            let controllers = c
                .controllers
                .iter()
                .map(|p| Principal::try_from_slice(p).map_err(|e| e.to_string()))
                .collect::<Result<Vec<_>, _>>()?;
            let cycles = u128::from_be_bytes(c.cycles);
            let code = match c.code {
                None => None,
                Some(saved) => {
                    let module = net.compile(&saved.module).map_err(|e| e.message)?;
                    let mut ctx = Ctx::new(id, controllers.clone());
                    ctx.stable = saved.stable;
                    ctx.certified_data = saved.certified_data;
                    ctx.global_timer = saved.global_timer;
                    ctx.cycles = cycles;
                    ctx.version = saved.version;
                    let globals = saved.globals.iter().map(global).collect();
                    Some(Canister::from_snapshot(
                        &net.engine,
                        &net.linker,
                        module,
                        saved.heap,
                        globals,
                        ctx,
                    ))
                }
            };
            let chunks: BTreeMap<[u8; 32], Vec<u8>> = c
                .chunks
                .into_iter()
                .map(|chunk| {
                    use sha2::Digest;
                    (sha2::Sha256::digest(&chunk).into(), chunk.into_vec())
                })
                .collect();
            net.canisters.insert(
                id,
                CanisterSlot {
                    controllers,
                    status: if c.running {
                        CanisterStatus::Running
                    } else {
                        CanisterStatus::Stopped
                    },
                    code,
                    cycles,
                    settings: candid::decode_one(&c.settings).map_err(|e| e.to_string())?,
                    chunks,
                    version: c.version,
                },
            );
        }
        Ok(Some(net))
    }
}
