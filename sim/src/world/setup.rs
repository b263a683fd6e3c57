//! The world's set-up: the canisters initialised, the scenario's models registered, the founding
//! hosts admitted, the treasury funded; and the hosts and users who join later.

use super::adapters::Hosts;
use super::{
    account, principal, User, World, KIND_DATA, KIND_HOST, KIND_OWNER, KIND_SYSTEM, KIND_USER, T0,
};
use crate::rng::SplitMix64;
use crate::scenario::Scenario;
use candid::Nat;
use ed25519_dalek::SigningKey;
use futures::executor::block_on;
use ic_stable_structures::DefaultMemoryImpl;
use icrc_ledger_types::icrc2::approve::ApproveArgs;
use inference_proxy::flows;
use inference_proxy::registry::{ApplyNodeArgs, NodeAction};
use inference_proxy::state::{ProxyConfig, ProxyState};
use ledger_adapter::memory::MemoryLedger;
use ledger_adapter::LedgerRuntime;
use neuranft_types::governance::TREASURY_SUBACCOUNT;
use neuranft_types::royalties::*;
use neuranft_types::Account;
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

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
                    .decide_node(
                        principal(KIND_SYSTEM, 3),
                        1_000 + h as u64,
                        id,
                        NodeAction::Admit,
                    )
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

    /// Host `h` applies to the proxy with its own key (production `apply_node`); returns its node id.
    pub(super) fn apply_host(&mut self, run: u64, h: usize) -> u64 {
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

    /// A new user: funded on the ledger, approves the proxy and deposits (the production path).
    pub(super) fn arrive(&mut self, run: u64) {
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
}
