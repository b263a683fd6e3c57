//! One simulation run: the production state machines (proxy metering and flush, royalties
//! settlement and payouts, the icrc-ledger) driven by agents, one step at a time, with the
//! conservation invariants checked after every step.

mod adapters;
mod dao;
mod invariants;
mod market;
mod setup;

use crate::rng::SplitMix64;
use crate::scenario::Scenario;
use adapters::Hosts;
use candid::Principal;
use dao::Dao;
use inference_proxy::state::ProxyState;
use ledger_adapter::memory::MemoryLedger;
use neuranft_types::royalties::ModelId;
use neuranft_types::Account;
use std::cell::RefCell;
use std::collections::BTreeMap;

const T0: u64 = 1_767_225_600_000_000_000;
const KIND_USER: u8 = 1;
const KIND_OWNER: u8 = 2;
const KIND_DATA: u8 = 3;
const KIND_HOST: u8 = 4;
const KIND_SYSTEM: u8 = 5;
const KIND_HOLDER: u8 = 6;
const KIND_GRANTEE: u8 = 7;
const E8S: u64 = 100_000_000;

/// A principal for entity `index` of `kind`: the same in every run.
pub fn principal(kind: u8, index: u32) -> Principal {
    let mut bytes = [0u8; 29];
    bytes[0] = kind;
    bytes[1..5].copy_from_slice(&index.to_be_bytes());
    bytes[28] = 0x01;
    Principal::from_slice(&bytes)
}

fn account(owner: Principal) -> Account {
    Account {
        owner,
        subaccount: None,
    }
}

/// What one step produced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StepRecord {
    pub step: u32,
    pub active_users: u32,
    pub arrivals: u32,
    pub departures: u32,
    pub calls: u64,
    pub failed_calls: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// What users paid for the step's calls (usage price + call fees).
    pub user_spend: u128,
    /// The usage part, sent to royalties.
    pub metered: u128,
    /// Cumulative credits per class in royalties, after the step.
    pub credited_hosts: u128,
    pub credited_model_owners: u128,
    pub credited_data_owners: u128,
    pub credited_treasury: u128,
    /// Paid out on the ledger so far.
    pub paid_out: u128,
    /// The proxy's call fees kept so far (its fee reserve after batch transfer fees).
    pub proxy_fee_reserve: u128,
    /// What the treasury holds on the ledger plus what royalties owes it, after the step.
    pub treasury_balance: u128,
    /// Paid out of the treasury by adopted grants so far (amounts and ledger fees).
    pub treasury_spent: u128,
}

/// Per-host counters over the whole run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HostStats {
    pub calls: u64,
    pub failures: u64,
    pub output_tokens: u64,
    /// GPU-seconds × 1,000 (integer).
    pub gpu_millis: u128,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct User {
    principal: Principal,
    rng: SplitMix64,
}

/// A conservation invariant that failed: the step and what disagrees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation(pub String);

pub struct World {
    pub scenario: Scenario,
    ledger: MemoryLedger,
    proxy: RefCell<ProxyState>,
    royalties: RefCell<royalties::State>,
    hosts: Hosts,
    proxy_id: Principal,
    royalties_id: Principal,
    treasury: Account,
    users: Vec<User>,
    next_user: u32,
    arrivals_rng: SplitMix64,
    minted: u128,
    /// Each scenario host's node id, once it has applied.
    pub host_ids: Vec<Option<u64>>,
    pub model_ids: Vec<ModelId>,
    step: u32,
    dao: Option<Dao>,
}

impl World {
    fn now(&self) -> u64 {
        self.hosts.clock.get()
    }

    /// Moves the world's clock: the proxy's, royalties' and the ledger's.
    fn set_clock(&self, now: u64) {
        self.hosts.clock.set(now);
        self.ledger.set_time(now);
    }

    /// Tokens minted so far: users' funds and the treasury's initial holdings, the only money
    /// entering the world.
    pub fn minted(&self) -> u128 {
        self.minted
    }

    pub fn host_stats(&self) -> BTreeMap<u64, HostStats> {
        self.hosts.stats.borrow().clone()
    }
}
