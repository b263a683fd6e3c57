//! Neurons: their record, what others may do with them, and the arguments that stake, split and
//! merge them.

use super::{NeuronId, Topic};
use candid::{CandidType, Deserialize, Principal};

#[derive(CandidType, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum DissolveState {
    /// Locked; ages.
    NotDissolving { dissolve_delay_seconds: u64 },
    /// Counting down; does not age. Disbursable from `dissolved_at` (nanoseconds).
    Dissolving { dissolved_at: u64 },
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Neuron {
    pub id: NeuronId,
    pub controller: Principal,
    pub hot_keys: Vec<Principal>,
    /// Tokens in the neuron's subaccount.
    pub stake: u64,
    /// Reject costs charged and not refunded; they do not vote and are not disbursed to the controller.
    pub fees: u64,
    pub dissolve: DissolveState,
    /// Nanoseconds; meaningless while dissolving (the age is then 0).
    pub aging_since: u64,
    pub created_at: u64,
    /// Followees per topic (`CatchAll` included), each list bounded by the parameters.
    pub followees: Vec<(Topic, Vec<NeuronId>)>,
    /// Principals given some of a hot key's rights (`set_permissions`); `None` on neurons stored
    /// before permissions existed, which is the same as none.
    pub grants: Option<Vec<NeuronGrant>>,
}

/// What the controller may let another principal do with a neuron. A hot key has all three; moving
/// stake (dissolving, splitting, merging, disbursing) and managing who may act stay the controller's.
#[derive(CandidType, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum NeuronPermission {
    Vote,
    SubmitProposal,
    ManageFollowees,
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct NeuronGrant {
    pub principal: Principal,
    /// Sorted, without repeats.
    pub permissions: Vec<NeuronPermission>,
}

impl Neuron {
    /// Whether `caller` may act on the neuron with `permission` (`None`: what only the controller
    /// may do).
    pub fn allows(&self, caller: Principal, permission: Option<NeuronPermission>) -> bool {
        if caller == self.controller {
            return true;
        }
        let Some(permission) = permission else {
            return false;
        };
        self.hot_keys.contains(&caller)
            || self
                .grants
                .iter()
                .flatten()
                .any(|g| g.principal == caller && g.permissions.contains(&permission))
    }
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct StakeArgs {
    /// Pulled from the caller with ICRC-2 `transfer_from` (approve `amount + fee` first).
    pub amount: u64,
    pub dissolve_delay_seconds: u64,
}

/// Moves `amount` of a neuron's stake into a new neuron of the same controller, with the same
/// dissolve state, age, followees, hot keys and grants (the ledger fee is paid from the parent).
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct SplitNeuronArgs {
    pub neuron: NeuronId,
    pub amount: u64,
}

/// Moves the whole stake of `source` into `target` (the ledger fee deducted) and removes `source`.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct MergeNeuronsArgs {
    pub target: NeuronId,
    pub source: NeuronId,
}
