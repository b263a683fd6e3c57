//! Payout tests: claims and the payout timer against a faulty in-memory ledger, and the audit.

use super::*;
use crate::flows::payouts::{self, PayoutJobReport};
use futures::executor::block_on;
use ledger_adapter::book::BookHost;
use ledger_adapter::memory::{Fault, MemoryLedger};
use ledger_adapter::{LedgerRuntime, TRANSACTION_WINDOW_NANOS};
use proptest::prelude::*;
use std::cell::RefCell;

struct Setup {
    state: RefCell<State>,
    ledger: MemoryLedger,
}

impl Setup {
    /// Royalties with `amount` settled for one model owned by `acc(1)` (host `acc(9)`), funded on the ledger.
    fn new(amount: u64) -> Self {
        let mut s = fresh();
        let m = register(&mut s, &[(1, 1_000_000)], &[]);
        let ledger = MemoryLedger::new(FEE, T0);
        ledger.mint(
            Account {
                owner: royalties_id(),
                subaccount: None,
            },
            amount as u128,
        );
        s.settle(proxy(), batch(1, vec![receipt(1, m, 9, amount, 0, T0)]), T0)
            .unwrap();
        Setup {
            state: RefCell::new(s),
            ledger,
        }
    }

    fn claim(&self, who: u8, to: Option<Account>) -> Result<Payout, ClaimError> {
        let client = self.ledger.client(royalties_id());
        block_on(payouts::claim(
            &self.state,
            &client,
            p(who),
            ClaimArgs {
                from_subaccount: None,
                to,
            },
            self.ledger.time(),
        ))
    }

    fn job(&self) -> PayoutJobReport {
        let client = self.ledger.client(royalties_id());
        block_on(payouts::run_payout_job(
            &self.state,
            &client,
            self.ledger.time(),
        ))
    }

    fn audit(&self) -> AuditReport {
        let client = self.ledger.client(royalties_id());
        block_on(payouts::audit(&self.state, &client, acc(1).owner)).unwrap()
    }
}

#[test]
fn the_anonymous_caller_gets_no_audit() {
    let t = Setup::new(10_000_000);
    let client = t.ledger.client(royalties_id());
    let audit = block_on(payouts::audit(&t.state, &client, Principal::anonymous()));
    assert_eq!(audit, Err(AuditError::AnonymousCaller));
}

#[test]
fn claim_pays_the_whole_accrual_minus_fee_and_audit_agrees() {
    let t = Setup::new(10_000_000);
    assert!(t.audit().agrees);
    let payout = t.claim(1, Some(acc(77))).unwrap();
    assert!(matches!(payout.status, PayoutStatus::Completed { .. }));
    assert_eq!(t.ledger.balance(&acc(77)), 6_000_000 - FEE);
    let b = t.state.borrow().balance_of(&acc(1));
    assert_eq!((b.available, b.in_flight, b.paid_total), (0, 0, 6_000_000));
    assert!(t.audit().agrees);
    assert_eq!(t.claim(1, None), Err(ClaimError::NothingToClaim));
    assert_eq!(t.claim(0, None).unwrap_err(), ClaimError::NothingToClaim);
    let anon = block_on(payouts::claim(
        &t.state,
        &t.ledger.client(royalties_id()),
        Principal::anonymous(),
        ClaimArgs {
            from_subaccount: None,
            to: None,
        },
        T0,
    ));
    assert_eq!(anon, Err(ClaimError::AnonymousCaller));
    assert_consistent(&t.state.borrow());
}

#[test]
fn claim_below_fee_is_a_typed_error() {
    let t = Setup::new(10_000); // treasury gets 1,000 < fee
    t.state.borrow_mut().book().set_fee(FEE);
    let before = t.state.borrow().fingerprint();
    assert_eq!(
        t.claim(203, None),
        Err(ClaimError::BelowFee {
            available: 1_000,
            fee: FEE
        })
    );
    assert_eq!(t.state.borrow().fingerprint(), before);
}

