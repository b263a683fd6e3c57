//! One simulation run: the production state machines (proxy metering and flush, royalties
//! settlement and payouts, the icrc-ledger) driven by agents, one step at a time, with the
//! conservation invariants checked after every step.

use crate::rng::SplitMix64;
use crate::scenario::Scenario;
use candid::{Nat, Principal};
use ed25519_dalek::{Signer, SigningKey};
use futures::executor::block_on;
use governance::book::Book;
use governance::flows::TargetOutcome;
use governance::Governance;
use ic_stable_structures::DefaultMemoryImpl;
use icrc_ledger_types::icrc2::approve::ApproveArgs;
use inference_proxy::flows::{self, RoyaltiesClient};
use inference_proxy::infer::{self, InferArgs, NodeTransport};
use inference_proxy::registry::{ApplyNodeArgs, ModelEntry, NodeAction, NodeRecord};
use inference_proxy::state::{ProxyConfig, ProxyState};
use ledger_adapter::memory::MemoryLedger;
use ledger_adapter::{CallFailure, LedgerRuntime};
use neuranft_types::governance::{
    Action, MakeProposalArgs, NeuronId, ProposalId, ProposalStatus, StakeArgs, Topic,
    UpgradeTarget, Vote, TREASURY_SUBACCOUNT,
};
use neuranft_types::node::{receipt_message, InferRequest, InferResponse, Usage};
use neuranft_types::royalties::*;
use neuranft_types::Account;
use royalties::push::{push_to_proxy, ProxyClient};
use std::cell::{Cell, RefCell};
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

/// The hosts as the proxy reaches them: each signs its receipts with its own key, fails with its
/// reliability, and is down from its outage step.
struct Hosts {
    keys: BTreeMap<u64, SigningKey>,
    reliability_ppm: BTreeMap<u64, u32>,
    down: BTreeMap<u64, bool>,
    tokens_per_second: BTreeMap<u64, u32>,
    rng: RefCell<SplitMix64>,
    clock: Cell<u64>,
    stats: RefCell<BTreeMap<u64, HostStats>>,
}

impl NodeTransport for Hosts {
    async fn post(&self, node: &NodeRecord, body: Vec<u8>) -> Result<(u16, Vec<u8>), String> {
        let mut stats = self.stats.borrow_mut();
        let s = stats.entry(node.id).or_default();
        s.calls += 1;
        let mut rng = self.rng.borrow_mut();
        if self.down[&node.id] || !rng.chance(self.reliability_ppm[&node.id]) {
            s.failures += 1;
            return Err("connection failed".into());
        }
        let request: InferRequest = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        let prompt_bytes = request.prompt.as_ref().map_or(0, String::len) as u64;
        // About four bytes per token, and an answer of a random length within the limit.
        let usage = Usage {
            input_tokens: (prompt_bytes / 4).max(1),
            output_tokens: rng.between(1, request.max_tokens as u64),
            total_duration_ns: 0,
            eval_duration_ns: 0,
        };
        let output = "simulated answer";
        let message = receipt_message(&request.request_id, &request.model, &usage, output);
        let signature = hex::encode(self.keys[&node.id].sign(&message).to_bytes());
        s.output_tokens += usage.output_tokens;
        s.gpu_millis +=
            usage.output_tokens as u128 * 1_000 / self.tokens_per_second[&node.id] as u128;
        let response = InferResponse {
            request_id: request.request_id,
            model: request.model,
            output: output.into(),
            usage,
            signature,
        };
        Ok((
            200,
            serde_json::to_vec(&response).map_err(|e| e.to_string())?,
        ))
    }

    fn now(&self) -> u64 {
        self.clock.get()
    }
}

/// Royalties as the proxy reaches it: its `settle`, in process.
struct InProcessRoyalties<'a> {
    state: &'a RefCell<royalties::State>,
    proxy: Principal,
    clock: &'a Cell<u64>,
}

impl RoyaltiesClient for InProcessRoyalties<'_> {
    async fn settle(&self, args: SettleArgs) -> Result<Result<SettleOk, SettleError>, CallFailure> {
        Ok(self
            .state
            .borrow_mut()
            .settle(self.proxy, args, self.clock.get()))
    }
}

/// The proxy as royalties reaches it: its `update_model` and `set_split_version`, in process.
struct InProcessProxy<'a> {
    proxy: &'a RefCell<ProxyState>,
}

