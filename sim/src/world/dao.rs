//! The DAO: token holders staking neurons in the governance state machine, the scenario's
//! proposals made and voted on, and what governance decided and paid.

use super::adapters::InProcessTargets;
use super::{account, principal, World, E8S, KIND_GRANTEE, KIND_HOLDER, KIND_SYSTEM, T0};
use crate::rng::SplitMix64;
use crate::scenario::Change;
use candid::{Nat, Principal};
use futures::executor::block_on;
use governance::book::Book;
use governance::Governance;
use ic_stable_structures::DefaultMemoryImpl;
use icrc_ledger_types::icrc2::approve::ApproveArgs;
use ledger_adapter::memory::MemoryLedger;
use ledger_adapter::LedgerRuntime;
use neuranft_types::governance::{
    Action, MakeProposalArgs, NeuronId, ProposalId, ProposalStatus, StakeArgs, Topic, Vote,
};
use neuranft_types::proxy::ProxyLimits;
use neuranft_types::royalties::{ModerationAction, PayoutSettings, SplitConfig};
use neuranft_types::Account;
use std::cell::RefCell;

/// Token holders and their neurons, in the governance state machine.
pub(super) struct Dao {
    pub(super) governance: RefCell<Governance>,
    stakes: RefCell<Book>,
    treasury: RefCell<Book>,
    pub(super) nng: MemoryLedger,
    /// (holder, neuron, follows the largest holder)
    pub(super) holders: Vec<(Principal, NeuronId, bool)>,
    rng: SplitMix64,
    /// Proposals made so far, with the scenario's index of each.
    proposals: Vec<(usize, ProposalId)>,
    /// Treasury grants proposed: the proposal, the grantee and the amount.
    grants: Vec<(ProposalId, Account, u128)>,
}

impl World {
    /// The token holders stake their neurons through governance's real staking flow, on their own
    /// governance-token ledger; some follow the largest holder.
    pub(super) fn found_dao(&self, run: u64) -> Option<Dao> {
        let spec = &self.scenario.governance;
        if spec.holders == 0 && spec.whale_stake == 0 {
            return None;
        }
        let mm = ic_stable_structures::memory_manager::MemoryManager::init_with_bucket_size(
            DefaultMemoryImpl::default(),
            1,
        );
        let mut g = Governance::open_in(&mm);
        g.initialize(neuranft_types::governance::Parameters::default())
            .expect("the recommended parameters are valid");
        let dao = Dao {
            governance: RefCell::new(g),
            stakes: RefCell::new(governance::book::open(
                &mm,
                governance::memory::STAKES_BOOK_FIRST_MEMORY_ID,
            )),
            treasury: RefCell::new(governance::book::open(
                &mm,
                governance::memory::TREASURY_BOOK_FIRST_MEMORY_ID,
            )),
            nng: MemoryLedger::new(100_000, T0),
            holders: Vec::new(),
            rng: SplitMix64::stream(self.scenario.seed, &[run, KIND_HOLDER as u64]),
            proposals: Vec::new(),
            grants: Vec::new(),
        };
        let governance_id = principal(KIND_SYSTEM, 3);
        let mut rng = dao.rng.clone();
        // (whole tokens, dissolve delay in days) per holder; the whale locks for the longest.
        let mut stakes: Vec<(u64, u64)> = Vec::new();
        if spec.whale_stake > 0 {
            stakes.push((spec.whale_stake, spec.dissolve_delay_days_max));
        }
        for _ in 0..spec.holders {
            let tokens = rng.between(spec.stake_min, spec.stake_max);
            let days = if spec.dissolve_delay_days_min < spec.dissolve_delay_days_max {
                rng.between(spec.dissolve_delay_days_min, spec.dissolve_delay_days_max)
            } else {
                spec.dissolve_delay_days_min
            };
            stakes.push((tokens, days));
        }
        let mut holders = Vec::new();
        for (i, (tokens, days)) in stakes.iter().enumerate() {
            let holder = principal(KIND_HOLDER, i as u32);
            let amount = tokens * E8S;
            dao.nng.mint(account(holder), amount as u128 + 200_000);
            let approve = ApproveArgs {
                from_subaccount: None,
                spender: account(governance_id),
                amount: Nat::from(amount as u128 + 100_000),
                expected_allowance: None,
                expires_at: None,
                fee: None,
                memo: None,
                created_at_time: None,
            };
            block_on(dao.nng.client(holder).icrc2_approve(approve))
                .expect("the in-memory ledger answers")
                .expect("the holder can pay the approval");
            let neuron = block_on(governance::flows::stake(
                &dao.governance,
                &dao.stakes,
                &dao.nng.client(governance_id),
                holder,
                StakeArgs {
                    amount,
                    dissolve_delay_seconds: days * 24 * 3_600,
                },
                T0,
            ))
            .expect("the stake succeeds");
            holders.push((holder, neuron, false));
        }
        let leader = stakes
            .iter()
            .enumerate()
            .max_by_key(|(i, (tokens, _))| (*tokens, std::cmp::Reverse(*i)))
            .map(|(i, _)| i)
            .expect("at least one holder");
        for (i, h) in holders.iter_mut().enumerate() {
            if i != leader && rng.chance(spec.follow_ppm) {
                let leader_neuron = NeuronId::from(leader as u64);
                // The catch-all covers the normal topics; each critical topic needs its own.
                for topic in Topic::ALL
                    .into_iter()
                    .filter(|t| *t == Topic::CatchAll || t.is_critical())
                {
                    dao.governance
                        .borrow_mut()
                        .follow(h.0, h.1, topic, vec![leader_neuron], T0)
                        .expect("following the leader");
                }
                h.2 = true;
            }
        }
        Some(Dao {
            holders,
            rng,
            ..dao
        })
    }