#[test]
fn unknown_outcomes_are_resent_identically_and_pay_once() {
    let t = Setup::new(10_000_000);
    // Every send of the claim times out, the first after executing.
    t.ledger.inject(Fault::UnknownAfterExecution);
    t.ledger.inject(Fault::UnknownBeforeExecution);
    t.ledger.inject(Fault::UnknownBeforeExecution);
    let payout = t.claim(1, None).unwrap();
    assert_eq!(payout.status, PayoutStatus::Pending);
    assert_eq!(t.ledger.balance(&acc(1)), 6_000_000 - FEE);
    // Funds are reserved while pending, and the audit still agrees (the ledger already moved them).
    assert_eq!(t.state.borrow().balance_of(&acc(1)).in_flight, 6_000_000);
    // The timer resends the identical payload: the ledger answers Duplicate, which completes it.
    t.ledger.set_time(T0 + 60 * SEC);
    t.ledger.inject(Fault::TemporarilyUnavailable);
    t.job();
    let done = t.state.borrow().payout(payout.id).unwrap();
    assert!(
        matches!(done.status, PayoutStatus::Completed { .. }),
        "{done:?}"
    );
    assert_eq!(t.ledger.blocks_with_memo_prefix(&payout.memo), 1);
    assert_eq!(t.ledger.balance(&acc(1)), 6_000_000 - FEE);
    assert!(t.audit().agrees);
    assert_consistent(&t.state.borrow());
}

#[test]
fn fee_change_mid_flight_rebuilds_the_payout_once() {
    let t = Setup::new(10_000_000);
    t.ledger.inject(Fault::SetFee(20_000));
    let payout = t.claim(1, None).unwrap();
    assert!(matches!(payout.status, PayoutStatus::Completed { .. }));
    assert_eq!(payout.fee, 20_000);
    assert_eq!(t.ledger.balance(&acc(1)), 6_000_000 - 20_000);
    assert_eq!(t.state.borrow().ledger_fee(), Some(20_000));
    assert!(t.audit().agrees);
}

#[test]
fn definite_failure_restores_the_accrual() {
    let t = Setup::new(10_000_000);
    // The ledger holds less than we owe (a bug elsewhere): InsufficientFunds is definite.
    let drain = icrc_ledger_types::icrc1::transfer::TransferArg {
        from_subaccount: None,
        to: acc(250),
        fee: None,
        created_at_time: None,
        memo: None,
        amount: Nat::from(9_000_000u64),
    };
    block_on(t.ledger.client(royalties_id()).icrc1_transfer(drain))
        .unwrap()
        .unwrap();
    let err = t.claim(1, None).unwrap_err();
    assert!(matches!(err, ClaimError::TransferFailed { .. }), "{err:?}");
    let b = t.state.borrow().balance_of(&acc(1));
    assert_eq!((b.available, b.in_flight), (6_000_000, 0));
    assert!(!t.audit().agrees);
    assert_consistent(&t.state.borrow());
}

#[test]
fn outcome_unknown_past_the_window_is_settled_from_the_block_log() {
    let t = Setup::new(10_000_000);
    for _ in 0..ledger_adapter::outbox::SENDS_PER_DRIVE {
        t.ledger.inject(Fault::UnknownBeforeExecution);
    }
    let payout = t.claim(1, None).unwrap();
    assert_eq!(payout.status, PayoutStatus::Pending);
    assert_eq!(t.state.borrow().balance_of(&acc(1)).in_flight, 6_000_000);
    // Past the window the resend is TooOld; the block log shows it never executed; a new payload pays.
    t.ledger
        .set_time(T0 + TRANSACTION_WINDOW_NANOS + 3_600 * SEC);
    t.job();
    let p = t.state.borrow().payout(payout.id).unwrap();
    assert!(matches!(p.status, PayoutStatus::Completed { .. }), "{p:?}");
    assert_eq!(t.ledger.balance(&acc(1)), 6_000_000 - FEE);
    assert_eq!(t.ledger.blocks_with_memo_prefix(&payout.memo), 1);
    assert!(t.audit().agrees);
    assert_consistent(&t.state.borrow());
}

