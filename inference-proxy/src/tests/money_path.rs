//! The money path from a call to royalties' settlement, with the real royalties state machine.

use super::inference_support::*;
use crate::flows::{self, RoyaltiesClient};
use crate::infer::{infer, InferArgs};
use crate::metering::BatchStatus;
use crate::state::ProxyState;
use candid::{Nat, Principal};
use futures::executor::block_on;
use icrc_ledger_types::icrc2::approve::ApproveArgs;
use ledger_adapter::memory::{Fault, MemoryLedger};
use ledger_adapter::{CallFailure, LedgerRuntime};
use neuranft_types::royalties::*;
use neuranft_types::Account;
use std::cell::{Cell, RefCell};

const FEE: u128 = 10;

struct Royalties<'a> {
    state: &'a RefCell<royalties::State>,
    proxy: Principal,
    ledger: &'a MemoryLedger,
    unreachable: Cell<u32>,
}

impl RoyaltiesClient for Royalties<'_> {
    async fn settle(&self, args: SettleArgs) -> Result<Result<SettleOk, SettleError>, CallFailure> {
        if self.unreachable.get() > 0 {
            self.unreachable.set(self.unreachable.get() - 1);
            return Err(CallFailure::Rejected {
                code: 2,
                message: "royalties is stopped".into(),
            });
        }
        Ok(self
            .state
            .borrow_mut()
            .settle(self.proxy, args, self.ledger.time()))
    }
}

fn acc(p: Principal) -> Account {
    Account {
        owner: p,
        subaccount: None,
    }
}

/// A proxy with one honest node, royalties with the model it serves, and alice with 500,000
/// deposited, all on one in-memory ledger.
struct MoneyWorld {
    ledger: MemoryLedger,
    proxy_state: RefCell<ProxyState>,
    nodes: Nodes,
    proxy: Principal,
    royalties_id: Principal,
    roy: RefCell<royalties::State>,
    alice: Principal,
}

fn money_world() -> MoneyWorld {
    let ledger = MemoryLedger::new(FEE, 1_750_000_000_000_000_000);
    let royalties_id = Principal::from_slice(&[0x20; 10]);
    let (proxy_state, nodes, proxy) = proxy_world(royalties_id, ledger.time());
    let roy = RefCell::new(royalties::State::open_small(
        ic_stable_structures::DefaultMemoryImpl::default(),
    ));
    roy.borrow_mut()
        .initialize(
            InitArgs::with_defaults(
                Principal::from_slice(&[0x10; 10]),
                Principal::from_slice(&[0x30; 10]),
                proxy,
                acc(Principal::from_slice(&[0x40; 29])),
            ),
            ledger.time(),
        )
        .unwrap();
    let owner = Principal::from_slice(&[0x51; 29]);
    roy.borrow_mut()
        .register_model(owner, model_args(owner), ledger.time() - 1)
        .unwrap();
    let alice = Principal::from_slice(&[0xA1; 29]);
    ledger.mint(acc(alice), 1_000_000);
    let approve = ApproveArgs {
        from_subaccount: None,
        spender: acc(proxy),
        amount: Nat::from(600_000u32),
        expected_allowance: None,
        expires_at: None,
        fee: None,
        memo: None,
        created_at_time: None,
    };
    block_on(ledger.client(alice).icrc2_approve(approve))
        .unwrap()
        .unwrap();
    block_on(flows::deposit(
        &proxy_state,
        &ledger.client(proxy),
        alice,
        500_000,
        ledger.time(),
    ))
    .unwrap();
    MoneyWorld {
        ledger,
        proxy_state,
        nodes,
        proxy,
        royalties_id,
        roy,
        alice,
    }
}

impl MoneyWorld {
    fn infer(&self, calls: u64) {
        for i in 0..calls {
            let args = InferArgs {
                model: 0,
                prompt: Some(format!("question {i}")),
                messages: None,
                max_tokens: 64,
                temperature: None,
                seed: Some(i),
            };
            block_on(infer(&self.proxy_state, &self.nodes, self.alice, args, i)).unwrap();
        }
    }

