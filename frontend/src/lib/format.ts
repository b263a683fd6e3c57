// Formatting and validation of what users type and what canisters answer. Token amounts are bigint in
// the token's smallest unit; never a float, never Number() on an amount.
import { Principal } from '@icp-sdk/core/principal';

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = <T>(error: string): Parsed<T> => ({ ok: false, error });

export interface AmountRules {
  /** The largest amount allowed (e.g. the balance minus the fee), in the smallest unit. */
  max?: bigint;
  /** What `max` is, for the message ("your balance minus the fee"). */
  maxLabel?: string;
  symbol?: string;
  /** Allow 0 (default: no). */
  allowZero?: boolean;
}

/** Parses a decimal amount ("1.5") into the smallest unit of a token with `decimals` decimals. */
export function parseAmount(text: string, decimals: number, rules: AmountRules = {}): Parsed<bigint> {
  const t = text.trim().replace(/[_\s]/g, '');
  if (t === '') return fail('Enter an amount.');
  if (t.startsWith('-')) return fail('The amount cannot be negative.');
  const m = /^(\d*)(?:\.(\d*))?$/.exec(t);
  if (!m || (m[1] === '' && (m[2] ?? '') === '')) return fail(`"${text.trim()}" is not a number.`);
  const whole = m[1] ?? '';
  const frac = m[2] ?? '';
  if (frac.length > decimals) {
    return fail(
      decimals === 0
        ? 'This token has no decimals: enter a whole number.'
        : `At most ${decimals} decimal places (the token's smallest unit is ${formatAmount(1n, decimals)}).`,
    );
  }
  const value = BigInt(whole === '' ? '0' : whole) * 10n ** BigInt(decimals) + BigInt(frac.padEnd(decimals, '0') || '0');
  if (value === 0n && !rules.allowZero) return fail('The amount must be more than 0.');
  if (rules.max !== undefined && value > rules.max) {
    const sym = rules.symbol ? ` ${rules.symbol}` : '';
    return fail(`That is more than ${rules.maxLabel ?? 'you have'} (${formatAmount(rules.max < 0n ? 0n : rules.max, decimals)}${sym}).`);
  }
  return ok(value);
}

/** Formats an amount in the smallest unit as a decimal ("150000000" with 8 decimals → "1.5"). */
export function formatAmount(value: bigint, decimals: number, opts: { group?: boolean } = {}): string {
  const negative = value < 0n;
  const v = negative ? -value : value;
  const base = 10n ** BigInt(decimals);
  let whole = (v / base).toString();
  if (opts.group) whole = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  const frac = decimals > 0 ? (v % base).toString().padStart(decimals, '0').replace(/0+$/, '') : '';
  return `${negative ? '-' : ''}${whole}${frac ? `.${frac}` : ''}`;
}

export interface Token {
  symbol: string;
  decimals: number;
  fee: bigint;
}

export function tokenAmount(value: bigint, token: Token | undefined): string {
  if (!token) return `${value.toString()} (units)`;
  return `${formatAmount(value, token.decimals, { group: true })} ${token.symbol}`;
}

const UNITS: Array<[string, bigint]> = [
  ['year', 365n * 86_400n],
  ['day', 86_400n],
  ['hour', 3_600n],
  ['minute', 60n],
  ['second', 1n],
];

/** Seconds as the two most significant units ("2 years, 3 days"); `0` → "0 seconds". */
export function formatDuration(seconds: bigint | number, parts = 2): string {
  let s = typeof seconds === 'bigint' ? seconds : BigInt(Math.max(0, Math.floor(seconds)));
  if (s < 0n) s = 0n;
  if (s === 0n) return '0 seconds';
  const out: string[] = [];
  for (const [name, size] of UNITS) {
    const n = s / size;
    if (n > 0n) {
      out.push(`${n.toString()} ${name}${n === 1n ? '' : 's'}`);
      s -= n * size;
    } else if (out.length > 0) {
      break;
    }
    if (out.length >= parts) break;
  }
  return out.join(', ');
}

/** Nanoseconds since the epoch as a local date and time. */
export function formatTime(nanos: bigint): string {
  const ms = nanos / 1_000_000n;
  return new Date(Number(ms)).toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
}

/** How long until `nanos` (or "ended … ago"). */
export function countdown(deadlineNanos: bigint, nowMs: number): string {
  const nowNs = BigInt(Math.floor(nowMs)) * 1_000_000n;
  if (deadlineNanos <= nowNs) return `ended ${formatDuration((nowNs - deadlineNanos) / 1_000_000_000n)} ago`;
  return `${formatDuration((deadlineNanos - nowNs) / 1_000_000_000n)} left`;
}

export function parsePrincipal(text: string): Parsed<Principal> {
  const t = text.trim();
  if (t === '') return fail('Enter a principal.');
  if (!/^[a-z0-9]{1,5}(-[a-z0-9]{1,5})*$/.test(t)) {
    return fail(`"${t}" is not a principal: principals are groups of up to 5 lowercase letters and digits separated by dashes.`);
  }
  try {
    const p = Principal.fromText(t);
    if (p.toText() !== t) return fail(`"${t}" is not a principal: its checksum is wrong.`);
    return ok(p);
  } catch {
    return fail(`"${t}" is not a principal: its checksum or length is wrong.`);
  }
}

