//! Voting and following: votes cast with wait-for-quiet, the follow queue that cascades them, and the
//! decision of a proposal whose outcome is certain or whose deadline passed.

use super::codecs::{decode_ballot, encode_ballot, FollowWork};
use super::*;
use crate::power::nanos;

impl Governance {
    /// Sets the neuron's followees on `topic` (an empty list stops following on it); the neuron's
    /// followers are evaluated on the next [`Governance::advance`].
    pub fn follow(
        &mut self,
        caller: Principal,
        id: NeuronId,
        topic: Topic,
        followees: Vec<NeuronId>,
        now: u64,
    ) -> Result<Neuron, GovernanceError> {
        let mut neuron = self.authorized(caller, id, Some(NeuronPermission::ManageFollowees))?;
        let max = self.parameters().max_followees_per_topic;
        let mut unique = followees.clone();
        unique.sort_unstable();
        unique.dedup();
        if unique.len() != followees.len() {
            return Err(invalid("followees", "listed twice"));
        }
        if followees.len() > max as usize {
            return Err(GovernanceError::TooManyFollowees { max });
        }
        if followees.contains(&id) {
            return Err(invalid("followees", "a neuron cannot follow itself"));
        }
        if let Some(missing) = followees.iter().find(|f| !self.neurons.contains_key(f)) {
            return Err(GovernanceError::NeuronNotFound { neuron: *missing });
        }
        let code = topic.code();
        if let Some(i) = neuron.followees.iter().position(|(t, _)| *t == topic) {
            for old in neuron.followees.remove(i).1 {
                self.followers.remove(&(code, old, id));
            }
        }
        for f in &followees {
            self.followers.insert((code, *f, id), ());
        }
        if followees.is_empty() {
            self.followee_lists.remove(&(code, id));
        } else {
            self.followee_lists
                .insert((code, id), Followees(followees.clone()));
        }
        if !followees.is_empty() {
            neuron.followees.push((topic, followees));
            neuron.followees.sort_by_key(|(t, _)| *t);
        }
        self.store_neuron(neuron.clone());
        self.follow_on_open_proposals(id, now);
        Ok(neuron)
    }

    /// New followees apply at once to open proposals whose outcome among them is already decided.
    fn follow_on_open_proposals(&mut self, id: NeuronId, now: u64) {
        let open: Vec<ProposalId> = self.unfinished.keys().collect();
        for p in open {
            let mut record = self.proposals.get(&p).expect("listed").0;
            if record.info.status != ProposalStatus::Open {
                continue;
            }
            if let Some(vote) = self.followed_vote(p, record.info.topic, id) {
                self.cast(&mut record, id, vote, now);
                self.store_proposal(record);
            }
        }
    }

    /// Records `vote` on `neuron`'s unvoted ballot, updates the tally and applies wait-for-quiet, and
    /// queues the neuron's followers. `false` when there is no unvoted ballot.
    pub(super) fn cast(
        &mut self,
        record: &mut ProposalRecord,
        neuron: NeuronId,
        vote: Vote,
        now: u64,
    ) -> bool {
        let key = (record.info.id, neuron);
        let Some(mut ballot) = self.ballots.get(&key).map(decode_ballot) else {
            return false;
        };
        if ballot.vote != Vote::Unspecified || vote == Vote::Unspecified {
            return false;
        }
        let rules = record.info.rules;
        let winning = |t: &Tally| {
            t.yes.saturating_mul(BPS)
                > t.yes
                    .saturating_add(t.no)
                    .saturating_mul(rules.majority_bps as u128)
        };
        let before = winning(&record.info.tally);
        ballot.vote = vote;
        self.ballots.insert(key, encode_ballot(ballot));
        match vote {
            Vote::Yes => {
                record.info.tally.yes = record.info.tally.yes.saturating_add(ballot.voting_power)
            }
            Vote::No => {
                record.info.tally.no = record.info.tally.no.saturating_add(ballot.voting_power)
            }
            Vote::Unspecified => unreachable!(),
        }
        if winning(&record.info.tally) != before && ballot.voting_power > 0 {
            let latest = record.info.created_at.saturating_add(nanos(
                rules
                    .voting_period_seconds
                    .saturating_add(rules.max_extension_seconds),
            ));
            let quiet = now.saturating_add(nanos(rules.wait_for_quiet_seconds));
            record.info.deadline = record.info.deadline.max(quiet.min(latest));
        }
        let mut topics = vec![record.info.topic.code()];
        if !record.info.topic.is_critical() {
            topics.push(Topic::CatchAll.code());
        }
        for topic in topics {
            // Most voters have no followers: nothing to queue.
            if self
                .followers
                .range((topic, neuron, 0)..=(topic, neuron, NeuronId::MAX))
                .next()
                .is_none()
            {
                continue;
            }
            let seq = *self.follow_sequence.get();
            self.follow_sequence.set(seq + 1);
            let work = FollowWork {
                proposal: record.info.id,
                voter: neuron,
                topic,
                next: 0,
            };
            self.follow_queue.insert(seq, work.encode());
        }
        true
    }

