//! The paid inference path on the real wasm: a user deposits on the real icrc-ledger, calls `infer`,
//! the proxy makes a non-replicated outcall answered by a real hpc-node server on loopback, verifies
//! the signed receipt, charges; the flush transfers the batch to royalties and settles it; the owner
//! claims. A node that is down costs nothing; the proxy is upgraded with unsettled receipts.

use candid::{Encode, Principal};
use neuranft_types::proxy::FlushView;
use neuranft_types::proxy::MoneyError;
use neuranft_types::proxy::UserBalance;
use neuranft_types::proxy::{InferArgs, InferError, InferOk};
use neuranft_types::proxy::{NodeRecord, NodeStatus, RegistryError};
use neuranft_types::royalties::ModelEntry;
use neuranft_types::royalties::*;
use tests::*;

/// The system, one model owned by `owner`, `node_count` admitted hpc-nodes, and `alice` with 10 NUSD
/// on the ledger.
struct System {
    w: NeuraNft,
    owner: Principal,
    alice: Principal,
}

fn up() -> System {
    up_with_nodes(1)
}

fn up_with_nodes(node_count: u8) -> System {
    let alice = principal(0xA1);
    let owner = principal(0x0E);
    let mut w = NeuraNft::deploy(21, vec![(account(alice), 10_000_000)], vec![], 10);
    let args = sole_owner_model(owner, "medical-llama", PRICE);
    let (model, _) = w.register_model(owner, args);
    let model = model.unwrap();
    let (copy,): (Option<ModelEntry>,) = w.net.query(w.proxy, owner, "model", (model,)).unwrap();
    assert_eq!(copy.map(|m| m.price), Some(PRICE), "pushed by royalties");
    for i in 0..node_count {
        w.add_node(i, principal(0x0B + u64::from(i)));
    }
    System { w, owner, alice }
}

const PRICE: Price = Price {
    per_1k_input_tokens: 200_000,
    per_1k_output_tokens: 600_000,
};

impl System {
    fn deposit(&mut self, amount: u128) -> Result<(), MoneyError> {
        self.w.deposit(self.alice, amount).0
    }

    fn infer(&mut self, prompt: &str) -> Result<InferOk, InferError> {
        let args = InferArgs {
            model: 0,
            prompt: Some(prompt.into()),
            messages: None,
            max_tokens: 64,
            temperature: None,
            seed: Some(3),
        };
        self.w.infer(self.alice, args).0
    }

    fn user_balance(&mut self) -> UserBalance {
        self.w.user_balance(self.alice)
    }

    fn ledger_balance(&mut self, who: Principal) -> u128 {
        let ledger = self.w.payment_ledger;
        self.w.ledger_balance(ledger, account(who))
    }

    fn flush(&mut self) -> FlushView {
        self.w.flush().0
    }
}

#[test]
fn deposit_infer_flush_settle_and_claim_on_the_real_wasm() {
    let mut s = up();
    s.deposit(2_000_000).unwrap();
    assert_eq!(s.user_balance().available, 2_000_000);
    assert!(s.w.proxy_audit().agrees);

    let ok = s.infer("What does this ECG show?").unwrap();
    assert!(!ok.output.is_empty());
    let price = neuranft_types::royalties::price_of(
        &Price {
            per_1k_input_tokens: 200_000,
            per_1k_output_tokens: 600_000,
        },
        ok.input_tokens,
        ok.output_tokens,
    )
    .unwrap();
    assert_eq!(ok.charged, price + 20_000);
    assert_eq!(
        s.user_balance(),
        UserBalance {
            available: 2_000_000 - ok.charged,
            held: 0
        }
    );
    assert!(s.w.proxy_audit().agrees);

    // Upgrade the proxy with an unsettled receipt: it survives and is flushed after.
    s.w.upgrade_proxy().unwrap();
    let flushed = s.flush();
    assert_eq!(
        (flushed.closed.len(), flushed.settled.len()),
        (1, 1),
        "{flushed:?}"
    );
    assert_eq!(s.ledger_balance(s.w.royalties), price);
    let audit = s.w.proxy_audit();
    assert!(audit.agrees, "{audit:?}");
    let (roy,): (Result<AuditReport, AuditError>,) =
        s.w.net.update(s.w.royalties, admin(), "audit", ()).unwrap();
    assert!(roy.unwrap().agrees);

    // The owner's part (owners 50% + the data part, as the model names no data owners) is claimable.
    let owner = s.owner;
    let (credited,): (StakeholderBalance,) =
        s.w.net
            .query(s.w.royalties, owner, "balance_of", (account(owner),))
            .unwrap();
    assert_eq!(credited.credited_total, price * 6_000 / 10_000);
    let (claim,): (Result<Payout, ClaimError>,) =
        s.w.net
            .update(
                s.w.royalties,
                owner,
                "claim",
                (ClaimArgs {
                    from_subaccount: None,
                    to: None,
                },),
            )
            .unwrap();
    let payout = claim.unwrap();
    assert!(matches!(payout.status, PayoutStatus::Completed { .. }));
    assert_eq!(s.ledger_balance(owner), credited.available - PAYMENT_FEE);
}

