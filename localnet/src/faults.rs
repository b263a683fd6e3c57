//! Faults a test injects into calls between canisters, waiting per (caller, callee) until a call
//! they match comes by (the scheduler consumes them when it delivers the call).

use crate::LocalNet;
use candid::Principal;
use std::collections::VecDeque;

/// What a test can make happen to the next call from one canister to another.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The call is rejected with `code` before the callee sees it.
    Reject { code: u32, message: String },
    /// The callee executes the call, but the caller sees its deadline expire (`SYS_UNKNOWN`).
    ExpireAfterExecution,
    /// The call is lost before the callee sees it, and the caller sees `SYS_UNKNOWN`.
    ExpireBeforeExecution,
    /// The callee traps on the call.
    TrapCallee,
    /// The callee answers, and the caller's callback traps on the answer (its cleanup runs).
    TrapCallback,
}

/// A fault waiting for a call, to any method (`None`) or to the one named.
pub(crate) type InjectedFault = (Option<String>, Fault);

impl LocalNet {
    /// Injected faults not yet consumed.
    pub fn pending_faults(&self) -> usize {
        self.faults.values().map(VecDeque::len).sum()
    }

    /// Makes the next call from `caller` to `callee` suffer `fault`.
    pub fn inject_fault(&mut self, caller: Principal, callee: Principal, fault: Fault) {
        self.faults
            .entry((caller, callee))
            .or_default()
            .push_back((None, fault));
    }

    /// Makes the next call from `caller` to `callee`'s `method` suffer `fault` (calls to other
    /// methods pass by it).
    pub fn inject_fault_on(
        &mut self,
        caller: Principal,
        callee: Principal,
        method: &str,
        fault: Fault,
    ) {
        self.faults
            .entry((caller, callee))
            .or_default()
            .push_back((Some(method.to_string()), fault));
    }
}
