import { describe, expect, it } from 'vitest';
import { parseRenderedAction, unescapeDebug } from '../src/lib/governance';
import {
  checkModerationReason,
  emptyLimits,
  limitsText,
  MAX_MODERATION_REASON_BYTES,
  parsePayoutSettings,
  parseProxyLimits,
  utf8Bytes,
} from '../src/lib/settings';

const err = (r: { ok: true } | { ok: false; error: string }) => (r.ok ? 'ok' : r.error);

describe('rendered actions (Rust Debug) read back', () => {
  it('a moderation: the model, the action and the reason unescaped', () => {
    const a = parseRenderedAction('ModerateModel { model: 2, action: Suspend, reason: "spam, \\"fake\\" outputs: see {report}\\nline 2 \\u{202e}" }');
    expect(a.kind).toBe('ModerateModel');
    expect(a.fields).toEqual({ model: '2', action: 'Suspend', reason: 'spam, "fake" outputs: see {report}\nline 2 \u202e' });
  });
  it('a reason that looks like fields does not override the real ones', () => {
    const a = parseRenderedAction('ModerateModel { model: 7, action: Delist, reason: "model: 9, action: Reinstate }" }');
    expect(a.fields).toEqual({ model: '7', action: 'Delist', reason: 'model: 9, action: Reinstate }' });
  });
  it('payout settings and proxy limits: each nested field', () => {
    expect(parseRenderedAction('SetPayoutSettings { settings: PayoutSettings { auto_payout_fee_multiple: 10, payout_interval_seconds: 3600 } }')).toEqual({
      kind: 'SetPayoutSettings',
      fields: { auto_payout_fee_multiple: '10', payout_interval_seconds: '3600' },
    });
    const l = parseRenderedAction(
      'SetProxyLimits { limits: ProxyLimits { max_prompt_bytes: 50000, max_output_tokens: 512, calls_per_user_per_minute: 60, max_nodes_per_call: 3, failures_before_suspension: 3, flush_interval_seconds: 60, max_receipts_per_batch: 500 } }',
    );
    expect(l.kind).toBe('SetProxyLimits');
    expect(l.fields).toEqual({
      max_prompt_bytes: '50000',
      max_output_tokens: '512',
      calls_per_user_per_minute: '60',
      max_nodes_per_call: '3',
      failures_before_suspension: '3',
      flush_interval_seconds: '60',
      max_receipts_per_batch: '500',
    });
  });
  it('a motion keeps its newlines and quotes', () => {
    expect(parseRenderedAction('Motion { text: "a \\"b\\"\\n\\\\c" }').fields.text).toBe('a "b"\n\\c');
    expect(unescapeDebug('"tab\\there\\0"')).toBe('tab\there\0');
  });
});

describe('service settings from a form', () => {
  it('payout settings within their bounds, as bigint', () => {
    expect(parsePayoutSettings({ auto_payout_fee_multiple: '1', payout_interval_seconds: '10' })).toEqual({ ok: true, value: { auto_payout_fee_multiple: 1n, payout_interval_seconds: 10n } });
    expect(parsePayoutSettings({ auto_payout_fee_multiple: '1_000_000', payout_interval_seconds: '604800' })).toEqual({ ok: true, value: { auto_payout_fee_multiple: 1_000_000n, payout_interval_seconds: 604_800n } });
  });
  it('payout settings out of bounds or not whole numbers are refused with the bounds', () => {
    expect(err(parsePayoutSettings({ auto_payout_fee_multiple: '0', payout_interval_seconds: '60' }))).toMatch(/threshold.*must be 1–1,000,000.*0 is out of bounds\.$/);
    expect(err(parsePayoutSettings({ auto_payout_fee_multiple: '1000001', payout_interval_seconds: '60' }))).toMatch(/1,000,001 is out of bounds/);
    expect(err(parsePayoutSettings({ auto_payout_fee_multiple: '5', payout_interval_seconds: '9' }))).toMatch(/^Payout interval \(s\): must be 10–604,800 \(10 seconds to 7 days\); 9 is out of bounds\.$/);
    expect(err(parsePayoutSettings({ auto_payout_fee_multiple: '5', payout_interval_seconds: '604801' }))).toMatch(/604,801 is out of bounds/);
    expect(err(parsePayoutSettings({ auto_payout_fee_multiple: '1.5', payout_interval_seconds: '60' }))).toMatch(/enter a whole number/);
    // Never through a float: a value past 2^53 is refused exactly, not rounded into range.
    expect(err(parsePayoutSettings({ auto_payout_fee_multiple: '9007199254740993', payout_interval_seconds: '60' }))).toMatch(/9,007,199,254,740,993 is out of bounds/);
  });
  it('proxy limits: u64 as bigint, u32 as a number only once it fits', () => {
    const text = { ...emptyLimits(), max_prompt_bytes: '50000', max_output_tokens: '512', calls_per_user_per_minute: '60', max_nodes_per_call: '3', failures_before_suspension: '3', flush_interval_seconds: '60', max_receipts_per_batch: '500' };
    const r = parseProxyLimits(text);
    expect(r).toEqual({ ok: true, value: { max_prompt_bytes: 50_000n, max_output_tokens: 512, calls_per_user_per_minute: 60, max_nodes_per_call: 3, failures_before_suspension: 3, flush_interval_seconds: 60n, max_receipts_per_batch: 500 } });
    if (r.ok) expect(limitsText(r.value)).toEqual(text);
    expect(err(parseProxyLimits({ ...text, max_nodes_per_call: '4294967296' }))).toMatch(/^Nodes tried per call \(failover\): at most 4294967295\.$/);
    expect(err(parseProxyLimits({ ...text, flush_interval_seconds: '' }))).toMatch(/Flush interval \(s\): enter a whole number/);
  });
  it("a moderation's reason: something, in at most 2,000 UTF-8 bytes", () => {
    expect(err(checkModerationReason('   '))).toMatch(/Give the reason/);
    expect(checkModerationReason('x'.repeat(MAX_MODERATION_REASON_BYTES))).toEqual({ ok: true, value: 'x'.repeat(2_000) });
    // The limit counts bytes, not characters: 1,000 two-byte characters fit, one more byte does not.
    expect(utf8Bytes('é'.repeat(1_000))).toBe(2_000);
    expect(checkModerationReason('é'.repeat(1_000)).ok).toBe(true);
    expect(err(checkModerationReason(`${'é'.repeat(1_000)}!`))).toBe('The reason has 2,001 bytes (UTF-8); at most 2,000: shorten it.');
  });
});