#[test]
fn a_node_that_is_down_costs_the_user_nothing() {
    let mut s = up();
    s.deposit(1_000_000).unwrap();
    s.w.shut_down_node(0);
    let err = s.infer("hello").unwrap_err();
    assert!(matches!(err, InferError::AllNodesFailed { .. }), "{err:?}");
    assert_eq!(
        s.user_balance(),
        UserBalance {
            available: 1_000_000,
            held: 0
        }
    );
    assert!(s.w.proxy_audit().agrees);
}

#[test]
fn bad_input_and_bad_callers_change_nothing() {
    let mut s = up();
    s.deposit(1_000_000).unwrap();
    let before = s.user_balance();
    let too_long = "x".repeat(16_385);
    assert!(matches!(s.infer(""), Err(InferError::InvalidInput { .. })));
    assert!(matches!(
        s.infer(&too_long),
        Err(InferError::InvalidInput { .. })
    ));
    let (r,): (Result<(), MoneyError>,) =
        s.w.net
            .update(s.w.proxy, s.alice, "deposit", (0u128,))
            .unwrap();
    assert_eq!(r, Err(MoneyError::ZeroAmount));
    let (r,): (Result<(), MoneyError>,) =
        s.w.net
            .update(
                s.w.proxy,
                s.alice,
                "withdraw",
                (
                    50_000_000u128,
                    None::<icrc_ledger_types::icrc1::account::Account>,
                ),
            )
            .unwrap();
    assert!(r.is_err());
    // Only royalties pushes models, only governance decides on nodes; anonymous ingress is dropped.
    let (r,): (Result<bool, neuranft_types::proxy::RegistryError>,) =
        s.w.net
            .update(
                s.w.proxy,
                s.alice,
                "update_model",
                (ModelEntry {
                    model: 0,
                    base_model: "x".into(),
                    price: Price {
                        per_1k_input_tokens: 0,
                        per_1k_output_tokens: 0,
                    },
                    status: ModelStatus::Active,
                    version: 99,
                },),
            )
            .unwrap();
    assert!(r.is_err());
    let anonymous = s.w.net.update_call(
        s.w.proxy,
        Principal::anonymous(),
        "deposit",
        Encode!(&1u128).unwrap(),
    );
    assert_eq!(
        anonymous.unwrap_err().code,
        localnet::reject_code::CANISTER_REJECT
    );
    assert_eq!(s.user_balance(), before);
    assert!(s.w.proxy_audit().agrees);
}

#[test]
fn a_withdrawal_pays_out_on_the_ledger_once_and_the_books_follow() {
    let mut s = up();
    s.deposit(1_000_000).unwrap();
    let to = account(principal(0xA2));
    let (r,): (Result<(), MoneyError>,) =
        s.w.net
            .update(s.w.proxy, s.alice, "withdraw", (600_000u128, Some(to)))
            .unwrap();
    r.unwrap();
    // The recipient bears the ledger fee.
    assert_eq!(s.ledger_balance(to.owner), 600_000 - PAYMENT_FEE);
    assert_eq!(
        s.user_balance(),
        UserBalance {
            available: 400_000,
            held: 0
        }
    );
    let audit = s.w.proxy_audit();
    assert!(audit.agrees, "{audit:?}");
    assert_eq!(audit.ledger_balance, 400_000);
    // More than is left is refused and changes nothing.
    let (r,): (Result<(), MoneyError>,) =
        s.w.net
            .update(s.w.proxy, s.alice, "withdraw", (400_001u128, Some(to)))
            .unwrap();
    assert!(matches!(r, Err(MoneyError::Metering(_))), "{r:?}");
    assert_eq!(s.ledger_balance(to.owner), 600_000 - PAYMENT_FEE);
    assert!(s.w.proxy_audit().agrees);
}