impl ProxyClient for InProcessProxy<'_> {
    async fn update_model(&self, entry: ModelEntry) -> Result<(), String> {
        self.proxy.borrow_mut().registry.upsert_model(entry);
        Ok(())
    }

    async fn set_split_version(&self, version: SplitVersion) -> Result<(), String> {
        self.proxy.borrow_mut().set_split_version(version);
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct User {
    principal: Principal,
    rng: SplitMix64,
}

/// The governance canister's targets, in process: royalties' `set_split`, the proxy's `set_call_fee`
/// and `decide_node`.
struct InProcessTargets<'a> {
    royalties: &'a RefCell<royalties::State>,
    proxy: &'a RefCell<ProxyState>,
    governance: Principal,
    clock: &'a Cell<u64>,
}

impl governance::flows::Targets for InProcessTargets<'_> {
    async fn set_royalty_split(&self, proposal: u64, split: SplitConfig) -> TargetOutcome {
        let args = SetSplitArgs {
            proposal_id: proposal,
            split,
        };
        match self
            .royalties
            .borrow_mut()
            .set_split(self.governance, args, self.clock.get())
        {
            Ok(_) => TargetOutcome::Done,
            Err(SplitError::ProposalAlreadyApplied { .. }) => TargetOutcome::AlreadyDone,
            Err(e) => TargetOutcome::Refused(format!("{e:?}")),
        }
    }

    async fn set_call_fee(&self, proposal: u64, call_fee: u128) -> TargetOutcome {
        match self.proxy.borrow_mut().set_call_fee(proposal, call_fee) {
            Ok(()) => TargetOutcome::Done,
            Err(e) => TargetOutcome::Refused(format!("{e:?}")),
        }
    }

    async fn decide_node(&self, proposal: u64, node: u64, action: NodeAction) -> TargetOutcome {
        match self
            .proxy
            .borrow_mut()
            .registry
            .decide_node(proposal, node, action)
        {
            Ok(_) => TargetOutcome::Done,
            Err(e) => TargetOutcome::Refused(format!("{e:?}")),
        }
    }

    async fn upgrade(
        &self,
        _target: UpgradeTarget,
        _wasm: serde_bytes::ByteBuf,
        _arg: serde_bytes::ByteBuf,
    ) -> TargetOutcome {
        TargetOutcome::Refused("canister upgrades are not simulated".into())
    }
}

