//! Royalties on the real wasm, paid through a real icrc-ledger canister: register, settle, claim,
//! claim through a lost reply, upgrade mid-way, timer payouts — the audit agrees at every step.

use candid::{Encode, Nat, Principal};
use localnet::Fault;
use neuranft_types::royalties::*;
use serde_bytes::ByteBuf;
use tests::*;

fn owner(n: u64) -> Principal {
    principal(100 + n)
}

fn host() -> Principal {
    principal(60)
}

fn model_args() -> RegisterModelArgs {
    RegisterModelArgs {
        metadata: ModelMetadata {
            name: "medical-llama".into(),
            base_model: "llama3.1:8b".into(),
            architecture: "decoder 8B, LoRA r=16".into(),
            datasets: vec![DatasetRef {
                uri: "ipfs://medqa".into(),
                sha256: ByteBuf::from(vec![1u8; 32]),
            }],
            training_params: vec![],
            licence: "llama3.1-community".into(),
        },
        price: Price {
            per_1k_input_tokens: 2_000,
            per_1k_output_tokens: 6_000,
        },
        owners: vec![
            ShareHolding {
                account: account(owner(1)),
                units: 700_000,
            },
            ShareHolding {
                account: account(owner(2)),
                units: 300_000,
            },
        ],
        data_owners: vec![DataOwner {
            account: account(owner(3)),
            weight: 10_000,
        }],
    }
}

fn receipts(batch_id: u64, model: ModelId, amounts: &[u64], now: u64) -> Vec<Receipt> {
    amounts
        .iter()
        .enumerate()
        .map(|(i, amount)| Receipt {
            id: batch_id * 1_000 + i as u64,
            user: principal(900),
            model,
            node_operator: account(host()),
            input_tokens: 500,
            output_tokens: 700,
            amount: *amount,
            split_version: 0,
            metered_at: now,
        })
        .collect()
}

#[test]
fn settle_claim_upgrade_and_timer_payouts_through_a_real_ledger() {
    let mut w = NeuraNft::deploy_royalties_alone(7, 1_000_000_000_000, vec![], 10);
    let model = w.register_model(owner(1), model_args()).0.unwrap();
    let now = w.net.time();
    w.fund_and_settle(1, receipts(1, model, &[1_000_000, 2_500_000, 777_777], now))
        .0
        .unwrap();
    let audit = w.audit().0;
    assert!(audit.agrees, "{audit:?}");
    assert_eq!(audit.ledger_balance, 4_277_777);

    // Owner 1 claims: 50% owners × 70% of 4,277,777, minus the fee, lands on the ledger.
    let credited = w.balance(account(owner(1))).available;
    assert_eq!(credited, 4_277_777 * 5_000 / 10_000 * 7 / 10);
    let payout = w.claim(owner(1)).0.unwrap();
    assert!(
        matches!(payout.status, PayoutStatus::Completed { .. }),
        "{payout:?}"
    );
    let payment = w.payment_ledger;
    assert_eq!(
        w.ledger_balance(payment, account(owner(1))),
        credited - PAYMENT_FEE
    );
    assert!(w.audit().0.agrees);

    // Owner 2's claim executes on the ledger but royalties sees the call expire: the outbox resends
    // the identical payload, the ledger answers Duplicate, and owner 2 is paid once.
    w.net.inject_fault_on(
        w.royalties,
        payment,
        "icrc1_transfer",
        Fault::ExpireAfterExecution,
    );
    let owed = w.balance(account(owner(2))).available;
    let payout = w.claim(owner(2)).0.unwrap();
    assert_eq!(
        w.net.pending_faults(),
        0,
        "the fault hit the claim's transfer"
    );
    assert!(
        matches!(payout.status, PayoutStatus::Completed { .. }),
        "{payout:?}"
    );
    assert_eq!(
        w.ledger_balance(payment, account(owner(2))),
        owed - PAYMENT_FEE
    );
    assert!(w.audit().0.agrees);

    // Upgrade mid-way: everything survives.
    let before = (w.balance(account(owner(3))), w.balance(account(host())));
    let (tip_before,): (LogTip,) = w.net.query(w.royalties, owner(1), "log_tip", ()).unwrap();
    w.upgrade_royalties().expect("royalties upgrades");
    assert_eq!(
        (w.balance(account(owner(3))), w.balance(account(host()))),
        before
    );
    let (tip_after,): (LogTip,) = w.net.query(w.royalties, owner(1), "log_tip", ()).unwrap();
    assert_eq!(tip_before, tip_after);
    assert!(w.audit().0.agrees);

    // A second batch, then the payout timer (re-armed by post_upgrade) pushes every accrual ≥ 10 × fee.
    let now = w.net.time();
    w.fund_and_settle(2, receipts(2, model, &[3_000_000], now))
        .0
        .unwrap();
    let host_owed = w.balance(account(host())).available;
    let treasury = w.treasury;
    let treasury_owed = w.balance(treasury).available;
    w.run_payout_timer();
    assert_eq!(
        w.ledger_balance(payment, account(host())),
        host_owed - PAYMENT_FEE
    );
    assert_eq!(
        w.ledger_balance(payment, treasury),
        treasury_owed - PAYMENT_FEE
    );
    assert_eq!(w.balance(account(host())).available, 0);
    let audit = w.audit().0;
    assert!(audit.agrees, "{audit:?}");
    assert!(w.settlement_log().1.is_ok());
    assert!(w.verify_ledger_chain(payment).is_ok());
}

#[test]
fn bad_callers_get_typed_errors_and_change_nothing() {
    let mut w = NeuraNft::deploy_royalties_alone(8, 1_000_000, vec![], 10);
    let model = w.register_model(owner(1), model_args()).0.unwrap();
    // Only the proxy settles.
    let args = SettleArgs {
        batch_id: 9,
        funding_block: Nat::from(0u8),
        receipts: vec![],
    };
    let (result,): (Result<SettleOk, SettleError>,) = w
        .net
        .update(w.royalties, owner(1), "settle", (args,))
        .unwrap();
    assert!(result.is_err());
    // Anonymous ingress is dropped by inspect_message before it runs.
    let anonymous = w.net.update_call(
        w.royalties,
        Principal::anonymous(),
        "claim",
        Encode!(&ClaimArgs {
            from_subaccount: None,
            to: None
        })
        .unwrap(),
    );
    assert_eq!(
        anonymous.unwrap_err().code,
        localnet::reject_code::CANISTER_REJECT
    );
    // Malformed Candid is rejected by the canister and changes nothing.
    let garbage = w
        .net
        .update_call(w.royalties, owner(1), "register_model", vec![1, 2, 3]);
    assert_eq!(
        garbage.unwrap_err().code,
        localnet::reject_code::CANISTER_ERROR
    );
    let (page,): (ModelPage,) = w
        .net
        .query(
            w.royalties,
            owner(1),
            "list_models",
            (None::<ModelId>, 10u32),
        )
        .unwrap();
    assert_eq!(page.models.len(), 1);
    assert_eq!(page.models[0].model.id, model);
}
