// The royalties settlement log's hash chain, verified in the browser exactly as royalties computes it
// (neuranft-types `LogEntry::compute_hash`):
//   hash = sha256("neuranft-royalties-log-v1" ‖ prev_hash ‖ index (u64 BE) ‖ timestamp (u64 BE) ‖ candid(event))
// where candid(event) is Rust `candid::encode_one(&event)`: the first entry's prev_hash is 32 zero bytes.
//
// Rust's candid serializer numbers its type table in pre-order (a type gets its index before its
// children) and shares structurally equal types; agent-js numbers in post-order. The values encode
// identically, so this file builds the type table as Rust does and lets agent-js encode the value.
import { IDL } from '@icp-sdk/core/candid';
import { lebEncode, slebEncode, idlLabelToId } from '@icp-sdk/core/candid';
import { sha256 } from '@noble/hashes/sha2.js';

const OP_OPT = -18;
const OP_VEC = -19;
const OP_RECORD = -20;
const OP_VARIANT = -21;

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const labelId = (name: string): number => {
  const m = /^_(\d+)_$/.exec(name);
  return m?.[1] !== undefined ? Number(m[1]) : idlLabelToId(name);
};

/** A structural key: equal keys are the types Rust's serializer shares one table entry between. */
function structuralKey(t: IDL.Type, memo = new Map<IDL.Type, string>()): string {
  const known = memo.get(t);
  if (known !== undefined) return known;
  let key: string;
  if (t instanceof IDL.RecClass) {
    const inner = t.getType();
    if (!inner) throw new Error('unsupported: an unresolved recursive type');
    key = structuralKey(inner, memo);
  } else if (t instanceof IDL.PrimitiveType) key = t.name;
  else if (t instanceof IDL.OptClass) key = `opt(${structuralKey(t._type, memo)})`;
  else if (t instanceof IDL.VecClass) key = `vec(${structuralKey(t._type, memo)})`;
  else if (t instanceof IDL.RecordClass || t instanceof IDL.VariantClass) {
    const kind = t instanceof IDL.RecordClass ? 'record' : 'variant';
    key = `${kind}{${t._fields.map(([n, ft]) => `${labelId(n)}:${structuralKey(ft, memo)}`).join(';')}}`;
  } else throw new Error(`unsupported Candid type in the log: ${t.name}`);
  memo.set(t, key);
  return key;
}

/** `candid::encode_one(value)` as Rust's candid crate writes it, for a value of `type`. */
export function rustCandidEncodeOne(type: IDL.Type, value: unknown): Uint8Array {
  const table: Uint8Array[] = [];
  const index = new Map<string, number>();
  const memo = new Map<IDL.Type, string>();

  const unwrap = (t: IDL.Type): IDL.Type => {
    if (t instanceof IDL.RecClass) {
      const inner = t.getType();
      if (!inner) throw new Error('unsupported: an unresolved recursive type');
      return inner;
    }
    return t;
  };
  const ref = (t: IDL.Type): Uint8Array => {
    const u = unwrap(t);
    if (u instanceof IDL.PrimitiveType) return u.encodeType(undefined as never);
    const i = index.get(structuralKey(u, memo));
    if (i === undefined) throw new Error('BUG: type referenced before it was built');
    return slebEncode(i);
  };
  const build = (t: IDL.Type): void => {
    const u = unwrap(t);
    if (u instanceof IDL.PrimitiveType) return;
    const key = structuralKey(u, memo);
    if (index.has(key)) return;
    const i = table.length;
    index.set(key, i);
    table.push(new Uint8Array());
    if (u instanceof IDL.OptClass || u instanceof IDL.VecClass) {
      build(u._type);
      table[i] = concat([slebEncode(u instanceof IDL.OptClass ? OP_OPT : OP_VEC), ref(u._type)]);
    } else if (u instanceof IDL.RecordClass || u instanceof IDL.VariantClass) {
      for (const [, ft] of u._fields) build(ft);
      const parts = [slebEncode(u instanceof IDL.RecordClass ? OP_RECORD : OP_VARIANT), lebEncode(u._fields.length)];
      for (const [name, ft] of u._fields) parts.push(lebEncode(labelId(name)), ref(ft));
      table[i] = concat(parts);
    } else {
      throw new Error(`unsupported Candid type in the log: ${u.name}`);
    }
  };

  build(type);
  return concat([
    new TextEncoder().encode('DIDL'),
    lebEncode(table.length),
    ...table,
    lebEncode(1),
    ref(type),
    type.encodeValue(value),
  ]);
}

const DOMAIN = new TextEncoder().encode('neuranft-royalties-log-v1');

function u64be(v: bigint): Uint8Array {
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, v, false);
  return out;
}

export function entryHash(eventType: IDL.Type, prevHash: Uint8Array, index: bigint, timestamp: bigint, event: unknown): Uint8Array {
  return sha256(concat([DOMAIN, prevHash, u64be(index), u64be(timestamp), rustCandidEncodeOne(eventType, event)]));
}

/** A log entry as the raw Candid actor returns it. */
export interface RawLogEntry {
  index: bigint;
  timestamp: bigint;
  prev_hash: Uint8Array | number[];
  hash: Uint8Array | number[];
  event: unknown;
}

export type ChainResult =
  | { ok: true; tip: Uint8Array; checked: number }
  | { ok: false; brokenAt: bigint; reason: string; checked: number };

const bytes = (b: Uint8Array | number[]): Uint8Array => (b instanceof Uint8Array ? b : Uint8Array.from(b));
const equal = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

export const GENESIS_PREV_HASH = new Uint8Array(32);

/** Checks consecutive entries (oldest first) chain from `prevHash`, as `LogEntry::verify_chain` does. */
export function verifyChain(eventType: IDL.Type, prevHash: Uint8Array, entries: RawLogEntry[]): ChainResult {
  let prev = prevHash;
  let checked = 0;
  let expectedIndex: bigint | undefined;
  for (const entry of entries) {
    if (expectedIndex !== undefined && entry.index !== expectedIndex) {
      return { ok: false, brokenAt: entry.index, reason: `entry ${expectedIndex.toString()} is missing`, checked };
    }
    if (!equal(bytes(entry.prev_hash), prev)) {
      return { ok: false, brokenAt: entry.index, reason: "its prev_hash is not the previous entry's hash", checked };
    }
    const expected = entryHash(eventType, prev, entry.index, entry.timestamp, entry.event);
    if (!equal(bytes(entry.hash), expected)) {
      return { ok: false, brokenAt: entry.index, reason: 'its hash does not match its content', checked };
    }
    prev = expected;
    checked += 1;
    expectedIndex = entry.index + 1n;
  }
  return { ok: true, tip: prev, checked };
}
