//! What the inference proxy has yet to learn: the models whose latest change it has not
//! acknowledged, and the push job's flags.

use super::Memory;
use crate::memory::*;
use ic_stable_structures::memory_manager::MemoryManager;
use ic_stable_structures::{DefaultMemoryImpl, StableBTreeMap};
use neuranft_types::royalties::ModelId;

pub struct Pushes {
    /// Models whose latest change the inference proxy has not acknowledged, with that change's version.
    model_pushes: StableBTreeMap<ModelId, u64, Memory>,
    /// Single-flight flag of the push job, and whether it is scheduled (heap only).
    job_running: bool,
    job_scheduled: bool,
}

impl Pushes {
    /// Opens the pending pushes in `mm` (their id in [`crate::memory`]).
    pub fn init(mm: &MemoryManager<DefaultMemoryImpl>) -> Self {
        Self {
            model_pushes: StableBTreeMap::init(mm.get(MODEL_PUSHES_MEMORY_ID)),
            job_running: false,
            job_scheduled: false,
        }
    }

    pub fn queue(&mut self, id: ModelId, version: u64) {
        self.model_pushes.insert(id, version);
    }

    /// Up to `limit` pending model pushes with their versions, oldest model id first.
    pub fn pending(&self, limit: usize) -> Vec<(ModelId, u64)> {
        self.model_pushes
            .iter()
            .take(limit)
            .map(|e| e.into_pair())
            .collect()
    }

    pub fn has_model_pushes(&self) -> bool {
        !self.model_pushes.is_empty()
    }

    pub fn acknowledged(&mut self, id: ModelId, version: u64) {
        if self.model_pushes.get(&id) == Some(version) {
            self.model_pushes.remove(&id);
        }
    }

    pub fn begin_job(&mut self) -> bool {
        self.job_scheduled = false;
        !std::mem::replace(&mut self.job_running, true)
    }

    pub fn end_job(&mut self) {
        self.job_running = false;
    }

    pub fn schedule_job(&mut self) -> bool {
        !std::mem::replace(&mut self.job_scheduled, true)
    }
}
