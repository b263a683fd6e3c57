//! Neurons: staking, the dissolve delay and age, hot keys, disbursing and removal.

use super::*;
use crate::power::{self, nanos};

pub const MAX_HOT_KEYS: usize = 10;

impl Governance {
    /// Marks a neuron's stake or disbursement in flight; `false` when one already is.
    pub fn try_begin_transfer(&mut self, neuron: NeuronId) -> bool {
        self.neurons_in_flight.insert(neuron)
    }

    pub fn end_transfer(&mut self, neuron: NeuronId) {
        self.neurons_in_flight.remove(&neuron);
    }

    pub fn neuron(&self, id: NeuronId) -> Option<Neuron> {
        self.neurons.get(&id).map(|c| c.0)
    }

    pub fn neuron_count(&self) -> u64 {
        self.neurons.len()
    }

    /// The neurons `principal` controls or is a hot key or grantee of.
    pub fn neurons_of(&self, principal: Principal) -> Vec<Neuron> {
        self.by_principal
            .range((principal, 0)..=(principal, NeuronId::MAX))
            .filter_map(|e| self.neuron(e.key().1))
            .collect()
    }

    /// Hands out the id (and so the ledger subaccount) of a neuron about to be staked.
    pub fn allocate_neuron_id(&mut self) -> NeuronId {
        let id = self.counters().next_neuron;
        self.update_counters(|c| c.next_neuron += 1);
        id
    }

    /// Creates `count` neurons of controller `controller` without any ledger transfer, each
    /// following `followee` on the catch-all topic if given: for benchmarks only.
    #[cfg(any(test, feature = "bench"))]
    pub fn seed_neurons(
        &mut self,
        controller: Principal,
        count: u64,
        stake: u64,
        followee: Option<NeuronId>,
        now: u64,
    ) {
        for _ in 0..count {
            let id = self.allocate_neuron_id();
            self.create_neuron(id, controller, stake, 365 * 24 * 3_600, now)
                .expect("a fresh id");
            if let Some(f) = followee.filter(|f| *f != id) {
                self.follow(controller, id, Topic::CatchAll, vec![f], now)
                    .expect("the followee exists");
            }
        }
    }

    /// Checks a new neuron's stake before it is pulled from the ledger.
    pub fn check_new_stake(
        &self,
        controller: Principal,
        stake: u64,
    ) -> Result<(), GovernanceError> {
        if controller == Principal::anonymous() {
            return Err(GovernanceError::AnonymousCaller);
        }
        let minimum = self.parameters().min_stake;
        if stake < minimum {
            return Err(GovernanceError::StakeBelowMinimum { minimum });
        }
        Ok(())
    }

    /// Creates neuron `id` once its stake (checked by [`Governance::check_new_stake`]) has arrived in
    /// its subaccount.
    pub fn create_neuron(
        &mut self,
        id: NeuronId,
        controller: Principal,
        stake: u64,
        dissolve_delay_seconds: u64,
        now: u64,
    ) -> Result<Neuron, GovernanceError> {
        let p = self.parameters();
        if self.neurons.contains_key(&id) || id >= self.counters().next_neuron {
            return Err(invalid("neuron", "not a freshly allocated id"));
        }
        if controller == Principal::anonymous() {
            return Err(GovernanceError::AnonymousCaller);
        }
        let neuron = Neuron {
            id,
            controller,
            hot_keys: vec![],
            stake,
            fees: 0,
            dissolve: DissolveState::NotDissolving {
                dissolve_delay_seconds: dissolve_delay_seconds.min(p.max_dissolve_delay_seconds),
            },
            aging_since: now,
            created_at: now,
            followees: vec![],
            grants: Some(vec![]),
        };
        self.store_neuron(neuron.clone());
        self.by_principal.insert((controller, id), ());
        Ok(neuron)
    }

    /// The neuron, if `caller` controls it or (for `Some(permission)`) holds that permission as a
    /// hot key or grantee.
    pub(super) fn authorized(
        &self,
        caller: Principal,
        id: NeuronId,
        permission: Option<NeuronPermission>,
    ) -> Result<Neuron, GovernanceError> {
        if caller == Principal::anonymous() {
            return Err(GovernanceError::AnonymousCaller);
        }
        let neuron = self
            .neuron(id)
            .ok_or(GovernanceError::NeuronNotFound { neuron: id })?;
        if neuron.allows(caller, permission) {
            Ok(neuron)
        } else {
            Err(GovernanceError::NotAuthorized)
        }
    }

