//! The ledger's state machine: plain Rust over stable structures, no `ic_cdk`. The canister shell and
//! the native test harness drive the same code; `now` is always passed in.

use crate::block::{block_hash, Operation, Transaction};
use crate::memory::*;
use candid::{CandidType, Deserialize, Nat, Principal};
use ic_stable_structures::memory_manager::{MemoryManager, VirtualMemory};
use ic_stable_structures::{DefaultMemoryImpl, StableBTreeMap, StableCell, StableLog};
use icrc_ledger_types::icrc::generic_metadata_value::MetadataValue;
use icrc_ledger_types::icrc::generic_value::ICRC3Value;
use icrc_ledger_types::icrc1::account::Account;
use icrc_ledger_types::icrc1::transfer::{TransferArg, TransferError};
use icrc_ledger_types::icrc2::allowance::{Allowance, AllowanceArgs};
use icrc_ledger_types::icrc2::approve::{ApproveArgs, ApproveError};
use icrc_ledger_types::icrc2::transfer_from::{TransferFromArgs, TransferFromError};
use icrc_ledger_types::icrc3::blocks::{BlockWithId, GetBlocksRequest, GetBlocksResult};
use neuranft_types::ledger::{LedgerInitArgs, LedgerUpgradeArgs, SupportedStandard};
use neuranft_types::storable::Candid;
use neuranft_types::{account_key, normalize_account};
use sha2::{Digest, Sha256};

type Mem = VirtualMemory<DefaultMemoryImpl>;

/// Deduplication window (ICRC-1): a payload with `created_at_time` is unique for this long.
pub const TRANSACTION_WINDOW_NANOS: u64 = 24 * 60 * 60 * 1_000_000_000;
/// How far ahead of the ledger's clock `created_at_time` may be.
pub const PERMITTED_DRIFT_NANOS: u64 = 60 * 1_000_000_000;
/// ICRC-1 requires memos of at least 32 bytes to be accepted.
pub const MIN_MAX_MEMO_LENGTH: u16 = 32;
/// Most blocks one `icrc3_get_blocks` call returns (all requested ranges together).
pub const MAX_BLOCKS_PER_RESPONSE: u64 = 2_000;
/// Expired dedup entries removed per transaction: bounded work, and the table never outgrows the window.
const DEDUP_PRUNE_PER_TX: usize = 4;

/// `GenericError` codes this ledger returns.
pub mod error_code {
    pub const MEMO_TOO_LONG: u64 = 1;
    pub const AMOUNT_OVERFLOW: u64 = 2;
    pub const MINTING_ACCOUNT_MISUSE: u64 = 3;
    pub const SELF_APPROVAL: u64 = 4;
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub token_name: String,
    pub token_symbol: String,
    pub decimals: u8,
    pub transfer_fee: u128,
    pub minting_account: Account,
    pub max_memo_length: u16,
    pub min_burn_amount: u128,
}

#[derive(CandidType, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    pub total_supply: u128,
    pub minted: u128,
    /// Burned by burn transactions and by fees.
    pub burned: u128,
    pub tip_hash: Option<[u8; 32]>,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
struct AllowanceRecord {
    amount: u128,
    expires_at: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InitError {
    #[error("max_memo_length must be at least {MIN_MAX_MEMO_LENGTH}")]
    MemoLimitTooSmall,
    #[error("amount {0} does not fit 128 bits")]
    AmountTooLarge(Nat),
    #[error("the minting account cannot hold an initial balance")]
    MintingAccountBalance,
    #[error("initial balances overflow the total supply")]
    SupplyOverflow,
}

/// Why a transaction was refused, before it is mapped to the endpoint's own error type.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    BadFee(u128),
    BadBurn(u128),
    InsufficientFunds(u128),
    InsufficientAllowance(u128),
    AllowanceChanged(u128),
    Expired(u64),
    TooOld,
    CreatedInFuture(u64),
    Duplicate(u64),
    Generic(u64, String),
}

