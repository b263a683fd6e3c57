//! The invariants checked after every step: the ledgers' own, each canister's ledger balance equal
//! to what it owes, grants paid once, stakes held in their neurons' subaccounts.

use super::{account, principal, Violation, World, KIND_SYSTEM};
use neuranft_types::Account;
use std::collections::BTreeMap;

impl World {
    /// The invariants of every step: the ledger's own, and each canister's ledger balance equal to
    /// what it owes.
    pub(super) fn check(&self, step: u32, grants: &[(Account, u128)]) -> Result<(), Violation> {
        let fail = |what: String| Err(Violation(format!("step {step}: {what}")));
        if let Err(e) = self.ledger.check_invariants() {
            return fail(format!("ledger: {e}"));
        }
        let proxy_owes = self.proxy.borrow().metering.liabilities().total;
        let proxy_has = self.ledger.balance(&account(self.proxy_id));
        if proxy_owes != proxy_has {
            return fail(format!("the proxy holds {proxy_has} and owes {proxy_owes}"));
        }
        let roy = self.royalties.borrow().liabilities();
        let roy_has = self.ledger.balance(&account(self.royalties_id));
        if roy.total != roy_has {
            return fail(format!("royalties holds {roy_has} and owes {}", roy.total));
        }
        if roy.settled_total != roy.available + roy.in_flight + roy.paid_total + roy.undistributed {
            return fail("royalties' settled total does not add up".into());
        }
        let ledger_minted = self.ledger.state().totals().minted;
        if ledger_minted != self.minted {
            return fail(format!(
                "the ledger minted {ledger_minted}; only {} entered the world",
                self.minted
            ));
        }
        // Each grantee holds exactly what its executed grants paid: once per adopted proposal.
        let mut granted: BTreeMap<Account, u128> = BTreeMap::new();
        for (to, amount) in grants {
            *granted.entry(*to).or_default() += amount;
        }
        for (to, amount) in granted {
            let held = self.ledger.balance(&to);
            if held != amount {
                return fail(format!(
                    "a grantee holds {held}; its executed grants paid {amount}"
                ));
            }
        }
        Ok(())
    }

    /// The staked tokens are all in their neurons' subaccounts.
    pub(super) fn check_dao(&self, step: u32) -> Result<(), Violation> {
        let Some(dao) = &self.dao else {
            return Ok(());
        };
        if let Err(e) = dao.nng.check_invariants() {
            return Err(Violation(format!(
                "step {step}: governance-token ledger: {e}"
            )));
        }
        let governance_id = principal(KIND_SYSTEM, 3);
        for (_, neuron, _) in &dao.holders {
            let Some(n) = dao.governance.borrow().neuron(*neuron) else {
                continue;
            };
            let held = dao.nng.balance(&Account {
                owner: governance_id,
                subaccount: Some(neuranft_types::governance::neuron_subaccount(*neuron)),
            });
            if held != n.stake as u128 {
                return Err(Violation(format!(
                    "step {step}: neuron {neuron} has stake {} but its subaccount holds {held}",
                    n.stake
                )));
            }
        }
        Ok(())
    }
}
