//! Calls from outside the network: ingress update calls submitted, awaited and reported, and
//! queries run at once (with the certificate of the canister's certified data), raw or Candid.

use crate::canister::Entry;
use crate::scheduler::{Message, Origin, MAX_ROUNDS_PER_CALL};
use crate::system_api::{self, EntryKind, Exec};
use crate::{
    certification, management, reject, reject_code, CallReport, CanisterStatus, LocalNet,
    MessageId, Reject, MANAGEMENT_CANISTER,
};
use candid::utils::{ArgumentDecoder, ArgumentEncoder};
use candid::Principal;
use std::collections::BTreeMap;
use std::sync::Arc;

impl LocalNet {
    /// Submits an update call; `canister_inspect_message` may refuse it at once.
    pub fn submit_call(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> Result<MessageId, Reject> {
        if canister == MANAGEMENT_CANISTER {
            if !management::INGRESS_METHODS.contains(&method) {
                return Err(reject(
                    reject_code::CANISTER_REJECT,
                    format!("the management canister's {method} cannot be called by ingress"),
                ));
            }
            return Ok(self.enqueue_ingress(canister, sender, method, arg));
        }
        let slot = self.slot(canister)?;
        if slot
            .code
            .as_ref()
            .is_some_and(|c| c.exports("canister_inspect_message"))
        {
            let mut exec = Exec::new(EntryKind::InspectMessage, self.time);
            exec.method = method.to_string();
            exec.arg = arg.clone();
            exec.caller = sender;
            let outcome = self.run_with_rollback(
                canister,
                &Entry::Export("canister_inspect_message".into()),
                exec,
            );
            match outcome.result {
                Err(message) => return Err(reject(reject_code::CANISTER_ERROR, message)),
                Ok(()) if !outcome.exec.accepted => {
                    return Err(reject(
                        reject_code::CANISTER_REJECT,
                        "the canister's inspect_message did not accept the call",
                    ))
                }
                Ok(()) => {}
            }
        }
        Ok(self.enqueue_ingress(canister, sender, method, arg))
    }

    fn enqueue_ingress(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> MessageId {
        let id = MessageId(self.fresh_id());
        self.ingress.insert(id, None);
        self.reports.insert(id, CallReport::default());
        self.queue.push_back(Message::Call {
            origin: Origin::Ingress(id),
            caller: sender,
            callee: canister,
            method: method.to_string(),
            arg,
            cycles: 0,
            deadline: 0,
            ingress: Some(id),
        });
        id
    }

    /// Ticks until the message is answered.
    pub fn await_call(&mut self, id: MessageId) -> Result<Vec<u8>, Reject> {
        for _ in 0..MAX_ROUNDS_PER_CALL {
            if let Some(Some(result)) = self.ingress.get(&id) {
                return result.clone();
            }
            self.tick();
        }
        Err(reject(
            reject_code::SYS_TRANSIENT,
            format!("message {id:?} did not complete in {MAX_ROUNDS_PER_CALL} rounds"),
        ))
    }

    /// The answer to a submitted call, if it has one yet.
    pub fn call_result(&self, id: MessageId) -> Option<Result<Vec<u8>, Reject>> {
        self.ingress.get(&id).cloned().flatten()
    }

    /// Forgets a submitted call's answer and report (the HTTP interface does once its request expired).
    pub fn forget_message(&mut self, id: MessageId) {
        self.ingress.remove(&id);
        self.reports.remove(&id);
    }

    /// What a submitted call's executions cost.
    pub fn call_report(&self, id: MessageId) -> CallReport {
        self.reports.get(&id).cloned().unwrap_or_default()
    }

    pub fn update_call(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> Result<Vec<u8>, Reject> {
        let id = self.submit_call(canister, sender, method, arg)?;
        self.await_call(id)
    }

    /// An update call that also returns its report.
    pub fn update_call_with_report(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> (Result<Vec<u8>, Reject>, CallReport) {
        match self.submit_call(canister, sender, method, arg) {
            Ok(id) => {
                let result = self.await_call(id);
                (result, self.call_report(id))
            }
            Err(e) => (Err(e), CallReport::default()),
        }
    }

    /// A query: runs now, and its state changes are discarded.
    pub fn query_call(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> Result<Vec<u8>, Reject> {
        self.query_call_with_instructions(canister, sender, method, arg)
            .0
    }

    /// A query, and the instructions it executed (0 when it did not run).
    pub fn query_call_with_instructions(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> (Result<Vec<u8>, Reject>, u64) {
        let mut instructions = 0;
        let result = self.run_query(canister, sender, method, arg, &mut instructions);
        (result, instructions)
    }

    fn run_query(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        arg: Vec<u8>,
        instructions: &mut u64,
    ) -> Result<Vec<u8>, Reject> {
        let slot = self.slot(canister)?;
        if slot.status != CanisterStatus::Running {
            return Err(reject(
                reject_code::CANISTER_ERROR,
                format!("canister {canister} is stopped"),
            ));
        }
        let Some(code) = slot.code.as_ref() else {
            return Err(reject(
                reject_code::DESTINATION_INVALID,
                format!("canister {canister} is empty"),
            ));
        };
        let export = format!("canister_query {method}");
        if !code.exports(&export) {
            return Err(reject(
                reject_code::DESTINATION_INVALID,
                format!("canister {canister} has no query method '{method}'"),
            ));
        }
        let mut exec = Exec::new(EntryKind::Query, self.time);
        exec.method = method.to_string();
        exec.arg = arg;
        exec.caller = sender;
        exec.can_respond = true;
        exec.certificate = Some(self.certificate(canister));
        let outcome = self.run_with_rollback(canister, &Entry::Export(export), exec);
        *instructions = outcome.instructions;
        match (outcome.result, outcome.exec.response) {
            (Err(message), _) => Err(reject(reject_code::CANISTER_ERROR, message)),
            (Ok(()), Some(response)) => response.map_err(|(code, message)| reject(code, message)),
            (Ok(()), None) => Err(reject(
                reject_code::CANISTER_ERROR,
                "the query did not reply",
            )),
        }
    }

    /// The certificate a query sees of the canister's certified data: `/canister/<id>/certified_data`
    /// and `/time`, signed by the network's root key, as a subnet certifies them.
    fn certificate(&self, canister: Principal) -> system_api::DataCertificate {
        let data = self
            .canisters
            .get(&canister)
            .and_then(|s| s.code.as_ref())
            .map_or_else(Vec::new, |c| c.ctx().certified_data.clone());
        let root_key = Arc::clone(&self.root_key);
        let time = self.time;
        system_api::DataCertificate::Deferred(Box::new(move || {
            use certification::{labeled_tree, leb128};
            let canister_tree = labeled_tree(BTreeMap::from([(
                canister.as_slice().to_vec(),
                labeled_tree(BTreeMap::from([(
                    b"certified_data".to_vec(),
                    ic_certification::leaf(data),
                )])),
            )]));
            root_key.certify(labeled_tree(BTreeMap::from([
                (b"canister".to_vec(), canister_tree),
                (b"time".to_vec(), ic_certification::leaf(leb128(time))),
            ])))
        }))
    }
    /// Update call with Candid arguments and results.
    pub fn update<A: ArgumentEncoder, R: for<'a> ArgumentDecoder<'a>>(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        args: A,
    ) -> Result<R, Reject> {
        let arg = candid::encode_args(args).expect("arguments encode");
        let bytes = self.update_call(canister, sender, method, arg)?;
        candid::decode_args(&bytes).map_err(|e| {
            reject(
                reject_code::CANISTER_ERROR,
                format!("undecodable reply: {e}"),
            )
        })
    }

    /// Query call with Candid arguments and results.
    pub fn query<A: ArgumentEncoder, R: for<'a> ArgumentDecoder<'a>>(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        args: A,
    ) -> Result<R, Reject> {
        let arg = candid::encode_args(args).expect("arguments encode");
        let bytes = self.query_call(canister, sender, method, arg)?;
        candid::decode_args(&bytes).map_err(|e| {
            reject(
                reject_code::CANISTER_ERROR,
                format!("undecodable reply: {e}"),
            )
        })
    }
}
