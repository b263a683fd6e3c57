import { describe, expect, it } from 'vitest';
import { Principal } from '@icp-sdk/core/principal';
import {
  accountText,
  bpsPercent,
  countdown,
  crc32,
  formatAmount,
  formatDuration,
  parseAccount,
  parseAmount,
  parseNat,
  parsePrincipal,
  parseSplit,
} from '../src/lib/format';
import { parseConfig } from '../src/lib/config';

describe('amounts', () => {
  it('parses decimals into the smallest unit', () => {
    expect(parseAmount('1.5', 8)).toEqual({ ok: true, value: 150_000_000n });
    expect(parseAmount('1000', 8)).toEqual({ ok: true, value: 100_000_000_000n });
    expect(parseAmount('0.00000001', 8)).toEqual({ ok: true, value: 1n });
    expect(parseAmount(' 2. ', 8)).toEqual({ ok: true, value: 200_000_000n });
    expect(parseAmount('.5', 2)).toEqual({ ok: true, value: 50n });
    expect(parseAmount('12345678901234567890.12345678', 8)).toEqual({ ok: true, value: 1234567890123456789012345678n });
    expect(parseAmount('7', 0)).toEqual({ ok: true, value: 7n });
  });
  it('refuses too many decimals, negatives, garbage, zero and more than the maximum', () => {
    const err = (r: ReturnType<typeof parseAmount>) => (r.ok ? 'ok' : r.error);
    expect(err(parseAmount('1.123456789', 8))).toMatch(/At most 8 decimal places/);
    expect(err(parseAmount('1.5', 0))).toMatch(/whole number/);
    expect(err(parseAmount('-1', 8))).toMatch(/negative/);
    expect(err(parseAmount('abc', 8))).toMatch(/not a number/);
    expect(err(parseAmount('1e5', 8))).toMatch(/not a number/);
    expect(err(parseAmount('1.2.3', 8))).toMatch(/not a number/);
    expect(err(parseAmount('.', 8))).toMatch(/not a number/);
    expect(err(parseAmount('', 8))).toMatch(/Enter an amount/);
    expect(err(parseAmount('0', 8))).toMatch(/more than 0/);
    expect(parseAmount('0', 8, { allowZero: true })).toEqual({ ok: true, value: 0n });
    expect(err(parseAmount('10.00000001', 8, { max: 1_000_000_000n, symbol: 'NNG', maxLabel: 'your balance' }))).toBe(
      'That is more than your balance (10 NNG).',
    );
    expect(parseAmount('10', 8, { max: 1_000_000_000n })).toEqual({ ok: true, value: 1_000_000_000n });
  });
  it('formats bigint amounts without floats', () => {
    expect(formatAmount(150_000_000n, 8)).toBe('1.5');
    expect(formatAmount(0n, 8)).toBe('0');
    expect(formatAmount(1n, 8)).toBe('0.00000001');
    expect(formatAmount(100_000_000_000n, 8)).toBe('1000');
    expect(formatAmount(100_000_000_000n, 8, { group: true })).toBe('1,000');
    expect(formatAmount(123_456_789_012_345_678_901n, 8, { group: true })).toBe('1,234,567,890,123.45678901');
    expect(formatAmount(-5n, 1)).toBe('-0.5');
    expect(formatAmount(42n, 0)).toBe('42');
    for (const text of ['1.5', '0.00000001', '123456789.87654321']) {
      const p = parseAmount(text, 8);
      expect(p.ok && formatAmount(p.value, 8)).toBe(text);
    }
  });
});

describe('durations', () => {
  it('shows the two most significant units', () => {
    expect(formatDuration(2n * 365n * 86_400n + 3n * 86_400n)).toBe('2 years, 3 days');
    expect(formatDuration(86_400n + 3_600n * 5n + 7n)).toBe('1 day, 5 hours');
    expect(formatDuration(0n)).toBe('0 seconds');
    expect(formatDuration(1)).toBe('1 second');
    expect(formatDuration(61)).toBe('1 minute, 1 second');
    expect(formatDuration(126_144_000n)).toBe('4 years');
    expect(formatDuration(2_592_000n)).toBe('30 days');
    expect(formatDuration(365n * 86_400n + 60n)).toBe('1 year');
    expect(formatDuration(15_778_800n, 3)).toBe('182 days, 15 hours');
  });
  it('counts down to a deadline in nanoseconds', () => {
    const now = 1_700_000_000_000;
    const ns = BigInt(now) * 1_000_000n;
    expect(countdown(ns + 90_000_000_000n, now)).toBe('1 minute, 30 seconds left');
    expect(countdown(ns - 3_600_000_000_000n, now)).toBe('ended 1 hour ago');
  });
});

