// The royalties settlement log's hash chain, checked in the browser by the rules royalties writes it
// with (neuranft-types `royalties::log::verify_log_chain`). `get_log_encoded` serves each entry with
// its event's Candid bytes exactly as stored, so nothing is decoded or re-encoded here:
//   format 2: hash = sha256("neuranft-royalties-log-v2" ‖ prev_hash ‖ index (u64 BE) ‖ timestamp (u64 BE) ‖ event)
//   format 1: written by older versions over a re-encoding of the event; checked by its links only
//             (prev_hash is the previous entry's hash, the index the next one).
// The first entry's prev_hash is 32 zero bytes.
import { sha256 } from '@noble/hashes/sha2.js';
import type { EncodedLogEntry } from '../bindings/royalties/royalties';

/** Entries hashed over a re-encoding of the event: verified by their links only. */
export const LOG_FORMAT_V1 = 1;
/** Entries hashed over the event's bytes as written. */
export const LOG_FORMAT_V2 = 2;
const DOMAIN_V2 = new TextEncoder().encode('neuranft-royalties-log-v2');

/** The first entry's `prev_hash`. */
export const GENESIS_PREV_HASH: Uint8Array = new Uint8Array(32);

function u64be(v: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v, false);
  return out;
}

const equal = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** A format-2 entry's hash (`log_entry_hash`): `event` is the last field, so it needs no length. */
export function entryHash(prevHash: Uint8Array, index: bigint, timestamp: bigint, event: Uint8Array): Uint8Array {
  const h = sha256.create();
  h.update(DOMAIN_V2);
  h.update(prevHash);
  h.update(u64be(index));
  h.update(u64be(timestamp));
  h.update(event);
  return h.digest();
}

/** How far a chain has been checked: the last hash, the index expected next, and how each entry was checked. */
export interface ChainState {
  /** The last checked entry's hash ([`GENESIS_PREV_HASH`] before the first). */
  tip: Uint8Array;
  /** The index the next entry must have (the number of entries checked from the genesis). */
  next: bigint;
  /** Format-2 entries whose hash was recomputed from their bytes. */
  rehashed: number;
  /** Format-1 entries, checked by their links only. */
  legacy: number;
}

export const GENESIS: ChainState = Object.freeze({ tip: GENESIS_PREV_HASH, next: 0n, rehashed: 0, legacy: 0 });

/** Why a run of entries is not an unbroken chain (`ChainError` in Rust). */
export type ChainError =
  | { kind: 'OutOfOrder'; index: bigint; expected: bigint }
  | { kind: 'BrokenLink'; index: bigint }
  | { kind: 'WrongHash'; index: bigint }
  | { kind: 'UnknownFormat'; index: bigint; format: number }
  | { kind: 'LegacyAfterFormat2'; index: bigint };

/** On failure `state` is where the chain stood before the offending entry. */
export type ChainResult = { ok: true; state: ChainState } | { ok: false; state: ChainState; error: ChainError; reason: string };

export function chainErrorText(e: ChainError): string {
  switch (e.kind) {
    case 'OutOfOrder':
      return `entry ${e.index.toString()} was served where entry ${e.expected.toString()} belongs`;
    case 'BrokenLink':
      return "its prev_hash is not the previous entry's hash";
    case 'WrongHash':
      return 'its hash is not the hash of its contents';
    case 'UnknownFormat':
      return `it has format ${e.format}, which this app does not know`;
    case 'LegacyAfterFormat2':
      return 'it claims format 1 after format 2 began (the label is not hashed: only the first entries of a log may be format 1)';
  }
}

/**
 * Checks that `entries` (consecutive, oldest first) continue the chain at `from`, as
 * `verify_log_chain` does: the index, then the link, then the hash (format 2 rehashed, format 1
 * taken as served while no format-2 entry came before it, any other format refused). Pass the returned state to check the next page.
 */
export function verifyChain(from: ChainState, entries: readonly EncodedLogEntry[]): ChainResult {
  let state = from;
  const fail = (error: ChainError): ChainResult => ({ ok: false, state, error, reason: chainErrorText(error) });
  for (const e of entries) {
    const index = e.index;
    if (index !== state.next) return fail({ kind: 'OutOfOrder', index, expected: state.next });
    if (!equal(e.prev_hash, state.tip)) return fail({ kind: 'BrokenLink', index });
    if (e.hash.length !== 32) return fail({ kind: 'WrongHash', index });
    let { rehashed, legacy } = state;
    if (e.format === LOG_FORMAT_V2) {
      if (!equal(entryHash(state.tip, index, e.timestamp, e.event), e.hash)) return fail({ kind: 'WrongHash', index });
      rehashed += 1;
    } else if (e.format === LOG_FORMAT_V1) {
      // Format 1 only before the first format-2 entry: every entry so far was format 1.
      if (state.next > BigInt(legacy)) return fail({ kind: 'LegacyAfterFormat2', index });
      legacy += 1;
    } else {
      return fail({ kind: 'UnknownFormat', index, format: e.format });
    }
    state = { tip: e.hash, next: index + 1n, rehashed, legacy };
  }
  return { ok: true, state };
}
