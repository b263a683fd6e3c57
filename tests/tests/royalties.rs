//! Royalties on the real wasm, paid through a real icrc-ledger canister: register, settle, claim,
//! claim through a lost reply, upgrade mid-way, timer payouts — the audit agrees at every step.

use candid::{Encode, Nat, Principal};
use icrc_ledger_types::icrc1::account::Account;
use icrc_ledger_types::icrc1::transfer::{Memo, TransferArg, TransferError};
use localnet::{Fault, LocalNet};
use neuranft_types::royalties::*;
use serde_bytes::ByteBuf;
use tests::*;

const FEE: u128 = 10_000;

struct World {
    net: LocalNet,
    ledger: Principal,
    royalties: Principal,
    proxy: Principal,
    governance: Principal,
    treasury: Account,
}

fn owner(n: u64) -> Principal {
    principal(100 + n)
}

fn world() -> World {
    let mut net = LocalNet::new(7);
    let proxy = principal(50);
    let governance = principal(51);
    let treasury = account(principal(52));
    let ledger = deploy_ledger(
        &mut net,
        "NNT",
        FEE,
        vec![(account(proxy), 1_000_000_000_000)],
    );
    let royalties = net.create_canister(admin());
    let init = RoyaltiesArg::Init(InitArgs {
        ledger,
        governance,
        inference_proxy: proxy,
        treasury,
        split: SplitConfig {
            host_bps: 3_000,
            model_owners_bps: 5_000,
            data_owners_bps: 1_000,
            treasury_bps: 1_000,
        },
        auto_payout_fee_multiple: 10,
        payout_interval_seconds: 60,
    });
    net.install_canister(
        royalties,
        &canister_wasm("royalties"),
        Encode!(&init).unwrap(),
        admin(),
    )
    .expect("royalties installs");
    World {
        net,
        ledger,
        royalties,
        proxy,
        governance,
        treasury,
    }
}

impl World {
    fn register_model(&mut self) -> ModelId {
        let args = RegisterModelArgs {
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
        };
        let (id,): (Result<ModelId, RegistryError>,) = self
            .net
            .update(self.royalties, owner(1), "register_model", (args,))
            .unwrap();
        id.unwrap()
    }

    fn ledger_balance(&mut self, account: Account) -> u128 {
        let (balance,): (Nat,) = self
            .net
            .query(self.ledger, account.owner, "icrc1_balance_of", (account,))
            .unwrap();
        u128::try_from(&balance.0).unwrap()
    }

    /// The proxy's part: transfer the batch total to royalties, then settle the batch.
    fn settle(&mut self, batch_id: u64, model: ModelId, amounts: &[u64]) -> SettleOk {
        let total: u64 = amounts.iter().sum();
        let transfer = TransferArg {
            from_subaccount: None,
            to: account(self.royalties),
            fee: None,
            created_at_time: Some(self.net.time()),
            memo: Some(Memo::from(batch_id)),
            amount: Nat::from(total),
        };
        let (block,): (Result<Nat, TransferError>,) = self
            .net
            .update(self.ledger, self.proxy, "icrc1_transfer", (transfer,))
            .unwrap();
        let receipts = amounts
            .iter()
            .enumerate()
            .map(|(i, amount)| Receipt {
                id: batch_id * 1_000 + i as u64,
                user: principal(900),
                model,
                node_operator: account(principal(60)),
                input_tokens: 500,
                output_tokens: 700,
                amount: *amount,
                split_version: 0,
                metered_at: self.net.time(),
            })
            .collect();
        let args = SettleArgs {
            batch_id,
            funding_block: block.unwrap(),
            receipts,
        };
        let (ok,): (Result<SettleOk, SettleError>,) = self
            .net
            .update(self.royalties, self.proxy, "settle", (args,))
            .unwrap();
        ok.unwrap()
    }

    fn audit(&mut self) -> AuditReport {
        let (report,): (Result<AuditReport, AuditError>,) = self
            .net
            .update(self.royalties, owner(1), "audit", ())
            .unwrap();
        report.unwrap()
    }

