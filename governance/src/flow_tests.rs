//! The money flows on the icrc-ledger state machine in memory: staking, disbursing, the treasury, and
//! proposal execution against recorded targets, with ledger faults.

use crate::book::Book;
use crate::flows::{self, TargetOutcome, Targets};
use crate::power::NANOS_PER_SECOND;
use crate::state::Governance;
use candid::{Nat, Principal};
use futures::executor::block_on;
use ic_stable_structures::memory_manager::MemoryManager;
use ic_stable_structures::DefaultMemoryImpl;
use icrc_ledger_types::icrc2::approve::ApproveArgs;
use ledger_adapter::memory::{Fault, MemoryLedger};
use ledger_adapter::LedgerRuntime;
use neuranft_types::governance::*;
use neuranft_types::proxy::{NodeAction, ProxyLimits};
use neuranft_types::royalties::{ModerateModelArgs, PayoutSettings, SplitConfig};
use neuranft_types::Account;
use proptest::prelude::*;
use serde_bytes::ByteBuf;
use std::cell::RefCell;

const FEE: u128 = 10_000;
const E8S: u64 = 100_000_000;
const DAY: u64 = 24 * 3_600;
const T0: u64 = 1_750_000_000 * NANOS_PER_SECOND;

fn gov_principal() -> Principal {
    Principal::from_slice(&[0x60; 10])
}

fn user(n: u8) -> Principal {
    Principal::from_slice(&[n + 1; 29])
}

fn acc(owner: Principal) -> Account {
    Account {
        owner,
        subaccount: None,
    }
}

struct World {
    governance: RefCell<Governance>,
    stakes: RefCell<Book>,
    treasury: RefCell<Book>,
    nng: MemoryLedger,
    nusd: MemoryLedger,
}

fn world() -> World {
    let mm = MemoryManager::init_with_bucket_size(DefaultMemoryImpl::default(), 1);
    let mut g = Governance::open_in(&mm);
    g.initialize(crate::tests::parameters()).unwrap();
    let nng = MemoryLedger::new(FEE, T0);
    let nusd = MemoryLedger::new(FEE, T0);
    for i in 0..4 {
        nng.mint(acc(user(i)), 1_000 * E8S as u128);
    }
    World {
        governance: RefCell::new(g),
        stakes: RefCell::new(crate::book::open(
            &mm,
            crate::memory::STAKES_BOOK_FIRST_MEMORY_ID,
        )),
        treasury: RefCell::new(crate::book::open(
            &mm,
            crate::memory::TREASURY_BOOK_FIRST_MEMORY_ID,
        )),
        nng,
        nusd,
    }
}

impl World {
    /// Approves governance to pull `amount` (a fault injected for the next call may make it fail).
    fn approve(&self, who: Principal, amount: u128) -> bool {
        let args = ApproveArgs {
            from_subaccount: None,
            spender: acc(gov_principal()),
            amount: Nat::from(amount),
            expected_allowance: None,
            expires_at: None,
            fee: None,
            memo: None,
            created_at_time: None,
        };
        matches!(
            block_on(self.nng.client(who).icrc2_approve(args)),
            Ok(Ok(_))
        )
    }

    fn stake(&self, who: u8, tokens: u64) -> Result<NeuronId, GovernanceError> {
        assert!(self.approve(user(who), tokens as u128 * E8S as u128 + FEE));
        block_on(flows::stake(
            &self.governance,
            &self.stakes,
            &self.nng.client(gov_principal()),
            user(who),
            StakeArgs {
                amount: tokens * E8S,
                dissolve_delay_seconds: 365 * DAY,
            },
            self.nng.time(),
        ))
    }

    fn subaccount_balance(&self, neuron: NeuronId) -> u128 {
        self.nng.balance(&Account {
            owner: gov_principal(),
            subaccount: Some(neuron_subaccount(neuron)),
        })
    }

    fn drain(&self) {
        for _ in 0..10 {
            block_on(flows::drive_pending(
                &self.governance,
                &self.stakes,
                &self.nng.client(gov_principal()),
            ));
        }
    }

