//! The management canister (`aaaaa-aa`): what canisters call (create, install, status, randomness,
//! HTTPS outcalls) and what clients send by ingress to deploy and inspect (provisional creation with
//! cycles, `install_code` in every mode, chunked installs, `canister_status`, `update_settings`,
//! start, stop, uninstall, delete). Answers follow the interface specification; settings other than
//! controllers are kept and reported, not enforced (docs/localnet.md says which).

use crate::scheduler::Origin;
use crate::{cost, reject, reject_code, CanisterSlot, CanisterStatus, LocalNet, MessageId, Reject};
use candid::{Nat, Principal};
use ic_management_canister_types as mgmt;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// Management methods a client may call by ingress (the others are for canisters only).
pub const INGRESS_METHODS: &[&str] = &[
    "provisional_create_canister_with_cycles",
    "provisional_top_up_canister",
    "install_code",
    "install_chunked_code",
    "upload_chunk",
    "clear_chunk_store",
    "stored_chunks",
    "uninstall_code",
    "update_settings",
    "start_canister",
    "stop_canister",
    "canister_status",
    "delete_canister",
];

/// Cycles a provisionally created canister gets when the request names no amount (the replica's
/// default for `provisional_create_canister_with_cycles`).
pub const PROVISIONAL_DEFAULT_CYCLES: u128 = 100_000_000_000_000;
/// The IC's chunk size limit and the chunk store's capacity per canister.
pub const MAX_CHUNK_BYTES: usize = 1024 * 1024;
pub const MAX_STORED_CHUNKS: usize = 100;

fn args<T: for<'de> candid::Deserialize<'de> + candid::CandidType>(
    arg: &[u8],
) -> Result<T, Reject> {
    candid::decode_one(arg).map_err(|e| {
        reject(
            reject_code::CANISTER_ERROR,
            format!("invalid management arguments: {e}"),
        )
    })
}

fn encode<T: candid::CandidType>(value: T) -> Vec<u8> {
    candid::encode_one(value).expect("management results encode")
}

fn empty() -> Vec<u8> {
    candid::encode_args(()).expect("the empty tuple encodes")
}

/// The canister a management call by ingress acts on (the spec requires the request's effective
/// canister id to be it); `None` for provisional creation, which may go through any canister id.
pub fn ingress_target(method: &str, arg: &[u8]) -> Result<Option<Principal>, Reject> {
    #[derive(candid::Deserialize, candid::CandidType)]
    struct CanisterId {
        canister_id: Principal,
    }
    #[derive(candid::Deserialize, candid::CandidType)]
    struct Target {
        target_canister: Principal,
    }
    match method {
        // Provisional creation may go through any canister id; a method clients may not call is
        // refused when it is submitted.
        "provisional_create_canister_with_cycles" => Ok(None),
        m if !INGRESS_METHODS.contains(&m) => Ok(None),
        "install_chunked_code" => args::<Target>(arg).map(|t| Some(t.target_canister)),
        _ => args::<CanisterId>(arg).map(|t| Some(t.canister_id)),
    }
}

