//! The two cells beside the maps: the configuration, and the counters (totals and sequence numbers)
//! that the transitions of every part update.

use super::Memory;
use crate::memory::*;
use crate::storable::Candid;
use candid::{CandidType, Deserialize, Principal};
use ic_stable_structures::memory_manager::MemoryManager;
use ic_stable_structures::{DefaultMemoryImpl, StableCell, Storable};
use icrc_ledger_types::icrc1::account::Account;
use neuranft_types::normalize_account;
use neuranft_types::royalties::*;
use serde_bytes::ByteBuf;
use sha2::{Digest, Sha256};

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub ledger: Principal,
    pub governance: Principal,
    pub inference_proxy: Principal,
    pub treasury: Account,
    pub auto_payout_fee_multiple: u64,
    pub payout_interval_seconds: u64,
}

/// Totals and sequence numbers, kept beside the maps so that every liability query is O(1).
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq, Default)]
pub struct Counters {
    pub next_model_id: u64,
    pub next_payout_id: u64,
    pub current_split_version: SplitVersion,
    pub available_total: u128,
    pub in_flight_total: u128,
    pub undistributed_total: u128,
    pub settled_total: u128,
    pub paid_total: u128,
    pub log_tip_hash: Option<ByteBuf>,
    /// Where the automatic payout scan resumes.
    pub payout_cursor: Option<ByteBuf>,
    /// The last model-push version handed out (optional so older stored counters still decode).
    pub model_push_seq: Option<u64>,
    /// The newest split version the proxy acknowledged (receipts it meters carry it).
    pub split_pushed: Option<SplitVersion>,
}

impl Counters {
    pub fn liabilities(&self) -> Liabilities {
        Liabilities {
            available: self.available_total,
            in_flight: self.in_flight_total,
            undistributed: self.undistributed_total,
            total: self.available_total + self.in_flight_total + self.undistributed_total,
            settled_total: self.settled_total,
            paid_total: self.paid_total,
        }
    }
}

pub struct Cells {
    config: StableCell<Candid<Option<Config>>, Memory>,
    counters: StableCell<Candid<Counters>, Memory>,
}

impl Cells {
    /// Opens the cells in `mm` (their ids in [`crate::memory`]).
    pub fn init(mm: &MemoryManager<DefaultMemoryImpl>) -> Self {
        Self {
            config: StableCell::init(mm.get(CONFIG_MEMORY_ID), Candid(None)),
            counters: StableCell::init(mm.get(COUNTERS_MEMORY_ID), Candid(Counters::default())),
        }
    }

    pub fn initialize(&mut self, args: &InitArgs) {
        assert!(self.config.get().0.is_none(), "BUG: initialized twice");
        self.config.set(Candid(Some(Config {
            ledger: args.ledger,
            governance: args.governance,
            inference_proxy: args.inference_proxy,
            treasury: normalize_account(&args.treasury),
            auto_payout_fee_multiple: args.auto_payout_fee_multiple.max(1),
            payout_interval_seconds: args.payout_interval_seconds.max(1),
        })));
    }

    pub fn upgrade(&mut self, args: UpgradeArgs) {
        let mut config = self.config().clone();
        if let Some(p) = args.governance {
            config.governance = p;
        }
        if let Some(p) = args.inference_proxy {
            config.inference_proxy = p;
        }
        if let Some(t) = args.treasury {
            config.treasury = normalize_account(&t);
        }
        if let Some(k) = args.auto_payout_fee_multiple {
            config.auto_payout_fee_multiple = k.max(1);
        }
        if let Some(s) = args.payout_interval_seconds {
            config.payout_interval_seconds = s.max(1);
        }
        self.config.set(Candid(Some(config)));
    }

    pub fn config(&self) -> &Config {
        self.config
            .get()
            .0
            .as_ref()
            .expect("BUG: state not initialized")
    }

    pub fn is_initialized(&self) -> bool {
        self.config.get().0.is_some()
    }

    pub fn counters(&self) -> &Counters {
        &self.counters.get().0
    }

    pub fn update_counters(&mut self, f: impl FnOnce(&mut Counters)) {
        let mut counters = self.counters.get().0.clone();
        f(&mut counters);
        self.counters.set(Candid(counters));
    }

    /// Hashes the cells as `State::fingerprint` always has, first.
    pub fn fingerprint(&self, h: &mut Sha256) {
        h.update(self.config.get().to_bytes());
        h.update(self.counters.get().to_bytes());
    }
}
