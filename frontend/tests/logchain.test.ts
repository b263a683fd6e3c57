import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { entryHash, GENESIS, GENESIS_PREV_HASH, verifyChain, type ChainState } from '../src/lib/logchain';
import type { EncodedLogEntry } from '../src/bindings/royalties/royalties';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s/g, ''), 'hex'));

// The format-2 rule written out again with node's SHA-256 (not the app's), straight from
// `log_entry_hash`: sha256("neuranft-royalties-log-v2" ‖ prev_hash ‖ index u64 BE ‖ timestamp u64 BE ‖ event).
function v2Hash(prev: Uint8Array, index: bigint, ts: bigint, event: Uint8Array): Uint8Array {
  const be = (v: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    return b;
  };
  return Uint8Array.from(createHash('sha256').update('neuranft-royalties-log-v2').update(prev).update(be(index)).update(be(ts)).update(event).digest());
}

// Candid bytes as royalties stores them; the chain never decodes them, so any bytes do.
const EVENTS = [bytes('4449444c000171026869'), bytes('4449444c0001710401020304'), bytes('4449444c00017d2a')];
const T0 = 1_700_000_000_000_000_000n;

/** Entries `first..` in format 2, chained from `prev`. */
function v2Chain(prev: Uint8Array, first: bigint, events: Uint8Array[]): EncodedLogEntry[] {
  return events.map((event, i) => {
    const index = first + BigInt(i);
    const timestamp = T0 + index * 1_000n;
    const entry = { index, timestamp, prev_hash: prev, hash: v2Hash(prev, index, timestamp, event), format: 2, event };
    prev = entry.hash;
    return entry;
  });
}

/** A format-1 entry: its hash covered a re-encoding this app cannot make, so any 32 bytes stand for it. */
function v1Entry(prev: Uint8Array, index: bigint, fill: number): EncodedLogEntry {
  return { index, timestamp: T0 + index, prev_hash: prev, hash: new Uint8Array(32).fill(fill), format: 1, event: bytes('4449444c00017d01') };
}

const checked = (s: ChainState) => s.rehashed + s.legacy;

/** A copy of `b` with the byte at `at` (from the end when negative) changed. */
function flipped(b: Uint8Array, at: number): Uint8Array {
  const out = b.slice();
  const i = at < 0 ? out.length + at : at;
  out[i] = (out[i] ?? 0) ^ 0xff;
  return out;
}

describe('the format-2 entry hash', () => {
  it('is the known answer worked out apart from this code (Python hashlib, from log.rs)', () => {
    // hashlib.sha256(b'neuranft-royalties-log-v2' + bytes(32) + pack('>Q', 0) + pack('>Q', T0) + event)
    const known = 'b351ef6d213596c3a53467ba23bd670bcbf709ea6588e4e28df812f6e161c3b5';
    expect(hex(entryHash(GENESIS_PREV_HASH, 0n, T0, EVENTS[0]!))).toBe(known);
    expect(hex(v2Hash(GENESIS_PREV_HASH, 0n, T0, EVENTS[0]!))).toBe(known);
  });
  it('covers every field: prev hash, index, timestamp and each event byte', () => {
    const base = hex(entryHash(GENESIS_PREV_HASH, 5n, T0, EVENTS[1]!));
    expect(hex(entryHash(new Uint8Array(32).fill(1), 5n, T0, EVENTS[1]!))).not.toBe(base);
    expect(hex(entryHash(GENESIS_PREV_HASH, 6n, T0, EVENTS[1]!))).not.toBe(base);
    expect(hex(entryHash(GENESIS_PREV_HASH, 5n, T0 + 1n, EVENTS[1]!))).not.toBe(base);
    expect(hex(entryHash(GENESIS_PREV_HASH, 5n, T0, EVENTS[1]!.slice(0, -1)))).not.toBe(base);
  });
});

