//! The `ic0` System API as ic-cdk 0.20, ic-cdk-timers and ic-stable-structures use it, over the state
//! of one execution. Calls that the current entry point may not make trap, as on the IC.

use crate::cost;
use candid::Principal;
use wasmtime::{Caller, Linker, Memory};

pub const WASM_PAGE: u64 = 65_536;
/// 500 GiB of stable memory, in wasm pages.
pub const MAX_STABLE_PAGES: u64 = 500 * 1024 * 1024 * 1024 / WASM_PAGE;

/// What kind of entry point is executing: decides which System API calls are allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    Init,
    PreUpgrade,
    PostUpgrade,
    Update,
    Query,
    InspectMessage,
    ReplyCallback,
    RejectCallback,
    Cleanup,
    GlobalTimer,
}

impl EntryKind {
    fn has_arg(self) -> bool {
        matches!(
            self,
            Self::Init
                | Self::PostUpgrade
                | Self::Update
                | Self::Query
                | Self::InspectMessage
                | Self::ReplyCallback
        )
    }
    fn has_caller(self) -> bool {
        !matches!(self, Self::Cleanup | Self::GlobalTimer)
    }
    fn can_call(self) -> bool {
        matches!(
            self,
            Self::Update | Self::ReplyCallback | Self::RejectCallback | Self::GlobalTimer
        )
    }
}

/// An inter-canister call made by an execution.
#[derive(Clone, Debug)]
pub struct NewCall {
    pub callee: Principal,
    pub method: String,
    pub arg: Vec<u8>,
    pub reply: (u32, u32),
    pub reject: (u32, u32),
    pub cleanup: Option<(u32, u32)>,
    pub timeout_seconds: Option<u32>,
    pub cycles: u128,
}

/// The response an execution gave to its call context.
pub type Response = Result<Vec<u8>, (u32, String)>;

/// What `ic0.data_certificate_*` returns in a query: a certificate made when the canister first asks
/// for it (making one costs a BLS signature, and most queries never ask).
pub enum DataCertificate {
    Made(Vec<u8>),
    Deferred(Box<dyn FnOnce() -> Vec<u8> + Send>),
}

impl DataCertificate {
    pub fn bytes(&mut self) -> &[u8] {
        if let Self::Deferred(_) = self {
            let Self::Deferred(make) = std::mem::replace(self, Self::Made(Vec::new())) else {
                unreachable!("matched above")
            };
            *self = Self::Made(make());
        }
        match self {
            Self::Made(bytes) => bytes,
            Self::Deferred(_) => unreachable!("made above"),
        }
    }
}

impl std::fmt::Debug for DataCertificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Made(bytes) => write!(f, "DataCertificate({} bytes)", bytes.len()),
            Self::Deferred(_) => write!(f, "DataCertificate(deferred)"),
        }
    }
}

/// The state of one execution, visible to the System API.
#[derive(Debug)]
pub struct Exec {
    pub kind: EntryKind,
    pub method: String,
    pub arg: Vec<u8>,
    pub caller: Principal,
    pub reject: Option<(u32, String)>,
    pub time: u64,
    /// The call context can still be answered.
    pub can_respond: bool,
    pub reply_buffer: Vec<u8>,
    pub response: Option<Response>,
    pub building: Option<NewCall>,
    pub new_calls: Vec<NewCall>,
    pub accepted: bool,
    pub certificate: Option<DataCertificate>,
    pub deadline: u64,
    pub cycles_available: u128,
    pub cycles_accepted: u128,
    pub cycles_refunded: u128,
}

impl Exec {
    pub fn new(kind: EntryKind, time: u64) -> Self {
        Self {
            kind,
            method: String::new(),
            arg: Vec::new(),
            caller: Principal::anonymous(),
            reject: None,
            time,
            can_respond: false,
            reply_buffer: Vec::new(),
            response: None,
            building: None,
            new_calls: Vec::new(),
            accepted: false,
            certificate: None,
            deadline: 0,
            cycles_available: 0,
            cycles_accepted: 0,
            cycles_refunded: 0,
        }
    }
}