impl LocalNet {
    /// A call to the management canister: the answer and the cycles refunded, or `None` when the
    /// answer comes later (HTTPS outcalls).
    pub(crate) fn management(
        &mut self,
        caller: Principal,
        method: &str,
        arg: &[u8],
        cycles: u128,
        origin: Origin,
        ingress: Option<MessageId>,
    ) -> Option<(Result<Vec<u8>, Reject>, u128)> {
        let from_ingress = matches!(origin, Origin::Ingress(_));
        let result: Result<Vec<u8>, Reject> = match method {
            "raw_rand" => {
                self.rand_counter += 1;
                let mut hasher = Sha256::new();
                hasher.update(self.seed);
                hasher.update(self.rand_counter.to_be_bytes());
                let bytes: [u8; 32] = hasher.finalize().into();
                Ok(encode(serde_bytes::ByteBuf::from(bytes.to_vec())))
            }
            "create_canister" => self.create_by_canister(caller, arg, cycles),
            "provisional_create_canister_with_cycles" => self.provisional_create(caller, arg),
            "provisional_top_up_canister" => (|| {
                let a: mgmt::ProvisionalTopUpCanisterArgs = args(arg)?;
                let amount = u128::try_from(a.amount.0).map_err(|_| {
                    reject(reject_code::CANISTER_REJECT, "the amount exceeds 2^128")
                })?;
                self.slot(a.canister_id)?;
                self.add_cycles(a.canister_id, amount);
                Ok(empty())
            })(),
            "install_code" => (|| {
                let a: mgmt::InstallCodeArgs = args(arg)?;
                self.install_mode(a.canister_id, a.mode, &a.wasm_module, a.arg, caller)?;
                Ok(empty())
            })(),
            "upload_chunk" => (|| {
                let a: mgmt::UploadChunkArgs = args(arg)?;
                self.check_controller(a.canister_id, caller)?;
                if a.chunk.len() > MAX_CHUNK_BYTES {
                    return Err(reject(
                        reject_code::CANISTER_REJECT,
                        format!("a chunk may hold at most {MAX_CHUNK_BYTES} bytes"),
                    ));
                }
                let hash: [u8; 32] = Sha256::digest(&a.chunk).into();
                let slot = self.canisters.get_mut(&a.canister_id).expect("checked");
                if !slot.chunks.contains_key(&hash) && slot.chunks.len() >= MAX_STORED_CHUNKS {
                    return Err(reject(
                        reject_code::CANISTER_REJECT,
                        format!("the chunk store is full ({MAX_STORED_CHUNKS} chunks)"),
                    ));
                }
                slot.chunks.insert(hash, a.chunk);
                Ok(encode(mgmt::ChunkHash {
                    hash: hash.to_vec(),
                }))
            })(),
            "stored_chunks" => (|| {
                let a: mgmt::CanisterIdRecord = args(arg)?;
                self.check_controller(a.canister_id, caller)?;
                let hashes: Vec<mgmt::ChunkHash> = self.canisters[&a.canister_id]
                    .chunks
                    .keys()
                    .map(|h| mgmt::ChunkHash { hash: h.to_vec() })
                    .collect();
                Ok(encode(hashes))
            })(),
            "clear_chunk_store" => (|| {
                let a: mgmt::CanisterIdRecord = args(arg)?;
                self.check_controller(a.canister_id, caller)?;
                self.canisters
                    .get_mut(&a.canister_id)
                    .expect("checked")
                    .chunks
                    .clear();
                Ok(empty())
            })(),
            "install_chunked_code" => (|| {
                let a: mgmt::InstallChunkedCodeArgs = args(arg)?;
                let store = a.store_canister.unwrap_or(a.target_canister);
                // The spec: the caller controls the store canister or is that canister.
                if caller != store {
                    self.check_controller(store, caller)?;
                }
                let chunks = &self.slot(store)?.chunks;
                let mut wasm = Vec::new();
                for chunk in &a.chunk_hashes_list {
                    let Some(bytes) = <[u8; 32]>::try_from(chunk.hash.as_slice())
                        .ok()
                        .and_then(|h| chunks.get(&h))
                    else {
                        return Err(reject(
                            reject_code::CANISTER_REJECT,
                            format!("chunk {} is not in the store", hex::encode(&chunk.hash)),
                        ));
                    };
                    wasm.extend_from_slice(bytes);
                }
                if Sha256::digest(&wasm).as_slice() != a.wasm_module_hash.as_slice() {
                    return Err(reject(
                        reject_code::CANISTER_REJECT,
                        "the chunks' concatenation does not have wasm_module_hash",
                    ));
                }
                self.install_mode(a.target_canister, a.mode, &wasm, a.arg, caller)?;
                Ok(empty())
            })(),
            "uninstall_code" => (|| {
                let a: mgmt::UninstallCodeArgs = args(arg)?;
                self.check_controller(a.canister_id, caller)?;
                self.uninstall(a.canister_id);
                Ok(empty())
            })(),
            "update_settings" => (|| {
                let a: mgmt::UpdateSettingsArgs = args(arg)?;
                self.check_controller(a.canister_id, caller)?;
                self.apply_settings(a.canister_id, a.settings)?;
                Ok(empty())
            })(),
            "start_canister" | "stop_canister" => (|| {
                let a: mgmt::CanisterIdRecord = args(arg)?;
                self.check_controller(a.canister_id, caller)?;
                let status = if method == "start_canister" {
                    CanisterStatus::Running
                } else {
                    CanisterStatus::Stopped
                };
                self.canisters
                    .get_mut(&a.canister_id)
                    .expect("checked")
                    .status = status;
                Ok(empty())
            })(),
            "canister_status" => (|| {
                let a: mgmt::CanisterIdRecord = args(arg)?;
                self.check_controller(a.canister_id, caller)?;
                Ok(encode(self.canister_status_record(a.canister_id)))
            })(),
            "delete_canister" => (|| {
                let a: mgmt::CanisterIdRecord = args(arg)?;
                self.check_controller(a.canister_id, caller)?;
                if self.canisters[&a.canister_id].status != CanisterStatus::Stopped {
                    return Err(reject(
                        reject_code::CANISTER_ERROR,
                        format!(
                            "canister {} must be stopped before it is deleted",
                            a.canister_id
                        ),
                    ));
                }
                if self
                    .callbacks
                    .values()
                    .any(|cb| cb.canister == a.canister_id)
                {
                    return Err(reject(
                        reject_code::CANISTER_ERROR,
                        format!(
                            "canister {} has calls in flight: it must be stopped before it is deleted",
                            a.canister_id
                        ),
                    ));
                }
                self.canisters.remove(&a.canister_id);
                Ok(empty())
            })(),
            "http_request" if !from_ingress => {
                match self.start_outcall(caller, arg, cycles, origin, ingress) {
                    Ok(()) => return None,
                    Err(e) => Err(e),
                }
            }
            other if from_ingress || other == "http_request" => Err(reject(
                reject_code::CANISTER_REJECT,
                format!("the management canister's {other} cannot be called by ingress"),
            )),
            other => Err(reject(
                reject_code::CANISTER_REJECT,
                format!("management canister method '{other}' is not implemented by localnet"),
            )),
        };
        // Cycles attached to anything but canister creation and outcalls come back.
        let refund = match (method, &result) {
            ("create_canister", Ok(_)) => 0,
            _ => cycles,
        };
        Some((result, refund))
    }