// ---------------------------------------------------------------- ICRC-1 accounts

export interface AccountValue {
  owner: Principal;
  subaccount?: Uint8Array;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = (CRC_TABLE[(c ^ b) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function base32(bytes: Uint8Array): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let out = '';
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += alphabet[(value << (5 - bits)) & 31];
  return out;
}

export const toHex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

export function fromHex(hex: string): Uint8Array | undefined {
  if (hex.length % 2 !== 0 || !/^[0-9a-f]*$/i.test(hex)) return undefined;
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function checksum(owner: Principal, sub: Uint8Array): string {
  const data = new Uint8Array(owner.toUint8Array().length + 32);
  data.set(owner.toUint8Array());
  data.set(sub, owner.toUint8Array().length);
  const c = crc32(data);
  return base32(new Uint8Array([(c >>> 24) & 255, (c >>> 16) & 255, (c >>> 8) & 255, c & 255]));
}

/** The ICRC-1 textual encoding of an account (the owner alone for the default subaccount). */
export function accountText(account: AccountValue): string {
  const sub = account.subaccount;
  if (!sub || sub.every((b) => b === 0)) return account.owner.toText();
  const hex = toHex(sub).replace(/^0+/, '');
  return `${account.owner.toText()}-${checksum(account.owner, sub)}.${hex}`;
}

/** Parses the ICRC-1 textual encoding of an account. */
export function parseAccount(text: string): Parsed<AccountValue> {
  const t = text.trim();
  const dot = t.lastIndexOf('.');
  if (dot < 0) {
    const p = parsePrincipal(t);
    return p.ok ? ok({ owner: p.value }) : fail(p.error);
  }
  const head = t.slice(0, dot);
  const subHex = t.slice(dot + 1);
  if (subHex === '' || subHex.length > 64 || !/^[0-9a-f]+$/.test(subHex) || subHex.startsWith('0')) {
    return fail('The subaccount after "." must be 1–64 lowercase hex digits without leading zeros.');
  }
  const dash = head.lastIndexOf('-');
  if (dash < 0) return fail('An account with a subaccount is written owner-checksum.subaccount.');
  const owner = parsePrincipal(head.slice(0, dash));
  if (!owner.ok) return fail(owner.error);
  const sub = fromHex(subHex.padStart(64, '0'));
  if (!sub) return fail('The subaccount is not hex.');
  if (checksum(owner.value, sub) !== head.slice(dash + 1)) return fail('The account checksum is wrong: check the text for typos.');
  return ok({ owner: owner.value, subaccount: sub });
}

// ---------------------------------------------------------------- splits

export interface Split {
  host_bps: number;
  model_owners_bps: number;
  data_owners_bps: number;
  treasury_bps: number;
}

export const SPLIT_PARTS: Array<[keyof Split, string]> = [
  ['host_bps', 'Host'],
  ['model_owners_bps', 'Model owners'],
  ['data_owners_bps', 'Data owners'],
  ['treasury_bps', 'Treasury'],
];

/** Parses four basis-point texts; they must be whole numbers summing to 10,000. */
export function parseSplit(texts: Record<keyof Split, string>): Parsed<Split> {
  const split: Partial<Split> = {};
  for (const [key, label] of SPLIT_PARTS) {
    const t = texts[key].trim();
    if (!/^\d+$/.test(t)) return fail(`${label}: enter whole basis points (0–10,000).`);
    const n = parseInt(t, 10);
    if (n > 10_000) return fail(`${label}: at most 10,000 basis points.`);
    split[key] = n;
  }
  const full = split as Split;
  const total = full.host_bps + full.model_owners_bps + full.data_owners_bps + full.treasury_bps;
  if (total !== 10_000) {
    return fail(`The parts sum to ${total.toLocaleString('en-US')} basis points; they must sum to exactly 10,000 (100%).`);
  }
  return ok(full);
}

export const bpsPercent = (bps: number | bigint): string => {
  const n = BigInt(bps);
  const whole = n / 100n;
  const frac = n % 100n;
  return `${whole.toString()}${frac ? `.${frac.toString().padStart(2, '0').replace(/0$/, '')}` : ''}%`;
};

/** Parses a non-negative integer (ids, seconds, counts); refuses anything else. */
export function parseNat(text: string, label: string, max?: bigint): Parsed<bigint> {
  const t = text.trim().replace(/_/g, '');
  if (!/^\d+$/.test(t)) return fail(`${label}: enter a whole number.`);
  const v = BigInt(t);
  if (max !== undefined && v > max) return fail(`${label}: at most ${max.toString()}.`);
  return ok(v);
}

export const shortPrincipal = (p: Principal | string): string => {
  const t = typeof p === 'string' ? p : p.toText();
  return t.length > 20 ? `${t.slice(0, 11)}…${t.slice(-5)}` : t;
};