/// Token holders and their neurons, in the governance state machine.
struct Dao {
    governance: RefCell<Governance>,
    stakes: RefCell<Book>,
    treasury: RefCell<Book>,
    nng: MemoryLedger,
    /// (holder, neuron, follows the largest holder)
    holders: Vec<(Principal, NeuronId, bool)>,
    rng: SplitMix64,
    /// Proposals made so far, with the scenario's index of each.
    proposals: Vec<(usize, ProposalId)>,
    /// Treasury grants proposed: the proposal, the grantee and the amount.
    grants: Vec<(ProposalId, Account, u128)>,
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
    /// A fresh world for run `run` of `scenario`.
    pub fn new(scenario: &Scenario, run: u64) -> Self {
        let ledger = MemoryLedger::new(scenario.economy.ledger_fee as u128, T0);
        let proxy_id = principal(KIND_SYSTEM, 1);
        let royalties_id = principal(KIND_SYSTEM, 2);
        let governance = principal(KIND_SYSTEM, 3);
        let treasury = Account {
            owner: governance,
            subaccount: Some(TREASURY_SUBACCOUNT),
        };
        let mut roy = royalties::State::open_small(DefaultMemoryImpl::default());
        let e = &scenario.economy;
        roy.initialize(
            InitArgs {
                split: SplitConfig {
                    host_bps: e.split.host_bps,
                    model_owners_bps: e.split.model_owners_bps,
                    data_owners_bps: e.split.data_owners_bps,
                    treasury_bps: e.split.treasury_bps,
                },
                auto_payout_fee_multiple: e.auto_payout_fee_multiple,
                ..InitArgs::with_defaults(principal(KIND_SYSTEM, 0), governance, proxy_id, treasury)
            },
            T0,
        )
        .expect("the scenario's split was checked");
        let mut proxy = ProxyState::open_small(DefaultMemoryImpl::default());
        proxy
            .initialize(ProxyConfig {
                ledger: principal(KIND_SYSTEM, 0),
                royalties: royalties_id,
                governance,
                call_fee: e.call_fee as u128,
                max_prompt_bytes: 16_384,
                max_output_tokens: 4_096,
                max_receipts_per_batch: e.max_receipts_per_batch,
                flush_interval_seconds: scenario.step_seconds.clamp(1, 86_400),
                failures_before_suspension: 5,
                max_nodes_per_call: 3,
                calls_per_user_per_minute: u32::MAX,
            })
            .expect("the scenario's proxy configuration was checked");
        let mut model_ids = Vec::new();
        for (m, spec) in scenario.models.iter().enumerate() {
            let owners: Vec<ShareHolding> = (0..spec.owners)
                .map(|o| ShareHolding {
                    account: account(principal(KIND_OWNER, (m as u32) << 16 | o)),
                    units: 1_000_000 / spec.owners as u64
                        + u64::from(o == 0) * (1_000_000 % spec.owners as u64),
                })
                .collect();
            let data_owners: Vec<DataOwner> = (0..spec.data_owners)
                .map(|d| DataOwner {
                    account: account(principal(KIND_DATA, (m as u32) << 16 | d)),
                    weight: 10_000 / spec.data_owners as u64
                        + u64::from(d == 0) * (10_000 % spec.data_owners as u64),
                })
                .collect();
            let price = Price {
                per_1k_input_tokens: spec.per_1k_input_tokens,
                per_1k_output_tokens: spec.per_1k_output_tokens,
            };
            let manager = owners[0].account.owner;
            let id = roy
                .register_model(
                    manager,
                    RegisterModelArgs {
                        metadata: ModelMetadata {
                            name: spec.name.clone(),
                            base_model: "llama3.1:8b".into(),
                            architecture: "simulated".into(),
                            datasets: vec![],
                            training_params: vec![],
                            licence: "simulated".into(),
                        },
                        price,
                        owners,
                        data_owners,
                    },
                    T0,
                )
                .unwrap_or_else(|e| panic!("model {}: {e:?}", spec.name));
            model_ids.push(id);
        }
        let mut world = Self {
            scenario: scenario.clone(),
            ledger,
            proxy: RefCell::new(proxy),
            royalties: RefCell::new(roy),
            hosts: Hosts {
                keys: BTreeMap::new(),
                reliability_ppm: BTreeMap::new(),
                down: BTreeMap::new(),
                tokens_per_second: BTreeMap::new(),
                rng: RefCell::new(SplitMix64::stream(scenario.seed, &[run, KIND_HOST as u64])),
                clock: Cell::new(T0),
                stats: RefCell::default(),
            },
            proxy_id,
            royalties_id,
            treasury,
            users: Vec::new(),
            next_user: 0,
            arrivals_rng: SplitMix64::stream(scenario.seed, &[run, KIND_USER as u64]),
            minted: 0,
            host_ids: vec![None; scenario.hosts.len()],
            model_ids,
            step: 0,
            dao: None,
        };
        // Royalties pushes the models (and its split version) to the proxy, as its timer would.
        world.push_to_proxy();
        for (h, spec) in scenario.hosts.iter().enumerate() {
            if spec.applies_at_step.is_none() {
                let id = world.apply_host(run, h);
                // A founding host: admitted before the run, by a genesis decision.
                world
                    .proxy
                    .borrow_mut()
                    .registry
                    .decide_node(1_000 + h as u64, id, NodeAction::Admit)
                    .expect("admitted");
            }
        }
        if scenario.treasury.initial > 0 {
            let initial = scenario.treasury.initial as u128;
            world.ledger.mint(world.treasury, initial);
            world.minted += initial;
        }
        world.dao = world.found_dao(run);
        for _ in 0..scenario.users.initial {
            world.arrive(run);
        }
        world
    }

    fn now(&self) -> u64 {
        self.hosts.clock.get()
    }

    /// Royalties' push of pending model changes and split versions to the proxy (production code).
    fn push_to_proxy(&self) {
        block_on(push_to_proxy(
            &self.royalties,
            &InProcessProxy { proxy: &self.proxy },
        ));
    }

    /// Host `h` applies to the proxy with its own key (production `apply_node`); returns its node id.
    fn apply_host(&mut self, run: u64, h: usize) -> u64 {
        let spec = &self.scenario.hosts[h];
        let key = SigningKey::from_bytes(
            &SplitMix64::stream(self.scenario.seed, &[run, KIND_HOST as u64, h as u64])
                .next_u64()
                .to_be_bytes()
                .repeat(4)
                .try_into()
                .expect("32 bytes"),
        );
        let id = self
            .proxy
            .borrow_mut()
            .registry
            .apply_node(
                principal(KIND_HOST, h as u32),
                ApplyNodeArgs {
                    operator_subaccount: None,
                    endpoint: format!("https://{}.sim/v1/infer", spec.name),
                    public_key: serde_bytes::ByteBuf::from(key.verifying_key().to_bytes().to_vec()),
                    models: vec!["llama3.1:8b".into()],
                    capacity: spec.capacity,
                },
            )
            .expect("a valid host");
        self.hosts.keys.insert(id, key);
        self.hosts.reliability_ppm.insert(id, spec.reliability_ppm);
        self.hosts.down.insert(id, false);
        self.hosts
            .tokens_per_second
            .insert(id, spec.tokens_per_second);
        self.host_ids[h] = Some(id);
        id
    }

