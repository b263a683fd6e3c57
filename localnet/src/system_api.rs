//! The `ic0` System API as ic-cdk 0.20, ic-cdk-timers and ic-stable-structures use it, over the state
//! of one execution. Calls that the current entry point may not make trap, as on the IC.

mod calls;
mod cycles;
mod environment;
mod message;
mod stable;
mod state;

pub use state::{Ctx, DataCertificate, EntryKind, Exec, NewCall, Response};

use crate::cost;
use wasmtime::{Caller, Linker, Memory};

pub const WASM_PAGE: u64 = 65_536;
/// 500 GiB of stable memory, in wasm pages.
pub const MAX_STABLE_PAGES: u64 = 500 * 1024 * 1024 * 1024 / WASM_PAGE;

type R<T> = wasmtime::Result<T>;

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

pub fn link(linker: &mut Linker<Ctx>) -> wasmtime::Result<()> {
    message::link(linker)?;
    cycles::link(linker)?;
    environment::link(linker)?;
    calls::link(linker)?;
    stable::link(linker)?;
    Ok(())
}