    /// Scheduled proposals are made and voted on; governance decides and executes on its timer.
    pub(super) fn govern(&mut self, step: u32) {
        let Some(dao) = self.dao.as_mut() else {
            return;
        };
        let now = self.hosts.clock.get();
        let governance_id = principal(KIND_SYSTEM, 3);
        for (index, p) in self.scenario.proposals.iter().enumerate() {
            let due = step == p.at_step
                || p.every_steps.is_some_and(|every| {
                    step > p.at_step && (step - p.at_step).is_multiple_of(every)
                });
            if !due {
                continue;
            }
            let action = match Change::parse(&p.change).expect("checked") {
                Change::Split(s) => Action::SetRoyaltySplit {
                    split: SplitConfig {
                        host_bps: s.host_bps,
                        model_owners_bps: s.model_owners_bps,
                        data_owners_bps: s.data_owners_bps,
                        treasury_bps: s.treasury_bps,
                    },
                },
                Change::CallFee(fee) => Action::SetCallFee {
                    call_fee: fee as u128,
                },
                Change::RemoveNode { index } => Action::RemoveNode {
                    node: self.host_ids[index].expect("checked: it applied before"),
                },
                Change::AdmitNode { index } => Action::AdmitNode {
                    node: self.host_ids[index].expect("checked: it applied before"),
                },
                Change::TreasuryGrant { amount } => Action::TransferTreasury {
                    to: account(principal(KIND_GRANTEE, index as u32)),
                    amount: amount as u128,
                },
                Change::SuspendModel { index } => Action::ModerateModel {
                    model: self.model_ids[index],
                    action: ModerationAction::Suspend,
                    reason: format!("Scenario proposal {index}"),
                },
                Change::ReinstateModel { index } => Action::ModerateModel {
                    model: self.model_ids[index],
                    action: ModerationAction::Reinstate,
                    reason: format!("Scenario proposal {index}"),
                },
                Change::MaxOutputTokens(max_output_tokens) => Action::SetProxyLimits {
                    limits: ProxyLimits {
                        max_output_tokens,
                        ..self.proxy.borrow().config().limits()
                    },
                },
                Change::PayoutThreshold(auto_payout_fee_multiple) => Action::SetPayoutSettings {
                    settings: PayoutSettings {
                        auto_payout_fee_multiple,
                        ..self.royalties.borrow().payout_settings()
                    },
                },
                Change::Prices { .. } => unreachable!("refused by the scenario check"),
            };
            let proposer = *dao
                .holders
                .iter()
                .max_by_key(|h| dao.governance.borrow().neuron(h.1).map_or(0, |n| n.stake))
                .expect("holders exist");
            let made = dao.governance.borrow_mut().make_proposal(
                proposer.0,
                MakeProposalArgs {
                    neuron: proposer.1,
                    title: format!("Scenario proposal {index}: {}", p.change),
                    summary: String::new(),
                    url: String::new(),
                    action: action.clone(),
                },
                now,
                u64::MAX,
            );
            let Ok(id) = made else {
                continue;
            };
            dao.proposals.push((index, id));
            if let Action::TransferTreasury { to, amount } = action {
                dao.grants.push((id, to, amount));
            }
            for (holder, neuron, follows) in dao.holders.clone() {
                if follows
                    || neuron == proposer.1
                    || !dao.rng.chance(self.scenario.governance.turnout_ppm)
                {
                    continue;
                }
                let vote = if dao.rng.chance(p.support_ppm) {
                    Vote::Yes
                } else {
                    Vote::No
                };
                let _ = dao.governance.borrow_mut().register_vote(
                    holder,
                    neuron,
                    id,
                    vote,
                    now,
                    u64::MAX,
                );
            }
        }
        dao.governance.borrow_mut().advance(now, u64::MAX);
        let targets = InProcessTargets {
            royalties: &self.royalties,
            proxy: &self.proxy,
            governance: governance_id,
            proxy_id: self.proxy_id,
            clock: &self.hosts.clock,
        };
        block_on(governance::flows::execute_due(
            &dao.governance,
            &dao.treasury,
            &self.ledger.client(governance_id),
            &targets,
            now,
        ));
        // A new split reaches the proxy by royalties' push, at once (its zero-delay timer).
        self.push_to_proxy();
    }

    /// Each scenario proposal made: its status and tally (for the report).
    pub fn proposal_outcomes(&self) -> Vec<(usize, ProposalStatus, u128, u128, u128)> {
        let Some(dao) = &self.dao else {
            return vec![];
        };
        dao.proposals
            .iter()
            .filter_map(|(index, id)| {
                let info = dao.governance.borrow().proposal(*id)?;
                Some((
                    *index,
                    info.status,
                    info.tally.yes,
                    info.tally.no,
                    info.tally.total,
                ))
            })
            .collect()
    }

    /// Every neuron's voting power now.
    pub fn voting_powers(&self) -> Vec<u128> {
        let Some(dao) = &self.dao else {
            return vec![];
        };
        let g = dao.governance.borrow();
        let p = g.parameters();
        dao.holders
            .iter()
            .filter_map(|h| {
                let n = g.neuron(h.1)?;
                governance::power::voting_power(&n, &p, self.hosts.clock.get())
            })
            .collect()
    }

    /// The treasury grants executed so far: grantee and amount.
    pub(super) fn executed_grants(&self) -> Vec<(Account, u128)> {
        let Some(dao) = &self.dao else {
            return vec![];
        };
        let g = dao.governance.borrow();
        dao.grants
            .iter()
            .filter(|(id, _, _)| {
                g.proposal(*id)
                    .is_some_and(|p| p.status == ProposalStatus::Executed)
            })
            .map(|(_, to, amount)| (*to, *amount))
            .collect()
    }
}