    /// The price changes of `step`: each model's manager sets its new prices in royalties.
    fn change_prices(&self, step: u32) {
        for change in self
            .scenario
            .price_changes
            .iter()
            .filter(|c| c.at_step == step)
        {
            let m = self
                .scenario
                .models
                .iter()
                .position(|m| m.name == change.model)
                .expect("checked: the model exists");
            let spec = &self.scenario.models[m];
            let price = Price {
                per_1k_input_tokens: spec.per_1k_input_tokens * change.percent / 100,
                per_1k_output_tokens: spec.per_1k_output_tokens * change.percent / 100,
            };
            let manager = principal(KIND_OWNER, (m as u32) << 16);
            self.royalties
                .borrow_mut()
                .set_price(manager, self.model_ids[m], price, self.now())
                .expect("the manager sets the price");
        }
    }

    /// The token holders stake their neurons through governance's real staking flow, on their own
    /// governance-token ledger; some follow the largest holder.
    fn found_dao(&self, run: u64) -> Option<Dao> {
        let spec = &self.scenario.governance;
        if spec.holders == 0 && spec.whale_stake == 0 {
            return None;
        }
        let mm = ic_stable_structures::memory_manager::MemoryManager::init_with_bucket_size(
            DefaultMemoryImpl::default(),
            1,
        );
        let mut g = Governance::open_in(&mm);
        g.initialize(neuranft_types::governance::Parameters::default())
            .expect("the recommended parameters are valid");
        let dao = Dao {
            governance: RefCell::new(g),
            stakes: RefCell::new(governance::book::open(
                &mm,
                governance::memory::STAKES_BOOK_FIRST_MEMORY_ID,
            )),
            treasury: RefCell::new(governance::book::open(
                &mm,
                governance::memory::TREASURY_BOOK_FIRST_MEMORY_ID,
            )),
            nng: MemoryLedger::new(100_000, T0),
            holders: Vec::new(),
            rng: SplitMix64::stream(self.scenario.seed, &[run, KIND_HOLDER as u64]),
            proposals: Vec::new(),
            grants: Vec::new(),
        };
        let governance_id = principal(KIND_SYSTEM, 3);
        let mut rng = dao.rng.clone();
        // (whole tokens, dissolve delay in days) per holder; the whale locks for the longest.
        let mut stakes: Vec<(u64, u64)> = Vec::new();
        if spec.whale_stake > 0 {
            stakes.push((spec.whale_stake, spec.dissolve_delay_days_max));
        }
        for _ in 0..spec.holders {
            let tokens = rng.between(spec.stake_min, spec.stake_max);
            let days = if spec.dissolve_delay_days_min < spec.dissolve_delay_days_max {
                rng.between(spec.dissolve_delay_days_min, spec.dissolve_delay_days_max)
            } else {
                spec.dissolve_delay_days_min
            };
            stakes.push((tokens, days));
        }
        let mut holders = Vec::new();
        for (i, (tokens, days)) in stakes.iter().enumerate() {
            let holder = principal(KIND_HOLDER, i as u32);
            let amount = tokens * E8S;
            dao.nng.mint(account(holder), amount as u128 + 200_000);
            let approve = ApproveArgs {
                from_subaccount: None,
                spender: account(governance_id),
                amount: Nat::from(amount as u128 + 100_000),
                expected_allowance: None,
                expires_at: None,
                fee: None,
                memo: None,
                created_at_time: None,
            };
            block_on(dao.nng.client(holder).icrc2_approve(approve))
                .expect("the in-memory ledger answers")
                .expect("the holder can pay the approval");
            let neuron = block_on(governance::flows::stake(
                &dao.governance,
                &dao.stakes,
                &dao.nng.client(governance_id),
                holder,
                StakeArgs {
                    amount,
                    dissolve_delay_seconds: days * 24 * 3_600,
                },
                T0,
            ))
            .expect("the stake succeeds");
            holders.push((holder, neuron, false));
        }
        let leader = stakes
            .iter()
            .enumerate()
            .max_by_key(|(i, (tokens, _))| (*tokens, std::cmp::Reverse(*i)))
            .map(|(i, _)| i)
            .expect("at least one holder");
        for (i, h) in holders.iter_mut().enumerate() {
            if i != leader && rng.chance(spec.follow_ppm) {
                let leader_neuron = NeuronId::from(leader as u64);
                // The catch-all covers the normal topics; each critical topic needs its own.
                for topic in Topic::ALL
                    .into_iter()
                    .filter(|t| *t == Topic::CatchAll || t.is_critical())
                {
                    dao.governance
                        .borrow_mut()
                        .follow(h.0, h.1, topic, vec![leader_neuron], T0)
                        .expect("following the leader");
                }
                h.2 = true;
            }
        }
        Some(Dao {
            holders,
            rng,
            ..dao
        })
    }

