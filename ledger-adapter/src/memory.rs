//! An in-memory ICRC ledger for native tests and the simulation: the icrc-ledger canister's own state
//! machine (same dedup, fees, allowances and ICRC-3 blocks), a clock the test controls, and injected
//! faults on the calls.

use crate::{BlockSource, CallFailure, LedgerRuntime};
use candid::{Nat, Principal};
use futures::channel::oneshot;
use ic_stable_structures::DefaultMemoryImpl;
use icrc_ledger::Ledger;
use icrc_ledger_types::icrc1::account::Account;
use icrc_ledger_types::icrc1::transfer::{TransferArg, TransferError};
use icrc_ledger_types::icrc2::allowance::{Allowance, AllowanceArgs};
use icrc_ledger_types::icrc2::approve::{ApproveArgs, ApproveError};
use icrc_ledger_types::icrc2::transfer_from::{TransferFromArgs, TransferFromError};
use icrc_ledger_types::icrc3::blocks::{GetBlocksRequest, GetBlocksResult};
use neuranft_types::ledger::LedgerInitArgs;
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;

/// A fault the next update call (transfer, transfer_from, approve) suffers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The call executes, but the caller sees a timeout (reject code 6, SYS_UNKNOWN).
    UnknownAfterExecution,
    /// The call never reaches the ledger, and the caller cannot tell (reject code 6).
    UnknownBeforeExecution,
    /// The ledger answers `TemporarilyUnavailable` without executing.
    TemporarilyUnavailable,
    /// The ledger's fee changes just before the call is processed.
    SetFee(u128),
    /// The caller's canister is upgraded while the call is in flight: the call executes and the
    /// reply is lost with the old instance.
    LostReply,
}

/// The ledger; reach it as a caller through [`MemoryLedger::client`].
pub struct MemoryLedger {
    ledger: RefCell<Ledger>,
    memory: DefaultMemoryImpl,
    now: Cell<u64>,
    faults: RefCell<VecDeque<Fault>>,
    failing_queries: Cell<u32>,
    gate: RefCell<Option<oneshot::Receiver<()>>>,
    /// How many blocks `check_invariants` has verified, and the hash of the last of them.
    verified: Cell<(u64, Option<[u8; 32]>)>,
}

/// The minting account of ledgers made by [`MemoryLedger::new`].
pub fn minting_account() -> Account {
    Account {
        owner: Principal::from_slice(&[0xee; 10]),
        subaccount: None,
    }
}

impl MemoryLedger {
    /// A ledger with `fee` and no balances, its clock at `now`.
    pub fn new(fee: u128, now: u64) -> Self {
        Self::with_args(
            &LedgerInitArgs {
                token_name: "Test Token".into(),
                token_symbol: "TST".into(),
                decimals: 8,
                transfer_fee: fee.into(),
                minting_account: minting_account(),
                initial_balances: vec![],
                max_memo_length: None,
                min_burn_amount: None,
            },
            now,
        )
    }

    pub fn with_args(args: &LedgerInitArgs, now: u64) -> Self {
        let memory = DefaultMemoryImpl::default();
        let mut ledger = Ledger::open_small(memory.clone());
        ledger
            .initialize(args, now)
            .expect("valid ledger init arguments");
        Self {
            ledger: RefCell::new(ledger),
            memory,
            now: Cell::new(now),
            faults: RefCell::default(),
            failing_queries: Cell::new(0),
            gate: RefCell::default(),
            verified: Cell::new((0, None)),
        }
    }

