//! Chunks of upgrade modules staged by neurons before they propose: a module larger than one
//! message travels in ≤ 1 MiB chunks, and the proposal names them by hash. Staging is open to any
//! neuron that may propose, within a quota per neuron and one for all; chunks no proposal took are
//! dropped after [`STAGED_CHUNK_LIFETIME_SECONDS`].

use super::*;
use crate::power::{self, nanos};
use serde_bytes::ByteBuf;
use sha2::{Digest, Sha256};

/// What is known of a staged chunk without reading it: when it was staged and its length.
fn meta(now: u64, len: usize) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&now.to_be_bytes());
    bytes[8..].copy_from_slice(&(len as u64).to_be_bytes());
    bytes
}

fn staged_at(meta: &[u8; 16]) -> u64 {
    u64::from_be_bytes(meta[..8].try_into().expect("8 bytes"))
}

fn staged_len(meta: &[u8; 16]) -> u64 {
    u64::from_be_bytes(meta[8..].try_into().expect("8 bytes"))
}

pub(super) fn hash_of(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

impl Governance {
    /// Stages one chunk for `neuron` (whose controller or hot key calls, and which may propose).
    /// Returns its SHA-256; staging the same chunk again changes nothing.
    pub fn stage_chunk(
        &mut self,
        caller: Principal,
        args: StageChunkArgs,
        now: u64,
    ) -> Result<ByteBuf, GovernanceError> {
        let p = self.parameters();
        let neuron =
            self.authorized(caller, args.neuron, Some(NeuronPermission::SubmitProposal))?;
        if power::dissolve_delay_seconds(&neuron, now) < p.min_dissolve_delay_seconds {
            return Err(GovernanceError::DissolveDelayTooShort {
                minimum_seconds: p.min_dissolve_delay_seconds,
            });
        }
        let chunk = args.chunk.into_vec();
        if chunk.is_empty() || chunk.len() > MAX_CHUNK_BYTES {
            return Err(invalid("chunk", format!("1–{MAX_CHUNK_BYTES} bytes")));
        }
        let hash = hash_of(&chunk);
        if self.staged_meta.contains_key(&(neuron.id, hash)) {
            return Ok(ByteBuf::from(hash.to_vec()));
        }
        let size = chunk.len() as u64;
        let mine = self.staged_bytes_of(neuron.id);
        if mine + size > MAX_STAGED_BYTES_PER_NEURON {
            return Err(GovernanceError::StagingQuotaExceeded {
                quota: MAX_STAGED_BYTES_PER_NEURON,
                staged: mine,
            });
        }
        let all = *self.staged_total.get();
        if all + size > MAX_STAGED_BYTES {
            return Err(GovernanceError::StagingQuotaExceeded {
                quota: MAX_STAGED_BYTES,
                staged: all,
            });
        }
        self.staged_meta
            .insert((neuron.id, hash), meta(now, chunk.len()));
        self.staged.insert((neuron.id, hash), chunk);
        self.staged_total.set(all + size);
        Ok(ByteBuf::from(hash.to_vec()))
    }

    /// What `neuron` has staged, by hash.
    pub fn staged_chunks(&self, neuron: NeuronId) -> Vec<StagedChunk> {
        self.staged_meta
            .range((neuron, [0u8; 32])..=(neuron, [0xff; 32]))
            .map(|e| StagedChunk {
                hash: ByteBuf::from(e.key().1.to_vec()),
                bytes: staged_len(&e.value()),
                staged_at: staged_at(&e.value()),
            })
            .collect()
    }

    fn staged_bytes_of(&self, neuron: NeuronId) -> u64 {
        self.staged_chunks(neuron).iter().map(|c| c.bytes).sum()
    }

    /// Drops what `neuron` staged (its controller or a hot key calls).
    pub fn clear_staged_chunks(
        &mut self,
        caller: Principal,
        neuron: NeuronId,
    ) -> Result<(), GovernanceError> {
        let neuron = self.authorized(caller, neuron, Some(NeuronPermission::SubmitProposal))?;
        for chunk in self.staged_chunks(neuron.id) {
            self.unstage(neuron.id, &chunk.hash);
        }
        Ok(())
    }

    pub(super) fn unstage(&mut self, neuron: NeuronId, hash: &[u8]) {
        let Ok(hash) = <[u8; 32]>::try_from(hash) else {
            return;
        };
        self.staged.remove(&(neuron, hash));
        if let Some(meta) = self.staged_meta.remove(&(neuron, hash)) {
            let all = *self.staged_total.get();
            self.staged_total.set(all.saturating_sub(staged_len(&meta)));
        }
    }

    /// Drops chunks staged more than [`STAGED_CHUNK_LIFETIME_SECONDS`] before `now`, at most `limit`
    /// of them. Returns how many.
    pub fn drop_expired_chunks(&mut self, now: u64, limit: usize) -> usize {
        let cutoff = now.saturating_sub(nanos(STAGED_CHUNK_LIFETIME_SECONDS));
        let expired: Vec<(NeuronId, [u8; 32])> = self
            .staged_meta
            .iter()
            .filter(|e| staged_at(&e.value()) < cutoff)
            .map(|e| *e.key())
            .take(limit)
            .collect();
        for (neuron, hash) in &expired {
            self.unstage(*neuron, hash);
        }
        expired.len()
    }

    /// The module `chunked` names, from `neuron`'s staged chunks, checked against its hash.
    pub(super) fn staged_module(
        &self,
        neuron: NeuronId,
        chunked: &ChunkedWasm,
    ) -> Result<Vec<u8>, GovernanceError> {
        let max_chunks = MAX_MODULE_BYTES.div_ceil(MAX_CHUNK_BYTES);
        if chunked.chunk_hashes.is_empty() || chunked.chunk_hashes.len() > max_chunks {
            return Err(invalid("chunk_hashes", format!("1–{max_chunks} chunks")));
        }
        let mut module = Vec::new();
        for hash in &chunked.chunk_hashes {
            let chunk = <[u8; 32]>::try_from(hash.as_slice())
                .ok()
                .and_then(|h| self.staged.get(&(neuron, h)))
                .ok_or_else(|| GovernanceError::ChunkNotStaged { hash: hash.clone() })?;
            if module.len() + chunk.len() > MAX_MODULE_BYTES {
                return Err(invalid("wasm", format!("at most {MAX_MODULE_BYTES} bytes")));
            }
            module.extend_from_slice(&chunk);
        }
        check_module_hash(&chunked.wasm_module_hash, &module)?;
        Ok(module)
    }

    /// Takes the chunks a proposal of `neuron` used out of its staging area.
    pub(super) fn take_staged(&mut self, neuron: NeuronId, chunked: &ChunkedWasm) {
        for hash in &chunked.chunk_hashes {
            self.unstage(neuron, hash);
        }
    }
}

/// `module`'s SHA-256 must be `expected`.
pub(super) fn check_module_hash(expected: &[u8], module: &[u8]) -> Result<(), GovernanceError> {
    let actual = hash_of(module);
    if expected != actual.as_slice() {
        return Err(GovernanceError::WasmHashMismatch {
            expected: ByteBuf::from(expected.to_vec()),
            actual: ByteBuf::from(actual.to_vec()),
        });
    }
    Ok(())
}

/// The chunks a module travels to its target in: [`MAX_CHUNK_BYTES`] each, the last one shorter.
pub fn module_chunks(module: &[u8]) -> impl Iterator<Item = &[u8]> {
    module.chunks(MAX_CHUNK_BYTES)
}
