//! The message being executed: its argument, caller, reject and method name, `accept_message`, and
//! the reply or reject it is answered with.

use super::{charge, copy_out, read, require, trap, Ctx, EntryKind, Response, R};
use wasmtime::{Caller, Linker};

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

pub(super) fn link(linker: &mut Linker<Ctx>) -> wasmtime::Result<()> {
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
    Ok(())
}