    /// Every neuron's stake is in its subaccount, exactly.
    fn assert_stakes_backed(&self, neurons: &[NeuronId]) {
        for n in neurons {
            if let Some(neuron) = self.governance.borrow().neuron(*n) {
                assert_eq!(
                    self.subaccount_balance(*n),
                    neuron.stake as u128,
                    "neuron {n}"
                );
            }
        }
        self.nng.check_invariants().unwrap();
    }
}

#[test]
fn staking_pulls_into_the_neuron_subaccount_and_disbursing_pays_out_minus_reject_costs() {
    let w = world();
    let a = w.stake(0, 100).unwrap();
    let b = w.stake(1, 300).unwrap();
    assert_eq!(w.subaccount_balance(a), 100 * E8S as u128);
    // The user paid the approval's fee and the transfer's.
    assert_eq!(w.nng.balance(&acc(user(0))), 900 * E8S as u128 - 2 * FEE);
    assert_eq!(w.governance.borrow().neuron(a).unwrap().controller, user(0));
    // A rejected proposal leaves its reject cost on the neuron.
    let id = w
        .governance
        .borrow_mut()
        .make_proposal(
            user(0),
            crate::tests::motion(a),
            T0 + 6 * DAY * NANOS_PER_SECOND,
            1_000,
        )
        .unwrap();
    w.governance
        .borrow_mut()
        .register_vote(
            user(1),
            b,
            id,
            Vote::No,
            T0 + 6 * DAY * NANOS_PER_SECOND,
            1_000,
        )
        .unwrap();
    assert_eq!(w.governance.borrow().neuron(a).unwrap().fees, E8S);
    // Dissolve and disburse: the owner gets stake − fees − ledger fee, governance the fees − fee.
    let now = T0 + 7 * DAY * NANOS_PER_SECOND;
    w.governance
        .borrow_mut()
        .start_dissolving(user(0), a, now)
        .unwrap();
    let later = now + 366 * DAY * NANOS_PER_SECOND;
    w.nng.set_time(later);
    let before = w.nng.balance(&acc(user(0)));
    let paid = block_on(flows::disburse(
        &w.governance,
        &w.stakes,
        &w.nng.client(gov_principal()),
        user(0),
        a,
        None,
        later,
    ))
    .unwrap();
    assert_eq!(paid, 99 * E8S);
    assert_eq!(
        w.nng.balance(&acc(user(0))),
        before + 99 * E8S as u128 - FEE
    );
    assert_eq!(w.nng.balance(&acc(gov_principal())), E8S as u128 - FEE);
    assert_eq!(w.subaccount_balance(a), 0);
    assert!(w.governance.borrow().neuron(a).is_none());
    w.assert_stakes_backed(&[a, b]);
}

#[test]
fn bad_stakes_are_typed_errors_that_move_nothing() {
    let w = world();
    let supply = w.nng.balance(&acc(user(0)));
    assert_eq!(
        block_on(flows::stake(
            &w.governance,
            &w.stakes,
            &w.nng.client(gov_principal()),
            user(0),
            StakeArgs {
                amount: E8S - 1,
                dissolve_delay_seconds: DAY
            },
            T0
        )),
        Err(GovernanceError::StakeBelowMinimum { minimum: E8S })
    );
    // No allowance: the ledger refuses, no neuron appears.
    let err = block_on(flows::stake(
        &w.governance,
        &w.stakes,
        &w.nng.client(gov_principal()),
        user(0),
        StakeArgs {
            amount: 5 * E8S,
            dissolve_delay_seconds: DAY,
        },
        T0,
    ))
    .unwrap_err();
    assert!(
        matches!(err, GovernanceError::TransferFailed { .. }),
        "{err:?}"
    );
    assert_eq!(w.governance.borrow().neuron_count(), 0);
    assert_eq!(w.nng.balance(&acc(user(0))), supply);
    // Someone else's neuron cannot be topped up, nor disbursed before it dissolves.
    let a = w.stake(0, 10).unwrap();
    assert_eq!(
        block_on(flows::increase_stake(
            &w.governance,
            &w.stakes,
            &w.nng.client(gov_principal()),
            user(1),
            a,
            E8S,
            T0
        )),
        Err(GovernanceError::NotAuthorized)
    );
    assert!(matches!(
        block_on(flows::disburse(
            &w.governance,
            &w.stakes,
            &w.nng.client(gov_principal()),
            user(0),
            a,
            None,
            T0
        )),
        Err(GovernanceError::NotDissolved { .. })
    ));
    w.assert_stakes_backed(&[a]);
}

