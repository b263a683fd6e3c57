//! The market, step by step: users arrive, call the models and leave; hosts serve or fail; the
//! proxy flushes its receipts to royalties, which pays out; managers change their prices.

use super::adapters::InProcessRoyalties;
use super::{
    account, principal, StepRecord, Violation, World, KIND_DATA, KIND_HOST, KIND_OWNER, T0,
};
use candid::Principal;
use futures::executor::block_on;
use inference_proxy::flows;
use inference_proxy::infer::{self, InferArgs};
use neuranft_types::royalties::Price;
use neuranft_types::Account;

impl World {
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
        // Users see a model the DAO suspended or delisted as unavailable and choose among the rest.
        let qualities: Vec<u64> = {
            let proxy = self.proxy.borrow();
            self.scenario
                .models
                .iter()
                .zip(&self.model_ids)
                .map(|(m, id)| {
                    let moderated = proxy
                        .registry
                        .model(*id)
                        .is_some_and(|entry| entry.status.is_moderated());
                    if moderated {
                        0
                    } else {
                        m.quality as u64
                    }
                })
                .collect()
        };
        // The fee in force: a proposal may have changed it (it changes only after the calls).
        let call_fee = self.proxy.borrow().config().call_fee;
        let mut leaving = Vec::new();
        for (i, user) in self.users.iter_mut().enumerate() {
            let calls = user.rng.binomial(u.calls_per_step_max, u.call_ppm);
            let (mut spent, mut tokens) = (0u128, 0u64);
            for c in 0..calls {
                let Some(pick) = user.rng.weighted(&qualities) else {
                    break;
                };
                let model = self.model_ids[pick];
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
            block_on(royalties::flows::payouts::run_payout_job(
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