#[test]
fn with_two_nodes_a_dead_one_is_failed_over_and_then_suspended() {
    let mut s = up_with_nodes(2);
    s.deposit(5_000_000).unwrap();
    s.w.shut_down_node(0);
    // The proxy prefers healthy nodes, so the dead one is picked less and less often; every pick
    // fails over to the live node until three failures in a row suspend it.
    let mut charged = 0;
    let mut calls = 0;
    let suspended_after = loop {
        let ok = s.infer(&format!("question {calls}")).unwrap();
        assert_eq!(ok.node, 1, "only the live node answers");
        charged += ok.charged;
        calls += 1;
        let (nodes,): (Vec<NodeRecord>,) = s.w.net.query(s.w.proxy, s.alice, "nodes", ()).unwrap();
        if let NodeStatus::Suspended { by_proposal, .. } = &nodes[0].status {
            assert_eq!(*by_proposal, None, "suspended by the proxy itself");
            assert_eq!(nodes[0].stats.failures, 3);
            break calls;
        }
        assert!(
            calls < 200,
            "the dead node was never suspended: {:?}",
            nodes[0]
        );
    };
    for i in 0..5 {
        let ok = s.infer(&format!("after {i}")).unwrap();
        charged += ok.charged;
    }
    assert_eq!(
        s.user_balance(),
        UserBalance {
            available: 5_000_000 - charged,
            held: 0
        },
        "the dead node's attempts cost nothing"
    );
    let (nodes,): (Vec<NodeRecord>,) = s.w.net.query(s.w.proxy, s.alice, "nodes", ()).unwrap();
    assert_eq!(nodes[0].stats.failures, 3, "not tried once suspended");
    assert_eq!(nodes[1].stats.successes, suspended_after + 5);
    assert!(s.w.proxy_audit().agrees);
}

#[test]
fn while_royalties_is_unreachable_batches_wait_and_nothing_is_lost() {
    let mut s = up();
    s.deposit(2_000_000).unwrap();
    let mut total = 0;
    for i in 0..3 {
        let ok = s.infer(&format!("question {i}")).unwrap();
        total += ok.charged - 20_000;
    }
    s.w.net.stop_canister(s.w.royalties, admin()).unwrap();
    let flushed = s.flush();
    assert_eq!(flushed.closed.len(), 1);
    assert!(flushed.settled.is_empty(), "{flushed:?}");
    // The funds are already with royalties' account on the ledger; the settlement waits.
    assert_eq!(s.ledger_balance(s.w.royalties), total);
    let audit = s.w.proxy_audit();
    assert!(audit.agrees, "{audit:?}");
    let (batch,): (Option<neuranft_types::proxy::BatchRecord>,) =
        s.w.net
            .query(s.w.proxy, s.alice, "batch", (flushed.closed[0],))
            .unwrap();
    assert!(matches!(
        batch.unwrap().status,
        neuranft_types::proxy::BatchStatus::Transferred { .. }
    ));
    s.w.net.start_canister(s.w.royalties, admin()).unwrap();
    // The proxy's timer retries by itself.
    s.w.net.advance_time(std::time::Duration::from_secs(3_600));
    for _ in 0..5 {
        s.w.net.tick();
    }
    let (batch,): (Option<neuranft_types::proxy::BatchRecord>,) =
        s.w.net
            .query(s.w.proxy, s.alice, "batch", (flushed.closed[0],))
            .unwrap();
    assert_eq!(
        batch.unwrap().status,
        neuranft_types::proxy::BatchStatus::Settled
    );
    let (roy,): (Result<AuditReport, AuditError>,) =
        s.w.net.update(s.w.royalties, admin(), "audit", ()).unwrap();
    let roy = roy.unwrap();
    assert!(roy.agrees, "{roy:?}");
    let owner = s.owner;
    let (credited,): (StakeholderBalance,) =
        s.w.net
            .query(s.w.royalties, owner, "balance_of", (account(owner),))
            .unwrap();
    // Owners 50% + the data part 10% (no data owners), credited once, exact to the last unit.
    assert!(
        total * 6 / 10 - credited.credited_total <= 1,
        "{credited:?}"
    );
    assert!(s.w.proxy_audit().agrees);
}