#[test]
fn a_lost_reply_on_a_stake_completes_once_by_the_timer() {
    let w = world();
    assert!(w.approve(user(0), 50 * E8S as u128 + FEE));
    w.nng.inject(Fault::UnknownAfterExecution);
    w.nng.inject(Fault::UnknownBeforeExecution);
    w.nng.inject(Fault::UnknownBeforeExecution);
    w.nng.inject(Fault::UnknownBeforeExecution);
    let result = block_on(flows::stake(
        &w.governance,
        &w.stakes,
        &w.nng.client(gov_principal()),
        user(0),
        StakeArgs {
            amount: 50 * E8S,
            dissolve_delay_seconds: 365 * DAY,
        },
        T0,
    ));
    assert_eq!(result, Err(GovernanceError::Pending));
    assert_eq!(w.governance.borrow().neuron_count(), 0);
    w.drain();
    assert_eq!(w.governance.borrow().neuron_count(), 1);
    assert_eq!(w.subaccount_balance(0), 50 * E8S as u128);
    assert_eq!(
        w.nng.balance(&acc(user(0))),
        950 * E8S as u128 - 2 * FEE,
        "pulled once"
    );
    w.assert_stakes_backed(&[0]);
}

// ------------------------------------------------------------------ execution

#[derive(Default)]
struct RecordingTargets {
    calls: RefCell<Vec<String>>,
    answer: RefCell<Option<TargetOutcome>>,
}

impl RecordingTargets {
    fn answer(&self, what: String) -> TargetOutcome {
        self.calls.borrow_mut().push(what);
        self.answer.borrow().clone().unwrap_or(TargetOutcome::Done)
    }
}

impl Targets for RecordingTargets {
    async fn set_royalty_split(&self, proposal: ProposalId, split: SplitConfig) -> TargetOutcome {
        self.answer(format!("split {proposal} {}", split.host_bps))
    }
    async fn set_call_fee(&self, proposal: ProposalId, call_fee: u128) -> TargetOutcome {
        self.answer(format!("fee {proposal} {call_fee}"))
    }
    async fn decide_node(
        &self,
        proposal: ProposalId,
        node: u64,
        action: NodeAction,
    ) -> TargetOutcome {
        self.answer(format!("node {proposal} {node} {action:?}"))
    }
    async fn moderate_model(&self, args: ModerateModelArgs) -> TargetOutcome {
        let ModerateModelArgs {
            proposal_id,
            model,
            action,
            reason,
        } = args;
        self.answer(format!(
            "moderate {proposal_id} {model} {action:?} {reason}"
        ))
    }
    async fn set_payout_settings(&self, proposal: ProposalId, s: PayoutSettings) -> TargetOutcome {
        self.answer(format!("payouts {proposal} {}", s.payout_interval_seconds))
    }
    async fn set_proxy_limits(&self, proposal: ProposalId, limits: ProxyLimits) -> TargetOutcome {
        self.answer(format!("limits {proposal} {}", limits.max_prompt_bytes))
    }
    async fn upgrade(
        &self,
        proposal: ProposalId,
        target: UpgradeTarget,
        wasm: ByteBuf,
        _arg: ByteBuf,
    ) -> TargetOutcome {
        self.answer(format!("upgrade {proposal} {target:?} {}", wasm.len()))
    }
    fn generic_target_refusal(&self, target: Principal) -> Option<&'static str> {
        (target == Principal::management_canister()).then_some("the management canister")
    }
    /// Accepts a payload that starts with `ok`, rendered as its text; refuses any other.
    async fn validate_generic(
        &self,
        function: &GenericFunction,
        payload: &[u8],
    ) -> Result<String, TargetOutcome> {
        self.calls
            .borrow_mut()
            .push(format!("validate {} {}", function.id, function.validator));
        match payload.strip_prefix(b"ok") {
            Some(_) => Ok(String::from_utf8_lossy(payload).into_owned()),
            None => Err(TargetOutcome::Refused("payload must start with ok".into())),
        }
    }
    async fn call_generic(&self, function: &GenericFunction, payload: ByteBuf) -> TargetOutcome {
        self.answer(format!(
            "call {} {} {}",
            function.id,
            function.method,
            String::from_utf8_lossy(&payload)
        ))
    }
}