    fn royalties(&self, unreachable: u32) -> Royalties<'_> {
        Royalties {
            state: &self.roy,
            proxy: self.proxy,
            ledger: &self.ledger,
            unreachable: Cell::new(unreachable),
        }
    }

    fn flush(&self, royalties: &Royalties<'_>) -> flows::FlushReport {
        let client = self.ledger.client(self.proxy);
        block_on(flows::flush(&self.proxy_state, &client, royalties, true))
    }

    /// The proxy's ledger balance is what it owes, and royalties holds what it settled.
    fn assert_conserved(&self) {
        let proxy_l = self.proxy_state.borrow().metering.liabilities();
        assert_eq!(self.ledger.balance(&acc(self.proxy)), proxy_l.total);
        let settled = self.roy.borrow().liabilities().settled_total;
        assert_eq!(self.ledger.balance(&acc(self.royalties_id)), settled);
        self.ledger.check_invariants().unwrap();
    }
}

#[test]
fn deposit_infer_flush_and_settle_conserve_every_unit() {
    let w = money_world();
    w.infer(10);
    let charged_to_receipts: u128 = w
        .proxy_state
        .borrow()
        .metering
        .unsettled_receipts(100)
        .iter()
        .map(|r| r.amount as u128)
        .sum();
    let roy_client = w.royalties(1);
    // The batch transfer's reply is lost once; royalties is unreachable at the first flush.
    w.ledger.inject(Fault::UnknownAfterExecution);
    let first = w.flush(&roy_client);
    assert_eq!(first.closed.len(), 1);
    assert!(first.settled.is_empty(), "{first:?}");
    let batch = w
        .proxy_state
        .borrow()
        .metering
        .batch(first.closed[0])
        .unwrap();
    assert!(
        matches!(batch.status, BatchStatus::Transferred { .. }),
        "{:?}",
        batch.status
    );
    let second = w.flush(&roy_client);
    assert_eq!(second.settled, first.closed);
    assert!(w.flush(&roy_client).settled.is_empty());
    // Every unit is where the books say.
    w.assert_conserved();
    let proxy_l = w.proxy_state.borrow().metering.liabilities();
    assert_eq!(proxy_l.unsettled + proxy_l.batched, 0);
    assert_eq!(w.ledger.balance(&acc(w.royalties_id)), charged_to_receipts);
    assert_eq!(
        w.roy.borrow().liabilities().settled_total,
        charged_to_receipts
    );
    assert_eq!(w.ledger.blocks_with_memo_prefix(b"NNFT-BAT"), 1);
    let audit = block_on(royalties::flows::payouts::audit(
        &w.roy,
        &w.ledger.client(w.royalties_id),
        Principal::from_slice(&[0x30; 10]),
    ))
    .unwrap();
    assert!(audit.agrees, "{audit:?}");
}

/// The ledger's fee rises just before a batch transfer: the transfer fails (it is above the fee
/// the batch reserved), nothing comes out of users' funds and nothing traps; the batch goes out
/// again with the new fee once the call fees collected can pay it, and settles.
#[test]
fn a_fee_rise_during_a_batch_transfer_is_paid_from_the_reserve_only() {
    let w = money_world();
    w.infer(1);
    let roy_client = w.royalties(0);
    let reserve = w.proxy_state.borrow().metering.liabilities().fee_reserve;
    let alice = w.proxy_state.borrow().metering.balance(&w.alice);
    let high_fee = reserve + 1;
    w.ledger.inject(Fault::SetFee(high_fee));
    let first = w.flush(&roy_client);
    assert_eq!(first.closed, vec![0]);
    assert!(first.settled.is_empty(), "{first:?}");
    w.assert_conserved();
    assert_eq!(w.proxy_state.borrow().metering.balance(&w.alice), alice);
    assert_eq!(w.proxy_state.borrow().ledger_fee(), Some(high_fee));
    // The reserve cannot pay the new fee yet: the batch waits, and says why.
    let waiting = w.flush(&roy_client);
    assert!(
        waiting
            .waiting
            .iter()
            .any(|r| r.contains("FeeReserveTooLow")),
        "{waiting:?}"
    );
    w.assert_conserved();
    // Two more calls pay enough call fees: the first batch goes out with the new fee.
    w.infer(2);
    let later = w.flush(&roy_client);
    assert!(later.settled.contains(&0), "{later:?}");
    w.assert_conserved();
    let l = w.proxy_state.borrow().metering.liabilities();
    assert_eq!(l.unsettled + l.batched, 0, "{l:?}");
    assert_eq!(w.ledger.blocks_with_memo_prefix(b"NNFT-BAT"), 2);
}

