//! Rounds: the message queue of calls and responses between canisters, call contexts and their
//! callbacks, bounded-wait deadlines, global timers, and the answers they all lead to.

use crate::canister::{Entry, Outcome};
use crate::system_api::{EntryKind, Exec, NewCall};
use crate::{
    reject, reject_code, CanisterStatus, Fault, LocalNet, MessageId, Reject, MANAGEMENT_CANISTER,
};
use candid::Principal;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Ingress(MessageId),
    Callback(u64),
    /// Timers: nobody awaits the answer.
    System,
}

pub(crate) struct CallContext {
    canister: Principal,
    origin: Origin,
    responded: bool,
    outstanding: usize,
    deadline: u64,
    ingress: Option<MessageId>,
}

pub(crate) struct Callback {
    pub(crate) canister: Principal,
    context: u64,
    call: NewCall,
    /// The caller's module version when the call was made: callbacks do not survive an upgrade.
    version: u64,
    deadline: Option<u64>,
    /// The answer the caller will see instead of the callee's (injected expiry).
    doomed: Option<Reject>,
    /// The caller's reply or reject callback traps (injected): its effects are rolled back and its
    /// cleanup callback runs, as when the code after an `await` panics.
    trap_callback: bool,
}

pub(crate) enum Message {
    Call {
        origin: Origin,
        caller: Principal,
        callee: Principal,
        method: String,
        arg: Vec<u8>,
        cycles: u128,
        deadline: u64,
        ingress: Option<MessageId>,
    },
    Response {
        callback: u64,
        response: Result<Vec<u8>, Reject>,
        refund: u128,
        ingress: Option<MessageId>,
    },
}

/// How long [`LocalNet::await_call`] keeps ticking.
pub(crate) const MAX_ROUNDS_PER_CALL: usize = 1_000;
/// Messages executed per round at most.
const MAX_MESSAGES_PER_ROUND: usize = 100_000;
/// Time a round takes.
const ROUND_NANOS: u64 = 1_000_000;

impl LocalNet {
    /// One round: time moves on, due timers fire, expired calls are answered, queued messages run.
    pub fn tick(&mut self) {
        if !self.external_clock {
            self.time += ROUND_NANOS;
        }
        self.serve_loopback_outcalls();
        self.expire_callbacks();
        self.fire_timers();
        let mut executed = 0;
        while let Some(message) = self.queue.pop_front() {
            self.handle(message);
            executed += 1;
            if executed >= MAX_MESSAGES_PER_ROUND {
                break;
            }
        }
    }