describe('principals and accounts', () => {
  it('accepts valid principals and refuses malformed ones', () => {
    const good = 'rrkah-fqaaa-aaaaa-aaaaq-cai';
    const p = parsePrincipal(good);
    expect(p.ok && p.value.toText()).toBe(good);
    expect(parsePrincipal('aaaaa-aa').ok).toBe(true);
    expect(parsePrincipal('2vxsx-fae').ok).toBe(true);
    const err = (t: string) => {
      const r = parsePrincipal(t);
      return r.ok ? 'ok' : r.error;
    };
    expect(err('rrkah-fqaaa-aaaaa-aaaaq-caj')).toMatch(/checksum/);
    expect(err('not a principal')).toMatch(/not a principal/);
    expect(err('RRKAH-FQAAA-AAAAA-AAAAQ-CAI')).toMatch(/lowercase/);
    expect(err('')).toMatch(/Enter a principal/);
    expect(err('abcdef-aa')).toMatch(/not a principal/);
  });
  it('writes and reads ICRC-1 textual accounts', () => {
    const owner = Principal.fromText('k2t6j-2nvnp-4zjm3-25dtz-6xhaa-c7boj-5gayf-oj3xs-i43lp-teztq-6ae');
    expect(accountText({ owner })).toBe(owner.toText());
    expect(accountText({ owner, subaccount: new Uint8Array(32) })).toBe(owner.toText());
    const sub = new Uint8Array(32).map((_, i) => i + 1);
    // The ICRC-1 standard's own example.
    const text =
      'k2t6j-2nvnp-4zjm3-25dtz-6xhaa-c7boj-5gayf-oj3xs-i43lp-teztq-6ae-dfxgiyy.102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20';
    expect(accountText({ owner, subaccount: sub })).toBe(text);
    const back = parseAccount(text);
    expect(back.ok && back.value.subaccount).toEqual(sub);
    const one = new Uint8Array(32);
    one[31] = 1;
    expect(accountText({ owner, subaccount: one })).toBe(`${owner.toText()}-6cc627i.1`);
    expect(parseAccount(`${owner.toText()}-6cc627i.1`).ok).toBe(true);
    const err = (t: string) => {
      const r = parseAccount(t);
      return r.ok ? 'ok' : r.error;
    };
    expect(err(`${owner.toText()}-aaaaaaa.1`)).toMatch(/checksum/);
    expect(err(`${owner.toText()}-6cc627i.01`)).toMatch(/leading zeros/);
    expect(err(`${owner.toText()}.1`)).toMatch(/checksum/);
    expect(parseAccount(owner.toText()).ok).toBe(true);
  });
  it('computes CRC-32 as ICRC-1 does', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });
});

describe('splits', () => {
  const texts = (h: string, m: string, d: string, t: string) => ({ host_bps: h, model_owners_bps: m, data_owners_bps: d, treasury_bps: t });
  it('accepts four parts summing to 10,000 basis points', () => {
    expect(parseSplit(texts('2500', '5000', '1500', '1000'))).toEqual({
      ok: true,
      value: { host_bps: 2500, model_owners_bps: 5000, data_owners_bps: 1500, treasury_bps: 1000 },
    });
    expect(parseSplit(texts('10000', '0', '0', '0')).ok).toBe(true);
  });
  it('refuses other sums and non-integers, with the reason', () => {
    const err = (r: ReturnType<typeof parseSplit>) => (r.ok ? 'ok' : r.error);
    expect(err(parseSplit(texts('2500', '5000', '1500', '999')))).toBe(
      'The parts sum to 9,999 basis points; they must sum to exactly 10,000 (100%).',
    );
    expect(err(parseSplit(texts('5000', '5000', '1', '0')))).toMatch(/10,001/);
    expect(err(parseSplit(texts('25.5', '5000', '1500', '1000')))).toMatch(/Host: enter whole basis points/);
    expect(err(parseSplit(texts('-1', '5000', '1500', '1000')))).toMatch(/Host/);
    expect(err(parseSplit(texts('0', '10001', '0', '0')))).toMatch(/Model owners: at most 10,000/);
  });
  it('shows basis points as percent', () => {
    expect(bpsPercent(2500)).toBe('25%');
    expect(bpsPercent(1234)).toBe('12.34%');
    expect(bpsPercent(1210)).toBe('12.1%');
  });
});