fn adopt(w: &World, action: Action, now: u64) -> ProposalId {
    let neuron = w.governance.borrow().neurons_of(user(0))[0].id;
    let id = w
        .governance
        .borrow_mut()
        .make_proposal(
            user(0),
            MakeProposalArgs {
                action,
                ..crate::tests::motion(neuron)
            },
            now,
            1_000,
        )
        .unwrap();
    assert_eq!(
        w.governance.borrow().proposal(id).unwrap().status,
        ProposalStatus::Adopted,
        "the only neuron adopts it"
    );
    id
}

fn execute(w: &World, targets: &RecordingTargets, now: u64) -> Vec<ProposalId> {
    block_on(flows::execute_due(
        &w.governance,
        &w.treasury,
        &w.nusd.client(gov_principal()),
        targets,
        now,
    ))
}

#[test]
fn adopted_proposals_execute_once_and_unknown_outcomes_are_retried() {
    let w = world();
    w.stake(0, 100).unwrap();
    let targets = RecordingTargets::default();
    let node = adopt(&w, Action::AdmitNode { node: 3 }, T0);
    *targets.answer.borrow_mut() = Some(TargetOutcome::Unknown("timeout".into()));
    assert_eq!(execute(&w, &targets, T0), vec![node]);
    assert_eq!(
        w.governance.borrow().proposal(node).unwrap().status,
        ProposalStatus::Adopted,
        "unknown: tried again"
    );
    assert!(
        execute(&w, &targets, T0 + 1).is_empty(),
        "tried again only after the retry delay"
    );
    *targets.answer.borrow_mut() = Some(TargetOutcome::AlreadyDone);
    let retry_at = T0 + crate::state::FIRST_RETRY_DELAY_SECONDS * NANOS_PER_SECOND;
    assert_eq!(execute(&w, &targets, retry_at), vec![node]);
    assert_eq!(
        w.governance.borrow().proposal(node).unwrap().status,
        ProposalStatus::Executed
    );
    assert_eq!(
        *targets.calls.borrow(),
        vec!["node 0 3 Admit", "node 0 3 Admit"]
    );
    *targets.answer.borrow_mut() = Some(TargetOutcome::Refused("UnknownNode".into()));
    let bad = adopt(&w, Action::RemoveNode { node: 99 }, retry_at + 2);
    execute(&w, &targets, retry_at + 3);
    assert_eq!(
        w.governance.borrow().proposal(bad).unwrap().status,
        ProposalStatus::Failed {
            reason: "UnknownNode".into()
        }
    );
    assert!(
        execute(&w, &targets, retry_at + 4).is_empty(),
        "nothing due"
    );
}