    /// `create_canister` from a canister: the attached cycles pay the fee and fund the canister.
    fn create_by_canister(
        &mut self,
        caller: Principal,
        arg: &[u8],
        cycles: u128,
    ) -> Result<Vec<u8>, Reject> {
        let a: mgmt::CreateCanisterArgs = args(arg)?;
        if cycles < cost::CREATE_CANISTER_FEE {
            return Err(reject(
                reject_code::CANISTER_REJECT,
                format!(
                    "create_canister needs {} cycles attached, got {cycles}",
                    cost::CREATE_CANISTER_FEE
                ),
            ));
        }
        let id = self.new_canister(caller, a.settings, None)?;
        self.canisters.get_mut(&id).expect("just created").cycles =
            cycles - cost::CREATE_CANISTER_FEE;
        Ok(encode(mgmt::CanisterIdRecord { canister_id: id }))
    }

    /// `provisional_create_canister_with_cycles`: a test network's way to make a canister with
    /// cycles from nowhere, at the id asked for if it is free.
    fn provisional_create(&mut self, caller: Principal, arg: &[u8]) -> Result<Vec<u8>, Reject> {
        let a: mgmt::ProvisionalCreateCanisterWithCyclesArgs = args(arg)?;
        let amount = match a.amount {
            None => PROVISIONAL_DEFAULT_CYCLES,
            Some(n) => u128::try_from(n.0)
                .map_err(|_| reject(reject_code::CANISTER_REJECT, "the amount exceeds 2^128"))?,
        };
        let id = self.new_canister(caller, a.settings, a.specified_id)?;
        self.canisters.get_mut(&id).expect("just created").cycles = amount;
        Ok(encode(mgmt::CanisterIdRecord { canister_id: id }))
    }