describe('the settlement log hash chain', () => {
  const chain = () => v2Chain(GENESIS_PREV_HASH, 0n, EVENTS);

  it('verifies a format-2 chain from the genesis and gives its tip', () => {
    const entries = chain();
    const r = verifyChain(GENESIS, entries);
    expect(r.ok).toBe(true);
    expect(hex(r.state.tip)).toBe(hex(entries[2]!.hash));
    expect(r.state).toMatchObject({ next: 3n, rehashed: 3, legacy: 0 });
  });
  it('continues page by page from the state the last page left', () => {
    const entries = chain();
    const first = verifyChain(GENESIS, entries.slice(0, 1));
    expect(first).toMatchObject({ ok: true, state: { next: 1n, rehashed: 1 } });
    const rest = verifyChain(first.state, entries.slice(1));
    expect(rest).toMatchObject({ ok: true, state: { next: 3n, rehashed: 3 } });
    expect(hex(rest.state.tip)).toBe(hex(entries[2]!.hash));
    expect(verifyChain(GENESIS, [])).toEqual({ ok: true, state: GENESIS });
  });
  it('refuses an event with one byte changed', () => {
    const entries = chain();
    const event = flipped(entries[1]!.event, -1);
    expect(hex(event)).not.toBe(hex(entries[1]!.event));
    entries[1] = { ...entries[1]!, event };
    const r = verifyChain(GENESIS, entries);
    expect(r).toMatchObject({ ok: false, error: { kind: 'WrongHash', index: 1n }, state: { next: 1n, rehashed: 1 } });
    expect(!r.ok && r.reason).toMatch(/hash is not the hash of its contents/);
  });
  it('refuses a changed timestamp and a hash of the wrong length', () => {
    const entries = chain();
    entries[0] = { ...entries[0]!, timestamp: entries[0]!.timestamp + 1n };
    expect(verifyChain(GENESIS, entries)).toMatchObject({ ok: false, error: { kind: 'WrongHash', index: 0n } });
    const short = chain();
    short[2] = { ...short[2]!, hash: short[2]!.hash.slice(0, 31) };
    expect(verifyChain(GENESIS, short)).toMatchObject({ ok: false, error: { kind: 'WrongHash', index: 2n }, state: { next: 2n } });
  });
  it('refuses a broken link, also when the changed entry was rehashed to match', () => {
    const entries = chain();
    entries[1] = { ...entries[1]!, prev_hash: new Uint8Array(32).fill(7) };
    expect(verifyChain(GENESIS, entries)).toMatchObject({ ok: false, error: { kind: 'BrokenLink', index: 1n }, state: { next: 1n } });
    // Entry 1 rewritten with a consistent hash of its own: entry 2 no longer names it.
    const rewritten = chain();
    const e1 = rewritten[1]!;
    const event = Uint8Array.from([...e1.event, 0]);
    rewritten[1] = { ...e1, event, hash: v2Hash(e1.prev_hash, e1.index, e1.timestamp, event) };
    expect(verifyChain(GENESIS, rewritten)).toMatchObject({ ok: false, error: { kind: 'BrokenLink', index: 2n }, state: { next: 2n, rehashed: 2 } });
  });
  it('refuses a first entry that does not start from the genesis', () => {
    const entries = v2Chain(new Uint8Array(32).fill(1), 0n, EVENTS);
    expect(verifyChain(GENESIS, entries)).toMatchObject({ ok: false, error: { kind: 'BrokenLink', index: 0n }, state: { next: 0n } });
  });
  it('refuses a missing entry and a page that starts elsewhere', () => {
    const entries = chain();
    expect(verifyChain(GENESIS, [entries[0]!, entries[2]!])).toMatchObject({ ok: false, error: { kind: 'OutOfOrder', index: 2n, expected: 1n } });
    expect(verifyChain(GENESIS, entries.slice(1))).toMatchObject({ ok: false, error: { kind: 'OutOfOrder', index: 1n, expected: 0n } });
  });
  it('checks format-1 entries by their links only, and rehashes the format-2 entries after them', () => {
    const e0 = v1Entry(GENESIS_PREV_HASH, 0n, 0xa1);
    const e1 = v1Entry(e0.hash, 1n, 0xb2);
    const entries = [e0, e1, ...v2Chain(e1.hash, 2n, EVENTS.slice(0, 2))];
    const r = verifyChain(GENESIS, entries);
    expect(r).toMatchObject({ ok: true, state: { next: 4n, rehashed: 2, legacy: 2 } });
    expect(checked(r.state)).toBe(4);
    expect(hex(r.state.tip)).toBe(hex(entries[3]!.hash));
    // Its bytes are not covered by anything this app can recompute: a change there goes unseen...
    const changed = [{ ...e0, event: bytes('4449444c00017d02') }, ...entries.slice(1)];
    expect(verifyChain(GENESIS, changed)).toMatchObject({ ok: true, state: { legacy: 2 } });
    // ...but its links are checked like any entry's.
    const unlinked = [e0, { ...e1, prev_hash: new Uint8Array(32).fill(0xa2) }, ...entries.slice(2)];
    expect(verifyChain(GENESIS, unlinked)).toMatchObject({ ok: false, error: { kind: 'BrokenLink', index: 1n }, state: { legacy: 1 } });
    // A hash is 32 bytes, whatever the format.
    expect(verifyChain(GENESIS, [{ ...e0, hash: e0.hash.slice(0, 31) }])).toMatchObject({ ok: false, error: { kind: 'WrongHash', index: 0n } });
    const wrongHashLink = [e0, e1, { ...entries[2]!, prev_hash: e0.hash }, entries[3]!];
    expect(verifyChain(GENESIS, wrongHashLink)).toMatchObject({ ok: false, error: { kind: 'BrokenLink', index: 2n } });
  });
  it('rehashes what is served as format 2, and refuses a format-1 label once format 2 began', () => {
    const entries = chain();
    const event = flipped(entries[1]!.event, 4);
    // Served as format 2 it is rehashed and refused; relabelled format 1 after a format-2 entry it is
    // refused too: only a log's first entries may be format 1.
    expect(verifyChain(GENESIS, [entries[0]!, { ...entries[1]!, event }])).toMatchObject({ ok: false, error: { kind: 'WrongHash', index: 1n } });
    expect(verifyChain(GENESIS, [entries[0]!, { ...entries[1]!, event, format: 1 }])).toMatchObject({
      ok: false,
      error: { kind: 'LegacyAfterFormat2', index: 1n },
    });
    // ...also across pages: the state says format 2 began.
    const first = verifyChain(GENESIS, [entries[0]!]);
    expect(first.ok && verifyChain(first.state, [{ ...entries[1]!, event, format: 1 }])).toMatchObject({
      ok: false,
      error: { kind: 'LegacyAfterFormat2', index: 1n },
    });
  });
  it('refuses a format it does not know', () => {
    for (const format of [0, 3, 255]) {
      const entries = chain();
      entries[1] = { ...entries[1]!, format };
      const r = verifyChain(GENESIS, entries);
      expect(r).toMatchObject({ ok: false, error: { kind: 'UnknownFormat', index: 1n, format }, state: { next: 1n, rehashed: 1 } });
      expect(!r.ok && r.reason).toMatch(new RegExp(`format ${format}`));
    }
  });
});