fn generic(code: u64, message: impl Into<String>) -> Refusal {
    Refusal::Generic(code, message.into())
}

impl From<Refusal> for TransferError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::BadFee(f) => TransferError::BadFee {
                expected_fee: f.into(),
            },
            Refusal::BadBurn(m) => TransferError::BadBurn {
                min_burn_amount: m.into(),
            },
            Refusal::InsufficientFunds(b) => TransferError::InsufficientFunds { balance: b.into() },
            Refusal::TooOld => TransferError::TooOld,
            Refusal::CreatedInFuture(t) => TransferError::CreatedInFuture { ledger_time: t },
            Refusal::Duplicate(i) => TransferError::Duplicate {
                duplicate_of: i.into(),
            },
            Refusal::Generic(c, m) => TransferError::GenericError {
                error_code: c.into(),
                message: m,
            },
            other => unreachable!("transfer cannot be refused with {other:?}"),
        }
    }
}

impl From<Refusal> for TransferFromError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::InsufficientAllowance(a) => TransferFromError::InsufficientAllowance {
                allowance: a.into(),
            },
            Refusal::BadFee(f) => TransferFromError::BadFee {
                expected_fee: f.into(),
            },
            Refusal::BadBurn(m) => TransferFromError::BadBurn {
                min_burn_amount: m.into(),
            },
            Refusal::InsufficientFunds(b) => {
                TransferFromError::InsufficientFunds { balance: b.into() }
            }
            Refusal::TooOld => TransferFromError::TooOld,
            Refusal::CreatedInFuture(t) => TransferFromError::CreatedInFuture { ledger_time: t },
            Refusal::Duplicate(i) => TransferFromError::Duplicate {
                duplicate_of: i.into(),
            },
            Refusal::Generic(c, m) => TransferFromError::GenericError {
                error_code: c.into(),
                message: m,
            },
            other => unreachable!("transfer_from cannot be refused with {other:?}"),
        }
    }
}

impl From<Refusal> for ApproveError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::BadFee(f) => ApproveError::BadFee {
                expected_fee: f.into(),
            },
            Refusal::InsufficientFunds(b) => ApproveError::InsufficientFunds { balance: b.into() },
            Refusal::AllowanceChanged(a) => ApproveError::AllowanceChanged {
                current_allowance: a.into(),
            },
            Refusal::Expired(t) => ApproveError::Expired { ledger_time: t },
            Refusal::TooOld => ApproveError::TooOld,
            Refusal::CreatedInFuture(t) => ApproveError::CreatedInFuture { ledger_time: t },
            Refusal::Duplicate(i) => ApproveError::Duplicate {
                duplicate_of: i.into(),
            },
            Refusal::Generic(c, m) => ApproveError::GenericError {
                error_code: c.into(),
                message: m,
            },
            other => unreachable!("approve cannot be refused with {other:?}"),
        }
    }
}

pub fn nat_to_u128(n: &Nat) -> Option<u128> {
    u128::try_from(&n.0).ok()
}

pub struct Ledger {
    config: StableCell<Candid<Option<Config>>, Mem>,
    totals: StableCell<Candid<Totals>, Mem>,
    balances: StableBTreeMap<[u8; 62], u128, Mem>,
    /// (owner key ‖ spender key) → allowance.
    allowances: StableBTreeMap<[u8; 124], Candid<AllowanceRecord>, Mem>,
    /// Payload hash → block index, for payloads with `created_at_time` inside the window.
    dedup: StableBTreeMap<[u8; 32], u64, Mem>,
    /// (created_at_time, payload hash): the dedup entries in expiry order.
    dedup_expiry: StableBTreeMap<(u64, [u8; 32]), (), Mem>,
    blocks: StableLog<Vec<u8>, Mem, Mem>,
}