    /// Scheduled proposals are made and voted on; governance decides and executes on its timer.
    fn govern(&mut self, step: u32) {
        let Some(dao) = self.dao.as_mut() else {
            return;
        };
        let now = self.hosts.clock.get();
        let governance_id = principal(KIND_SYSTEM, 3);
        for (index, p) in self.scenario.proposals.iter().enumerate() {
            let due = step == p.at_step
                || p.every_steps.is_some_and(|every| {
                    step > p.at_step && (step - p.at_step).is_multiple_of(every)
                });
            if !due {
                continue;
            }
            let action = match crate::ab::Change::parse(&p.change).expect("checked") {
                crate::ab::Change::Split(s) => Action::SetRoyaltySplit {
                    split: SplitConfig {
                        host_bps: s.host_bps,
                        model_owners_bps: s.model_owners_bps,
                        data_owners_bps: s.data_owners_bps,
                        treasury_bps: s.treasury_bps,
                    },
                },
                crate::ab::Change::CallFee(fee) => Action::SetCallFee {
                    call_fee: fee as u128,
                },
                crate::ab::Change::RemoveNode { index } => Action::RemoveNode {
                    node: self.host_ids[index].expect("checked: it applied before"),
                },
                crate::ab::Change::AdmitNode { index } => Action::AdmitNode {
                    node: self.host_ids[index].expect("checked: it applied before"),
                },
                crate::ab::Change::TreasuryGrant { amount } => Action::TransferTreasury {
                    to: account(principal(KIND_GRANTEE, index as u32)),
                    amount: amount as u128,
                },
                crate::ab::Change::Prices { .. } => unreachable!("refused by the scenario check"),
            };
            let proposer = *dao
                .holders
                .iter()
                .max_by_key(|h| dao.governance.borrow().neuron(h.1).map_or(0, |n| n.stake))
                .expect("holders exist");
            let made = dao.governance.borrow_mut().make_proposal(
                proposer.0,
                MakeProposalArgs {
                    neuron: proposer.1,
                    title: format!("Scenario proposal {index}: {}", p.change),
                    summary: String::new(),
                    url: String::new(),
                    action: action.clone(),
                },
                now,
                u64::MAX,
            );
            let Ok(id) = made else {
                continue;
            };
            dao.proposals.push((index, id));
            if let Action::TransferTreasury { to, amount } = action {
                dao.grants.push((id, to, amount));
            }
            for (holder, neuron, follows) in dao.holders.clone() {
                if follows
                    || neuron == proposer.1
                    || !dao.rng.chance(self.scenario.governance.turnout_ppm)
                {
                    continue;
                }
                let vote = if dao.rng.chance(p.support_ppm) {
                    Vote::Yes
                } else {
                    Vote::No
                };
                let _ = dao.governance.borrow_mut().register_vote(
                    holder,
                    neuron,
                    id,
                    vote,
                    now,
                    u64::MAX,
                );
            }
        }
        dao.governance.borrow_mut().advance(now, u64::MAX);
        let targets = InProcessTargets {
            royalties: &self.royalties,
            proxy: &self.proxy,
            governance: governance_id,
            clock: &self.hosts.clock,
        };
        block_on(governance::flows::execute_due(
            &dao.governance,
            &dao.treasury,
            &self.ledger.client(governance_id),
            &targets,
            now,
        ));
        // A new split reaches the proxy by royalties' push, at once (its zero-delay timer).
        self.push_to_proxy();
    }

