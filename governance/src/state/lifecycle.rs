//! A neuron's life beyond staking: permissions delegated to other principals, splitting a neuron in
//! two and merging two into one (SNS and NNS semantics; the ledger transfer between the neurons'
//! subaccounts is the shell's, through the outbox, and the state changes only once it completed).

use super::neurons::grantees;
use super::*;
use crate::power;

/// Grants one neuron may hold (hot keys are counted apart, [`MAX_HOT_KEYS`]).
pub const MAX_GRANTS: usize = 10;

impl Governance {
    /// The controller gives `principal` `permissions` on the neuron (an empty list withdraws them).
    pub fn set_permissions(
        &mut self,
        caller: Principal,
        id: NeuronId,
        principal: Principal,
        permissions: Vec<NeuronPermission>,
    ) -> Result<Neuron, GovernanceError> {
        let mut neuron = self.authorized(caller, id, None)?;
        if principal == Principal::anonymous() || principal == neuron.controller {
            return Err(invalid("principal", "anonymous or the controller"));
        }
        if neuron.hot_keys.contains(&principal) {
            return Err(invalid(
                "principal",
                "a hot key has every permission: remove the hot key first",
            ));
        }
        let mut permissions = permissions;
        permissions.sort_unstable();
        permissions.dedup();
        let mut grants = neuron.grants.take().unwrap_or_default();
        grants.retain(|g| g.principal != principal);
        if permissions.is_empty() {
            self.by_principal.remove(&(principal, id));
        } else {
            if grants.len() >= MAX_GRANTS {
                return Err(invalid("principal", format!("at most {MAX_GRANTS} grants")));
            }
            grants.push(NeuronGrant {
                principal,
                permissions,
            });
            self.by_principal.insert((principal, id), ());
        }
        neuron.grants = Some(grants);
        self.store_neuron(neuron.clone());
        Ok(neuron)
    }

    /// Checks that `args.amount` can leave the neuron for a new one: the caller controls it, the
    /// new neuron gets at least the minimum stake, and the parent keeps at least the minimum stake
    /// free after the amount and the ledger `fee` (paid from the parent) left. Returns the highest
    /// fee the parent can pay and still keep the minimum (a ledger asking more fails the split).
    pub fn check_split(
        &self,
        caller: Principal,
        args: &SplitNeuronArgs,
        fee: u128,
    ) -> Result<u128, GovernanceError> {
        let neuron = self.authorized(caller, args.neuron, None)?;
        let minimum = self.parameters().min_stake;
        if args.amount < minimum {
            return Err(GovernanceError::StakeBelowMinimum { minimum });
        }
        let headroom = power::free_stake(&neuron)
            .checked_sub(args.amount)
            .and_then(|l| l.checked_sub(minimum))
            .map(u128::from);
        match headroom {
            Some(headroom) if headroom >= fee => Ok(headroom),
            _ => Err(invalid(
                "amount",
                format!(
                    "the neuron must keep at least {minimum} free after the amount and the fee of {fee}"
                ),
            )),
        }
    }

    /// `amount` arrived in `child`'s subaccount from `parent`'s (which also paid `fee`): the child
    /// is created like its parent — controller, hot keys, grants, dissolve state, age, followees —
    /// and, created now, has no ballot on proposals made before (its stake voted in the parent's).
    pub fn split_completed(
        &mut self,
        parent: NeuronId,
        child: NeuronId,
        amount: u64,
        fee: u64,
        now: u64,
    ) {
        let Some(mut neuron) = self.neuron(parent) else {
            return;
        };
        self.freeze_before_change(parent);
        neuron.stake = neuron.stake.saturating_sub(amount.saturating_add(fee));
        self.store_neuron(neuron.clone());
        // Created after every proposal made until now, in this round too (same time): a proposal
        // whose ballots are still being written gives the child none, as the parent's ballot froze
        // the child's stake already.
        let copy = Neuron {
            id: child,
            stake: amount,
            fees: 0,
            created_at: now.saturating_add(1),
            ..neuron
        };
        for (topic, followees) in &copy.followees {
            for f in followees {
                self.followers.insert((topic.code(), *f, child), ());
            }
            self.followee_lists
                .insert((topic.code(), child), Followees(followees.clone()));
        }
        let principals: Vec<Principal> = std::iter::once(&copy.controller)
            .chain(&copy.hot_keys)
            .chain(grantees(&copy))
            .copied()
            .collect();
        for p in principals {
            self.by_principal.insert((p, child), ());
        }
        self.store_neuron(copy);
    }

    /// Checks that `source` can be merged into `target`: the caller controls both, neither is
    /// dissolving, `source` has no undecided proposal (its reject cost is not settled) and more free
    /// stake than the ledger `fee`. Returns (target, source).
    pub fn check_merge(
        &self,
        caller: Principal,
        args: &MergeNeuronsArgs,
        fee: u128,
    ) -> Result<(Neuron, Neuron), GovernanceError> {
        if args.target == args.source {
            return Err(invalid("source", "a neuron cannot be merged into itself"));
        }
        let target = self.authorized(caller, args.target, None)?;
        let source = self.authorized(caller, args.source, None)?;
        for n in [&target, &source] {
            if matches!(n.dissolve, DissolveState::Dissolving { .. }) {
                return Err(invalid(
                    "neuron",
                    format!("neuron {} is dissolving: stop dissolving it first", n.id),
                ));
            }
        }
        if self
            .open_by_neuron
            .range((source.id, 0)..=(source.id, ProposalId::MAX))
            .next()
            .is_some()
        {
            return Err(invalid(
                "source",
                "it has an undecided proposal (its reject cost is not settled)",
            ));
        }
        if u128::from(power::free_stake(&source)) <= fee {
            return Err(invalid(
                "source",
                format!("its free stake does not exceed the ledger fee of {fee}"),
            ));
        }
        target
            .stake
            .checked_add(source.stake)
            .ok_or(GovernanceError::Overflow)?;
        Ok((target, source))
    }

    /// `source`'s whole stake left its subaccount, `moved` of it (the stake less the ledger fee)
    /// arriving in `target`'s: the target takes the stake and the reject costs, the longer dissolve
    /// delay and the stake-weighted age of both; the source is removed (its followers lose a
    /// followee, as when a neuron is disbursed).
    pub fn merge_completed(&mut self, target: NeuronId, source: NeuronId, moved: u64, now: u64) {
        let (Some(mut into), Some(from)) = (self.neuron(target), self.neuron(source)) else {
            return;
        };
        self.freeze_before_change(target);
        // Neither can have started dissolving since the check (busy neurons keep their dissolve
        // state); the remaining delay and the age of a dissolving one would be what counts.
        let delay = |n: &Neuron| power::dissolve_delay_seconds(n, now);
        let dissolve_delay_seconds = delay(&into).max(delay(&from));
        let age = |n: &Neuron| power::nanos(power::age_seconds(n, now)) as u128;
        let stake = into.stake.saturating_add(moved);
        let weighted =
            (age(&into) * into.stake as u128 + age(&from) * moved as u128) / (stake as u128).max(1);
        into.aging_since = now.saturating_sub(weighted as u64);
        into.dissolve = DissolveState::NotDissolving {
            dissolve_delay_seconds,
        };
        into.stake = stake;
        into.fees = into.fees.saturating_add(from.fees.min(moved));
        self.store_neuron(into);
        for chunk in self.staged_chunks(source) {
            self.unstage(source, &chunk.hash);
        }
        self.remove_neuron(source);
    }
}
