use crate::api;
use crate::state::*;
use candid::utils::{decode_args, encode_args, ArgumentDecoder, ArgumentEncoder};
use candid::{Nat, Principal};
use ic_stable_structures::DefaultMemoryImpl;
use icrc_ledger_types::icrc::generic_value::ICRC3Value;
use icrc_ledger_types::icrc1::account::Account;
use icrc_ledger_types::icrc1::transfer::{Memo, TransferArg, TransferError};
use icrc_ledger_types::icrc2::allowance::AllowanceArgs;
use icrc_ledger_types::icrc2::approve::{ApproveArgs, ApproveError};
use icrc_ledger_types::icrc2::transfer_from::{TransferFromArgs, TransferFromError};
use icrc_ledger_types::icrc3::blocks::GetBlocksRequest;
use neuranft_types::icrc3::{field, value_account};
use neuranft_types::ledger::LedgerInitArgs;
use proptest::prelude::*;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

const SEC: u64 = 1_000_000_000;
const START: u64 = 1_700_000_000 * SEC;
const FEE: u128 = 10_000;

fn principal(n: u64) -> Principal {
    let mut bytes = n.to_le_bytes().to_vec();
    bytes.push(0x01);
    Principal::from_slice(&bytes)
}

fn acc(n: u64) -> Account {
    Account {
        owner: principal(n),
        subaccount: None,
    }
}

fn minter() -> Account {
    acc(999_999)
}

fn init_args(initial: Vec<(Account, u128)>) -> LedgerInitArgs {
    LedgerInitArgs {
        token_name: "NeuraNFT Test Token".into(),
        token_symbol: "NNT".into(),
        decimals: 8,
        transfer_fee: FEE.into(),
        minting_account: minter(),
        initial_balances: initial.into_iter().map(|(a, b)| (a, b.into())).collect(),
        max_memo_length: Some(64),
        min_burn_amount: None,
    }
}

fn ledger_with(initial: Vec<(Account, u128)>) -> Ledger {
    let mut ledger = Ledger::open_small(DefaultMemoryImpl::default());
    ledger.initialize(&init_args(initial), START).unwrap();
    ledger
}

fn transfer_arg(to: Account, amount: u128) -> TransferArg {
    TransferArg {
        from_subaccount: None,
        to,
        fee: None,
        created_at_time: None,
        memo: None,
        amount: amount.into(),
    }
}

/// The invariants every step must keep: supply equals the sum of balances and minted minus burned;
/// the block chain verifies.
fn assert_invariants(ledger: &Ledger) {
    let totals = ledger.totals();
    assert_eq!(ledger.sum_of_balances(), totals.total_supply);
    assert_eq!(totals.minted - totals.burned, totals.total_supply);
    assert_eq!(ledger.balance_of(&minter()), 0);
    ledger.verify_chain().unwrap();
}

// ---------------------------------------------------------------------------------------------
// The public ICRC-1/2 acceptance suite, run against the state machine through the same `api`
// functions the canister exports, with Candid on both sides of every call.

#[derive(Clone)]
struct NativeLedgerEnv {
    ledger: Rc<RefCell<Ledger>>,
    clock: Rc<Cell<u64>>,
    next_principal: Rc<Cell<u64>>,
    caller: Principal,
}

