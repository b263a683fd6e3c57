//! The ledger's state machine: plain Rust over stable structures, no `ic_cdk`. The canister shell and
//! the native test harness drive the same code; `now` is always passed in.

mod approvals;
mod balances;
mod blocks;
mod dedup;
mod refusal;
mod transfers;

use crate::block::{Operation, Transaction};
use crate::memory::*;
use approvals::AllowanceRecord;
use candid::{CandidType, Deserialize, Nat};
use ic_stable_structures::memory_manager::{MemoryManager, VirtualMemory};
use ic_stable_structures::{DefaultMemoryImpl, StableBTreeMap, StableCell, StableLog};
use icrc_ledger_types::icrc::generic_metadata_value::MetadataValue;
use icrc_ledger_types::icrc1::account::Account;
use neuranft_types::ledger::{LedgerInitArgs, LedgerUpgradeArgs, SupportedStandard};
use neuranft_types::storable::Candid;
use neuranft_types::{account_key, normalize_account};

type Mem = VirtualMemory<DefaultMemoryImpl>;

/// Deduplication window (ICRC-1): a payload with `created_at_time` is unique for this long.
pub const TRANSACTION_WINDOW_NANOS: u64 = 24 * 60 * 60 * 1_000_000_000;
/// How far ahead of the ledger's clock `created_at_time` may be.
pub const PERMITTED_DRIFT_NANOS: u64 = 60 * 1_000_000_000;
/// ICRC-1 requires memos of at least 32 bytes to be accepted.
pub const MIN_MAX_MEMO_LENGTH: u16 = 32;
/// Most blocks one `icrc3_get_blocks` call returns (all requested ranges together).
pub const MAX_BLOCKS_PER_RESPONSE: u64 = 2_000;

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

    pub fn total_supply(&self) -> u128 {
        self.totals.get().0.total_supply
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
}