#[test]
fn concurrent_claims_by_one_caller_are_refused() {
    use std::future::Future;
    let t = Setup::new(10_000_000);
    let open = t.ledger.hold_next_update();
    let ledger = t.ledger.client(royalties_id());
    let args = || ClaimArgs {
        from_subaccount: None,
        to: None,
    };
    let mut first = std::pin::pin!(payouts::claim(&t.state, &ledger, p(1), args(), T0));
    let mut cx = std::task::Context::from_waker(futures::task::noop_waker_ref());
    assert!(
        first.as_mut().poll(&mut cx).is_pending(),
        "the first claim waits on the ledger"
    );
    // A second claim by the same caller is refused while the first is in flight; another caller is not.
    assert_eq!(
        block_on(payouts::claim(&t.state, &ledger, p(1), args(), T0)),
        Err(ClaimError::AlreadyProcessing)
    );
    assert!(block_on(payouts::claim(&t.state, &ledger, p(9), args(), T0)).is_ok());
    open.send(()).unwrap();
    let first = block_on(first);
    assert!(
        matches!(
            first,
            Ok(Payout {
                status: PayoutStatus::Completed { .. },
                ..
            })
        ),
        "{first:?}"
    );
    assert_eq!(t.ledger.balance(&acc(1)), 6_000_000 - FEE);
    assert_eq!(t.state.borrow().payouts_of(&acc(1), 10).len(), 1);
    assert!(
        block_on(payouts::claim(&t.state, &ledger, p(1), args(), T0))
            .is_err_and(|e| e == ClaimError::NothingToClaim)
    );
}

#[test]
fn payout_timer_pushes_accruals_above_k_times_fee() {
    let t = Setup::new(1_000_000); // owner 600,000 ≥ 10 × fee; host 300,000; treasury 100,000 ≥ 100,000
    let report = t.job();
    assert_eq!(report.started, 3);
    assert_eq!(t.ledger.balance(&acc(1)), 600_000 - FEE);
    assert_eq!(t.ledger.balance(&acc(9)), 300_000 - FEE);
    assert_eq!(t.ledger.balance(&treasury()), 100_000 - FEE);
    assert_eq!(t.job(), PayoutJobReport::default());
    assert!(t.audit().agrees);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Claims and timer runs under random faults: nothing is lost, nothing is paid twice.
    #[test]
    fn payouts_under_faults_pay_exactly_once(
        faults in proptest::collection::vec(0u8..6, 0..12),
        steps in proptest::collection::vec((0u8..3, 0u64..7_200), 1..12),
    ) {
        let t = Setup::new(50_000_000);
        for f in faults {
            t.ledger.inject(match f {
                0 => Fault::UnknownAfterExecution,
                1 => Fault::UnknownBeforeExecution,
                2 => Fault::TemporarilyUnavailable,
                3 => Fault::SetFee(FEE + 1_000),
                4 => Fault::SetFee(FEE),
                _ => Fault::UnknownAfterExecution,
            });
        }
        for (who, advance) in steps {
            t.ledger.set_time(t.ledger.time() + advance * SEC);
            match who {
                0 => { let _ = t.claim(1, None); }
                1 => { let _ = t.claim(9, Some(acc(60))); }
                _ => { t.job(); }
            }
            assert_consistent(&t.state.borrow());
        }
        // Let the timer finish every pending payout (each run consumes faults only by sending).
        for _ in 0..30 {
            if t.state.borrow().pending_payout_ids(1).is_empty() { break; }
            t.ledger.set_time(t.ledger.time() + 60 * SEC);
            t.job();
        }
        let s = t.state.borrow();
        // Every completed payout moved exactly once on the ledger; failed ones not at all.
        for id in 0..s.counters().next_payout_id {
            let payout = s.payout(id).unwrap();
            let moved = t.ledger.blocks_with_memo_prefix(&payout.memo);
            match payout.status {
                PayoutStatus::Completed { .. } => {
                    prop_assert_eq!(moved, 1);
                    prop_assert_eq!(payout.amount + payout.fee, payout.gross);
                }
                PayoutStatus::Failed { .. } => prop_assert_eq!(moved, 0),
                PayoutStatus::Pending => prop_assert!(false, "payout {} still pending", id),
            }
        }
        prop_assert_eq!(s.liabilities().in_flight, 0);
        drop(s);
        let audit = t.audit();
        prop_assert_eq!(audit.ledger_balance, audit.liabilities.total);
        prop_assert!(audit.agrees);
        prop_assert!(t.ledger.check_invariants().is_ok());
    }
}