    /// A neuron whose stake is moving (staked, split, merged, disbursed) keeps its dissolve state
    /// until the ledger answered: the move was checked against it.
    pub(super) fn refuse_busy(&self, id: NeuronId) -> Result<(), GovernanceError> {
        if self.neurons_in_flight.contains(&id) {
            return Err(GovernanceError::Busy);
        }
        Ok(())
    }

    pub(super) fn store_neuron(&mut self, neuron: Neuron) {
        self.voting_states
            .insert(neuron.id, power::VotingState::of(&neuron).encode());
        self.neurons.insert(neuron.id, Candid(neuron));
    }

    /// Adds `amount` that arrived in the neuron's subaccount; the age is diluted by the new stake.
    pub fn add_stake(
        &mut self,
        id: NeuronId,
        amount: u64,
        now: u64,
    ) -> Result<Neuron, GovernanceError> {
        let mut neuron = self
            .neuron(id)
            .ok_or(GovernanceError::NeuronNotFound { neuron: id })?;
        let new_stake = neuron
            .stake
            .checked_add(amount)
            .ok_or(GovernanceError::Overflow)?;
        self.freeze_before_change(id);
        if let DissolveState::NotDissolving { .. } = neuron.dissolve {
            let age = now.saturating_sub(neuron.aging_since) as u128;
            let kept = age * neuron.stake as u128 / new_stake.max(1) as u128;
            neuron.aging_since = now.saturating_sub(kept as u64);
        }
        neuron.stake = new_stake;
        self.store_neuron(neuron.clone());
        Ok(neuron)
    }

    pub fn increase_dissolve_delay(
        &mut self,
        caller: Principal,
        id: NeuronId,
        additional_seconds: u64,
        now: u64,
    ) -> Result<Neuron, GovernanceError> {
        let mut neuron = self.authorized(caller, id, None)?;
        self.refuse_busy(id)?;
        if additional_seconds == 0 {
            return Err(invalid("additional_seconds", "must be positive"));
        }
        let max = self.parameters().max_dissolve_delay_seconds;
        self.freeze_before_change(id);
        neuron.dissolve = match neuron.dissolve {
            DissolveState::NotDissolving {
                dissolve_delay_seconds,
            } => DissolveState::NotDissolving {
                dissolve_delay_seconds: dissolve_delay_seconds
                    .saturating_add(additional_seconds)
                    .min(max),
            },
            DissolveState::Dissolving { dissolved_at } => {
                let latest = now.saturating_add(nanos(max));
                DissolveState::Dissolving {
                    dissolved_at: dissolved_at
                        .max(now)
                        .saturating_add(nanos(additional_seconds))
                        .min(latest),
                }
            }
        };
        self.store_neuron(neuron.clone());
        Ok(neuron)
    }

    pub fn start_dissolving(
        &mut self,
        caller: Principal,
        id: NeuronId,
        now: u64,
    ) -> Result<Neuron, GovernanceError> {
        let mut neuron = self.authorized(caller, id, None)?;
        self.refuse_busy(id)?;
        let DissolveState::NotDissolving {
            dissolve_delay_seconds,
        } = neuron.dissolve
        else {
            return Err(invalid("neuron", "already dissolving"));
        };
        self.freeze_before_change(id);
        neuron.dissolve = DissolveState::Dissolving {
            dissolved_at: now.saturating_add(nanos(dissolve_delay_seconds)),
        };
        self.store_neuron(neuron.clone());
        Ok(neuron)
    }

    pub fn stop_dissolving(
        &mut self,
        caller: Principal,
        id: NeuronId,
        now: u64,
    ) -> Result<Neuron, GovernanceError> {
        let mut neuron = self.authorized(caller, id, None)?;
        self.refuse_busy(id)?;
        let DissolveState::Dissolving { .. } = neuron.dissolve else {
            return Err(invalid("neuron", "not dissolving"));
        };
        self.freeze_before_change(id);
        neuron.dissolve = DissolveState::NotDissolving {
            dissolve_delay_seconds: power::dissolve_delay_seconds(&neuron, now),
        };
        neuron.aging_since = now;
        self.store_neuron(neuron.clone());
        Ok(neuron)
    }

