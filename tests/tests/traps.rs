//! A callback that traps after an `await` must leave nothing locked (issue 17): the caller's busy
//! mark, a call's hold and its slot, a claim in progress, governance's job. localnet's
//! `Fault::TrapCallback` makes the caller's callback trap on the answer, as a panic in the code after
//! the `await` would; ic-cdk then drops the future in the cleanup callback, which releases the
//! guards (`neuranft_types::guard`).

use candid::Principal;
use localnet::Fault;
use neuranft_types::governance::{Action, JobReport, ProposalStatus};
use neuranft_types::proxy::{InferArgs, InferError, InferOk, NodeRecord};
use neuranft_types::royalties::*;
use tests::*;

const PRICE: Price = Price {
    per_1k_input_tokens: 2_000_000,
    per_1k_output_tokens: 6_000_000,
};

fn prompt() -> InferArgs {
    InferArgs {
        model: 0,
        prompt: Some("Summarise the patient's history.".into()),
        messages: None,
        max_tokens: 64,
        temperature: None,
        seed: Some(7),
    }
}

fn node(w: &mut NeuraNft) -> NodeRecord {
    let (nodes,): (Vec<NodeRecord>,) = w.net.query(w.proxy, admin(), "nodes", ()).unwrap();
    nodes.into_iter().next().expect("one node")
}

#[test]
fn a_trapping_callback_leaves_nothing_locked() {
    let alice = principal(0xA1);
    let owner = principal(0x0E);
    let mut w = NeuraNft::deploy(43, vec![(account(alice), 50_000_000)], vec![], 1_000);
    let args = sole_owner_model(owner, "medical-llama", PRICE);
    assert_eq!(w.register_model(owner, args).0, Ok(0));
    w.add_node(0, principal(0x0B));
    w.deposit(alice, 40_000_000).0.unwrap();
    let deposited = w.user_balance(alice);

    // The proxy's callback on the node's answer traps: the hold, the call's slot and the node's
    // in-flight mark go with the dropped future; nothing is charged.
    w.net.inject_fault_on(
        w.proxy,
        Principal::management_canister(),
        "http_request",
        Fault::TrapCallback,
    );
    let trapped: Result<(Result<InferOk, InferError>,), _> =
        w.net.update(w.proxy, alice, "infer", (prompt(),));
    assert!(trapped.is_err(), "the call trapped: {trapped:?}");
    assert_eq!(w.user_balance(alice), deposited, "nothing held or charged");
    assert_eq!(node(&mut w).stats.in_flight, 0);
    let ok = w.infer(alice, prompt()).0.expect("the next call is served");
    assert!(ok.charged > 0);
    assert_eq!(w.user_balance(alice).held, 0);

    // Royalties' callback on the payout transfer traps: the claim is not left in progress.
    w.flush();
    w.ticks(5);
    let credited = w.balance(account(owner)).available;
    assert!(credited > 0, "the owner is credited");
    w.net.inject_fault_on(
        w.royalties,
        w.payment_ledger,
        "icrc1_transfer",
        Fault::TrapCallback,
    );
    let trapped: Result<(Result<Payout, ClaimError>,), _> = w.net.update(
        w.royalties,
        owner,
        "claim",
        (ClaimArgs {
            from_subaccount: None,
            to: None,
        },),
    );
    assert!(trapped.is_err(), "the claim trapped: {trapped:?}");
    let again = w.claim(owner).0;
    assert_ne!(again, Err(ClaimError::AlreadyProcessing), "{again:?}");
    w.run_payout_timer();
    w.ticks(5);
    let (audit, _) = w.audit();
    assert!(audit.agrees, "royalties' books agree: {audit:?}");
    let paid = w.ledger_balance(w.payment_ledger, account(owner));
    let left = w.balance(account(owner)).available;
    assert!(paid > 0, "the owner was paid");
    assert!(
        paid + left <= credited,
        "paid once: {paid} + {left} ≤ {credited}"
    );

    // Governance's job traps on the target's answer: the job is not left running, and the next
    // run executes the proposal (royalties answers the replay as done).
    w.net
        .inject_fault_on(w.governance, w.royalties, "set_split", Fault::TrapCallback);
    let split = SplitConfig {
        host_bps: 2_000,
        model_owners_bps: 6_000,
        data_owners_bps: 1_000,
        treasury_bps: 1_000,
    };
    let (id, _) = w.propose(
        founder(),
        FOUNDER_NEURON,
        "A split",
        Action::SetRoyaltySplit { split },
    );
    let id = id.unwrap();
    let mut trapped = false;
    for _ in 0..20 {
        let run: Result<(JobReport,), _> = w.net.update(w.governance, admin(), "run_jobs", ());
        if run.is_err() {
            trapped = true;
            break;
        }
        w.ticks(1);
    }
    assert!(trapped, "the job reached the execution and trapped there");
    assert_eq!(w.proposal(id).status, ProposalStatus::Adopted);
    w.run_governance();
    let info = w.proposal(id);
    assert_eq!(info.status, ProposalStatus::Executed, "{info:?}");
    assert_eq!(w.net.pending_faults(), 0, "every fault was injected");
}