    pub fn client(&self, caller: Principal) -> LedgerClient<'_> {
        LedgerClient {
            ledger: self,
            caller,
        }
    }

    /// Direct access to the state machine (balances, blocks, invariants).
    pub fn state(&self) -> std::cell::Ref<'_, Ledger> {
        self.ledger.borrow()
    }

    /// Reopens the ledger from its stable memory, as an upgrade of the ledger canister would.
    pub fn upgrade(&self) {
        *self.ledger.borrow_mut() = Ledger::open_small(self.memory.clone());
    }

    pub fn set_time(&self, now: u64) {
        self.now.set(now);
    }

    pub fn advance(&self, nanos: u64) {
        self.now.set(self.now.get() + nanos);
    }

    pub fn time(&self) -> u64 {
        self.now.get()
    }

    pub fn set_fee(&self, fee: u128) {
        self.ledger.borrow_mut().set_fee(fee);
    }

    pub fn fee(&self) -> u128 {
        self.ledger.borrow().fee()
    }

    pub fn inject(&self, fault: Fault) {
        self.faults.borrow_mut().push_back(fault);
    }

    pub fn pending_faults(&self) -> usize {
        self.faults.borrow().len()
    }

    /// The next `n` queries (balance, fee, allowance, blocks) fail with a transient reject.
    pub fn fail_queries(&self, n: u32) {
        self.failing_queries.set(n);
    }

    /// The next update call waits, before it executes, until the returned sender fires (or is
    /// dropped): other calls interleave meanwhile, as they would on the IC.
    pub fn hold_next_update(&self) -> oneshot::Sender<()> {
        let (open, gate) = oneshot::channel();
        *self.gate.borrow_mut() = Some(gate);
        open
    }

    async fn pass_gate(&self) {
        let gate = self.gate.borrow_mut().take();
        if let Some(gate) = gate {
            let _ = gate.await;
        }
    }

    pub fn mint(&self, to: Account, amount: u128) {
        self.ledger
            .borrow_mut()
            .mint(to, amount, self.now.get())
            .expect("mint succeeds");
    }

    pub fn balance(&self, account: &Account) -> u128 {
        self.ledger.borrow().balance_of(account)
    }

    pub fn total_supply(&self) -> u128 {
        self.ledger.borrow().total_supply()
    }

    /// How many blocks carry a memo that starts with `prefix`: how often an intent executed.
    pub fn blocks_with_memo_prefix(&self, prefix: &[u8]) -> usize {
        let ledger = self.ledger.borrow();
        (0..ledger.log_length())
            .filter(|i| {
                let block = ledger.block(*i).expect("index below log length");
                neuranft_types::icrc3::blob_field(&block, &["tx", "memo"])
                    .is_some_and(|m| m.starts_with(prefix))
            })
            .count()
    }

    /// Supply = sum of balances = minted − burned, and the block chain verifies (the blocks added since
    /// the last check, linked to the hash of the last block that check verified: called after every
    /// step of a long run, the whole chain is still verified once, not once per call).
    pub fn check_invariants(&self) -> Result<(), String> {
        let ledger = self.ledger.borrow();
        let totals = ledger.totals();
        if ledger.sum_of_balances() != totals.total_supply {
            return Err("the sum of balances differs from the total supply".into());
        }
        if totals.minted - totals.burned != totals.total_supply {
            return Err("minted − burned differs from the total supply".into());
        }
        let (first, parent) = self.verified.get();
        let last = ledger.verify_chain_since(first, parent)?;
        self.verified.set((ledger.log_length(), last));
        Ok(())
    }

    /// Runs one update call with the next fault applied.
    fn update<T>(
        &self,
        execute: impl FnOnce(&mut Ledger, u64) -> T,
        unavailable: impl FnOnce() -> T,
    ) -> Result<T, CallFailure> {
        let fault = self.faults.borrow_mut().pop_front();
        let now = self.now.get();
        let run = || execute(&mut self.ledger.borrow_mut(), now);
        match fault {
            None => Ok(run()),
            Some(Fault::UnknownAfterExecution) | Some(Fault::LostReply) => {
                let _ = run();
                Err(timeout())
            }
            Some(Fault::UnknownBeforeExecution) => Err(timeout()),
            Some(Fault::TemporarilyUnavailable) => Ok(unavailable()),
            Some(Fault::SetFee(fee)) => {
                self.set_fee(fee);
                Ok(run())
            }
        }
    }

    fn query<T>(&self, run: impl FnOnce(&Ledger) -> T) -> Result<T, CallFailure> {
        let failing = self.failing_queries.get();
        if failing > 0 {
            self.failing_queries.set(failing - 1);
            return Err(CallFailure::Rejected {
                code: 2,
                message: "injected transient query failure".into(),
            });
        }
        Ok(run(&self.ledger.borrow()))
    }
}

fn timeout() -> CallFailure {
    CallFailure::Rejected {
        code: 6,
        message: "deadline expired".into(),
    }
}

/// A caller's view of a [`MemoryLedger`].
pub struct LedgerClient<'a> {
    ledger: &'a MemoryLedger,
    caller: Principal,
}

impl LedgerRuntime for LedgerClient<'_> {
    async fn icrc1_transfer(
        &self,
        arg: TransferArg,
    ) -> Result<Result<Nat, TransferError>, CallFailure> {
        self.ledger.pass_gate().await;
        self.ledger.update(
            |l, now| l.transfer(self.caller, &arg, now).map(Nat::from),
            || Err(TransferError::TemporarilyUnavailable),
        )
    }

    async fn icrc2_transfer_from(
        &self,
        arg: TransferFromArgs,
    ) -> Result<Result<Nat, TransferFromError>, CallFailure> {
        self.ledger.pass_gate().await;
        self.ledger.update(
            |l, now| l.transfer_from(self.caller, &arg, now).map(Nat::from),
            || Err(TransferFromError::TemporarilyUnavailable),
        )
    }

    async fn icrc2_approve(
        &self,
        arg: ApproveArgs,
    ) -> Result<Result<Nat, ApproveError>, CallFailure> {
        self.ledger.pass_gate().await;
        self.ledger.update(
            |l, now| l.approve(self.caller, &arg, now).map(Nat::from),
            || Err(ApproveError::TemporarilyUnavailable),
        )
    }

    async fn icrc2_allowance(&self, arg: AllowanceArgs) -> Result<Allowance, CallFailure> {
        let now = self.ledger.time();
        self.ledger.query(|l| l.allowance(&arg, now))
    }

    async fn icrc1_fee(&self) -> Result<Nat, CallFailure> {
        self.ledger.query(|l| Nat::from(l.fee()))
    }

    async fn icrc1_minting_account(&self) -> Result<Option<Account>, CallFailure> {
        self.ledger.query(|l| Some(l.config().minting_account))
    }

    async fn icrc1_balance_of(&self, account: Account) -> Result<Nat, CallFailure> {
        self.ledger.query(|l| Nat::from(l.balance_of(&account)))
    }

    async fn icrc3_get_blocks(
        &self,
        source: &BlockSource,
        args: Vec<GetBlocksRequest>,
    ) -> Result<GetBlocksResult, CallFailure> {
        match source {
            BlockSource::Ledger => self.ledger.query(|l| l.get_blocks(&args)),
            BlockSource::Archive { canister_id, .. } => Err(CallFailure::Rejected {
                code: 3,
                message: format!("no archive {canister_id}: the in-memory ledger never archives"),
            }),
        }
    }

    fn caller(&self) -> Principal {
        self.caller
    }

    fn now(&self) -> u64 {
        self.ledger.time()
    }
}