impl Ledger {
    /// Opens the ledger in `memory`: empty on first use, as it was after an upgrade.
    pub fn open(memory: DefaultMemoryImpl) -> Self {
        Self::open_with(MemoryManager::init(memory))
    }

    /// 64 KiB buckets instead of 8 MiB: for native tests and the simulation, which create many ledgers.
    pub fn open_small(memory: DefaultMemoryImpl) -> Self {
        Self::open_with(MemoryManager::init_with_bucket_size(memory, 1))
    }

    fn open_with(mm: MemoryManager<DefaultMemoryImpl>) -> Self {
        Self {
            config: StableCell::init(mm.get(CONFIG_MEMORY_ID), Candid(None)),
            totals: StableCell::init(mm.get(TOTALS_MEMORY_ID), Candid(Totals::default())),
            balances: StableBTreeMap::init(mm.get(BALANCES_MEMORY_ID)),
            allowances: StableBTreeMap::init(mm.get(ALLOWANCES_MEMORY_ID)),
            dedup: StableBTreeMap::init(mm.get(DEDUP_MEMORY_ID)),
            dedup_expiry: StableBTreeMap::init(mm.get(DEDUP_EXPIRY_MEMORY_ID)),
            blocks: StableLog::init(
                mm.get(BLOCKS_INDEX_MEMORY_ID),
                mm.get(BLOCKS_DATA_MEMORY_ID),
            ),
        }
    }

    pub fn is_initialized(&self) -> bool {
        self.config.get().0.is_some()
    }

    /// Sets the ledger up and mints the initial balances as blocks. Refuses bad arguments without
    /// writing anything.
    pub fn initialize(&mut self, args: &LedgerInitArgs, now: u64) -> Result<(), InitError> {
        assert!(!self.is_initialized(), "BUG: ledger initialized twice");
        let max_memo_length = args.max_memo_length.unwrap_or(MIN_MAX_MEMO_LENGTH);
        if max_memo_length < MIN_MAX_MEMO_LENGTH {
            return Err(InitError::MemoLimitTooSmall);
        }
        let amount = |n: &Nat| nat_to_u128(n).ok_or_else(|| InitError::AmountTooLarge(n.clone()));
        let transfer_fee = amount(&args.transfer_fee)?;
        let min_burn_amount = match &args.min_burn_amount {
            Some(m) => amount(m)?,
            None => transfer_fee,
        };
        let minting_key = account_key(&args.minting_account);
        let mut initial = Vec::with_capacity(args.initial_balances.len());
        let mut supply: u128 = 0;
        for (account, balance) in &args.initial_balances {
            if account_key(account) == minting_key {
                return Err(InitError::MintingAccountBalance);
            }
            let balance = amount(balance)?;
            supply = supply
                .checked_add(balance)
                .ok_or(InitError::SupplyOverflow)?;
            initial.push((*account, balance));
        }
        self.config.set(Candid(Some(Config {
            token_name: args.token_name.clone(),
            token_symbol: args.token_symbol.clone(),
            decimals: args.decimals,
            transfer_fee,
            minting_account: normalize_account(&args.minting_account),
            max_memo_length,
            min_burn_amount,
        })));
        for (to, amount) in initial {
            let tx = Transaction {
                operation: Operation::Mint { to },
                amount,
                fee: None,
                memo: None,
                created_at_time: None,
            };
            self.credit(&to, amount);
            self.append(&tx, now, 0, |t| {
                t.minted += amount;
                t.total_supply += amount;
            });
        }
        Ok(())
    }

    pub fn upgrade(&mut self, args: &LedgerUpgradeArgs) -> Result<(), InitError> {
        let mut config = self.config().clone();
        if let Some(fee) = &args.transfer_fee {
            config.transfer_fee =
                nat_to_u128(fee).ok_or_else(|| InitError::AmountTooLarge(fee.clone()))?;
        }
        if let Some(m) = args.max_memo_length {
            if m < MIN_MAX_MEMO_LENGTH {
                return Err(InitError::MemoLimitTooSmall);
            }
            config.max_memo_length = m;
        }
        if let Some(name) = &args.token_name {
            config.token_name = name.clone();
        }
        if let Some(symbol) = &args.token_symbol {
            config.token_symbol = symbol.clone();
        }
        self.config.set(Candid(Some(config)));
        Ok(())
    }