describe('whole numbers and the config', () => {
  it('parses naturals', () => {
    expect(parseNat('12', 'Node')).toEqual({ ok: true, value: 12n });
    expect(parseNat('1.2', 'Node').ok).toBe(false);
    expect(parseNat('70000', 'Port', 65535n).ok).toBe(false);
  });
  it('reads /config.json and refuses a malformed one', () => {
    const c = { payment_ledger: 'a', governance_ledger: 'b', royalties: 'c', inference_proxy: 'd', governance: 'e' };
    expect(parseConfig({ network: 'local', canisters: c }).canisters.royalties).toBe('c');
    expect(() => parseConfig({ network: 'mars', canisters: c })).toThrow(/network/);
    expect(() => parseConfig({ network: 'ic', canisters: { ...c, governance: undefined } })).toThrow(/governance/);
  });
});

import { parseRenderedAction, previewVotingPower } from '../src/lib/governance';
import type { Parameters_ } from '../src/bindings/governance/governance';

describe('governance helpers', () => {
  it("reads the canister's rendered action back into fields", () => {
    const split = parseRenderedAction(
      'SetRoyaltySplit { split: SplitConfig { treasury_bps: 1000, host_bps: 2500, data_owners_bps: 1500, model_owners_bps: 5000 } }',
    );
    expect(split).toEqual({
      kind: 'SetRoyaltySplit',
      fields: { treasury_bps: '1000', host_bps: '2500', data_owners_bps: '1500', model_owners_bps: '5000' },
    });
    expect(parseRenderedAction('TransferTreasury { to: rrkah-fqaaa-aaaaa-aaaaq-cai, amount: 50000 }').fields).toEqual({
      to: 'rrkah-fqaaa-aaaaa-aaaaq-cai',
      amount: '50000',
    });
    expect(parseRenderedAction('AdmitNode { node: 3 }')).toEqual({ kind: 'AdmitNode', fields: { node: '3' } });
    expect(parseRenderedAction('Motion { text: "We adopt, the \\"charter\\" { }" }').fields.text).toBe('We adopt, the "charter" { }');
    const up = parseRenderedAction('UpgradeCanister { target: Royalties, wasm: 123 bytes in 1 chunk(s), sha256 ab12, arg: 4 bytes, sha256 cd, arg as Candid: () }');
    expect(up.fields.target).toBe('Royalties');
    expect(up.fields.wasm).toBe('123 bytes in 1 chunk(s)');
  });
  it('previews voting power by the parameters’ bonus rule', () => {
    const p = {
      min_dissolve_delay_seconds: 2_592_000n,
      max_dissolve_delay_seconds: 126_144_000n,
      max_dissolve_delay_bonus_bps: 10_000,
      max_age_for_bonus_seconds: 126_144_000n,
      max_age_bonus_bps: 2_500,
    } as Parameters_;
    expect(previewVotingPower(100n, 0n, 126_144_000n, 0n, p)).toBe(200n);
    expect(previewVotingPower(100n, 0n, 126_144_000n, 126_144_000n, p)).toBe(250n);
    expect(previewVotingPower(1_000n, 0n, 63_072_000n, 0n, p)).toBe(1_500n);
    expect(previewVotingPower(100n, 10n, 126_144_000n, 0n, p)).toBe(180n);
    expect(previewVotingPower(100n, 0n, 86_400n, 0n, p)).toBeNull();
  });
});