/// Everything a canister's store carries: its persistent system state and the current execution.
pub struct Ctx {
    pub id: Principal,
    pub controllers: Vec<Principal>,
    pub memory: Option<Memory>,
    pub stable: Vec<u8>,
    /// Undo records of stable writes in this execution: (offset, previous bytes).
    pub stable_journal: Vec<(u64, Vec<u8>)>,
    pub certified_data: Vec<u8>,
    pub global_timer: u64,
    pub cycles: u128,
    pub version: u64,
    pub exec: Exec,
    /// Instructions charged by System API calls in this execution.
    pub api_instructions: u64,
    /// The fuel the execution started with (its instruction limit).
    pub fuel_limit: u64,
    pub log: Vec<String>,
    pub print_log: bool,
}

impl Ctx {
    pub fn new(id: Principal, controllers: Vec<Principal>) -> Self {
        Self {
            id,
            controllers,
            memory: None,
            stable: Vec::new(),
            stable_journal: Vec::new(),
            certified_data: Vec::new(),
            global_timer: 0,
            cycles: cost::INITIAL_CYCLES,
            version: 0,
            exec: Exec::new(EntryKind::Init, 0),
            api_instructions: 0,
            fuel_limit: 0,
            log: Vec::new(),
            print_log: std::env::var_os("LOCALNET_LOG").is_some(),
        }
    }
}

type R<T> = wasmtime::Result<T>;

/// The parameters of `ic0.cost_http_request_v2` (Candid, as ic-cdk-management-canister encodes them).
#[derive(candid::CandidType, serde::Deserialize)]
struct CostHttpRequestV2Args {
    request_bytes: u64,
    http_roundtrip_time_ms: u64,
    raw_response_bytes: u64,
    transformed_response_bytes: u64,
    transform_instructions: u64,
    outcall_type: Option<HttpOutcallType>,
}

#[derive(candid::CandidType, serde::Deserialize)]
enum HttpOutcallType {
    #[serde(rename = "fully_replicated")]
    FullyReplicated(candid::Reserved),
    #[serde(rename = "non_replicated")]
    NonReplicated(candid::Reserved),
    #[serde(rename = "flexible")]
    Flexible(candid::Reserved),
}

fn trap<T>(message: impl Into<String>) -> R<T> {
    Err(wasmtime::Error::msg(message.into()))
}

/// Charges the System API overhead plus `bytes` as instructions.
fn charge(caller: &mut Caller<'_, Ctx>, bytes: u64) -> R<()> {
    // The `call` instruction into an import is 4 in the operator table; the IC charges 5.
    let cost = cost::SYSTEM_API_OVERHEAD + 1 + bytes;
    caller.data_mut().api_instructions += cost;
    let fuel = caller.get_fuel()?;
    if fuel < cost {
        return trap("instruction limit exceeded");
    }
    caller.set_fuel(fuel - cost)?;
    Ok(())
}

fn memory(caller: &Caller<'_, Ctx>) -> R<Memory> {
    caller
        .data()
        .memory
        .ok_or_else(|| wasmtime::Error::msg("the canister has no memory"))
}

fn read(caller: &mut Caller<'_, Ctx>, src: u32, size: u32) -> R<Vec<u8>> {
    charge(caller, size as u64)?;
    let mem = memory(caller)?;
    let data = mem.data(&caller);
    let (start, end) = (src as usize, src as usize + size as usize);
    match data.get(start..end) {
        Some(bytes) => Ok(bytes.to_vec()),
        None => trap(format!("memory access out of bounds: {start}..{end}")),
    }
}

