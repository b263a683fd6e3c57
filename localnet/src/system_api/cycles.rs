//! Cycles: those the message carries (available, accepted, refunded) and the canister's balance.

use super::{write_u128, Ctx, R};
use wasmtime::{Caller, Linker};

pub(super) fn link(linker: &mut Linker<Ctx>) -> wasmtime::Result<()> {
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
    Ok(())
}