    /// A neuron's vote (by its controller or a hot key); its followers follow within `budget`, the rest
    /// on the next [`Governance::advance`].
    pub fn register_vote(
        &mut self,
        caller: Principal,
        neuron: NeuronId,
        proposal: ProposalId,
        vote: Vote,
        now: u64,
        budget: Budget,
    ) -> Result<Tally, GovernanceError> {
        self.authorized(caller, neuron, Some(NeuronPermission::Vote))?;
        if vote == Vote::Unspecified {
            return Err(invalid("vote", "Yes or No"));
        }
        let mut record = self
            .proposals
            .get(&proposal)
            .ok_or(GovernanceError::ProposalNotFound { proposal })?
            .0;
        if record.info.status != ProposalStatus::Open || now >= record.info.deadline {
            return Err(GovernanceError::VotingClosed);
        }
        let ballot = self
            .ballot(proposal, neuron)
            .ok_or(GovernanceError::NoBallot)?;
        if ballot.vote != Vote::Unspecified {
            return Err(GovernanceError::AlreadyVoted);
        }
        self.cast(&mut record, neuron, vote, now);
        self.store_proposal(record);
        self.advance(now, budget);
        Ok(self.proposal(proposal).expect("exists").tally)
    }

    /// Evaluates the followers of the neurons that voted, in queue order, one follower per unit of
    /// budget; a voter with more followers than the budget is resumed where it stopped.
    pub(super) fn run_follow_queue(
        &mut self,
        mut left: Budget,
        now: u64,
        progress: &mut Progress,
    ) -> Budget {
        // Each proposal is decoded once and written back once per run, not once per entry.
        let mut records: std::collections::BTreeMap<ProposalId, ProposalRecord> =
            std::collections::BTreeMap::new();
        while left > 0 {
            let Some((seq, bytes)) = self.follow_queue.first_key_value() else {
                break;
            };
            let work = FollowWork::decode(bytes);
            if let std::collections::btree_map::Entry::Vacant(slot) = records.entry(work.proposal) {
                match self.proposals.get(&work.proposal) {
                    Some(r) => {
                        slot.insert(r.0);
                    }
                    None => {
                        self.follow_queue.remove(&seq);
                        continue;
                    }
                }
            }
            let record = records.get_mut(&work.proposal).expect("loaded above");
            if record.info.status != ProposalStatus::Open {
                self.follow_queue.remove(&seq);
                continue;
            }
            // Evaluating a follower costs about two ballot writes.
            let fits = (left / FOLLOWER_COST).max(1);
            let followers: Vec<NeuronId> = self
                .followers
                .range(
                    (work.topic, work.voter, work.next)..=(work.topic, work.voter, NeuronId::MAX),
                )
                .take(fits as usize + 1)
                .map(|e| e.key().2)
                .collect();
            let more = followers.len() > fits as usize;
            let topic = record.info.topic;
            for follower in followers.iter().take(fits as usize) {
                progress.followers_evaluated += 1;
                if let Some(vote) = self.followed_vote(work.proposal, topic, *follower) {
                    self.cast(record, *follower, vote, now);
                }
            }
            if more {
                let next = followers[fits as usize];
                self.follow_queue
                    .insert(seq, FollowWork { next, ..work }.encode());
                left = 0;
                break;
            }
            self.follow_queue.remove(&seq);
            // An entry costs a unit even without followers.
            left = left.saturating_sub((followers.len() as u64 * FOLLOWER_COST).max(1));
        }
        for record in records.into_values() {
            self.store_proposal(record);
        }
        left
    }

