//! Governance on the deployed system: neurons, proposals, votes, execution.

use crate::*;
use candid::{Nat, Principal};
use localnet::CallReport;
use neuranft_types::governance::{
    Action, GovernanceError, MakeProposalArgs, NeuronId, ProposalId, ProposalInfo, ProposalStatus,
    StakeArgs, Tally, Vote,
};

impl NeuraNft {
    /// `holder` approves governance on the NNG ledger and stakes `stake` e8s into a new neuron.
    pub fn stake_neuron(
        &mut self,
        holder: Principal,
        stake: u64,
        dissolve_delay_seconds: u64,
    ) -> Result<NeuronId, GovernanceError> {
        let approve = icrc_ledger_types::icrc2::approve::ApproveArgs {
            from_subaccount: None,
            spender: account(self.governance),
            amount: Nat::from(stake as u128 + GOVERNANCE_TOKEN_FEE),
            expected_allowance: None,
            expires_at: None,
            fee: None,
            memo: None,
            created_at_time: None,
        };
        let (r, _) = self.call(self.governance_ledger, holder, "icrc2_approve", (approve,));
        let (approved,): (Result<Nat, icrc_ledger_types::icrc2::approve::ApproveError>,) =
            r.expect("icrc2_approve answers");
        approved.expect("the holder can pay the approval fee");
        let args = StakeArgs {
            amount: stake,
            dissolve_delay_seconds,
        };
        let (r, _) = self.call(self.governance, holder, "stake_neuron", (args,));
        let (result,): (Result<NeuronId, GovernanceError>,) = r.expect("stake_neuron answers");
        result
    }

    pub fn propose(
        &mut self,
        proposer: Principal,
        neuron: NeuronId,
        title: &str,
        action: Action,
    ) -> (Result<ProposalId, GovernanceError>, CallReport) {
        let args = MakeProposalArgs {
            neuron,
            title: title.into(),
            summary: format!("{title}: proposed in the end-to-end scenario."),
            url: "https://forum.neuranft.example/proposals".into(),
            action,
        };
        let (r, report) = self.call(self.governance, proposer, "make_proposal", (args,));
        let (result,): (Result<ProposalId, GovernanceError>,) = r.expect("make_proposal answers");
        (result, report)
    }

    pub fn vote(
        &mut self,
        voter: Principal,
        neuron: NeuronId,
        proposal: ProposalId,
        vote: Vote,
    ) -> (Result<Tally, GovernanceError>, CallReport) {
        let (r, report) = self.call(
            self.governance,
            voter,
            "register_vote",
            (neuron, proposal, vote),
        );
        let (result,): (Result<Tally, GovernanceError>,) = r.expect("register_vote answers");
        (result, report)
    }

    /// Lets governance's timer job run (ballots, decisions, executions) until nothing is left to do.
    pub fn run_governance(&mut self) {
        for _ in 0..20 {
            let (r, _) = self.call(self.governance, admin(), "run_jobs", ());
            let (report,): (candid::Reserved,) = r.expect("run_jobs answers");
            let _ = report;
            self.ticks(2);
        }
    }

    /// `list_proposals`, newest first.
    pub fn list_proposals(
        &mut self,
        args: neuranft_types::governance::ListProposalsArgs,
    ) -> Vec<ProposalInfo> {
        let (listed,): (Vec<ProposalInfo>,) = self
            .net
            .query(self.governance, admin(), "list_proposals", (args,))
            .expect("list_proposals answers");
        listed
    }

    pub fn proposal(&mut self, id: ProposalId) -> ProposalInfo {
        let (detail,): (Option<neuranft_types::governance::ProposalDetail>,) = self
            .net
            .query(self.governance, admin(), "get_proposal", (id, 0u64, 0u32))
            .expect("get_proposal answers");
        detail.expect("the proposal exists").info
    }

    /// The founder's neuron proposes `action` and votes for it; nobody votes against, so it is
    /// adopted (at once with an absolute majority, else at the deadline) and governance executes
    /// it. Returns the proposal once executed (or failed).
    pub fn adopt(&mut self, title: &str, action: Action) -> ProposalInfo {
        let (id, _) = self.propose(founder(), FOUNDER_NEURON, title, action);
        let id = id.expect("the founder's proposal is valid");
        self.run_governance();
        let info = self.proposal(id);
        if info.status == ProposalStatus::Open {
            // Not an absolute majority: decided by the votes cast at the deadline.
            let wait = info.deadline.saturating_sub(self.net.time()) + 1;
            self.net.advance_time(std::time::Duration::from_nanos(wait));
            self.run_governance();
        }
        let info = self.proposal(id);
        assert!(
            matches!(
                info.status,
                ProposalStatus::Executed | ProposalStatus::Failed { .. }
            ),
            "{info:?}"
        );
        info
    }
}
