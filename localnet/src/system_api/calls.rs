//! Outgoing calls as an execution builds and performs them, and what calls and outcalls cost.

use super::{charge, read, require, trap, write_u128, Ctx, NewCall, R};
use crate::cost;
use candid::Principal;
use wasmtime::{Caller, Linker};

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

pub(super) fn link(linker: &mut Linker<Ctx>) -> wasmtime::Result<()> {
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
    Ok(())
}
