// The service settings the DAO sets by typed proposals — the proxy's limits, royalties' payout
// settings — and a moderation's reason: the fields, read from text into the canisters' types.
// Whole numbers are bigint throughout; a u32 becomes a number only once it is known to fit.
import type { ModerationAction, PayoutSettings, ProxyLimits } from '../bindings/governance/governance';
import { ModelStatus } from '../bindings/royalties/royalties';
import { parseNat, type Parsed } from './format';

const U32_MAX = 4_294_967_295n;
const U64_MAX = 18_446_744_073_709_551_615n;

/** The proxy's limits, in the order a form shows them: field, label, Candid size. */
export const LIMIT_FIELDS: ReadonlyArray<readonly [keyof ProxyLimits, string, 'u32' | 'u64']> = [
  ['max_prompt_bytes', 'Max prompt bytes', 'u64'],
  ['max_output_tokens', 'Max output tokens', 'u32'],
  ['calls_per_user_per_minute', 'Calls per user per minute', 'u32'],
  ['max_nodes_per_call', 'Nodes tried per call (failover)', 'u32'],
  ['failures_before_suspension', 'Failures before a node is suspended', 'u32'],
  ['flush_interval_seconds', 'Flush interval (s)', 'u64'],
  ['max_receipts_per_batch', 'Receipts per batch', 'u32'],
];

export type LimitsInput = Record<keyof ProxyLimits, string>;

export const emptyLimits = (): LimitsInput => ({
  max_prompt_bytes: '',
  max_output_tokens: '',
  calls_per_user_per_minute: '',
  max_nodes_per_call: '',
  failures_before_suspension: '',
  flush_interval_seconds: '',
  max_receipts_per_batch: '',
});

/** The limits as text (a form's prefill). */
export function limitsText(l: ProxyLimits): LimitsInput {
  const out = emptyLimits();
  for (const [key] of LIMIT_FIELDS) out[key] = String(l[key]);
  return out;
}

/**
 * The form's limits as the proxy's type: whole numbers that fit their Candid size. Their bounds are
 * the proxy's own (`ProxyLimits::validate`), checked by governance when the proposal is made (or, for
 * a generic call, by the proxy's validator), so they cannot drift from what the canisters apply.
 */
export function parseProxyLimits(input: LimitsInput): Parsed<ProxyLimits> {
  const out: Record<string, bigint | number> = {};
  for (const [key, label, size] of LIMIT_FIELDS) {
    const v = parseNat(input[key], label, size === 'u32' ? U32_MAX : U64_MAX);
    if (!v.ok) return v;
    out[key] = size === 'u32' ? Number(v.value) : v.value;
  }
  return { ok: true, value: out as unknown as ProxyLimits };
}

/** Royalties' payout settings with their bounds (`PayoutSettings::validate`). */
export const PAYOUT_FIELDS: ReadonlyArray<readonly [keyof PayoutSettings, string, bigint, bigint, string]> = [
  ['auto_payout_fee_multiple', 'Automatic payout threshold (multiple of the ledger fee)', 1n, 1_000_000n, 'below 1 a payout would cost more in fees than it pays'],
  ['payout_interval_seconds', 'Payout interval (s)', 10n, 604_800n, '10 seconds to 7 days'],
];

export type PayoutInput = Record<keyof PayoutSettings, string>;

export function parsePayoutSettings(input: PayoutInput): Parsed<PayoutSettings> {
  const out: Partial<PayoutSettings> = {};
  for (const [key, label, min, max, why] of PAYOUT_FIELDS) {
    const v = parseNat(input[key], label);
    if (!v.ok) return v;
    if (v.value < min || v.value > max) {
      return { ok: false, error: `${label}: must be ${min.toLocaleString('en-US')}–${max.toLocaleString('en-US')} (${why}); ${v.value.toLocaleString('en-US')} is out of bounds.` };
    }
    out[key] = v.value;
  }
  return { ok: true, value: out as PayoutSettings };
}

/** The most bytes (UTF-8) of a moderation's reason (`MAX_MODERATION_REASON_BYTES`). */
export const MAX_MODERATION_REASON_BYTES = 2_000;

export const utf8Bytes = (s: string): number => new TextEncoder().encode(s).length;

/** A moderation's reason must say something, in at most 2,000 bytes (what royalties keeps). */
export function checkModerationReason(reason: string): Parsed<string> {
  if (reason.trim() === '') return { ok: false, error: 'Give the reason for the moderation: voters read it, and royalties keeps it with the model and in its log.' };
  const bytes = utf8Bytes(reason);
  if (bytes > MAX_MODERATION_REASON_BYTES) {
    return { ok: false, error: `The reason has ${bytes.toLocaleString('en-US')} bytes (UTF-8); at most ${MAX_MODERATION_REASON_BYTES.toLocaleString('en-US')}: shorten it.` };
  }
  return { ok: true, value: reason };
}

export interface ModerationInput {
  model: string;
  action: ModerationAction;
  reason: string;
}

/** A status only the DAO sets and lifts (`ModelStatus::is_moderated`). */
export const isModerated = (s: ModelStatus): boolean => s === ModelStatus.Suspended || s === ModelStatus.Delisted;
