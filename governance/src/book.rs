//! Governance's two books (ledger-adapter's [`Book`]): stakes on the governance-token ledger and the
//! treasury on the payment ledger, and what each of their unresolved transfers is for.

use candid::{CandidType, Deserialize, Principal};
use ic_stable_structures::memory_manager::{MemoryId, MemoryManager};
use ic_stable_structures::DefaultMemoryImpl;
use neuranft_types::governance::{NeuronId, ProposalId};

/// A book of governance's transfers on one ledger.
pub type Book = ledger_adapter::book::Book<MoneyOp>;

/// What an unresolved transfer does when it resolves.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum MoneyOp {
    /// Creates neuron `neuron` with the stake once it has arrived.
    Stake {
        neuron: NeuronId,
        controller: Principal,
        amount: u64,
        dissolve_delay_seconds: u64,
    },
    AddStake {
        neuron: NeuronId,
        amount: u64,
    },
    /// Pays a dissolved neuron's free stake to its owner.
    Disburse {
        neuron: NeuronId,
        amount: u64,
    },
    /// Moves a disbursed neuron's reject costs to governance's own account.
    SweepFees {
        neuron: NeuronId,
    },
    /// Moves `amount` from `parent`'s subaccount into new neuron `child`'s.
    Split {
        parent: NeuronId,
        child: NeuronId,
        amount: u64,
    },
    /// Moves `source`'s whole stake into `target`'s subaccount, then removes `source`.
    Merge {
        target: NeuronId,
        source: NeuronId,
    },
    /// Pays an adopted `TransferTreasury` proposal.
    Treasury {
        proposal: ProposalId,
    },
}

impl MoneyOp {
    /// The neurons whose stake this transfer moves: busy until it resolved.
    pub fn neurons(&self) -> Vec<NeuronId> {
        match *self {
            MoneyOp::Stake { neuron, .. }
            | MoneyOp::AddStake { neuron, .. }
            | MoneyOp::Disburse { neuron, .. }
            | MoneyOp::SweepFees { neuron } => vec![neuron],
            MoneyOp::Split { parent, child, .. } => vec![parent, child],
            MoneyOp::Merge { target, source } => vec![target, source],
            MoneyOp::Treasury { .. } => vec![],
        }
    }
}

/// Opens a book at memory ids `first .. first + 4` (the outbox's three, then the ops).
pub fn open(mm: &MemoryManager<DefaultMemoryImpl>, first: u8) -> Book {
    let id = |i: u8| mm.get(MemoryId::new(first + i));
    Book::init(id(0), id(1), id(2), id(3))
}