impl NativeLedgerEnv {
    fn call(&self, method: &str, arg: &[u8], update: bool) -> anyhow::Result<Vec<u8>> {
        if update {
            // Each update executes in a later round.
            self.clock.set(self.clock.get() + SEC / 1000);
        }
        let now = self.clock.get();
        let caller = self.caller;
        let mut l = self.ledger.borrow_mut();
        macro_rules! route {
            ($($name:literal => |$($a:ident : $t:ty),*| $body:expr),* $(,)?) => {
                match method {
                    $($name => {
                        let ($($a,)*): ($($t,)*) = decode_args(arg)?;
                        Ok(encode_args(($body,))?)
                    })*
                    other => anyhow::bail!("no method {other}"),
                }
            };
        }
        route! {
            "icrc1_transfer" => |a: TransferArg| api::icrc1_transfer(&mut l, caller, a, now),
            "icrc2_approve" => |a: ApproveArgs| api::icrc2_approve(&mut l, caller, a, now),
            "icrc2_transfer_from" => |a: TransferFromArgs| api::icrc2_transfer_from(&mut l, caller, a, now),
            "icrc2_allowance" => |a: AllowanceArgs| api::icrc2_allowance(&l, a, now),
            "icrc1_balance_of" => |a: Account| api::icrc1_balance_of(&l, a),
            "icrc1_fee" => | | api::icrc1_fee(&l),
            "icrc1_name" => | | api::icrc1_name(&l),
            "icrc1_symbol" => | | api::icrc1_symbol(&l),
            "icrc1_decimals" => | | api::icrc1_decimals(&l),
            "icrc1_metadata" => | | api::icrc1_metadata(&l),
            "icrc1_minting_account" => | | api::icrc1_minting_account(&l),
            "icrc1_supported_standards" => | | api::icrc1_supported_standards(),
        }
    }
}

#[async_trait::async_trait(?Send)]
impl icrc1_test_env::LedgerEnv for NativeLedgerEnv {
    fn fork(&self) -> Self {
        let n = self.next_principal.get();
        self.next_principal.set(n + 1);
        Self {
            caller: principal(n),
            ..self.clone()
        }
    }

    fn principal(&self) -> Principal {
        self.caller
    }

    async fn time(&self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + std::time::Duration::from_nanos(self.clock.get())
    }

    async fn query<Input, Output>(&self, method: &str, input: Input) -> anyhow::Result<Output>
    where
        Input: ArgumentEncoder + std::fmt::Debug,
        Output: for<'a> ArgumentDecoder<'a>,
    {
        let bytes = self.call(method, &encode_args(input)?, false)?;
        Ok(decode_args(&bytes)?)
    }

    async fn update<Input, Output>(&self, method: &str, input: Input) -> anyhow::Result<Output>
    where
        Input: ArgumentEncoder + std::fmt::Debug,
        Output: for<'a> ArgumentDecoder<'a>,
    {
        let bytes = self.call(method, &encode_args(input)?, true)?;
        Ok(decode_args(&bytes)?)
    }
}

#[test]
fn passes_the_icrc1_and_icrc2_acceptance_suite() {
    let funded = principal(1);
    let ledger = Rc::new(RefCell::new(ledger_with(vec![(
        Account::from(funded),
        1_000_000_000_000,
    )])));
    let env = NativeLedgerEnv {
        ledger: ledger.clone(),
        clock: Rc::new(Cell::new(START)),
        next_principal: Rc::new(Cell::new(100)),
        caller: funded,
    };
    let tests = futures::executor::block_on(icrc1_test_suite::test_suite(env));
    let count = tests.len();
    assert_eq!(count, 16, "the suite has 8 ICRC-1 and 8 ICRC-2 tests");
    assert!(
        futures::executor::block_on(icrc1_test_suite::execute_tests(tests)),
        "acceptance suite failed (TAP output above)"
    );
    println!("acceptance suite: {count}/{count} passed");
    assert_invariants(&ledger.borrow());
}

// ---------------------------------------------------------------------------------------------