    /// The vote following gives `follower` on `proposal` now, if its followees on the topic (or on
    /// the catch-all, for a normal topic it has none on) have decided it: yes when more than half of
    /// them voted yes, no when at least half voted no.
    fn followed_vote(
        &self,
        proposal: ProposalId,
        topic: Topic,
        follower: NeuronId,
    ) -> Option<Vote> {
        let ballot = self.ballot(proposal, follower)?;
        if ballot.vote != Vote::Unspecified {
            return None;
        }
        let on = |t: Topic| self.followee_lists.get(&(t.code(), follower)).map(|f| f.0);
        let followees = match on(topic) {
            Some(f) => f,
            None if !topic.is_critical() => on(Topic::CatchAll)?,
            None => return None,
        };
        let (mut yes, mut no) = (0usize, 0usize);
        for f in &followees {
            match self.ballot(proposal, *f).map(|b| b.vote) {
                Some(Vote::Yes) => yes += 1,
                Some(Vote::No) => no += 1,
                _ => {}
            }
        }
        if yes * 2 > followees.len() {
            Some(Vote::Yes)
        } else if no * 2 >= followees.len() {
            Some(Vote::No)
        } else {
            None
        }
    }

    /// Decides an open proposal whose outcome is certain or whose deadline passed. `true` if decided.
    pub(super) fn decide(&mut self, record: &mut ProposalRecord, now: u64) -> bool {
        if record.info.status != ProposalStatus::Open {
            return false;
        }
        let Tally { yes, no, total } = record.info.tally;
        let rules = record.info.rules;
        let majority = rules.majority_bps as u128;
        // Saturating, never wrapping: a tally is a small multiple of the staked supply, far below
        // where these products would saturate.
        let share = |power: u128, bps: u128| power.saturating_mul(bps);
        let adopted = if share(yes, BPS) > share(total, majority) {
            true
        } else if share(no, BPS) >= share(total, BPS.saturating_sub(majority)) {
            false
        } else if now >= record.info.deadline {
            share(yes, BPS) >= share(total, rules.quorum_bps as u128)
                && share(yes, BPS) > share(yes.saturating_add(no), majority)
        } else {
            return false;
        };
        record.info.decided_at = Some(now);
        self.open_by_neuron
            .remove(&(record.info.proposer, record.info.id));
        if adopted {
            if let Some(mut proposer) = self.neuron(record.info.proposer) {
                self.freeze_before_change(proposer.id);
                proposer.fees = proposer.fees.saturating_sub(record.info.reject_cost);
                self.store_neuron(proposer);
            }
            if matches!(record.action, Action::Motion { .. }) {
                record.info.status = ProposalStatus::Executed;
                record.info.executed_at = Some(now);
                self.finish(record.info.id, now);
            } else {
                record.info.status = ProposalStatus::Adopted;
            }
        } else {
            record.info.status = ProposalStatus::Rejected;
            self.finish(record.info.id, now);
        }
        true
    }

    /// Follow-queue entries still to process (for queries and tests).
    pub fn pending_follow_work(&self) -> u64 {
        self.follow_queue.len()
    }
}
