// Governance helpers: topics, statuses, the rendered action read back into fields, the voting-power
// preview by the parameters' rule.
import { Topic, type Neuron, type Parameters_, type ProposalStatus } from '../bindings/governance/governance';

export const PROPOSAL_TOPICS: Topic[] = [
  Topic.Motion,
  Topic.NodeAdmission,
  Topic.NodeRemoval,
  Topic.RoyaltySplit,
  Topic.NetworkFees,
  Topic.Treasury,
  Topic.GovernanceParameters,
  Topic.CanisterUpgrades,
  Topic.GenericFunctions,
  Topic.ModelModeration,
  Topic.ServiceSettings,
];
export const FOLLOW_TOPICS: Topic[] = [Topic.CatchAll, ...PROPOSAL_TOPICS];

export const statusName = (s: ProposalStatus): string => s.__kind__;

export function statusText(s: ProposalStatus): string {
  return s.__kind__ === 'Failed' ? `Failed: ${s.Failed.reason}` : s.__kind__;
}

export function topicOf(name: string): Topic | undefined {
  return (Object.values(Topic) as string[]).includes(name) ? (name as Topic) : undefined;
}

/** A string as Rust's `Debug` writes it, without its quotes: `\"`, `\\`, `\n`, `\t`, `\r`, `\0`, `\'`, `\u{…}`. */
export function unescapeDebug(quoted: string): string {
  const inner = quoted.length >= 2 && quoted.startsWith('"') && quoted.endsWith('"') ? quoted.slice(1, -1) : quoted;
  return inner.replace(/\\(u\{([0-9a-fA-F]{1,6})\}|.)/gs, (_, esc: string, hex?: string) => {
    if (hex !== undefined) {
      const cp = Number.parseInt(hex, 16);
      return cp <= 0x10ffff ? String.fromCodePoint(cp) : esc;
    }
    return ({ n: '\n', t: '\t', r: '\r', '0': '\0' } as Record<string, string>)[esc] ?? esc;
  });
}

/**
 * The canister gives an action only as text (Rust's Debug form, e.g.
 * `SetRoyaltySplit { split: SplitConfig { host_bps: 2500, … } }`): the kind and its `name: value` fields,
 * a quoted string's value unescaped (a Motion's text, a moderation's reason).
 */
export function parseRenderedAction(text: string): { kind: string; fields: Record<string, string> } {
  const kind = /^\s*(\w+)/.exec(text)?.[1] ?? '';
  const fields: Record<string, string> = {};
  if (kind === 'Motion') {
    const m = /text: ("(?:[^"\\]|\\.)*")/s.exec(text);
    if (m?.[1] !== undefined) fields.text = unescapeDebug(m[1]);
    return { kind, fields };
  }
  const re = /(\w+): ("(?:[^"\\]|\\.)*"|[^,{}\s][^,{}]*?)(?=\s*[,}])/gs;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const [, key, value] = m;
    if (key && value !== undefined && !(key in fields)) fields[key] = value.startsWith('"') ? unescapeDebug(value) : value.trim();
  }
  return { kind, fields };
}

const NS = 1_000_000_000n;

export function dissolveDelaySeconds(n: Neuron, nowNs: bigint): bigint {
  if (n.dissolve.__kind__ === 'NotDissolving') return n.dissolve.NotDissolving.dissolve_delay_seconds;
  const left = n.dissolve.Dissolving.dissolved_at - nowNs;
  return left > 0n ? left / NS : 0n;
}

export function ageSeconds(n: Neuron, nowNs: bigint): bigint {
  if (n.dissolve.__kind__ === 'Dissolving') return 0n;
  return nowNs > n.aging_since ? (nowNs - n.aging_since) / NS : 0n;
}

const min = (a: bigint, b: bigint) => (a < b ? a : b);

/**
 * Voting power by the documented rule: (stake − fees) × (1 + delay bonus) × (1 + age bonus), each bonus
 * linear up to its cap; none below the minimum dissolve delay. A preview: the canister's
 * `voting_power` is what counts.
 */
export function previewVotingPower(stake: bigint, fees: bigint, delaySeconds: bigint, ageSecs: bigint, p: Parameters_): bigint | null {
  if (delaySeconds < p.min_dissolve_delay_seconds) return null;
  const free = stake > fees ? stake - fees : 0n;
  const delayBonus =
    p.max_dissolve_delay_seconds === 0n
      ? 0n
      : (BigInt(p.max_dissolve_delay_bonus_bps) * min(delaySeconds, p.max_dissolve_delay_seconds)) / p.max_dissolve_delay_seconds;
  const ageBonus =
    p.max_age_for_bonus_seconds === 0n ? 0n : (BigInt(p.max_age_bonus_bps) * min(ageSecs, p.max_age_for_bonus_seconds)) / p.max_age_for_bonus_seconds;
  return (free * (10_000n + delayBonus) * (10_000n + ageBonus)) / 100_000_000n;
}

export const nowNs = (): bigint => BigInt(Date.now()) * 1_000_000n;

export function followeesOn(n: Neuron, topic: Topic): BigUint64Array | undefined {
  return n.followees.find(([t]) => t === topic)?.[1];
}