    /// Changes the fee (an upgrade argument on the canister; tests change it mid-flight).
    pub fn set_fee(&mut self, fee: u128) {
        let mut config = self.config().clone();
        config.transfer_fee = fee;
        self.config.set(Candid(Some(config)));
    }

    pub fn config(&self) -> &Config {
        self.config
            .get()
            .0
            .as_ref()
            .expect("BUG: ledger used before initialization")
    }

    pub fn totals(&self) -> Totals {
        self.totals.get().0.clone()
    }

    pub fn fee(&self) -> u128 {
        self.config().transfer_fee
    }

    pub fn balance_of(&self, account: &Account) -> u128 {
        self.balances.get(&account_key(account)).unwrap_or(0)
    }

    pub fn total_supply(&self) -> u128 {
        self.totals.get().0.total_supply
    }

    /// The sum of every balance, by a full scan (for audits and tests).
    pub fn sum_of_balances(&self) -> u128 {
        self.balances.iter().map(|e| e.value()).sum()
    }

    pub fn metadata(&self) -> Vec<(String, MetadataValue)> {
        let c = self.config();
        vec![
            (
                "icrc1:decimals".into(),
                MetadataValue::Nat(c.decimals.into()),
            ),
            (
                "icrc1:fee".into(),
                MetadataValue::Nat(c.transfer_fee.into()),
            ),
            (
                "icrc1:max_memo_length".into(),
                MetadataValue::Nat(c.max_memo_length.into()),
            ),
            (
                "icrc1:name".into(),
                MetadataValue::Text(c.token_name.clone()),
            ),
            (
                "icrc1:symbol".into(),
                MetadataValue::Text(c.token_symbol.clone()),
            ),
        ]
    }

    pub fn supported_standards() -> Vec<SupportedStandard> {
        let std = |name: &str, path: &str| SupportedStandard {
            name: name.into(),
            url: format!("https://github.com/dfinity/ICRC-1/tree/main/standards/{path}"),
        };
        vec![
            std("ICRC-1", "ICRC-1"),
            std("ICRC-2", "ICRC-2"),
            std("ICRC-3", "ICRC-3"),
            SupportedStandard {
                name: "ICRC-10".into(),
                url: "https://github.com/dfinity/ICRC/blob/main/ICRCs/ICRC-10/ICRC-10.md".into(),
            },
        ]
    }

    fn is_minting_account(&self, account: &Account) -> bool {
        account_key(account) == account_key(&self.config().minting_account)
    }

    fn check_memo(&self, memo: Option<&[u8]>) -> Result<(), Refusal> {
        let max = self.config().max_memo_length as usize;
        match memo {
            Some(m) if m.len() > max => Err(generic(
                error_code::MEMO_TOO_LONG,
                format!("the memo is {} bytes; at most {max} are allowed", m.len()),
            )),
            _ => Ok(()),
        }
    }

    /// A named fee must equal `expected`.
    fn check_fee(given: Option<&Nat>, expected: u128) -> Result<(), Refusal> {
        match given {
            Some(f) if nat_to_u128(f) != Some(expected) => Err(Refusal::BadFee(expected)),
            _ => Ok(()),
        }
    }