    /// Each scenario proposal made: its status and tally (for the report).
    pub fn proposal_outcomes(&self) -> Vec<(usize, ProposalStatus, u128, u128, u128)> {
        let Some(dao) = &self.dao else {
            return vec![];
        };
        dao.proposals
            .iter()
            .filter_map(|(index, id)| {
                let info = dao.governance.borrow().proposal(*id)?;
                Some((
                    *index,
                    info.status,
                    info.tally.yes,
                    info.tally.no,
                    info.tally.total,
                ))
            })
            .collect()
    }

    /// Every neuron's voting power now.
    pub fn voting_powers(&self) -> Vec<u128> {
        let Some(dao) = &self.dao else {
            return vec![];
        };
        let g = dao.governance.borrow();
        let p = g.parameters();
        dao.holders
            .iter()
            .filter_map(|h| {
                let n = g.neuron(h.1)?;
                governance::power::voting_power(&n, &p, self.hosts.clock.get())
            })
            .collect()
    }

    /// The treasury grants executed so far: grantee and amount.
    fn executed_grants(&self) -> Vec<(Account, u128)> {
        let Some(dao) = &self.dao else {
            return vec![];
        };
        let g = dao.governance.borrow();
        dao.grants
            .iter()
            .filter(|(id, _, _)| {
                g.proposal(*id)
                    .is_some_and(|p| p.status == ProposalStatus::Executed)
            })
            .map(|(_, to, amount)| (*to, *amount))
            .collect()
    }

    /// The staked tokens are all in their neurons' subaccounts.
    fn check_dao(&self, step: u32) -> Result<(), Violation> {
        let Some(dao) = &self.dao else {
            return Ok(());
        };
        if let Err(e) = dao.nng.check_invariants() {
            return Err(Violation(format!(
                "step {step}: governance-token ledger: {e}"
            )));
        }
        let governance_id = principal(KIND_SYSTEM, 3);
        for (_, neuron, _) in &dao.holders {
            let Some(n) = dao.governance.borrow().neuron(*neuron) else {
                continue;
            };
            let held = dao.nng.balance(&Account {
                owner: governance_id,
                subaccount: Some(neuranft_types::governance::neuron_subaccount(*neuron)),
            });
            if held != n.stake as u128 {
                return Err(Violation(format!(
                    "step {step}: neuron {neuron} has stake {} but its subaccount holds {held}",
                    n.stake
                )));
            }
        }
        Ok(())
    }

    /// Moves the world's clock: the proxy's, royalties' and the ledger's.
    fn set_clock(&self, now: u64) {
        self.hosts.clock.set(now);
        self.ledger.set_time(now);
    }

    /// A new user: funded on the ledger, approves the proxy and deposits (the production path).
    fn arrive(&mut self, run: u64) {
        let index = self.next_user;
        self.next_user += 1;
        let user = principal(KIND_USER, index);
        let deposit = self.scenario.users.deposit as u128;
        let fee = self.scenario.economy.ledger_fee as u128;
        let funds = deposit + 2 * fee;
        self.ledger.mint(account(user), funds);
        self.minted += funds;
        let approve = ApproveArgs {
            from_subaccount: None,
            spender: account(self.proxy_id),
            amount: Nat::from(deposit + fee),
            expected_allowance: None,
            expires_at: None,
            fee: None,
            memo: None,
            created_at_time: None,
        };
        block_on(self.ledger.client(user).icrc2_approve(approve))
            .expect("the in-memory ledger answers")
            .expect("the user can pay the approval");
        block_on(flows::deposit(
            &self.proxy,
            &self.ledger.client(self.proxy_id),
            user,
            deposit,
            self.now(),
        ))
        .expect("the deposit succeeds");
        self.users.push(User {
            principal: user,
            rng: SplitMix64::stream(
                self.scenario.seed,
                &[run, KIND_USER as u64, index as u64 + 1],
            ),
        });
    }

