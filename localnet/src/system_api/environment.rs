//! The canister itself and its surroundings: identity, status, version, controllers, certified data
//! and certificates, time, the global timer, the performance counter, debug output and traps.

use super::{charge, copy_out, read, require, trap, Ctx, EntryKind, R};
use candid::Principal;
use wasmtime::{Caller, Linker};

fn instructions_used(c: &Caller<'_, Ctx>) -> wasmtime::Result<u64> {
    Ok((c.data().fuel_limit - c.get_fuel()?).saturating_sub(crate::cost::FUNCTION_ENTRY_FUEL))
}

pub(super) fn link(linker: &mut Linker<Ctx>) -> wasmtime::Result<()> {
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
            let used = instructions_used(&c)?;
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
