//! Listing proposals without scanning history. Every stored proposal is indexed by status, by topic
//! and by both ([`Governance::store_proposal`]), so a filtered `list_proposals` page costs its
//! length whatever the number of proposals. Proposals made before the indexes existed are indexed
//! by the timer in bounded steps ([`Governance::index_history`]); until that is done, a filtered
//! list scans as it used to.

use super::*;

fn status_code(status: &ProposalStatus) -> u8 {
    match status {
        ProposalStatus::Preparing => 0,
        ProposalStatus::Open => 1,
        ProposalStatus::Rejected => 2,
        ProposalStatus::Adopted => 3,
        ProposalStatus::Executed => 4,
        ProposalStatus::Failed { .. } => 5,
    }
}

/// The code of a status name `list_proposals` filters by (see [`status_names`]).
fn status_code_of_name(name: &str) -> Option<u8> {
    status_names()
        .iter()
        .position(|n| n == name)
        .map(|i| i as u8)
}

impl Governance {
    /// Stores a proposal's record, keeping the indexes in step with its status.
    pub(super) fn store_proposal(&mut self, record: ProposalRecord) {
        let id = record.info.id;
        self.index_proposal(id, &record.info);
        self.proposals.insert(id, Candid(record));
    }

    fn index_proposal(&mut self, id: ProposalId, info: &ProposalInfo) {
        let status = status_code(&info.status);
        let topic = info.topic.code();
        let old = self.proposal_status.insert(id, status);
        if old == Some(status) {
            return;
        }
        if let Some(old) = old {
            self.proposals_by_status.remove(&(old, id));
            self.proposals_by_status_topic.remove(&(old, topic, id));
        }
        self.proposals_by_status.insert((status, id), ());
        self.proposals_by_status_topic
            .insert((status, topic, id), ());
        self.proposals_by_topic.insert((topic, id), ());
    }

    /// A fresh state has nothing to backfill.
    pub(super) fn mark_history_indexed(&mut self) {
        self.index_backfill.set(u64::MAX);
    }

    /// Indexes up to `limit` proposals made before the indexes existed. Returns how many it looked
    /// at (0 once all are indexed).
    pub fn index_history(&mut self, limit: usize) -> usize {
        let next = *self.index_backfill.get();
        if next == u64::MAX {
            return 0;
        }
        let batch: Vec<(ProposalId, ProposalInfo)> = self
            .proposals
            .range(next..)
            .take(limit)
            .map(|e| (*e.key(), e.value().0.info))
            .collect();
        for (id, info) in &batch {
            if !self.proposal_status.contains_key(id) {
                self.index_proposal(*id, info);
            }
        }
        let done = batch.len() < limit;
        self.index_backfill.set(match batch.last() {
            _ if done => u64::MAX,
            Some((last, _)) => last + 1,
            None => u64::MAX,
        });
        batch.len()
    }

    /// Proposals newest first, from `before` (exclusive) on, filtered by topic and status name.
    pub fn list_proposals(
        &self,
        before: Option<ProposalId>,
        limit: usize,
        topic: Option<Topic>,
        status: Option<&str>,
    ) -> Vec<ProposalInfo> {
        let end = before.unwrap_or(ProposalId::MAX);
        let info = |id: ProposalId| self.proposals.get(&id).map(|r| r.0.info);
        if *self.index_backfill.get() != u64::MAX && (topic.is_some() || status.is_some()) {
            return self
                .proposals
                .range(..end)
                .rev()
                .map(|e| e.value().0.info)
                .filter(|i| topic.is_none_or(|t| i.topic == t))
                .filter(|i| status.is_none_or(|s| status_name(&i.status) == s))
                .take(limit)
                .collect();
        }
        let status = match status.map(status_code_of_name) {
            Some(None) => return vec![],
            Some(Some(code)) => Some(code),
            None => None,
        };
        let ids: Vec<ProposalId> = match (status, topic.map(Topic::code)) {
            (None, None) => self.proposals.keys_range(..end).rev().take(limit).collect(),
            (Some(s), None) => self
                .proposals_by_status
                .keys_range((s, 0)..(s, end))
                .rev()
                .take(limit)
                .map(|(_, id)| id)
                .collect(),
            (None, Some(t)) => self
                .proposals_by_topic
                .keys_range((t, 0)..(t, end))
                .rev()
                .take(limit)
                .map(|(_, id)| id)
                .collect(),
            (Some(s), Some(t)) => self
                .proposals_by_status_topic
                .keys_range((s, t, 0)..(s, t, end))
                .rev()
                .take(limit)
                .map(|(_, _, id)| id)
                .collect(),
        };
        ids.into_iter().filter_map(info).collect()
    }

    /// Forgets the indexes, as a state from before them: for the backfill's test.
    #[cfg(test)]
    pub fn forget_proposal_indexes(&mut self) {
        let ids: Vec<ProposalId> = self.proposal_status.keys().collect();
        for id in ids {
            let status = self.proposal_status.remove(&id).expect("listed");
            let topic = self
                .proposals
                .get(&id)
                .expect("indexed")
                .0
                .info
                .topic
                .code();
            self.proposals_by_status.remove(&(status, id));
            self.proposals_by_topic.remove(&(topic, id));
            self.proposals_by_status_topic.remove(&(status, topic, id));
        }
        self.index_backfill.set(0);
    }
}