#[test]
fn init_mints_initial_balances_as_blocks_and_refuses_bad_arguments() {
    let ledger = ledger_with(vec![(acc(1), 500), (acc(2), 700)]);
    assert_eq!(ledger.total_supply(), 1_200);
    assert_eq!(ledger.log_length(), 2);
    let block = ledger.block(1).unwrap();
    assert_eq!(
        field(&block, &["btype"]),
        Some(&ICRC3Value::Text("1mint".into()))
    );
    assert_eq!(
        value_account(field(&block, &["tx", "to"]).unwrap()),
        Some(acc(2))
    );
    assert_invariants(&ledger);

    let mut bad = Ledger::open_small(DefaultMemoryImpl::default());
    let mut args = init_args(vec![(minter(), 1)]);
    assert_eq!(
        bad.initialize(&args, START),
        Err(InitError::MintingAccountBalance)
    );
    args.initial_balances = vec![(acc(1), Nat::from(u128::MAX)), (acc(2), Nat::from(1u8))];
    assert_eq!(bad.initialize(&args, START), Err(InitError::SupplyOverflow));
    args.initial_balances = vec![];
    args.max_memo_length = Some(8);
    assert_eq!(
        bad.initialize(&args, START),
        Err(InitError::MemoLimitTooSmall)
    );
    assert!(!bad.is_initialized());
}

#[test]
fn transfer_errors_are_typed_and_change_nothing() {
    let mut ledger = ledger_with(vec![(acc(1), 100_000)]);
    let before = (ledger.log_length(), ledger.totals());
    let p1 = principal(1);
    let mut arg = transfer_arg(acc(2), 1_000);
    arg.fee = Some(Nat::from(FEE + 1));
    assert_eq!(
        ledger.transfer(p1, &arg, START),
        Err(TransferError::BadFee {
            expected_fee: FEE.into()
        })
    );
    let arg = transfer_arg(acc(2), 100_000);
    assert_eq!(
        ledger.transfer(p1, &arg, START),
        Err(TransferError::InsufficientFunds {
            balance: 100_000u32.into()
        })
    );
    // An amount beyond 128 bits is simply more than anyone holds.
    let mut huge = transfer_arg(acc(2), 0);
    huge.amount = Nat::from(u128::MAX) * 4u8;
    assert!(matches!(
        ledger.transfer(p1, &huge, START),
        Err(TransferError::InsufficientFunds { .. })
    ));
    let mut long_memo = transfer_arg(acc(2), 1);
    long_memo.memo = Some(Memo::from(vec![7u8; 65]));
    assert!(matches!(
        ledger.transfer(p1, &long_memo, START),
        Err(TransferError::GenericError { .. })
    ));
    let mut old = transfer_arg(acc(2), 1);
    old.created_at_time = Some(START - TRANSACTION_WINDOW_NANOS - PERMITTED_DRIFT_NANOS - 1);
    assert_eq!(ledger.transfer(p1, &old, START), Err(TransferError::TooOld));
    let mut future = transfer_arg(acc(2), 1);
    future.created_at_time = Some(START + PERMITTED_DRIFT_NANOS + 1);
    assert_eq!(
        ledger.transfer(p1, &future, START),
        Err(TransferError::CreatedInFuture { ledger_time: START })
    );
    // Burning less than the minimum.
    assert_eq!(
        ledger.transfer(p1, &transfer_arg(minter(), FEE - 1), START),
        Err(TransferError::BadBurn {
            min_burn_amount: FEE.into()
        })
    );
    // A burn or a mint names no fee but 0.
    let mut burn = transfer_arg(minter(), FEE);
    burn.fee = Some(FEE.into());
    assert_eq!(
        ledger.transfer(p1, &burn, START),
        Err(TransferError::BadFee {
            expected_fee: 0u8.into()
        })
    );
    assert_eq!((ledger.log_length(), ledger.totals()), before);
    assert_invariants(&ledger);
}

#[test]
fn mint_burn_and_fees_keep_the_supply_exact() {
    let mut ledger = ledger_with(vec![(acc(1), 100_000)]);
    ledger.mint(acc(3), 50_000, START).unwrap();
    ledger
        .transfer(principal(1), &transfer_arg(acc(2), 2 * FEE), START)
        .unwrap();
    // A burn is a transfer to the minting account, and carries no fee.
    ledger
        .transfer(principal(2), &transfer_arg(minter(), FEE), START)
        .unwrap();
    assert_eq!(ledger.balance_of(&acc(1)), 100_000 - 2 * FEE - FEE);
    assert_eq!(ledger.balance_of(&acc(2)), FEE);
    let totals = ledger.totals();
    assert_eq!(totals.minted, 150_000);
    assert_eq!(totals.burned, FEE + FEE);
    assert_eq!(totals.total_supply, 150_000 - 2 * FEE);
    assert_invariants(&ledger);
}