fn write(caller: &mut Caller<'_, Ctx>, dst: u32, bytes: &[u8]) -> R<()> {
    charge(caller, bytes.len() as u64)?;
    let mem = memory(caller)?;
    let data = mem.data_mut(caller);
    let (start, end) = (dst as usize, dst as usize + bytes.len());
    match data.get_mut(start..end) {
        Some(target) => {
            target.copy_from_slice(bytes);
            Ok(())
        }
        None => trap(format!("memory access out of bounds: {start}..{end}")),
    }
}

/// `<name>_copy(dst, offset, size)`: copies `size` bytes of `source` from `offset` to `dst`.
fn copy_out(
    caller: &mut Caller<'_, Ctx>,
    source: &[u8],
    dst: u32,
    offset: u32,
    size: u32,
) -> R<()> {
    let (start, end) = (offset as usize, offset as usize + size as usize);
    let Some(part) = source.get(start..end) else {
        return trap(format!(
            "copy out of bounds: {start}..{end} of {} bytes",
            source.len()
        ));
    };
    let part = part.to_vec();
    write(caller, dst, &part)
}

fn write_u128(caller: &mut Caller<'_, Ctx>, dst: u32, value: u128) -> R<()> {
    write(caller, dst, &value.to_le_bytes())
}

fn require(caller: &Caller<'_, Ctx>, ok: bool, api: &str) -> R<()> {
    if ok {
        Ok(())
    } else {
        trap(format!(
            "ic0.{api} cannot be called from {:?}",
            caller.data().exec.kind
        ))
    }
}

fn respond(caller: &mut Caller<'_, Ctx>, response: Response, api: &str) -> R<()> {
    let exec = &caller.data().exec;
    let allowed = matches!(
        exec.kind,
        EntryKind::Update | EntryKind::Query | EntryKind::ReplyCallback | EntryKind::RejectCallback
    );
    require(caller, allowed, api)?;
    if !caller.data().exec.can_respond || caller.data().exec.response.is_some() {
        return trap(format!("ic0.{api}: the call has already been answered"));
    }
    let exec = &mut caller.data_mut().exec;
    exec.response = Some(response);
    exec.can_respond = false;
    Ok(())
}

fn stable_bounds(ctx: &Ctx, offset: u64, size: u64) -> R<std::ops::Range<usize>> {
    let end = offset
        .checked_add(size)
        .filter(|e| *e <= ctx.stable.len() as u64);
    match end {
        Some(end) => Ok(offset as usize..end as usize),
        None => trap(format!(
            "stable memory access out of bounds: {offset}+{size} > {}",
            ctx.stable.len()
        )),
    }
}