    /// `TooOld` / `CreatedInFuture` / `Duplicate` for a payload with `created_at_time`; returns the
    /// payload hash to record once the transaction is applied.
    fn check_dedup(
        &self,
        created_at_time: Option<u64>,
        payload: &[u8],
        now: u64,
    ) -> Result<Option<(u64, [u8; 32])>, Refusal> {
        let Some(created) = created_at_time else {
            return Ok(None);
        };
        if created.saturating_add(TRANSACTION_WINDOW_NANOS + PERMITTED_DRIFT_NANOS) < now {
            return Err(Refusal::TooOld);
        }
        if created > now.saturating_add(PERMITTED_DRIFT_NANOS) {
            return Err(Refusal::CreatedInFuture(now));
        }
        let hash: [u8; 32] = Sha256::digest(payload).into();
        if let Some(block) = self.dedup.get(&hash) {
            return Err(Refusal::Duplicate(block));
        }
        Ok(Some((created, hash)))
    }

    fn prune_dedup(&mut self, now: u64) {
        for _ in 0..DEDUP_PRUNE_PER_TX {
            let Some(entry) = self.dedup_expiry.first_key_value() else {
                return;
            };
            let (created, hash) = entry.0;
            if created.saturating_add(TRANSACTION_WINDOW_NANOS + PERMITTED_DRIFT_NANOS) >= now {
                return;
            }
            self.dedup_expiry.remove(&(created, hash));
            self.dedup.remove(&hash);
        }
    }

    fn credit(&mut self, account: &Account, amount: u128) {
        let key = account_key(account);
        let balance = self.balances.get(&key).unwrap_or(0);
        // Supply is checked when minting, so no balance can overflow.
        self.balances.insert(key, balance + amount);
    }

    fn debit(&mut self, account: &Account, amount: u128) {
        let key = account_key(account);
        let balance = self.balances.get(&key).unwrap_or(0);
        let rest = balance
            .checked_sub(amount)
            .expect("BUG: debit beyond a checked balance");
        if rest == 0 {
            self.balances.remove(&key);
        } else {
            self.balances.insert(key, rest);
        }
    }

    /// Appends the block for `tx` and updates the totals; returns the block index.
    fn append(
        &mut self,
        tx: &Transaction,
        now: u64,
        effective_fee: u128,
        update_totals: impl FnOnce(&mut Totals),
    ) -> u64 {
        let mut totals = self.totals.get().0.clone();
        let block = tx.to_block(now, effective_fee, totals.tip_hash);
        totals.tip_hash = Some(block_hash(&block));
        update_totals(&mut totals);
        let index = self
            .blocks
            .append(&candid::encode_one(&block).expect("BUG: block encodes"))
            .expect("BUG: stable memory exhausted");
        self.totals.set(Candid(totals));
        index
    }

    fn record_dedup(&mut self, entry: Option<(u64, [u8; 32])>, block: u64) {
        if let Some((created, hash)) = entry {
            self.dedup.insert(hash, block);
            self.dedup_expiry.insert((created, hash), ());
        }
    }