/// A batch is sent again only from `to_send` and only while it waits: a second flush (the timer
/// and a caller overlapping) or a stale entry can never transfer it twice; flushes are
/// single-flight.
#[test]
fn a_batch_is_never_sent_twice_and_flushes_do_not_overlap() {
    let w = money_world();
    w.infer(3);
    let roy_client = w.royalties(0);
    w.ledger.inject(Fault::SetFee(FEE + 5));
    let first = w.flush(&roy_client);
    assert_eq!(first.closed, vec![0]);
    assert_eq!(w.proxy_state.borrow().batches_to_send(10), vec![0]);
    // Another flush holds the flag: this one does nothing.
    assert!(w.proxy_state.borrow_mut().try_begin_flush());
    let overlapping = w.flush(&roy_client);
    assert_eq!(
        overlapping.waiting,
        vec!["another flush is running".to_string()]
    );
    w.proxy_state.borrow_mut().end_flush();
    let now = w.ledger.time();
    let intent = w.proxy_state.borrow_mut().resend_batch(0, FEE + 5, now);
    assert!(intent.is_ok(), "{intent:?}");
    assert_eq!(
        w.proxy_state.borrow_mut().resend_batch(0, FEE + 5, now),
        Err(crate::metering::MeteringError::UnknownBatch { batch: 0 }),
        "a batch already sent again is not sent a second time"
    );
    let later = w.flush(&roy_client);
    assert_eq!(later.settled, vec![0], "{later:?}");
    assert_eq!(w.ledger.blocks_with_memo_prefix(b"NNFT-BAT"), 1);
    w.assert_conserved();
}

/// A batch royalties refuses is set aside: later batches settle past it, and it settles itself
/// once royalties accepts it.
#[test]
fn a_refused_batch_is_set_aside_and_never_holds_up_later_ones() {
    let w = money_world();
    w.infer(1);
    let refusing = Royalties {
        proxy: Principal::from_slice(&[0x66; 10]),
        ..w.royalties(0)
    };
    let first = w.flush(&refusing);
    assert_eq!(
        (first.closed.clone(), first.settled.clone()),
        (vec![0], vec![])
    );
    let status = w.proxy_state.borrow().metering.batch(0).unwrap().status;
    assert!(matches!(status, BatchStatus::SetAside { .. }), "{status:?}");
    assert_eq!(w.proxy_state.borrow().set_aside_summary().0, 1);
    let roy_client = w.royalties(0);
    for round in 1..=25u64 {
        w.infer(1);
        let view = w.flush(&roy_client);
        assert!(view.settled.contains(&round), "round {round}: {view:?}");
    }
    assert_eq!(
        w.proxy_state.borrow().metering.batch(0).unwrap().status,
        BatchStatus::Settled
    );
    assert_eq!(w.proxy_state.borrow().set_aside_summary(), (0, 0));
    w.assert_conserved();
}

fn model_args(owner: Principal) -> RegisterModelArgs {
    RegisterModelArgs {
        metadata: ModelMetadata {
            name: "medical-llama".into(),
            base_model: "llama3.1:8b".into(),
            architecture: "decoder".into(),
            datasets: vec![],
            training_params: vec![],
            licence: "llama3.1-community".into(),
        },
        price: Price {
            per_1k_input_tokens: 2_000,
            per_1k_output_tokens: 6_000,
        },
        owners: vec![ShareHolding {
            account: acc(owner),
            units: 1_000_000,
        }],
        data_owners: vec![],
    }
}