    /// One step: outages, arrivals, calls, departures, the flush, the payout job; then the checks.
    pub fn step(&mut self, run: u64) -> Result<StepRecord, Violation> {
        let step = self.step;
        self.step += 1;
        let start = T0 + step as u64 * self.scenario.step_seconds * 1_000_000_000;
        self.set_clock(start);
        let mut record = StepRecord {
            step,
            ..Default::default()
        };
        for h in 0..self.scenario.hosts.len() {
            if self.scenario.hosts[h].applies_at_step == Some(step) {
                self.apply_host(run, h);
            }
        }
        for (h, spec) in self.scenario.hosts.iter().enumerate() {
            if let Some(id) = self.host_ids[h] {
                let down = spec.down_from_step.is_some_and(|s| step >= s);
                self.hosts.down.insert(id, down);
            }
        }
        self.change_prices(step);
        self.push_to_proxy();
        let u = self.scenario.users.clone();
        let arrivals = self
            .arrivals_rng
            .binomial(u.max_arrivals_per_step, u.arrival_ppm);
        for _ in 0..arrivals {
            self.arrive(run);
        }
        record.arrivals = arrivals;
        let qualities: Vec<u64> = self
            .scenario
            .models
            .iter()
            .map(|m| m.quality as u64)
            .collect();
        // The fee in force: a proposal may have changed it (it changes only after the calls).
        let call_fee = self.proxy.borrow().config().call_fee;
        let mut leaving = Vec::new();
        for (i, user) in self.users.iter_mut().enumerate() {
            let calls = user.rng.binomial(u.calls_per_step_max, u.call_ppm);
            let (mut spent, mut tokens) = (0u128, 0u64);
            for c in 0..calls {
                let model = self.model_ids[user.rng.weighted(&qualities).expect("a model")];
                let prompt_bytes = user.rng.between(u.prompt_bytes_min, u.prompt_bytes_max);
                let args = InferArgs {
                    model,
                    prompt: Some("x".repeat(prompt_bytes as usize)),
                    messages: None,
                    max_tokens: user
                        .rng
                        .between(u.max_tokens_min as u64, u.max_tokens_max as u64)
                        as u32,
                    temperature: None,
                    seed: None,
                };
                let now = start + (i as u64 * 64 + c as u64) * 1_000_000;
                self.hosts.clock.set(now);
                self.ledger.set_time(now);
                let entropy = user.rng.next_u64();
                match block_on(infer::infer(
                    &self.proxy,
                    &self.hosts,
                    user.principal,
                    args,
                    entropy,
                )) {
                    Ok(ok) => {
                        record.calls += 1;
                        record.input_tokens += ok.input_tokens;
                        record.output_tokens += ok.output_tokens;
                        record.user_spend += ok.charged;
                        record.metered += ok.charged - call_fee;
                        spent += ok.charged;
                        tokens += ok.input_tokens + ok.output_tokens;
                    }
                    Err(_) => record.failed_calls += 1,
                }
            }
            let too_dear =
                tokens > 0 && spent * 1_000 / tokens as u128 > u.max_cost_per_1k_tokens as u128;
            let broke = self
                .proxy
                .borrow()
                .metering
                .balance(&user.principal)
                .available
                < u.deposit as u128 / 100;
            if too_dear || broke || user.rng.chance(u.churn_ppm) {
                leaving.push(i);
            }
        }
        self.set_clock(start + self.scenario.step_seconds * 500_000_000);
        for i in leaving.iter().rev() {
            let user = self.users.remove(*i);
            let available = self
                .proxy
                .borrow()
                .metering
                .balance(&user.principal)
                .available;
            if available > self.scenario.economy.ledger_fee as u128 {
                block_on(flows::withdraw(
                    &self.proxy,
                    &self.ledger.client(self.proxy_id),
                    user.principal,
                    available,
                    None,
                    self.now(),
                ))
                .map_err(|e| Violation(format!("step {step}: a withdrawal failed: {e:?}")))?;
            }
        }
        record.departures = leaving.len() as u32;
        record.active_users = self.users.len() as u32;
        let clock = &self.hosts.clock;
        let royalties = InProcessRoyalties {
            state: &self.royalties,
            proxy: self.proxy_id,
            clock,
        };
        block_on(flows::flush(
            &self.proxy,
            &self.ledger.client(self.proxy_id),
            &royalties,
            true,
        ));
        if (step + 1).is_multiple_of(self.scenario.economy.payout_every_steps) {
            block_on(royalties::payouts::run_payout_job(
                &self.royalties,
                &self.ledger.client(self.royalties_id),
                self.now(),
            ));
        }
        self.govern(step);
        let grants = self.executed_grants();
        self.fill_credits(&mut record, &grants);
        self.check(step, &grants)?;
        self.check_dao(step)?;
        Ok(record)
    }