    /// The dedup identity: the endpoint, the caller and the whole Candid payload. Candid keeps `None`
    /// and `Some([0; 32])` apart, as the standard requires.
    fn payload_identity<T: CandidType>(endpoint: &str, caller: Principal, arg: &T) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(128);
        bytes.extend_from_slice(endpoint.as_bytes());
        bytes.push(caller.as_slice().len() as u8);
        bytes.extend_from_slice(caller.as_slice());
        bytes.extend_from_slice(&candid::encode_one(arg).expect("BUG: argument encodes"));
        bytes
    }

    pub fn transfer(
        &mut self,
        caller: Principal,
        arg: &TransferArg,
        now: u64,
    ) -> Result<u64, TransferError> {
        let from = Account {
            owner: caller,
            subaccount: arg.from_subaccount,
        };
        let identity = Self::payload_identity("icrc1_transfer", caller, arg);
        self.execute_transfer(
            from,
            arg.to,
            None,
            &arg.amount,
            arg.fee.as_ref(),
            arg.memo.as_ref().map(|m| m.0.as_slice()),
            arg.created_at_time,
            &identity,
            now,
        )
        .map_err(TransferError::from)
    }

    pub fn transfer_from(
        &mut self,
        caller: Principal,
        arg: &TransferFromArgs,
        now: u64,
    ) -> Result<u64, TransferFromError> {
        let spender = Account {
            owner: caller,
            subaccount: arg.spender_subaccount,
        };
        let identity = Self::payload_identity("icrc2_transfer_from", caller, arg);
        // Spending from one's own account needs no allowance (ICRC-2).
        let spender = (account_key(&spender) != account_key(&arg.from)).then_some(spender);
        if self.is_minting_account(&arg.from) {
            return Err(generic(
                error_code::MINTING_ACCOUNT_MISUSE,
                "transfer_from cannot mint",
            )
            .into());
        }
        self.execute_transfer(
            arg.from,
            arg.to,
            spender,
            &arg.amount,
            arg.fee.as_ref(),
            arg.memo.as_ref().map(|m| m.0.as_slice()),
            arg.created_at_time,
            &identity,
            now,
        )
        .map_err(TransferFromError::from)
    }

    /// Transfers, mints and burns, with or without a spender. Every check precedes every write.
    #[allow(clippy::too_many_arguments)]
    fn execute_transfer(
        &mut self,
        from: Account,
        to: Account,
        spender: Option<Account>,
        amount: &Nat,
        fee: Option<&Nat>,
        memo: Option<&[u8]>,
        created_at_time: Option<u64>,
        identity: &[u8],
        now: u64,
    ) -> Result<u64, Refusal> {
        self.check_memo(memo)?;
        let minting_from = self.is_minting_account(&from);
        let minting_to = self.is_minting_account(&to);
        if minting_from && minting_to {
            return Err(generic(
                error_code::MINTING_ACCOUNT_MISUSE,
                "the minting account cannot send to itself",
            ));
        }
        let transfer_fee = self.fee();
        // Mints and burns carry no fee; a named fee must then be 0.
        let effective_fee = if minting_from || minting_to {
            0
        } else {
            transfer_fee
        };
        Self::check_fee(fee, effective_fee)?;
        let amount_u128 = nat_to_u128(amount);
        if minting_to {
            let min = self.config().min_burn_amount;
            if amount_u128.is_none_or(|a| a < min) {
                return Err(Refusal::BadBurn(min));
            }
        }
        let dedup = self.check_dedup(created_at_time, identity, now)?;
        let tx = Transaction {
            operation: if minting_from {
                Operation::Mint { to }
            } else if minting_to {
                Operation::Burn { from, spender }
            } else {
                Operation::Transfer { from, to, spender }
            },
            amount: 0,
            fee: fee.and_then(nat_to_u128),
            memo: memo.map(<[u8]>::to_vec),
            created_at_time,
        };
        let index = if minting_from {
            let amount = amount_u128
                .filter(|a| self.total_supply().checked_add(*a).is_some())
                .ok_or_else(|| {
                    generic(error_code::AMOUNT_OVERFLOW, "the mint overflows the supply")
                })?;
            self.prune_dedup(now);
            self.credit(&to, amount);
            self.append(&Transaction { amount, ..tx }, now, 0, |t| {
                t.minted += amount;
                t.total_supply += amount;
            })
        } else {
            let balance = self.balance_of(&from);
            let debit = amount_u128.and_then(|a| a.checked_add(effective_fee));
            let Some(debit) = debit.filter(|d| *d <= balance) else {
                return Err(Refusal::InsufficientFunds(balance));
            };
            if let Some(spender) = &spender {
                let allowance = self.current_allowance(&from, spender, now);
                if allowance < debit {
                    return Err(Refusal::InsufficientAllowance(allowance));
                }
                self.set_allowance_amount(&from, spender, allowance - debit);
            }
            let amount = debit - effective_fee;
            self.prune_dedup(now);
            self.debit(&from, debit);
            let burned = if minting_to {
                debit
            } else {
                self.credit(&to, amount);
                effective_fee
            };
            self.append(&Transaction { amount, ..tx }, now, effective_fee, |t| {
                t.burned += burned;
                t.total_supply -= burned;
            })
        };
        self.record_dedup(dedup, index);
        Ok(index)
    }

    fn allowance_key(owner: &Account, spender: &Account) -> [u8; 124] {
        let mut key = [0u8; 124];
        key[..62].copy_from_slice(&account_key(owner));
        key[62..].copy_from_slice(&account_key(spender));
        key
    }

    fn current_allowance(&self, owner: &Account, spender: &Account, now: u64) -> u128 {
        self.allowance_record(owner, spender, now)
            .map_or(0, |r| r.amount)
    }

    fn allowance_record(
        &self,
        owner: &Account,
        spender: &Account,
        now: u64,
    ) -> Option<AllowanceRecord> {
        self.allowances
            .get(&Self::allowance_key(owner, spender))
            .map(|c| c.0)
            .filter(|r| r.expires_at.is_none_or(|e| e > now))
    }

    fn set_allowance_amount(&mut self, owner: &Account, spender: &Account, amount: u128) {
        let key = Self::allowance_key(owner, spender);
        if amount == 0 {
            self.allowances.remove(&key);
        } else if let Some(mut record) = self.allowances.get(&key) {
            record.0.amount = amount;
            self.allowances.insert(key, record);
        }
    }

    pub fn allowance(&self, args: &AllowanceArgs, now: u64) -> Allowance {
        match self.allowance_record(&args.account, &args.spender, now) {
            Some(r) => Allowance {
                allowance: r.amount.into(),
                expires_at: r.expires_at,
            },
            None => Allowance {
                allowance: 0u8.into(),
                expires_at: None,
            },
        }
    }

    pub fn approve(
        &mut self,
        caller: Principal,
        arg: &ApproveArgs,
        now: u64,
    ) -> Result<u64, ApproveError> {
        self.execute_approve(caller, arg, now)
            .map_err(ApproveError::from)
    }

    fn execute_approve(
        &mut self,
        caller: Principal,
        arg: &ApproveArgs,
        now: u64,
    ) -> Result<u64, Refusal> {
        let from = Account {
            owner: caller,
            subaccount: arg.from_subaccount,
        };
        let memo = arg.memo.as_ref().map(|m| m.0.as_slice());
        self.check_memo(memo)?;
        if arg.spender.owner == caller {
            return Err(generic(
                error_code::SELF_APPROVAL,
                "an account cannot approve its own owner",
            ));
        }
        if self.is_minting_account(&from) {
            return Err(generic(
                error_code::MINTING_ACCOUNT_MISUSE,
                "the minting account cannot approve",
            ));
        }
        let fee = self.fee();
        Self::check_fee(arg.fee.as_ref(), fee)?;
        if arg.expires_at.is_some_and(|e| e <= now) {
            return Err(Refusal::Expired(now));
        }
        let identity = Self::payload_identity("icrc2_approve", caller, arg);
        let dedup = self.check_dedup(arg.created_at_time, &identity, now)?;
        let current = self.current_allowance(&from, &arg.spender, now);
        if let Some(expected) = &arg.expected_allowance {
            if nat_to_u128(expected) != Some(current) {
                return Err(Refusal::AllowanceChanged(current));
            }
        }
        let balance = self.balance_of(&from);
        if balance < fee {
            return Err(Refusal::InsufficientFunds(balance));
        }
        // An allowance larger than any supply can ever be is the same as the largest one.
        let amount = nat_to_u128(&arg.amount).unwrap_or(u128::MAX);
        self.prune_dedup(now);
        self.debit(&from, fee);
        let key = Self::allowance_key(&from, &arg.spender);
        if amount == 0 {
            self.allowances.remove(&key);
        } else {
            self.allowances.insert(
                key,
                Candid(AllowanceRecord {
                    amount,
                    expires_at: arg.expires_at,
                }),
            );
        }
        let tx = Transaction {
            operation: Operation::Approve {
                from,
                spender: arg.spender,
                expected_allowance: arg.expected_allowance.as_ref().and_then(nat_to_u128),
                expires_at: arg.expires_at,
            },
            amount,
            fee: arg.fee.as_ref().and_then(nat_to_u128),
            memo: memo.map(<[u8]>::to_vec),
            created_at_time: arg.created_at_time,
        };
        let index = self.append(&tx, now, fee, |t| {
            t.burned += fee;
            t.total_supply -= fee;
        });
        self.record_dedup(dedup, index);
        Ok(index)
    }

    /// Payloads currently remembered for deduplication.
    pub fn dedup_entries(&self) -> u64 {
        self.dedup.len()
    }

    pub fn log_length(&self) -> u64 {
        self.blocks.len()
    }

    pub fn block(&self, index: u64) -> Option<ICRC3Value> {
        self.blocks
            .get(index)
            .map(|bytes| candid::decode_one(&bytes).expect("BUG: stored block decodes"))
    }

    /// `icrc3_get_blocks`: the requested ranges clipped to the log, at most
    /// [`MAX_BLOCKS_PER_RESPONSE`] blocks in all. Nothing is archived.
    pub fn get_blocks(&self, requests: &[GetBlocksRequest]) -> GetBlocksResult {
        let len = self.log_length();
        let mut budget = MAX_BLOCKS_PER_RESPONSE;
        let mut blocks = Vec::new();
        for request in requests {
            let Ok(start) = u64::try_from(&request.start.0) else {
                continue;
            };
            let wanted = nat_to_u128(&request.length).unwrap_or(u128::MAX);
            let end = (start as u128)
                .saturating_add(wanted)
                .min(len as u128)
                .min(start as u128 + budget as u128) as u64;
            for index in start..end.max(start) {
                blocks.push(BlockWithId {
                    id: index.into(),
                    block: self.block(index).expect("index below log length"),
                });
            }
            budget -= end.saturating_sub(start).min(budget);
        }
        GetBlocksResult {
            log_length: len.into(),
            blocks,
            archived_blocks: vec![],
        }
    }

    /// The last block's index and hash, for the certified tip.
    pub fn tip(&self) -> Option<(u64, [u8; 32])> {
        let len = self.log_length();
        let hash = self.totals.get().0.tip_hash?;
        Some((len - 1, hash))
    }

    /// Mints `amount` to `to` as the minting account would (tests and localnet set-up).
    pub fn mint(&mut self, to: Account, amount: u128, now: u64) -> Result<u64, TransferError> {
        let minter = self.config().minting_account;
        let arg = TransferArg {
            from_subaccount: minter.subaccount,
            to,
            fee: None,
            created_at_time: None,
            memo: None,
            amount: amount.into(),
        };
        self.transfer(minter.owner, &arg, now)
    }

    /// Recomputes the chain of block hashes from the log and checks every `phash` link and the tip.
    pub fn verify_chain(&self) -> Result<(), String> {
        self.verify_chain_since(0, None).map(|_| ())
    }

    /// Verifies the blocks from `first` on, block `first` linking to `parent` (the hash of the block
    /// before it, as an earlier call returned), and the tip; returns the tip's hash. The log is
    /// append-only, so a checker that remembers the returned hash verifies each block once.
    pub fn verify_chain_since(
        &self,
        first: u64,
        parent: Option<[u8; 32]>,
    ) -> Result<Option<[u8; 32]>, String> {
        let blocks =
            (first..self.log_length()).map(|i| self.block(i).expect("index below log length"));
        let last = crate::block::verify_links(blocks, first, parent)?;
        if last != self.totals.get().0.tip_hash {
            return Err("the tip hash is not the hash of the last block".into());
        }
        Ok(last)
    }
}