#[test]
fn allowances_expire_are_spent_exactly_and_check_expected_values() {
    let mut ledger = ledger_with(vec![(acc(1), 1_000_000)]);
    let (p1, p2) = (principal(1), principal(2));
    let approve = |amount: u128, expires_at: Option<u64>| ApproveArgs {
        from_subaccount: None,
        spender: acc(2),
        amount: amount.into(),
        expected_allowance: None,
        expires_at,
        fee: None,
        memo: None,
        created_at_time: None,
    };
    ledger
        .approve(p1, &approve(50_000, Some(START + 10 * SEC)), START)
        .unwrap();
    let from_arg = |amount: u128| TransferFromArgs {
        spender_subaccount: None,
        from: acc(1),
        to: acc(3),
        amount: amount.into(),
        fee: None,
        memo: None,
        created_at_time: None,
    };
    ledger.transfer_from(p2, &from_arg(30_000), START).unwrap();
    let left = ledger.allowance(
        &AllowanceArgs {
            account: acc(1),
            spender: acc(2),
        },
        START,
    );
    assert_eq!(left.allowance, Nat::from(50_000 - 30_000 - FEE));
    assert_eq!(
        ledger.transfer_from(p2, &from_arg(10_001), START),
        Err(TransferFromError::InsufficientAllowance {
            allowance: (50_000 - 30_000 - FEE).into()
        })
    );
    // After expiry the allowance is zero.
    assert_eq!(
        ledger.transfer_from(p2, &from_arg(1), START + 10 * SEC),
        Err(TransferFromError::InsufficientAllowance {
            allowance: 0u8.into()
        })
    );
    let mut expected = approve(5, None);
    expected.expected_allowance = Some(1u8.into());
    assert_eq!(
        ledger.approve(p1, &expected, START + 11 * SEC),
        Err(ApproveError::AllowanceChanged {
            current_allowance: 0u8.into()
        })
    );
    let mut self_approval = approve(5, None);
    self_approval.spender = Account {
        owner: p1,
        subaccount: Some([1; 32]),
    };
    assert!(matches!(
        ledger.approve(p1, &self_approval, START),
        Err(ApproveError::GenericError { .. })
    ));
    assert_invariants(&ledger);
}

#[test]
fn blocks_are_icrc3_values_chained_by_phash_and_pageable() {
    let mut ledger = ledger_with(vec![(acc(1), 1_000_000)]);
    for i in 0..30u64 {
        let mut arg = transfer_arg(acc(2 + i % 3), 100 + i as u128);
        arg.memo = Some(Memo::from(i));
        arg.created_at_time = Some(START);
        ledger.transfer(principal(1), &arg, START + i).unwrap();
    }
    assert_eq!(ledger.log_length(), 31);
    let page = api::icrc3_get_blocks(
        &ledger,
        vec![
            GetBlocksRequest {
                start: 29u8.into(),
                length: 10u8.into(),
            },
            GetBlocksRequest {
                start: 3u8.into(),
                length: 2u8.into(),
            },
        ],
    );
    assert_eq!(page.log_length, Nat::from(31u8));
    let ids: Vec<Nat> = page.blocks.iter().map(|b| b.id.clone()).collect();
    assert_eq!(
        ids,
        vec![Nat::from(29u8), 30u8.into(), 3u8.into(), 4u8.into()]
    );
    let block = &page.blocks[1].block;
    assert_eq!(
        field(block, &["btype"]),
        Some(&ICRC3Value::Text("1xfer".into()))
    );
    assert_eq!(
        field(block, &["tx", "amt"]),
        Some(&ICRC3Value::Nat(129u8.into()))
    );
    assert_eq!(
        field(block, &["tx", "ts"]),
        Some(&ICRC3Value::Nat(START.into()))
    );
    assert_eq!(field(block, &["fee"]), Some(&ICRC3Value::Nat(FEE.into())));
    assert_eq!(
        field(block, &["phash"]),
        Some(&ICRC3Value::Blob(serde_bytes::ByteBuf::from(
            crate::block::block_hash(&ledger.block(29).unwrap()).to_vec()
        )))
    );
    let (tip_index, tip_hash) = ledger.tip().unwrap();
    assert_eq!(tip_index, 30);
    assert_eq!(tip_hash, crate::block::block_hash(block));
    assert_eq!(
        api::certified_data(&ledger),
        crate::certification::tip_root_hash(30, tip_hash).to_vec()
    );
    assert_invariants(&ledger);
}