    fn fill_credits(&self, record: &mut StepRecord, grants: &[(Account, u128)]) {
        let roy = self.royalties.borrow();
        let credited = |owner: Principal| roy.balance_of(&account(owner)).credited_total;
        record.credited_hosts = (0..self.scenario.hosts.len() as u32)
            .map(|h| credited(principal(KIND_HOST, h)))
            .sum();
        for (m, spec) in self.scenario.models.iter().enumerate() {
            record.credited_model_owners += (0..spec.owners)
                .map(|o| credited(principal(KIND_OWNER, (m as u32) << 16 | o)))
                .sum::<u128>();
            record.credited_data_owners += (0..spec.data_owners)
                .map(|d| credited(principal(KIND_DATA, (m as u32) << 16 | d)))
                .sum::<u128>();
        }
        let owed_to_treasury = roy.balance_of(&self.treasury);
        record.credited_treasury = owed_to_treasury.credited_total;
        record.treasury_balance = self.ledger.balance(&self.treasury)
            + owed_to_treasury.available
            + owed_to_treasury.in_flight;
        record.treasury_spent = grants
            .iter()
            .map(|(_, amount)| amount + self.scenario.economy.ledger_fee as u128)
            .sum();
        record.paid_out = roy.liabilities().paid_total;
        record.proxy_fee_reserve = self.proxy.borrow().metering.liabilities().fee_reserve;
    }

    /// The invariants of every step: the ledger's own, and each canister's ledger balance equal to
    /// what it owes.
    fn check(&self, step: u32, grants: &[(Account, u128)]) -> Result<(), Violation> {
        let fail = |what: String| Err(Violation(format!("step {step}: {what}")));
        if let Err(e) = self.ledger.check_invariants() {
            return fail(format!("ledger: {e}"));
        }
        let proxy_owes = self.proxy.borrow().metering.liabilities().total;
        let proxy_has = self.ledger.balance(&account(self.proxy_id));
        if proxy_owes != proxy_has {
            return fail(format!("the proxy holds {proxy_has} and owes {proxy_owes}"));
        }
        let roy = self.royalties.borrow().liabilities();
        let roy_has = self.ledger.balance(&account(self.royalties_id));
        if roy.total != roy_has {
            return fail(format!("royalties holds {roy_has} and owes {}", roy.total));
        }
        if roy.settled_total != roy.available + roy.in_flight + roy.paid_total + roy.undistributed {
            return fail("royalties' settled total does not add up".into());
        }
        let ledger_minted = self.ledger.state().totals().minted;
        if ledger_minted != self.minted {
            return fail(format!(
                "the ledger minted {ledger_minted}; only {} entered the world",
                self.minted
            ));
        }
        // Each grantee holds exactly what its executed grants paid: once per adopted proposal.
        let mut granted: BTreeMap<Account, u128> = BTreeMap::new();
        for (to, amount) in grants {
            *granted.entry(*to).or_default() += amount;
        }
        for (to, amount) in granted {
            let held = self.ledger.balance(&to);
            if held != amount {
                return fail(format!(
                    "a grantee holds {held}; its executed grants paid {amount}"
                ));
            }
        }
        Ok(())
    }

    /// Each model's price in royalties and in the proxy's copy (which meters the calls).
    pub fn prices(&self) -> Vec<(Price, Option<Price>)> {
        let roy = self.royalties.borrow();
        let proxy = self.proxy.borrow();
        self.model_ids
            .iter()
            .map(|id| {
                let price = roy.get_model(*id).expect("registered").model.price;
                (price, proxy.registry.model(*id).map(|e| e.price))
            })
            .collect()
    }

    /// Tokens minted so far: users' funds and the treasury's initial holdings, the only money
    /// entering the world.
    pub fn minted(&self) -> u128 {
        self.minted
    }

    pub fn host_stats(&self) -> BTreeMap<u64, HostStats> {
        self.hosts.stats.borrow().clone()
    }

    /// Credited totals per stakeholder account (for distributions).
    pub fn stakeholder_credits(&self) -> Vec<(String, u128)> {
        let roy = self.royalties.borrow();
        let mut out = Vec::new();
        let credited = |owner: Principal| roy.balance_of(&account(owner)).credited_total;
        for h in 0..self.scenario.hosts.len() as u32 {
            out.push((format!("host:{h}"), credited(principal(KIND_HOST, h))));
        }
        for (m, spec) in self.scenario.models.iter().enumerate() {
            for o in 0..spec.owners {
                out.push((
                    format!("owner:{m}:{o}"),
                    credited(principal(KIND_OWNER, (m as u32) << 16 | o)),
                ));
            }
            for d in 0..spec.data_owners {
                out.push((
                    format!("data:{m}:{d}"),
                    credited(principal(KIND_DATA, (m as u32) << 16 | d)),
                ));
            }
        }
        out
    }
}