    fn expire_callbacks(&mut self) {
        let now = self.time;
        let expired: Vec<u64> = self
            .callbacks
            .iter()
            .filter(|(_, cb)| cb.deadline.is_some_and(|d| d <= now))
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            let ingress = self
                .callbacks
                .get(&id)
                .and_then(|cb| self.contexts.get(&cb.context).and_then(|c| c.ingress));
            self.queue.push_back(Message::Response {
                callback: id,
                response: Err(reject(
                    reject_code::SYS_UNKNOWN,
                    "the call's deadline expired",
                )),
                refund: 0,
                ingress,
            });
            if let Some(cb) = self.callbacks.get_mut(&id) {
                cb.deadline = None;
            }
        }
    }

    fn fire_timers(&mut self) {
        let now = self.time;
        let due: Vec<Principal> = self
            .canisters
            .iter()
            .filter(|(_, slot)| slot.status == CanisterStatus::Running)
            .filter_map(|(id, slot)| {
                let code = slot.code.as_ref()?;
                let timer = code.ctx().global_timer;
                (timer != 0 && timer <= now && code.exports("canister_global_timer")).then_some(*id)
            })
            .collect();
        for id in due {
            let code = self.code_mut(id).expect("due canister has code");
            // The timer is deactivated before it runs; the handler may set it again.
            code.ctx_mut().global_timer = 0;
            let context = self.fresh_id();
            self.contexts.insert(
                context,
                CallContext {
                    canister: id,
                    origin: Origin::System,
                    responded: true,
                    outstanding: 0,
                    deadline: 0,
                    ingress: None,
                },
            );
            let exec = Exec::new(EntryKind::GlobalTimer, now);
            let outcome = self.run(
                id,
                &Entry::Export("canister_global_timer".into()),
                exec,
                None,
            );
            self.finish(context, outcome);
        }
    }

    fn handle(&mut self, message: Message) {
        match message {
            Message::Call {
                origin,
                caller,
                callee,
                method,
                arg,
                cycles,
                deadline,
                ingress,
            } => self.handle_call(
                origin, caller, callee, method, arg, cycles, deadline, ingress,
            ),
            Message::Response {
                callback,
                response,
                refund,
                ingress,
            } => self.handle_response(callback, response, refund, ingress),
        }
    }

    pub(crate) fn answer(
        &mut self,
        origin: Origin,
        response: Result<Vec<u8>, Reject>,
        refund: u128,
        ingress: Option<MessageId>,
    ) {
        match origin {
            Origin::Ingress(id) => {
                self.ingress.insert(id, Some(response));
            }
            Origin::Callback(callback) => self.queue.push_back(Message::Response {
                callback,
                response,
                refund,
                ingress,
            }),
            Origin::System => {}
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_call(
        &mut self,
        origin: Origin,
        caller: Principal,
        callee: Principal,
        method: String,
        arg: Vec<u8>,
        cycles: u128,
        deadline: u64,
        ingress: Option<MessageId>,
    ) {
        if let Origin::Callback(cb) = origin {
            let fault = self.faults.get_mut(&(caller, callee)).and_then(|q| {
                let due = q
                    .iter()
                    .position(|(m, _)| m.as_ref().is_none_or(|m| *m == method))?;
                q.remove(due).map(|(_, fault)| fault)
            });
            match fault {
                None => {}
                Some(Fault::Reject { code, message }) => {
                    return self.answer(origin, Err(reject(code, message)), cycles, ingress)
                }
                Some(Fault::ExpireBeforeExecution) => {
                    return self.answer(
                        origin,
                        Err(reject(
                            reject_code::SYS_UNKNOWN,
                            "the call's deadline expired",
                        )),
                        0,
                        ingress,
                    )
                }
                Some(Fault::ExpireAfterExecution) => {
                    if let Some(callback) = self.callbacks.get_mut(&cb) {
                        callback.doomed = Some(reject(
                            reject_code::SYS_UNKNOWN,
                            "the call's deadline expired",
                        ));
                    }
                }
                Some(Fault::TrapCallback) => {
                    if let Some(callback) = self.callbacks.get_mut(&cb) {
                        callback.trap_callback = true;
                    }
                }
                Some(Fault::TrapCallee) => {
                    return self.answer(
                        origin,
                        Err(reject(
                            reject_code::CANISTER_ERROR,
                            "Canister trapped: injected fault",
                        )),
                        cycles,
                        ingress,
                    )
                }
            }
        }
        if callee == MANAGEMENT_CANISTER {
            if let Some((response, refund)) =
                self.management(caller, &method, &arg, cycles, origin, ingress)
            {
                self.answer(origin, response, refund, ingress);
            }
            return;
        }
        let slot = match self.slot(callee) {
            Ok(slot) => slot,
            Err(e) => return self.answer(origin, Err(e), cycles, ingress),
        };
        if slot.status != CanisterStatus::Running {
            let e = reject(
                reject_code::CANISTER_ERROR,
                format!("canister {callee} is stopped"),
            );
            return self.answer(origin, Err(e), cycles, ingress);
        }
        let Some(code) = slot.code.as_ref() else {
            let e = reject(
                reject_code::DESTINATION_INVALID,
                format!("canister {callee} is empty"),
            );
            return self.answer(origin, Err(e), cycles, ingress);
        };
        let update = format!("canister_update {method}");
        let query = format!("canister_query {method}");
        let (entry, kind) = if code.exports(&update) {
            (update, EntryKind::Update)
        } else if code.exports(&query) {
            // A query called as an update (by a canister, or by ingress as icp-cli and dfx do
            // without `--query`) runs replicated, and its state changes are discarded.
            (query, EntryKind::Query)
        } else {
            let e = reject(
                reject_code::DESTINATION_INVALID,
                format!("canister {callee} has no update method '{method}'"),
            );
            return self.answer(origin, Err(e), cycles, ingress);
        };
        let context = self.fresh_id();
        self.contexts.insert(
            context,
            CallContext {
                canister: callee,
                origin,
                responded: false,
                outstanding: 0,
                deadline,
                ingress,
            },
        );
        let mut exec = Exec::new(kind, self.time);
        exec.method = method;
        exec.arg = arg;
        exec.caller = caller;
        exec.can_respond = true;
        exec.deadline = deadline;
        exec.cycles_available = cycles;
        let outcome = if kind == EntryKind::Query {
            // A query reached by a call runs, and its state is discarded.
            self.run_with_rollback(callee, &Entry::Export(entry), exec)
        } else {
            self.run(callee, &Entry::Export(entry), exec, ingress)
        };
        self.finish(context, outcome);
    }

    fn handle_response(
        &mut self,
        callback: u64,
        response: Result<Vec<u8>, Reject>,
        refund: u128,
        ingress: Option<MessageId>,
    ) {
        // A callback answers once: a late reply after an expiry is dropped.
        let Some(cb) = self.callbacks.remove(&callback) else {
            return;
        };
        let response = match cb.doomed.clone() {
            Some(doomed) => Err(doomed),
            None => response,
        };
        let Some(context) = self.contexts.get_mut(&cb.context) else {
            return;
        };
        context.outstanding -= 1;
        let can_respond = !context.responded;
        let deadline = context.deadline;
        let version_now = self
            .canisters
            .get(&cb.canister)
            .and_then(|s| s.code.as_ref())
            .map(|c| c.ctx().version);
        // Refunds reach the canister whether or not its callback still exists.
        if let Some(slot) = self.canisters.get_mut(&cb.canister) {
            match slot.code.as_mut() {
                Some(code) => code.ctx_mut().cycles = code.ctx().cycles.saturating_add(refund),
                None => slot.cycles = slot.cycles.saturating_add(refund),
            }
        }
        if version_now != Some(cb.version) {
            // The caller was upgraded or uninstalled: its callbacks no longer exist.
            return self.close_if_done(cb.context);
        }
        let (kind, entry, arg, reject_info) = match response {
            Ok(data) => (EntryKind::ReplyCallback, cb.call.reply, data, None),
            Err(r) => (
                EntryKind::RejectCallback,
                cb.call.reject,
                Vec::new(),
                Some((r.code, r.message)),
            ),
        };
        let mut exec = Exec::new(kind, self.time);
        exec.arg = arg;
        exec.reject = reject_info;
        exec.can_respond = can_respond;
        exec.deadline = deadline;
        exec.caller = cb.call.callee;
        exec.cycles_refunded = refund;
        let entry = Entry::Table {
            index: entry.0,
            env: entry.1,
        };
        let outcome = if cb.trap_callback {
            Outcome {
                exec,
                result: Err("Canister trapped: injected fault in the callback".into()),
                instructions: 0,
            }
        } else {
            self.run(cb.canister, &entry, exec, ingress)
        };
        if outcome.result.is_err() {
            if let Some((index, env)) = cb.call.cleanup {
                let exec = Exec::new(EntryKind::Cleanup, self.time);
                let cleanup = self.run(cb.canister, &Entry::Table { index, env }, exec, ingress);
                if let Err(message) = &cleanup.result {
                    self.log(cb.canister, format!("cleanup trapped: {message}"));
                }
            }
        }
        self.finish(cb.context, outcome);
    }

    fn log(&mut self, id: Principal, line: String) {
        if let Some(code) = self.code_mut(id) {
            code.ctx_mut().log.push(line);
        }
    }

    /// Applies an execution's results to its call context: calls made, the answer given.
    fn finish(&mut self, context_id: u64, outcome: Outcome) {
        let Some(context) = self.contexts.get(&context_id) else {
            return;
        };
        let canister = context.canister;
        let origin = context.origin;
        let ingress = context.ingress;
        let version = self
            .canisters
            .get(&canister)
            .and_then(|s| s.code.as_ref())
            .map_or(0, |c| c.ctx().version);
        for call in outcome.exec.new_calls {
            let id = self.fresh_id();
            let deadline = call
                .timeout_seconds
                .map(|s| self.time + s as u64 * 1_000_000_000);
            self.queue.push_back(Message::Call {
                origin: Origin::Callback(id),
                caller: canister,
                callee: call.callee,
                method: call.method.clone(),
                arg: call.arg.clone(),
                cycles: call.cycles,
                deadline: deadline.unwrap_or(0),
                ingress,
            });
            self.callbacks.insert(
                id,
                Callback {
                    canister,
                    context: context_id,
                    call,
                    version,
                    deadline,
                    doomed: None,
                    trap_callback: false,
                },
            );
            self.contexts
                .get_mut(&context_id)
                .expect("context exists")
                .outstanding += 1;
        }
        let refund = outcome.exec.cycles_available - outcome.exec.cycles_accepted;
        if let Some(response) = outcome.exec.response {
            let context = self.contexts.get_mut(&context_id).expect("context exists");
            if !context.responded {
                context.responded = true;
                let response = response.map_err(|(code, message)| reject(code, message));
                self.answer(origin, response, refund, ingress);
            }
        } else if let Err(message) = outcome.result {
            let context = self.contexts.get_mut(&context_id).expect("context exists");
            if !context.responded && context.outstanding == 0 {
                context.responded = true;
                self.answer(
                    origin,
                    Err(reject(reject_code::CANISTER_ERROR, message)),
                    refund,
                    ingress,
                );
            }
        }
        self.close_if_done(context_id);
    }

    fn close_if_done(&mut self, context_id: u64) {
        let Some(context) = self.contexts.get_mut(&context_id) else {
            return;
        };
        if context.outstanding > 0 {
            return;
        }
        if !context.responded {
            context.responded = true;
            let (origin, ingress, canister) = (context.origin, context.ingress, context.canister);
            self.answer(
                origin,
                Err(reject(
                    reject_code::CANISTER_ERROR,
                    format!("canister {canister} did not reply to the call"),
                )),
                0,
                ingress,
            );
        }
        self.contexts.remove(&context_id);
    }
}
