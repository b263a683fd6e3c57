//! A ledger's book: the exactly-once outbox of transfers on one ledger and what each unresolved
//! transfer is for. Governance keeps two: stakes (governance token) and the treasury (payment token).

use candid::{CandidType, Deserialize, Principal};
use ic_stable_structures::memory_manager::{MemoryId, MemoryManager, VirtualMemory};
use ic_stable_structures::{DefaultMemoryImpl, StableBTreeMap};
use ledger_adapter::outbox::{IntentId, Outbox, OutboxHost};
use neuranft_types::governance::{NeuronId, ProposalId};
use neuranft_types::storable::Candid;
use std::collections::BTreeSet;

type Mem = VirtualMemory<DefaultMemoryImpl>;

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
    /// Pays an adopted `TransferTreasury` proposal.
    Treasury {
        proposal: ProposalId,
    },
}

pub struct Book {
    outbox: Outbox,
    ops: StableBTreeMap<IntentId, Candid<MoneyOp>, Mem>,
    /// Neurons with a stake or disbursement in flight (heap: nothing is in flight across an upgrade).
    busy: BTreeSet<NeuronId>,
    pub ledger_fee: Option<u128>,
}

impl OutboxHost for Book {
    fn outbox(&mut self) -> &mut Outbox {
        &mut self.outbox
    }
}

impl Book {
    /// Opens the book at memory ids `first .. first + 4`.
    pub fn init(mm: &MemoryManager<DefaultMemoryImpl>, first: u8) -> Self {
        let id = |i: u8| mm.get(MemoryId::new(first + i));
        Self {
            outbox: Outbox::init(id(0), id(1), id(2)),
            ops: StableBTreeMap::init(id(3)),
            busy: BTreeSet::new(),
            ledger_fee: None,
        }
    }

    pub fn record(&mut self, intent: IntentId, op: MoneyOp) {
        self.ops.insert(intent, Candid(op));
    }

    /// Removes and returns what a resolved intent was for (once).
    pub fn take(&mut self, intent: IntentId) -> Option<MoneyOp> {
        self.ops.remove(&intent).map(|c| c.0)
    }

    pub fn op(&self, intent: IntentId) -> Option<MoneyOp> {
        self.ops.get(&intent).map(|c| c.0)
    }

    pub fn unresolved(&self, limit: usize) -> Vec<(IntentId, MoneyOp)> {
        self.ops
            .iter()
            .take(limit)
            .map(|e| {
                let (id, op) = e.into_pair();
                (id, op.0)
            })
            .collect()
    }

    /// The unresolved fee sweep of `neuron`, if any.
    pub fn sweep_intent(&self, neuron: NeuronId) -> Option<IntentId> {
        self.ops.iter().find_map(|e| {
            let (id, op) = e.into_pair();
            (op.0 == MoneyOp::SweepFees { neuron }).then_some(id)
        })
    }

    /// The unresolved treasury payment of `proposal`, if any.
    pub fn treasury_intent(&self, proposal: ProposalId) -> Option<IntentId> {
        self.ops.iter().find_map(|e| {
            let (id, op) = e.into_pair();
            (op.0 == MoneyOp::Treasury { proposal }).then_some(id)
        })
    }

    pub fn intent(&self, id: IntentId) -> Option<ledger_adapter::outbox::TransferIntent> {
        self.outbox.get(id)
    }

    pub fn outbox_mut(&mut self) -> &mut Outbox {
        &mut self.outbox
    }

    pub fn try_begin(&mut self, neuron: NeuronId) -> bool {
        self.busy.insert(neuron)
    }

    pub fn end(&mut self, neuron: NeuronId) {
        self.busy.remove(&neuron);
    }

    pub fn is_busy(&self, neuron: NeuronId) -> bool {
        self.busy.contains(&neuron)
    }
}