    /// A new empty canister with `settings` (controllers default to the creator).
    fn new_canister(
        &mut self,
        creator: Principal,
        settings: Option<mgmt::CanisterSettings>,
        specified_id: Option<Principal>,
    ) -> Result<Principal, Reject> {
        let mut settings = settings.unwrap_or_default();
        let controllers = settings.controllers.take().unwrap_or_else(|| vec![creator]);
        check_controllers(&controllers)?;
        let id = match specified_id {
            // A canister id is opaque (its last byte 0x01) and never the management canister's.
            Some(id) if id.as_slice().last() != Some(&1) || id.as_slice().len() < 2 => {
                return Err(reject(
                    reject_code::CANISTER_REJECT,
                    format!("{id} is not a canister id"),
                ))
            }
            Some(id) if self.canisters.contains_key(&id) => {
                return Err(reject(
                    reject_code::CANISTER_REJECT,
                    format!("canister {id} already exists"),
                ))
            }
            Some(id) => {
                self.insert_canister(id, controllers);
                id
            }
            None => {
                let id = self.create_canister(creator);
                self.canisters
                    .get_mut(&id)
                    .expect("just created")
                    .controllers = controllers;
                id
            }
        };
        self.canisters.get_mut(&id).expect("just created").settings = settings;
        Ok(id)
    }

    pub(crate) fn insert_canister(&mut self, id: Principal, controllers: Vec<Principal>) {
        self.canisters.insert(
            id,
            CanisterSlot {
                controllers,
                status: CanisterStatus::Running,
                code: None,
                cycles: cost::INITIAL_CYCLES,
                settings: Default::default(),
                chunks: BTreeMap::new(),
                version: 0,
            },
        );
    }

    fn install_mode(
        &mut self,
        id: Principal,
        mode: mgmt::CanisterInstallMode,
        wasm: &[u8],
        arg: Vec<u8>,
        caller: Principal,
    ) -> Result<(), Reject> {
        match mode {
            mgmt::CanisterInstallMode::Install => self.install_canister(id, wasm, arg, caller),
            mgmt::CanisterInstallMode::Reinstall => self.reinstall_canister(id, wasm, arg, caller),
            mgmt::CanisterInstallMode::Upgrade(flags) => {
                if flags
                    .as_ref()
                    .is_some_and(|f| f.skip_pre_upgrade == Some(true))
                {
                    return Err(reject(
                        reject_code::CANISTER_REJECT,
                        "localnet does not model upgrades that skip pre_upgrade",
                    ));
                }
                if flags.as_ref().is_some_and(|f| {
                    f.wasm_memory_persistence == Some(mgmt::WasmMemoryPersistence::Keep)
                }) {
                    return Err(reject(
                        reject_code::CANISTER_REJECT,
                        "localnet does not model upgrades that keep the wasm heap (enhanced orthogonal persistence)",
                    ));
                }
                self.upgrade_canister(id, wasm, arg, caller)
            }
        }
        .map(|_| ())
    }

    fn add_cycles(&mut self, id: Principal, amount: u128) {
        let slot = self.canisters.get_mut(&id).expect("checked");
        match slot.code.as_mut() {
            Some(code) => code.ctx_mut().cycles = code.ctx().cycles.saturating_add(amount),
            None => slot.cycles = slot.cycles.saturating_add(amount),
        }
    }

    /// Removes the code and its state; the canister keeps its cycles and controllers, and calls it
    /// made are no longer answered to it (their callbacks belong to the old code).
    pub(crate) fn uninstall(&mut self, id: Principal) {
        let slot = self.canisters.get_mut(&id).expect("checked");
        if let Some(code) = slot.code.take() {
            slot.cycles = code.ctx().cycles;
            slot.version = code.ctx().version + 1;
        }
        slot.chunks.clear();
    }

