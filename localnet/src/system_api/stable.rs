//! Stable memory (the 64-bit API): size, growth up to the IC's maximum, journaled writes, reads.

use super::{charge, read, trap, write, Ctx, MAX_STABLE_PAGES, R, WASM_PAGE};
use crate::cost;
use wasmtime::{Caller, Linker};

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

pub(super) fn link(linker: &mut Linker<Ctx>) -> wasmtime::Result<()> {
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
    Ok(())
}
