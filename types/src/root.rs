//! The root canister's Candid types. Root is governance's only controller after the hand-over, and
//! governance is root's: root installs governance's own upgrades (a canister cannot install code
//! on itself), and only when governance asks, for an adopted proposal.

use crate::ProposalId;
use candid::{CandidType, Deserialize, Principal};
use serde_bytes::ByteBuf;

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct RootConfig {
    /// The only caller root obeys, and the canister it upgrades.
    pub governance: Principal,
}

/// The install and upgrade argument.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum RootArg {
    Init(RootConfig),
    Upgrade,
}

/// Governance's request to install a module on governance, from chunks governance uploaded to
/// root's chunk store beforehand.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct UpgradeGovernanceArgs {
    /// The adopted proposal this executes: root performs each (caller, proposal, payload) once.
    pub proposal: ProposalId,
    pub wasm_module_hash: ByteBuf,
    pub chunk_hashes: Vec<ByteBuf>,
    /// The upgrade argument (Candid bytes of governance's `GovernanceArg`).
    pub arg: ByteBuf,
}

/// Where an upgrade of governance stands.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum UpgradeStatus {
    /// Accepted: root stops governance, installs the module and starts governance again.
    InProgress,
    /// Installed, and governance was started again.
    Done,
    /// Not installed (governance was started again); the reason names the step that failed.
    Failed { reason: String },
}

#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum RootError {
    /// Only governance may ask root to act.
    NotGovernance,
    /// This proposal was already asked for with another payload.
    ProposalConflict {
        proposal: ProposalId,
    },
    /// Another upgrade of governance is under way (they share root's chunk store): ask again later.
    Busy {
        proposal: ProposalId,
    },
    InvalidArgument {
        field: String,
        reason: String,
    },
}