#[test]
fn a_target_without_a_definite_answer_is_called_a_bounded_number_of_times_then_failed() {
    use crate::state::{FIRST_RETRY_DELAY_SECONDS, MAX_EXECUTION_ATTEMPTS};
    let w = world();
    w.stake(0, 100).unwrap();
    let targets = RecordingTargets::default();
    *targets.answer.borrow_mut() = Some(TargetOutcome::Unknown(
        "stop_canister: the canister is still stopping".into(),
    ));
    let id = adopt(
        &w,
        Action::UpgradeCanister {
            target: UpgradeTarget::Royalties,
            wasm: ByteBuf::from(b"\0asm\x01\0\0\0".to_vec()),
            arg: ByteBuf::new(),
            chunked_wasm: None,
        },
        T0,
    );
    // Every 5 s for two days, as the canister's timer would.
    let mut now = T0;
    while now < T0 + 2 * DAY * NANOS_PER_SECOND {
        execute(&w, &targets, now);
        now += 5 * NANOS_PER_SECOND;
    }
    assert_eq!(
        targets.calls.borrow().len(),
        MAX_EXECUTION_ATTEMPTS as usize,
        "called at most {MAX_EXECUTION_ATTEMPTS} times"
    );
    let info = w.governance.borrow().proposal(id).unwrap();
    assert_eq!(
        info.status,
        ProposalStatus::Failed {
            reason: "no definite answer after 10 attempts; the last: stop_canister: the canister \
                     is still stopping"
                .into()
        }
    );
    // The waits double from the first retry delay (10 s, 20 s, … 2,560 s): the tenth attempt is
    // 5,110 s after the first, on a 5 s tick.
    assert_eq!(
        info.executed_at,
        Some(T0 + 511 * FIRST_RETRY_DELAY_SECONDS * NANOS_PER_SECOND)
    );
}

#[test]
fn parameters_stored_before_the_bounds_fail_at_execution_with_the_reason() {
    let w = world();
    w.stake(0, 100).unwrap();
    let targets = RecordingTargets::default();
    let before = w.governance.borrow().parameters();
    let id = adopt(
        &w,
        Action::SetGovernanceParameters {
            parameters: before.clone(),
        },
        T0,
    );
    // As if an earlier version had accepted it: a critical voting period that wraps to 0.29 s.
    let mut wrapping = before.clone();
    wrapping.critical.voting_period_seconds = u64::MAX / NANOS_PER_SECOND + 1;
    w.governance.borrow_mut().set_action_unchecked(
        id,
        Action::SetGovernanceParameters {
            parameters: wrapping,
        },
    );
    assert_eq!(execute(&w, &targets, T0 + 1), vec![id]);
    let status = w.governance.borrow().proposal(id).unwrap().status;
    assert!(
        matches!(&status, ProposalStatus::Failed { reason }
            if reason.contains("InvalidArgument") && reason.contains("critical.voting_period_seconds")),
        "{status:?}"
    );
    assert_eq!(
        w.governance.borrow().parameters(),
        before,
        "nothing applied"
    );
}

#[test]
fn treasury_transfers_pay_once_within_the_cap() {
    let w = world();
    w.stake(0, 100).unwrap();
    let treasury = Account {
        owner: gov_principal(),
        subaccount: Some(TREASURY_SUBACCOUNT),
    };
    w.nusd.mint(treasury, 2_000_000);
    let to = acc(user(3));
    let targets = RecordingTargets::default();
    let pay = adopt(
        &w,
        Action::TransferTreasury {
            to,
            amount: 600_000,
        },
        T0,
    );
    let too_much = adopt(
        &w,
        Action::TransferTreasury {
            to,
            amount: 600_000,
        },
        T0,
    );
    // The first payment's reply is lost: it stays adopted, and the second must count it as in flight.
    w.nusd.inject(Fault::UnknownAfterExecution);
    w.nusd.inject(Fault::UnknownBeforeExecution);
    w.nusd.inject(Fault::UnknownBeforeExecution);
    execute(&w, &targets, T0);
    assert_eq!(
        w.governance.borrow().proposal(pay).unwrap().status,
        ProposalStatus::Adopted
    );
    assert!(matches!(
        w.governance.borrow().proposal(too_much).unwrap().status,
        ProposalStatus::Failed { .. }
    ));
    execute(&w, &targets, T0 + 1);
    assert_eq!(
        w.governance.borrow().proposal(pay).unwrap().status,
        ProposalStatus::Executed
    );
    assert_eq!(w.nusd.balance(&to), 600_000, "paid once");
    assert_eq!(w.nusd.balance(&treasury), 2_000_000 - 600_000 - FEE);
    assert_eq!(w.governance.borrow().treasury_used(T0 + 2), 600_000);
    assert!(targets.calls.borrow().is_empty());
}

mod conservation;
mod generic;
mod lifecycle;
mod typed;
