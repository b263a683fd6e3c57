import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { IDL } from '@icp-sdk/core/candid';
import { GENESIS_PREV_HASH, rustCandidEncodeOne, verifyChain, type RawLogEntry } from '../src/lib/logchain';
import { logEventType } from '../src/lib/api';

// variant { A : record { x : nat64 }; B : record { y : opt record { x : nat64 }; z : text } }
const R1 = IDL.Record({ x: IDL.Nat64 });
const V = IDL.Variant({ A: R1, B: IDL.Record({ y: IDL.Opt(R1), z: IDL.Text }) });

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const bytes = (h: string) => Uint8Array.from(Buffer.from(h.replace(/\s/g, ''), 'hex'));

// What Rust's candid serializer writes, worked out by hand from its rules: the type table in pre-order
// (the variant 0, record{x} 1, record{y,z} 2, opt record{x} 3, sharing record{x}), fields by label hash
// (A=65, B=66, x=120, y=121, z=122), then the value.
const TABLE = '4449444c 04 6b024101 4202 6c017878 6c02 7903 7a71 6e01 01 00';
const VALUE_B = '01 01 0500000000000000 02 6869'; // B { y = opt record { x = 5 }; z = "hi" }
const VALUE_A = '00 2a00000000000000'; // A { x = 42 }

function rustHash(prev: Uint8Array, index: bigint, ts: bigint, candid: Uint8Array): Uint8Array {
  const be = (v: bigint) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    return b;
  };
  return Uint8Array.from(
    createHash('sha256').update('neuranft-royalties-log-v1').update(prev).update(be(index)).update(be(ts)).update(candid).digest(),
  );
}

describe("Rust's Candid encoding of a log event", () => {
  it('numbers the type table in pre-order and shares equal types, unlike agent-js', () => {
    const value = { B: { y: [{ x: 5n }], z: 'hi' } };
    expect(hex(rustCandidEncodeOne(V, value))).toBe(hex(bytes(TABLE + VALUE_B)));
    expect(hex(IDL.encode([V], [value]))).not.toBe(hex(bytes(TABLE + VALUE_B)));
    expect(hex(rustCandidEncodeOne(V, { A: { x: 42n } }))).toBe(hex(bytes(TABLE + VALUE_A)));
  });
  it("builds the real LogEvent's table (a variant first, every type once)", () => {
    const t = logEventType();
    const enc = rustCandidEncodeOne(t, { PayoutFailed: { payout: 7n, reason: 'x', restored: 5n } });
    expect(hex(enc.slice(0, 4))).toBe('4449444c');
    // The root variant is type 0 with nine alternatives (ModelModerated and PayoutSettingsSet the newest).
    const tableLen = enc[4] ?? 0;
    expect(tableLen).toBeGreaterThan(10);
    expect(hex(enc.slice(5, 7))).toBe('6b09');
  });
});

describe('the settlement log hash chain', () => {
  const e0Candid = bytes(TABLE + VALUE_A);
  const e1Candid = bytes(TABLE + VALUE_B);
  const h0 = rustHash(GENESIS_PREV_HASH, 0n, 1_000n, e0Candid);
  const h1 = rustHash(h0, 1n, 2_000n, e1Candid);
  const fixture = (): RawLogEntry[] => [
    { index: 0n, timestamp: 1_000n, prev_hash: GENESIS_PREV_HASH, hash: h0, event: { A: { x: 42n } } },
    { index: 1n, timestamp: 2_000n, prev_hash: h0, hash: h1, event: { B: { y: [{ x: 5n }], z: 'hi' } } },
  ];

  it('verifies an unbroken chain from the genesis hash and gives the tip', () => {
    const r = verifyChain(V, GENESIS_PREV_HASH, fixture());
    expect(r.ok).toBe(true);
    expect(r.ok && hex(r.tip)).toBe(hex(h1));
    expect(r.checked).toBe(2);
  });
  it('verifies a page that starts mid-log from the previous hash', () => {
    expect(verifyChain(V, h0, fixture().slice(1)).ok).toBe(true);
  });
  it('finds where a changed event breaks the chain', () => {
    const f = fixture();
    f[1] = { ...f[1]!, event: { B: { y: [{ x: 6n }], z: 'hi' } } };
    const r = verifyChain(V, GENESIS_PREV_HASH, f);
    expect(r).toMatchObject({ ok: false, brokenAt: 1n, checked: 1 });
  });
  it('finds a wrong link, a changed timestamp and a missing entry', () => {
    const f = fixture();
    f[1] = { ...f[1]!, prev_hash: new Uint8Array(32) };
    expect(verifyChain(V, GENESIS_PREV_HASH, f)).toMatchObject({ ok: false, brokenAt: 1n });
    const g = fixture();
    g[0] = { ...g[0]!, timestamp: 1_001n };
    expect(verifyChain(V, GENESIS_PREV_HASH, g)).toMatchObject({ ok: false, brokenAt: 0n, checked: 0 });
    const h = fixture();
    h[1] = { ...h[1]!, index: 2n };
    expect(verifyChain(V, GENESIS_PREV_HASH, h)).toMatchObject({ ok: false, brokenAt: 2n });
  });
});
