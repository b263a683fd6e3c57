//! One execution of a canister entry point: its instruction limit, the cycles it is charged, and
//! its report to the ingress message it serves.

use crate::canister::{Entry, Outcome};
use crate::system_api::{EntryKind, Exec};
use crate::{cost, ExecutionReport, LocalNet, MessageId};
use candid::Principal;

impl LocalNet {
    pub(crate) fn run(
        &mut self,
        id: Principal,
        entry: &Entry,
        exec: Exec,
        ingress: Option<MessageId>,
    ) -> Outcome {
        let limit = match exec.kind {
            EntryKind::Init | EntryKind::PreUpgrade | EntryKind::PostUpgrade => {
                cost::INSTALL_INSTRUCTION_LIMIT
            }
            EntryKind::Query | EntryKind::InspectMessage => cost::QUERY_INSTRUCTION_LIMIT,
            _ => self.update_instruction_limit,
        };
        let engine = self.engine.clone();
        let code = self
            .canisters
            .get_mut(&id)
            .and_then(|s| s.code.as_mut())
            .expect("executing canister has code");
        let outcome = code.execute(&engine, &self.linker, entry, exec, limit, false);
        let execution_fee =
            cost::UPDATE_MESSAGE_FEE + outcome.instructions as u128 * cost::CYCLES_PER_INSTRUCTION;
        let ctx = code.ctx_mut();
        ctx.cycles = ctx.cycles.saturating_sub(execution_fee);
        // The calls' fees were taken by `call_perform`; the report shows them with the execution.
        let call_fees: u128 = outcome
            .exec
            .new_calls
            .iter()
            .map(|c| cost::call_cost((c.method.len() + c.arg.len()) as u64))
            .sum();
        let cycles = execution_fee + call_fees;
        if let Some(ingress) = ingress {
            let name = match entry {
                Entry::Export(name) => name.clone(),
                Entry::Table { .. } => format!("{:?}", outcome.exec.kind),
            };
            let report = self.report(id, &name, &outcome, cycles);
            self.reports
                .entry(ingress)
                .or_default()
                .executions
                .push(report);
        }
        outcome
    }

    pub(crate) fn run_with_rollback(
        &mut self,
        id: Principal,
        entry: &Entry,
        exec: Exec,
    ) -> Outcome {
        let engine = self.engine.clone();
        let code = self
            .canisters
            .get_mut(&id)
            .and_then(|s| s.code.as_mut())
            .expect("executing canister has code");
        code.execute(
            &engine,
            &self.linker,
            entry,
            exec,
            cost::QUERY_INSTRUCTION_LIMIT,
            true,
        )
    }

    pub(crate) fn report(
        &self,
        id: Principal,
        entry: &str,
        outcome: &Outcome,
        cycles: u128,
    ) -> ExecutionReport {
        ExecutionReport {
            canister: id,
            entry: entry.to_string(),
            instructions: outcome.instructions,
            cycles,
            trapped: outcome.result.clone().err(),
        }
    }
}