    fn apply_settings(&mut self, id: Principal, new: mgmt::CanisterSettings) -> Result<(), Reject> {
        if let Some(controllers) = new.controllers.clone() {
            check_controllers(&controllers)?;
        }
        let slot = self.canisters.get_mut(&id).expect("checked");
        let kept = &mut slot.settings;
        macro_rules! merge {
            ($($field:ident),*) => { $( if new.$field.is_some() { kept.$field = new.$field.clone(); } )* };
        }
        merge!(
            compute_allocation,
            memory_allocation,
            freezing_threshold,
            reserved_cycles_limit,
            minimum_incoming_canister_call_cycles,
            log_visibility,
            log_memory_limit,
            snapshot_visibility,
            status_visibility,
            wasm_memory_limit,
            wasm_memory_threshold,
            environment_variables
        );
        if let Some(controllers) = new.controllers {
            if let Some(code) = slot.code.as_mut() {
                code.ctx_mut().controllers = controllers.clone();
            }
            slot.controllers = controllers;
        }
        Ok(())
    }

    pub(crate) fn canister_status_record(&self, id: Principal) -> mgmt::CanisterStatusResult {
        let slot = &self.canisters[&id];
        let zero = || Nat::from(0u8);
        let set = &slot.settings;
        let or_zero = |n: &Option<Nat>| n.clone().unwrap_or_else(zero);
        let stable = self.stable_memory_size(id) as u64;
        let heap = slot
            .code
            .as_ref()
            .and_then(|c| c.ctx().memory.map(|m| m.data_size(&c.store) as u64))
            .unwrap_or(0);
        mgmt::CanisterStatusResult {
            status: match slot.status {
                CanisterStatus::Running => mgmt::CanisterStatusType::Running,
                CanisterStatus::Stopped => mgmt::CanisterStatusType::Stopped,
            },
            ready_for_migration: false,
            version: slot.code.as_ref().map_or(slot.version, |c| c.ctx().version),
            settings: mgmt::DefiniteCanisterSettings {
                controllers: slot.controllers.clone(),
                compute_allocation: or_zero(&set.compute_allocation),
                memory_allocation: or_zero(&set.memory_allocation),
                freezing_threshold: set
                    .freezing_threshold
                    .clone()
                    .unwrap_or_else(|| Nat::from(2_592_000u64)),
                reserved_cycles_limit: set
                    .reserved_cycles_limit
                    .clone()
                    .unwrap_or_else(|| Nat::from(5_000_000_000_000u64)),
                minimum_incoming_canister_call_cycles: or_zero(
                    &set.minimum_incoming_canister_call_cycles,
                ),
                log_visibility: set.log_visibility.clone().unwrap_or_default(),
                log_memory_limit: or_zero(&set.log_memory_limit),
                snapshot_visibility: set.snapshot_visibility.clone().unwrap_or_default(),
                status_visibility: set.status_visibility.clone().unwrap_or_default(),
                wasm_memory_limit: or_zero(&set.wasm_memory_limit),
                wasm_memory_threshold: or_zero(&set.wasm_memory_threshold),
                environment_variables: set.environment_variables.clone().unwrap_or_default(),
            },
            module_hash: self.module_hash(id).map(|h| h.to_vec()),
            memory_size: Nat::from(heap + stable),
            memory_metrics: mgmt::MemoryMetrics {
                wasm_memory_size: Nat::from(heap),
                stable_memory_size: Nat::from(stable),
                global_memory_size: zero(),
                wasm_binary_size: zero(),
                custom_sections_size: zero(),
                canister_history_size: zero(),
                wasm_chunk_store_size: Nat::from(
                    slot.chunks.values().map(|c| c.len() as u64).sum::<u64>(),
                ),
                snapshots_size: zero(),
                log_memory_store_size: zero(),
            },
            cycles: Nat::from(self.cycles_balance(id)),
            reserved_cycles: zero(),
            idle_cycles_burned_per_day: zero(),
            query_stats: mgmt::QueryStats {
                num_calls_total: zero(),
                num_instructions_total: zero(),
                request_payload_bytes_total: zero(),
                response_payload_bytes_total: zero(),
            },
        }
    }
}

/// The IC allows at most 10 controllers.
fn check_controllers(controllers: &[Principal]) -> Result<(), Reject> {
    if controllers.len() > 10 {
        return Err(reject(
            reject_code::CANISTER_REJECT,
            "a canister has at most 10 controllers",
        ));
    }
    Ok(())
}