    pub fn add_hot_key(
        &mut self,
        caller: Principal,
        id: NeuronId,
        hot_key: Principal,
    ) -> Result<Neuron, GovernanceError> {
        let mut neuron = self.authorized(caller, id, None)?;
        if hot_key == Principal::anonymous() || hot_key == neuron.controller {
            return Err(invalid("hot_key", "anonymous or the controller"));
        }
        if neuron
            .grants
            .iter()
            .flatten()
            .any(|g| g.principal == hot_key)
        {
            return Err(invalid(
                "hot_key",
                "it holds a grant: set its permissions instead (a hot key has them all)",
            ));
        }
        if neuron.hot_keys.contains(&hot_key) {
            return Ok(neuron);
        }
        if neuron.hot_keys.len() >= MAX_HOT_KEYS {
            return Err(invalid("hot_key", format!("at most {MAX_HOT_KEYS}")));
        }
        neuron.hot_keys.push(hot_key);
        self.by_principal.insert((hot_key, id), ());
        self.store_neuron(neuron.clone());
        Ok(neuron)
    }

    pub fn remove_hot_key(
        &mut self,
        caller: Principal,
        id: NeuronId,
        hot_key: Principal,
    ) -> Result<Neuron, GovernanceError> {
        let mut neuron = self.authorized(caller, id, None)?;
        if !neuron.hot_keys.contains(&hot_key) {
            // Not a hot key: the controller's and grantees' index entries stay.
            return Ok(neuron);
        }
        neuron.hot_keys.retain(|k| *k != hot_key);
        self.by_principal.remove(&(hot_key, id));
        self.store_neuron(neuron.clone());
        Ok(neuron)
    }

    /// Checks that the neuron can be disbursed now (dissolved; no proposal of its own undecided) and
    /// returns it: the shell transfers `stake − fees` to the owner and the fees to the treasury, then
    /// calls [`Governance::remove_neuron`].
    pub fn check_disburse(
        &self,
        caller: Principal,
        id: NeuronId,
        now: u64,
    ) -> Result<Neuron, GovernanceError> {
        let neuron = self.authorized(caller, id, None)?;
        if !power::is_dissolved(&neuron, now) {
            return Err(GovernanceError::NotDissolved {
                dissolved_at: match neuron.dissolve {
                    DissolveState::Dissolving { dissolved_at } => Some(dissolved_at),
                    DissolveState::NotDissolving { .. } => None,
                },
            });
        }
        if self
            .open_by_neuron
            .range((id, 0)..=(id, ProposalId::MAX))
            .next()
            .is_some()
        {
            return Err(invalid(
                "neuron",
                "it has an undecided proposal (its reject cost is not settled)",
            ));
        }
        Ok(neuron)
    }

    /// `amount` of the neuron's stake left its subaccount (a disbursement to its owner).
    pub fn disbursed(&mut self, id: NeuronId, amount: u64) {
        if let Some(mut neuron) = self.neuron(id) {
            self.freeze_before_change(id);
            neuron.stake = neuron.stake.saturating_sub(amount);
            self.store_neuron(neuron);
        }
    }

    /// Removes a disbursed neuron (its followers simply lose a followee).
    pub fn remove_neuron(&mut self, id: NeuronId) -> Option<Neuron> {
        self.freeze_before_change(id);
        let neuron = self.neurons.remove(&id)?.0;
        self.voting_states.remove(&id);
        self.by_principal.remove(&(neuron.controller, id));
        for k in neuron.hot_keys.iter().chain(grantees(&neuron)) {
            self.by_principal.remove(&(*k, id));
        }
        for (topic, followees) in &neuron.followees {
            self.followee_lists.remove(&(topic.code(), id));
            for f in followees {
                self.followers.remove(&(topic.code(), *f, id));
            }
        }
        Some(neuron)
    }
}

/// The principals holding a grant on `neuron`.
pub(super) fn grantees(neuron: &Neuron) -> impl Iterator<Item = &Principal> {
    neuron.grants.iter().flatten().map(|g| &g.principal)
}