pub fn link(linker: &mut Linker<Ctx>) -> wasmtime::Result<()> {
    // --- message arguments, caller, rejects
    linker.func_wrap(
        "ic0",
        "msg_arg_data_size",
        |mut c: Caller<'_, Ctx>| -> R<i32> {
            charge(&mut c, 0)?;
            require(&c, c.data().exec.kind.has_arg(), "msg_arg_data_size")?;
            Ok(c.data().exec.arg.len() as i32)
        },
    )?;
    linker.func_wrap(
        "ic0",
        "msg_arg_data_copy",
        |mut c: Caller<'_, Ctx>, dst: u32, offset: u32, size: u32| -> R<()> {
            require(&c, c.data().exec.kind.has_arg(), "msg_arg_data_copy")?;
            let arg = std::mem::take(&mut c.data_mut().exec.arg);
            let result = copy_out(&mut c, &arg, dst, offset, size);
            c.data_mut().exec.arg = arg;
            result
        },
    )?;
    linker.func_wrap(
        "ic0",
        "msg_caller_size",
        |mut c: Caller<'_, Ctx>| -> R<i32> {
            charge(&mut c, 0)?;
            require(&c, c.data().exec.kind.has_caller(), "msg_caller_size")?;
            Ok(c.data().exec.caller.as_slice().len() as i32)
        },
    )?;
    linker.func_wrap(
        "ic0",
        "msg_caller_copy",
        |mut c: Caller<'_, Ctx>, dst: u32, offset: u32, size: u32| -> R<()> {
            require(&c, c.data().exec.kind.has_caller(), "msg_caller_copy")?;
            let caller = c.data().exec.caller.as_slice().to_vec();
            copy_out(&mut c, &caller, dst, offset, size)
        },
    )?;
    linker.func_wrap(
        "ic0",
        "msg_reject_code",
        |mut c: Caller<'_, Ctx>| -> R<i32> {
            charge(&mut c, 0)?;
            Ok(c.data()
                .exec
                .reject
                .as_ref()
                .map_or(0, |(code, _)| *code as i32))
        },
    )?;
    linker.func_wrap(
        "ic0",
        "msg_reject_msg_size",
        |mut c: Caller<'_, Ctx>| -> R<i32> {
            charge(&mut c, 0)?;
            match &c.data().exec.reject {
                Some((_, m)) => Ok(m.len() as i32),
                None => trap("ic0.msg_reject_msg_size: not in a reject callback"),
            }
        },
    )?;
    linker.func_wrap(
        "ic0",
        "msg_reject_msg_copy",
        |mut c: Caller<'_, Ctx>, dst: u32, offset: u32, size: u32| -> R<()> {
            let Some((_, message)) = c.data().exec.reject.clone() else {
                return trap("ic0.msg_reject_msg_copy: not in a reject callback");
            };
            copy_out(&mut c, message.as_bytes(), dst, offset, size)
        },
    )?;
    linker.func_wrap("ic0", "msg_deadline", |mut c: Caller<'_, Ctx>| -> R<i64> {
        charge(&mut c, 0)?;
        Ok(c.data().exec.deadline as i64)
    })?;
    linker.func_wrap(
        "ic0",
        "msg_method_name_size",
        |mut c: Caller<'_, Ctx>| -> R<i32> {
            charge(&mut c, 0)?;
            Ok(c.data().exec.method.len() as i32)
        },
    )?;
    linker.func_wrap(
        "ic0",
        "msg_method_name_copy",
        |mut c: Caller<'_, Ctx>, dst: u32, offset: u32, size: u32| -> R<()> {
            let name = c.data().exec.method.clone();
            copy_out(&mut c, name.as_bytes(), dst, offset, size)
        },
    )?;
    linker.func_wrap("ic0", "accept_message", |mut c: Caller<'_, Ctx>| -> R<()> {
        charge(&mut c, 0)?;
        require(
            &c,
            c.data().exec.kind == EntryKind::InspectMessage,
            "accept_message",
        )?;
        if c.data().exec.accepted {
            return trap("ic0.accept_message called twice");
        }
        c.data_mut().exec.accepted = true;
        Ok(())
    })?;

    // --- replies
    linker.func_wrap(
        "ic0",
        "msg_reply_data_append",
        |mut c: Caller<'_, Ctx>, src: u32, size: u32| -> R<()> {
            let bytes = read(&mut c, src, size)?;
            if !c.data().exec.can_respond {
                return trap("ic0.msg_reply_data_append: the call has already been answered");
            }
            c.data_mut().exec.reply_buffer.extend_from_slice(&bytes);
            Ok(())
        },
    )?;
    linker.func_wrap("ic0", "msg_reply", |mut c: Caller<'_, Ctx>| -> R<()> {
        charge(&mut c, 0)?;
        let data = std::mem::take(&mut c.data_mut().exec.reply_buffer);
        respond(&mut c, Ok(data), "msg_reply")
    })?;
    linker.func_wrap(
        "ic0",
        "msg_reject",
        |mut c: Caller<'_, Ctx>, src: u32, size: u32| -> R<()> {
            let bytes = read(&mut c, src, size)?;
            let message = String::from_utf8_lossy(&bytes).into_owned();
            respond(&mut c, Err((4, message)), "msg_reject")
        },
    )?;

    // --- cycles
    linker.func_wrap(
        "ic0",
        "msg_cycles_available128",
        |mut c: Caller<'_, Ctx>, dst: u32| -> R<()> {
            let e = &c.data().exec;
            let available = e.cycles_available - e.cycles_accepted;
            write_u128(&mut c, dst, available)
        },
    )?;
    linker.func_wrap(
        "ic0",
        "msg_cycles_refunded128",
        |mut c: Caller<'_, Ctx>, dst: u32| -> R<()> {
            let refunded = c.data().exec.cycles_refunded;
            write_u128(&mut c, dst, refunded)
        },
    )?;
    linker.func_wrap(
        "ic0",
        "msg_cycles_accept128",
        |mut c: Caller<'_, Ctx>, high: u64, low: u64, dst: u32| -> R<()> {
            let max = ((high as u128) << 64) | low as u128;
            let e = &mut c.data_mut().exec;
            let take = max.min(e.cycles_available - e.cycles_accepted);
            e.cycles_accepted += take;
            c.data_mut().cycles = c.data().cycles.saturating_add(take);
            write_u128(&mut c, dst, take)
        },
    )?;
    linker.func_wrap(
        "ic0",
        "canister_cycle_balance128",
        |mut c: Caller<'_, Ctx>, dst: u32| -> R<()> {
            let balance = c.data().cycles;
            write_u128(&mut c, dst, balance)
        },
    )?;
    linker.func_wrap(
        "ic0",
        "canister_liquid_cycle_balance128",
        |mut c: Caller<'_, Ctx>, dst: u32| -> R<()> {
            let balance = c.data().cycles;
            write_u128(&mut c, dst, balance)
        },
    )?;
    linker.func_wrap(
        "ic0",
        "cycles_burn128",
        |mut c: Caller<'_, Ctx>, high: u64, low: u64, dst: u32| -> R<()> {
            let amount = ((high as u128) << 64) | low as u128;
            let burned = amount.min(c.data().cycles);
            c.data_mut().cycles -= burned;
            write_u128(&mut c, dst, burned)
        },
    )?;

    // --- the canister itself
    linker.func_wrap(
        "ic0",
        "canister_self_size",
        |mut c: Caller<'_, Ctx>| -> R<i32> {
            charge(&mut c, 0)?;
            Ok(c.data().id.as_slice().len() as i32)
        },
    )?;
    linker.func_wrap(
        "ic0",
        "canister_self_copy",
        |mut c: Caller<'_, Ctx>, dst: u32, offset: u32, size: u32| -> R<()> {
            let id = c.data().id.as_slice().to_vec();
            copy_out(&mut c, &id, dst, offset, size)
        },
    )?;
    linker.func_wrap(
        "ic0",
        "canister_status",
        |mut c: Caller<'_, Ctx>| -> R<i32> {
            charge(&mut c, 0)?;
            Ok(1)
        },
    )?;
    linker.func_wrap(
        "ic0",
        "canister_version",
        |mut c: Caller<'_, Ctx>| -> R<i64> {
            charge(&mut c, 0)?;
            Ok(c.data().version as i64)
        },
    )?;
    linker.func_wrap(
        "ic0",
        "is_controller",
        |mut c: Caller<'_, Ctx>, src: u32, size: u32| -> R<i32> {
            let bytes = read(&mut c, src, size)?;
            let principal = Principal::try_from_slice(&bytes)
                .map_err(|e| wasmtime::Error::msg(format!("ic0.is_controller: {e}")))?;
            Ok(c.data().controllers.contains(&principal) as i32)
        },
    )?;
    linker.func_wrap(
        "ic0",
        "in_replicated_execution",
        |mut c: Caller<'_, Ctx>| -> R<i32> {
            charge(&mut c, 0)?;
            Ok((c.data().exec.kind != EntryKind::Query) as i32)
        },
    )?;

    // --- calls
    linker.func_wrap(
        "ic0",
        "call_new",
        |mut c: Caller<'_, Ctx>,
         callee_src: u32,
         callee_size: u32,
         name_src: u32,
         name_size: u32,
         reply_fun: u32,
         reply_env: u32,
         reject_fun: u32,
         reject_env: u32|
         -> R<()> {
            require(&c, c.data().exec.kind.can_call(), "call_new")?;
            if c.data().exec.building.is_some() {
                return trap("ic0.call_new: a call is already being built");
            }
            let callee = read(&mut c, callee_src, callee_size)?;
            let callee = Principal::try_from_slice(&callee)
                .map_err(|e| wasmtime::Error::msg(format!("ic0.call_new: callee: {e}")))?;
            let name = read(&mut c, name_src, name_size)?;
            let method = String::from_utf8(name)
                .map_err(|_| wasmtime::Error::msg("ic0.call_new: method name is not UTF-8"))?;
            c.data_mut().exec.building = Some(NewCall {
                callee,
                method,
                arg: Vec::new(),
                reply: (reply_fun, reply_env),
                reject: (reject_fun, reject_env),
                cleanup: None,
                timeout_seconds: None,
                cycles: 0,
            });
            Ok(())
        },
    )?;
    fn building<'a>(c: &'a mut Caller<'_, Ctx>, api: &str) -> R<&'a mut NewCall> {
        match c.data_mut().exec.building.as_mut() {
            Some(call) => Ok(call),
            None => trap(format!("ic0.{api}: no call is being built")),
        }
    }
    linker.func_wrap(
        "ic0",
        "call_on_cleanup",
        |mut c: Caller<'_, Ctx>, fun: u32, env: u32| -> R<()> {
            charge(&mut c, 0)?;
            let call = building(&mut c, "call_on_cleanup")?;
            if call.cleanup.is_some() {
                return trap("ic0.call_on_cleanup called twice");
            }
            call.cleanup = Some((fun, env));
            Ok(())
        },
    )?;
    linker.func_wrap(
        "ic0",
        "call_data_append",
        |mut c: Caller<'_, Ctx>, src: u32, size: u32| -> R<()> {
            let bytes = read(&mut c, src, size)?;
            building(&mut c, "call_data_append")?
                .arg
                .extend_from_slice(&bytes);
            Ok(())
        },
    )?;
    linker.func_wrap(
        "ic0",
        "call_with_best_effort_response",
        |mut c: Caller<'_, Ctx>, timeout: u32| -> R<()> {
            charge(&mut c, 0)?;
            let call = building(&mut c, "call_with_best_effort_response")?;
            if call.timeout_seconds.is_some() {
                return trap("ic0.call_with_best_effort_response called twice");
            }
            call.timeout_seconds = Some(timeout.clamp(1, 300));
            Ok(())
        },
    )?;
    linker.func_wrap(
        "ic0",
        "call_cycles_add128",
        |mut c: Caller<'_, Ctx>, high: u64, low: u64| -> R<()> {
            charge(&mut c, 0)?;
            let amount = ((high as u128) << 64) | low as u128;
            if c.data().cycles < amount {
                return trap("ic0.call_cycles_add128: not enough cycles");
            }
            c.data_mut().cycles -= amount;
            building(&mut c, "call_cycles_add128")?.cycles += amount;
            Ok(())
        },
    )?;
    linker.func_wrap("ic0", "call_perform", |mut c: Caller<'_, Ctx>| -> R<i32> {
        charge(&mut c, cost::CALL_PERFORM_OVERHEAD)?;
        let Some(call) = c.data_mut().exec.building.take() else {
            return trap("ic0.call_perform: no call is being built");
        };
        let fee = cost::call_cost((call.method.len() + call.arg.len()) as u64);
        if c.data().cycles < fee {
            // The call is not made; its cycles come back.
            c.data_mut().cycles = c.data().cycles.saturating_add(call.cycles);
            return Ok(2);
        }
        c.data_mut().cycles -= fee;
        c.data_mut().exec.new_calls.push(call);
        Ok(0)
    })?;
    linker.func_wrap(
        "ic0",
        "cost_call",
        |mut c: Caller<'_, Ctx>, method_size: u64, payload_size: u64, dst: u32| -> R<()> {
            write_u128(&mut c, dst, cost::call_cost(method_size + payload_size))
        },
    )?;
    linker.func_wrap(
        "ic0",
        "cost_http_request",
        |mut c: Caller<'_, Ctx>, request_size: u64, max_response: u64, dst: u32| -> R<()> {
            write_u128(
                &mut c,
                dst,
                cost::http_request_cost(request_size, max_response),
            )
        },
    )?;
    linker.func_wrap(
        "ic0",
        "cost_http_request_v2",
        |mut c: Caller<'_, Ctx>, src: u32, size: u32, dst: u32| -> R<()> {
            let bytes = read(&mut c, src, size)?;
            let args: CostHttpRequestV2Args = candid::decode_one(&bytes).map_err(|e| {
                wasmtime::Error::msg(format!("ic0.cost_http_request_v2: bad parameters: {e}"))
            })?;
            let usage = cost::HttpUsage {
                request_bytes: args.request_bytes,
                roundtrip_ms: args.http_roundtrip_time_ms,
                raw_response_bytes: args.raw_response_bytes,
                transformed_response_bytes: args.transformed_response_bytes,
                transform_instructions: args.transform_instructions,
                replicated: !matches!(args.outcall_type, Some(HttpOutcallType::NonReplicated(_))),
            };
            write_u128(&mut c, dst, cost::http_request_cost_v2(&usage))
        },
    )?;
    linker.func_wrap(
        "ic0",
        "cost_create_canister",
        |mut c: Caller<'_, Ctx>, dst: u32| -> R<()> {
            write_u128(&mut c, dst, cost::CREATE_CANISTER_FEE)
        },
    )?;

    // --- stable memory (64-bit)
    linker.func_wrap("ic0", "stable64_size", |mut c: Caller<'_, Ctx>| -> R<i64> {
        charge(&mut c, 0)?;
        Ok((c.data().stable.len() as u64 / WASM_PAGE) as i64)
    })?;
    linker.func_wrap(
        "ic0",
        "stable64_grow",
        |mut c: Caller<'_, Ctx>, new_pages: u64| -> R<i64> {
            charge(&mut c, cost::STABLE_GROW_OVERHEAD)?;
            let old = c.data().stable.len() as u64 / WASM_PAGE;
            match old.checked_add(new_pages) {
                Some(total) if total <= MAX_STABLE_PAGES => {
                    c.data_mut().stable.resize((total * WASM_PAGE) as usize, 0);
                    Ok(old as i64)
                }
                _ => Ok(-1),
            }
        },
    )?;
    linker.func_wrap(
        "ic0",
        "stable64_write",
        |mut c: Caller<'_, Ctx>, offset: u64, src: u64, size: u64| -> R<()> {
            let bytes = read(&mut c, src as u32, size as u32)?;
            let range = stable_bounds(c.data(), offset, size)?;
            let ctx = c.data_mut();
            let previous = ctx.stable[range.clone()].to_vec();
            ctx.stable_journal.push((offset, previous));
            ctx.stable[range].copy_from_slice(&bytes);
            Ok(())
        },
    )?;
    linker.func_wrap(
        "ic0",
        "stable64_read",
        |mut c: Caller<'_, Ctx>, dst: u64, offset: u64, size: u64| -> R<()> {
            let range = stable_bounds(c.data(), offset, size)?;
            let bytes = c.data().stable[range].to_vec();
            write(&mut c, dst as u32, &bytes)
        },
    )?;

    // --- certification, time, timers, counters
    linker.func_wrap(
        "ic0",
        "certified_data_set",
        |mut c: Caller<'_, Ctx>, src: u32, size: u32| -> R<()> {
            if size > 32 {
                return trap("ic0.certified_data_set: more than 32 bytes");
            }
            let bytes = read(&mut c, src, size)?;
            require(
                &c,
                !matches!(
                    c.data().exec.kind,
                    EntryKind::Query | EntryKind::InspectMessage
                ),
                "certified_data_set",
            )?;
            c.data_mut().certified_data = bytes;
            Ok(())
        },
    )?;
    linker.func_wrap(
        "ic0",
        "data_certificate_present",
        |mut c: Caller<'_, Ctx>| -> R<i32> {
            charge(&mut c, 0)?;
            Ok(c.data().exec.certificate.is_some() as i32)
        },
    )?;
    linker.func_wrap(
        "ic0",
        "data_certificate_size",
        |mut c: Caller<'_, Ctx>| -> R<i32> {
            charge(&mut c, 0)?;
            match c.data_mut().exec.certificate.as_mut() {
                Some(cert) => Ok(cert.bytes().len() as i32),
                None => trap("ic0.data_certificate_size: no certificate outside a query"),
            }
        },
    )?;
    linker.func_wrap(
        "ic0",
        "data_certificate_copy",
        |mut c: Caller<'_, Ctx>, dst: u32, offset: u32, size: u32| -> R<()> {
            let Some(cert) = c
                .data_mut()
                .exec
                .certificate
                .as_mut()
                .map(|cert| cert.bytes().to_vec())
            else {
                return trap("ic0.data_certificate_copy: no certificate outside a query");
            };
            copy_out(&mut c, &cert, dst, offset, size)
        },
    )?;
    linker.func_wrap("ic0", "time", |mut c: Caller<'_, Ctx>| -> R<i64> {
        charge(&mut c, 0)?;
        Ok(c.data().exec.time as i64)
    })?;
    linker.func_wrap(
        "ic0",
        "global_timer_set",
        |mut c: Caller<'_, Ctx>, timestamp: u64| -> R<i64> {
            charge(&mut c, 0)?;
            require(
                &c,
                !matches!(
                    c.data().exec.kind,
                    EntryKind::Query | EntryKind::InspectMessage
                ),
                "global_timer_set",
            )?;
            let previous = std::mem::replace(&mut c.data_mut().global_timer, timestamp);
            Ok(previous as i64)
        },
    )?;
    linker.func_wrap(
        "ic0",
        "performance_counter",
        |mut c: Caller<'_, Ctx>, counter: u32| -> R<i64> {
            charge(&mut c, 0)?;
            if counter > 1 {
                return trap(format!(
                    "ic0.performance_counter: unknown counter {counter}"
                ));
            }
            let used = crate::canister::instructions_used(&c)?;
            Ok(used as i64)
        },
    )?;

    // --- diagnostics
    linker.func_wrap(
        "ic0",
        "debug_print",
        |mut c: Caller<'_, Ctx>, src: u32, size: u32| -> R<()> {
            let bytes = read(&mut c, src, size)?;
            let line = String::from_utf8_lossy(&bytes).into_owned();
            if c.data().print_log {
                eprintln!("[{}] {line}", c.data().id);
            }
            c.data_mut().log.push(line);
            Ok(())
        },
    )?;
    linker.func_wrap(
        "ic0",
        "trap",
        |mut c: Caller<'_, Ctx>, src: u32, size: u32| -> R<()> {
            let bytes = read(&mut c, src, size)?;
            trap(format!(
                "Canister called `ic0.trap` with message: {}",
                String::from_utf8_lossy(&bytes)
            ))
        },
    )?;
    Ok(())
}