    fn claim(&mut self, who: Principal) -> Result<Payout, ClaimError> {
        let args = ClaimArgs {
            from_subaccount: None,
            to: None,
        };
        let (result,): (Result<Payout, ClaimError>,) = self
            .net
            .update(self.royalties, who, "claim", (args,))
            .unwrap();
        result
    }

    fn balance(&mut self, who: Principal) -> StakeholderBalance {
        let (b,): (StakeholderBalance,) = self
            .net
            .query(self.royalties, who, "balance_of", (account(who),))
            .unwrap();
        b
    }
}

#[test]
fn settle_claim_upgrade_and_timer_payouts_through_a_real_ledger() {
    let mut w = world();
    let model = w.register_model();
    w.settle(1, model, &[1_000_000, 2_500_000, 777_777]);
    let audit = w.audit();
    assert!(audit.agrees, "{audit:?}");
    assert_eq!(audit.ledger_balance, 4_277_777);

    // Owner 1 claims: 50% owners × 70% of 4,277,777, minus the fee, lands on the ledger.
    let credited = w.balance(owner(1)).available;
    assert_eq!(credited, 4_277_777 * 5_000 / 10_000 * 7 / 10);
    let payout = w.claim(owner(1)).unwrap();
    assert!(
        matches!(payout.status, PayoutStatus::Completed { .. }),
        "{payout:?}"
    );
    assert_eq!(w.ledger_balance(account(owner(1))), credited - FEE);
    assert!(w.audit().agrees);

    // Owner 2's claim executes on the ledger but royalties sees the call expire: the outbox resends
    // the identical payload, the ledger answers Duplicate, and owner 2 is paid once.
    w.net
        .inject_fault(w.royalties, w.ledger, Fault::ExpireAfterExecution);
    let owed = w.balance(owner(2)).available;
    let payout = w.claim(owner(2)).unwrap();
    assert_eq!(
        w.net.pending_faults(),
        0,
        "the fault hit the claim's transfer"
    );
    assert!(
        matches!(payout.status, PayoutStatus::Completed { .. }),
        "{payout:?}"
    );
    assert_eq!(w.ledger_balance(account(owner(2))), owed - FEE);
    assert!(w.audit().agrees);

    // Upgrade mid-way: everything survives.
    let before = (w.balance(owner(3)), w.balance(principal(60)));
    let (tip_before,): (LogTip,) = w.net.query(w.royalties, owner(1), "log_tip", ()).unwrap();
    let upgrade: Option<RoyaltiesArg> = Some(RoyaltiesArg::Upgrade(None));
    w.net
        .upgrade_canister(
            w.royalties,
            &canister_wasm("royalties"),
            Encode!(&upgrade).unwrap(),
            admin(),
        )
        .expect("royalties upgrades");
    assert_eq!((w.balance(owner(3)), w.balance(principal(60))), before);
    let (tip_after,): (LogTip,) = w.net.query(w.royalties, owner(1), "log_tip", ()).unwrap();
    assert_eq!(tip_before, tip_after);
    assert!(w.audit().agrees);

    // A second batch, then the payout timer (re-armed by post_upgrade) pushes every accrual ≥ 10 × fee.
    w.settle(2, model, &[3_000_000]);
    let host_owed = w.balance(principal(60)).available;
    let treasury_owed = w.balance(w.treasury.owner).available;
    w.net.advance_time(std::time::Duration::from_secs(61));
    for _ in 0..5 {
        w.net.tick();
    }
    assert_eq!(w.ledger_balance(account(principal(60))), host_owed - FEE);
    assert_eq!(w.ledger_balance(w.treasury), treasury_owed - FEE);
    assert_eq!(w.balance(principal(60)).available, 0);
    let audit = w.audit();
    assert!(audit.agrees, "{audit:?}");
    let _ = w.governance;
}

#[test]
fn bad_callers_get_typed_errors_and_change_nothing() {
    let mut w = world();
    let model = w.register_model();
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