#[test]
fn an_upgrade_with_a_call_in_flight_releases_its_hold() {
    let mut s = up();
    s.deposit(1_000_000).unwrap();
    let args = InferArgs {
        model: 0,
        prompt: Some("cut short".into()),
        messages: None,
        max_tokens: 64,
        temperature: None,
        seed: None,
    };
    let call =
        s.w.net
            .submit_call(s.w.proxy, s.alice, "infer", Encode!(&args).unwrap())
            .unwrap();
    s.w.net.tick();
    assert_eq!(
        s.w.net.pending_http_requests().len(),
        1,
        "the outcall is in flight"
    );
    assert!(s.user_balance().held > 0);
    let (nodes,): (Vec<NodeRecord>,) = s.w.net.query(s.w.proxy, s.alice, "nodes", ()).unwrap();
    assert_eq!(nodes[0].stats.in_flight, 1);
    s.w.upgrade_proxy().unwrap();
    // The cut call no longer takes a place in the node's capacity.
    let (nodes,): (Vec<NodeRecord>,) = s.w.net.query(s.w.proxy, s.alice, "nodes", ()).unwrap();
    assert_eq!(nodes[0].stats.in_flight, 0);
    assert_eq!(
        s.user_balance(),
        UserBalance {
            available: 1_000_000,
            held: 0
        },
        "the hold of the cut call is released, nothing charged"
    );
    // The node's late answer reaches no code; the caller learns the call did not complete.
    assert!(s.w.net.await_call(call).is_err());
    assert_eq!(s.user_balance().available, 1_000_000);
    let (unsettled,): (Vec<Receipt>,) =
        s.w.net
            .query(s.w.proxy, s.alice, "unsettled_receipts", (10u32,))
            .unwrap();
    assert!(unsettled.is_empty());
    assert!(s.w.proxy_audit().agrees);
    // And the proxy keeps working.
    s.infer("after the upgrade").unwrap();
}

#[test]
fn a_split_adopted_by_governance_reaches_the_proxy_and_stamps_later_receipts_only() {
    let mut s = up();
    s.deposit(2_000_000).unwrap();
    s.infer("before").unwrap();
    let split = SplitConfig {
        model_owners_bps: 4_000,
        data_owners_bps: 4_000,
        host_bps: 1_000,
        treasury_bps: 1_000,
    };
    // Governance adopts and executes the proposal: royalties records split version 1.
    let info = s.w.adopt(
        "Raise the data owners' share",
        neuranft_types::governance::Action::SetRoyaltySplit { split },
    );
    assert_eq!(
        info.status,
        neuranft_types::governance::ProposalStatus::Executed
    );
    let (current,): (Option<SplitRecord>,) =
        s.w.net
            .query(s.w.royalties, s.alice, "get_split", (None::<SplitVersion>,))
            .unwrap();
    let current = current.unwrap();
    assert_eq!((current.version, current.proposal_id), (1, Some(info.id)));
    for _ in 0..3 {
        s.w.net.tick();
    }
    let (version,): (SplitVersion,) =
        s.w.net
            .query(s.w.proxy, s.alice, "split_version", ())
            .unwrap();
    assert_eq!(version, 1, "royalties pushed the new version");
    s.infer("after").unwrap();
    let (unsettled,): (Vec<Receipt>,) =
        s.w.net
            .query(s.w.proxy, s.alice, "unsettled_receipts", (10u32,))
            .unwrap();
    let versions: Vec<SplitVersion> = unsettled.iter().map(|r| r.split_version).collect();
    assert_eq!(versions, vec![0, 1]);
    // Only royalties may tell the proxy a version.
    let (r,): (Result<(), RegistryError>,) =
        s.w.net
            .update(s.w.proxy, s.w.governance, "set_split_version", (5u32,))
            .unwrap();
    assert!(r.is_err());
    let flushed = s.flush();
    assert_eq!(flushed.settled.len(), 1, "{flushed:?}");
}