#[test]
fn chain_verification_detects_a_changed_block() {
    let mut ledger = ledger_with(vec![(acc(1), 1_000_000)]);
    for i in 0..5u64 {
        ledger
            .transfer(principal(1), &transfer_arg(acc(2), 100 + i as u128), START)
            .unwrap();
    }
    let blocks: Vec<ICRC3Value> = (0..ledger.log_length())
        .map(|i| ledger.block(i).unwrap())
        .collect();
    let tip = ledger.tip().map(|(_, h)| h);
    crate::block::verify_chain(blocks.clone(), tip).unwrap();
    // Change the amount of block 3: block 4's phash no longer matches.
    let mut tampered = blocks.clone();
    if let ICRC3Value::Map(block) = &mut tampered[3] {
        if let Some(ICRC3Value::Map(tx)) = block.get_mut("tx") {
            tx.insert("amt".into(), ICRC3Value::Nat(1_000_000u32.into()));
        }
    }
    assert!(crate::block::verify_chain(tampered, tip)
        .unwrap_err()
        .contains("block 4"));
    // Drop the last block: the tip no longer matches.
    assert!(crate::block::verify_chain(blocks[..5].to_vec(), tip).is_err());
    // Piece by piece: the hash returned for the first blocks links the rest; a wrong link is refused.
    let middle = crate::block::verify_links(blocks[..3].to_vec(), 0, None).unwrap();
    assert_eq!(ledger.verify_chain_since(3, middle).unwrap(), tip);
    assert!(ledger
        .verify_chain_since(3, Some([7; 32]))
        .unwrap_err()
        .contains("block 3"));
    assert_eq!(
        ledger.verify_chain_since(ledger.log_length(), tip).unwrap(),
        tip
    );
}

