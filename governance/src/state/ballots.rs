//! A proposal's ballots: written in bounded steps from the voting power at its creation, frozen
//! before a neuron changes, and rebased on an earlier snapshot after a spike of voting power.

use super::codecs::{decode_ballot, encode_ballot};
use super::*;
use crate::power;

/// How long a final proposal's ballots are kept: well past the 7 days in which the voting-power spike
/// guard may judge a new proposal by an older one's ballots; the tally stays with the proposal for ever.
pub const BALLOT_RETENTION_SECONDS: u64 = 30 * 24 * 3_600;

impl Governance {
    /// `id` is final (rejected, executed or failed): nothing works on it any more, and its ballots
    /// may go after the retention period.
    pub(super) fn finish(&mut self, id: ProposalId, now: u64) {
        self.unfinished.remove(&id);
        self.ballots_to_prune.insert((now, id), ());
    }

    /// Deletes at most `budget` ballots of proposals final for longer than
    /// [`BALLOT_RETENTION_SECONDS`], oldest first, so that stable memory does not grow with every
    /// proposal ever made. Returns the ballots deleted.
    pub fn prune_ballots(&mut self, now: u64, budget: u64) -> u64 {
        let cutoff = now.saturating_sub(crate::power::nanos(BALLOT_RETENTION_SECONDS));
        let mut deleted = 0;
        while deleted < budget {
            let Some(((finished_at, id), ())) = self.ballots_to_prune.first_key_value() else {
                break;
            };
            if finished_at > cutoff {
                break;
            }
            let want = budget - deleted;
            let batch: Vec<(ProposalId, NeuronId)> = self
                .ballots
                .range((id, 0)..=(id, NeuronId::MAX))
                .take(want as usize)
                .map(|e| *e.key())
                .collect();
            for key in &batch {
                self.ballots.remove(key);
            }
            deleted += batch.len() as u64;
            // Fewer than asked for: none of this proposal's are left.
            if (batch.len() as u64) < want {
                self.ballots_to_prune.remove(&(finished_at, id));
            }
        }
        deleted
    }

    pub fn ballot(&self, proposal: ProposalId, neuron: NeuronId) -> Option<Ballot> {
        self.ballots.get(&(proposal, neuron)).map(decode_ballot)
    }

    /// A page of a proposal's ballots, by neuron id from `start`.
    pub fn ballots(
        &self,
        proposal: ProposalId,
        start: NeuronId,
        limit: usize,
    ) -> Vec<(NeuronId, Ballot)> {
        self.ballots
            .range((proposal, start)..=(proposal, NeuronId::MAX))
            .take(limit)
            .map(|e| (e.key().1, decode_ballot(e.value())))
            .collect()
    }

    /// Writes the ballots this neuron still owes proposals whose ballots are being written, from its
    /// state before a change: voting power stays the one at each proposal's creation.
    pub(super) fn freeze_before_change(&mut self, id: NeuronId) {
        let writing: Vec<ProposalId> = self
            .unfinished
            .keys()
            .filter(|p| {
                self.proposals
                    .get(p)
                    .is_some_and(|r| matches!(r.0.phase, Phase::Writing { next } if next <= id))
            })
            .collect();
        if writing.is_empty() {
            return;
        }
        let parameters = self.parameters();
        for p in writing {
            let mut record = self.proposals.get(&p).expect("listed").0;
            self.write_ballot(&mut record, id, &parameters);
            self.store_proposal(record);
        }
    }

    /// Writes neuron `id`'s ballot on a proposal whose ballots are being written, if it has none yet
    /// and was eligible when the proposal was made.
    fn write_ballot(&mut self, record: &mut ProposalRecord, id: NeuronId, parameters: &Parameters) {
        let key = (record.info.id, id);
        if self.ballots.contains_key(&key) {
            return;
        }
        let Some(state) = self.voting_states.get(&id) else {
            return;
        };
        let state = power::VotingState::decode(&state);
        if state.created_at > record.info.created_at {
            return;
        }
        let Some(power) = power::voting_power_of(&state, parameters, record.info.created_at) else {
            return;
        };
        self.ballots.insert(
            key,
            encode_ballot(Ballot {
                vote: Vote::Unspecified,
                voting_power: power,
            }),
        );
        record.info.tally.total = record.info.tally.total.saturating_add(power);
    }

    /// Continues writing (or rebasing) a proposal's ballots; opens it when done. Returns the budget left.
    pub(super) fn prepare(
        &mut self,
        record: &mut ProposalRecord,
        mut left: Budget,
        now: u64,
        progress: &mut Progress,
    ) -> Budget {
        let id = record.info.id;
        loop {
            match record.phase {
                Phase::Done => return left,
                Phase::Writing { next } => {
                    let batch: Vec<NeuronId> = self
                        .neurons
                        .range(next..)
                        .take(left as usize)
                        .map(|e| *e.key())
                        .collect();
                    let parameters = self.parameters();
                    for n in &batch {
                        self.write_ballot(record, *n, &parameters);
                    }
                    left -= batch.len() as u64;
                    progress.ballots_written += batch.len() as u64;
                    match batch.last() {
                        Some(last) if left == 0 => {
                            record.phase = Phase::Writing { next: last + 1 };
                            return 0;
                        }
                        _ => {
                            record.phase = match self.spike_reference(record) {
                                Some(from) => {
                                    record.info.ballots_from = Some(from);
                                    record.info.tally.total = 0;
                                    Phase::Rebasing { next: 0, from }
                                }
                                None => Phase::Done,
                            };
                        }
                    }
                }
                Phase::Rebasing { next, from } => {
                    let batch: Vec<(NeuronId, Ballot)> = self.ballots(id, next, left as usize);
                    for (n, mut ballot) in batch.iter().copied() {
                        ballot.voting_power = self.ballot(from, n).map_or(0, |b| b.voting_power);
                        record.info.tally.total =
                            record.info.tally.total.saturating_add(ballot.voting_power);
                        self.ballots.insert((id, n), encode_ballot(ballot));
                    }
                    left -= batch.len() as u64;
                    progress.ballots_written += batch.len() as u64;
                    match batch.last() {
                        Some((last, _)) if left == 0 => {
                            record.phase = Phase::Rebasing {
                                next: last + 1,
                                from,
                            };
                            return 0;
                        }
                        _ => record.phase = Phase::Done,
                    }
                }
            }
            if record.phase == Phase::Done {
                record.info.status = ProposalStatus::Open;
                // The proposer votes yes with whatever ballot it has.
                let proposer = record.info.proposer;
                self.cast(record, proposer, Vote::Yes, now);
                return left;
            }
        }
    }

    /// The proposal of the last 7 days with the smallest total voting power, if this proposal's total
    /// exceeds it by more than the spike factor.
    fn spike_reference(&self, record: &ProposalRecord) -> Option<ProposalId> {
        let spike = self.parameters().voting_power_spike_bps as u128;
        let since = record.info.created_at.saturating_sub(SEVEN_DAYS);
        let smallest = self
            .proposals
            .range(..record.info.id)
            .rev()
            .map(|e| e.value().0)
            .take_while(|r| r.info.created_at >= since)
            .filter(|r| {
                r.phase == Phase::Done && r.info.ballots_from.is_none() && r.info.tally.total > 0
            })
            .min_by_key(|r| r.info.tally.total)?;
        (record.info.tally.total.saturating_mul(BPS)
            > smallest.info.tally.total.saturating_mul(spike))
        .then_some(smallest.info.id)
    }
}