#[test]
fn upgrade_keeps_every_balance_allowance_dedup_entry_and_block() {
    let memory = DefaultMemoryImpl::default();
    let mut ledger = Ledger::open_small(memory.clone());
    ledger
        .initialize(&init_args(vec![(acc(1), 1_000_000)]), START)
        .unwrap();
    let mut arg = transfer_arg(acc(2), 5_000);
    arg.created_at_time = Some(START);
    let index = ledger.transfer(principal(1), &arg, START).unwrap();
    ledger
        .approve(
            principal(1),
            &ApproveArgs {
                from_subaccount: None,
                spender: acc(3),
                amount: 7_000u32.into(),
                expected_allowance: None,
                expires_at: None,
                fee: None,
                memo: None,
                created_at_time: None,
            },
            START,
        )
        .unwrap();
    let before = (
        ledger.totals(),
        ledger.log_length(),
        ledger.balance_of(&acc(1)),
    );
    drop(ledger);

    let mut upgraded = Ledger::open_small(memory);
    assert_eq!(
        (
            upgraded.totals(),
            upgraded.log_length(),
            upgraded.balance_of(&acc(1))
        ),
        before
    );
    assert_eq!(
        upgraded.transfer(principal(1), &arg, START + SEC),
        Err(TransferError::Duplicate {
            duplicate_of: index.into()
        })
    );
    let allowance = upgraded.allowance(
        &AllowanceArgs {
            account: acc(1),
            spender: acc(3),
        },
        START,
    );
    assert_eq!(allowance.allowance, Nat::from(7_000u32));
    upgraded
        .upgrade(&neuranft_types::ledger::LedgerUpgradeArgs {
            transfer_fee: Some(20_000u32.into()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(upgraded.fee(), 20_000);
    assert_invariants(&upgraded);
}

#[test]
fn dedup_entries_are_pruned_after_the_window() {
    let mut ledger = ledger_with(vec![(acc(1), 1_000_000)]);
    for i in 0..8u64 {
        let mut arg = transfer_arg(acc(2), 1);
        arg.memo = Some(Memo::from(i));
        arg.created_at_time = Some(START);
        ledger.transfer(principal(1), &arg, START).unwrap();
    }
    let later = START + TRANSACTION_WINDOW_NANOS + PERMITTED_DRIFT_NANOS + 1;
    for _ in 0..2 {
        ledger
            .transfer(principal(1), &transfer_arg(acc(2), 1), later)
            .unwrap();
    }
    assert_eq!(ledger.dedup_entries(), 0);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Random transfers, approvals, spends, mints and burns from a few accounts, with clocks that
    /// move and payloads that repeat: the supply always equals the sum of balances and minted minus
    /// burned; a payload with `created_at_time` never executes twice inside the window; the chain
    /// verifies.
    #[test]
    fn supply_dedup_and_chain_hold_under_random_operations(
        ops in proptest::collection::vec((0u8..5, 0u64..4, 0u64..4, 0u128..60_000, 0u64..4, 0u64..3, any::<bool>()), 1..40)
    ) {
        let mut ledger = ledger_with((0..4).map(|n| (acc(n), 200_000)).collect());
        let mut executed = std::collections::HashSet::new();
        let mut now = START;
        for (kind, from, to, amount, memo_id, advance, dedup) in ops {
            now += advance * 10 * SEC;
            let created = dedup.then_some(START);
            let memo = Some(Memo::from(memo_id));
            let result: Result<u64, String> = match kind {
                0 => ledger.transfer(principal(from), &TransferArg { memo, created_at_time: created, ..transfer_arg(acc(to), amount) }, now).map_err(|e| format!("{e:?}")),
                1 => ledger.approve(principal(from), &ApproveArgs {
                    from_subaccount: None, spender: acc(to), amount: amount.into(), expected_allowance: None,
                    expires_at: None, fee: None, memo, created_at_time: created }, now).map_err(|e| format!("{e:?}")),
                2 => ledger.transfer_from(principal(to), &TransferFromArgs {
                    spender_subaccount: None, from: acc(from), to: acc((to + 1) % 4), amount: amount.into(),
                    fee: None, memo, created_at_time: created }, now).map_err(|e| format!("{e:?}")),
                3 => ledger.mint(acc(to), amount, now).map_err(|e| format!("{e:?}")),
                _ => ledger.transfer(principal(from), &TransferArg { memo, created_at_time: created, ..transfer_arg(minter(), amount) }, now).map_err(|e| format!("{e:?}")),
            };
            let identity = (kind, from, to, amount, memo_id);
            if let (Ok(_), Some(_), false) = (&result, created, kind == 3) {
                prop_assert!(executed.insert(identity), "a payload executed twice");
            }
            let totals = ledger.totals();
            prop_assert_eq!(ledger.sum_of_balances(), totals.total_supply);
            prop_assert_eq!(totals.minted - totals.burned, totals.total_supply);
            prop_assert!(ledger.verify_chain().is_ok());
        }
    }
}
