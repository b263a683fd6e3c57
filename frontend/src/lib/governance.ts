// Governance helpers: topics, statuses, the rendered action read back into fields, the voting-power
// preview by the parameters' rule, who may do what with a neuron, and a split's and a merge's bounds.
import type { Principal } from '@icp-sdk/core/principal';
import { NeuronPermission, Topic, type Neuron, type NeuronGrant, type Parameters_, type ProposalStatus } from '../bindings/governance/governance';

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

// ---------------------------------------------------------------- who may act

export const PERMISSIONS: NeuronPermission[] = [NeuronPermission.Vote, NeuronPermission.SubmitProposal, NeuronPermission.ManageFollowees];

export const PERMISSION_LABELS: Record<NeuronPermission, string> = {
  [NeuronPermission.Vote]: 'vote',
  [NeuronPermission.SubmitProposal]: 'submit proposals',
  [NeuronPermission.ManageFollowees]: 'manage followees',
};

const ANONYMOUS = '2vxsx-fae';
const same = (a: Principal, b: Principal) => a.toText() === b.toText();

/** The neuron's grants (`None` on a neuron stored before permissions existed: none). */
export const grantsOf = (n: Neuron): NeuronGrant[] => n.grants ?? [];

export type NeuronRole = 'controller' | 'hot key' | 'grantee';

/** How `principal` appears in the neuron, if at all. */
export function roleOf(n: Neuron, principal: Principal | null | undefined): NeuronRole | null {
  if (!principal || principal.toText() === ANONYMOUS) return null;
  if (same(n.controller, principal)) return 'controller';
  if (n.hot_keys.some((k) => same(k, principal))) return 'hot key';
  if (grantsOf(n).some((g) => same(g.principal, principal) && g.permissions.length > 0)) return 'grantee';
  return null;
}

/**
 * Whether `principal` may do what needs `permission` with the neuron, as governance decides it: the
 * controller may do everything; a hot key, or a grantee holding the permission, may vote, propose or
 * manage followees. `null`: what only the controller may do (moving stake, the delay, hot keys, grants).
 */
export function mayAct(n: Neuron, principal: Principal | null | undefined, permission: NeuronPermission | null): boolean {
  const role = roleOf(n, principal);
  if (role === 'controller') return true;
  if (permission === null || role === null) return false;
  if (role === 'hot key') return true;
  return grantsOf(n).some((g) => same(g.principal, principal!) && g.permissions.includes(permission));
}

/** What `principal` may do with the neuron, in PERMISSIONS order. */
export const permissionsOf = (n: Neuron, principal: Principal | null | undefined): NeuronPermission[] =>
  PERMISSIONS.filter((p) => mayAct(n, principal, p));

/** Why `principal` cannot be given permissions on the neuron (governance refuses the same), or null. */
export function granteeProblem(n: Neuron, principal: Principal): string | null {
  const text = principal.toText();
  if (text === ANONYMOUS) return `${text} is the anonymous principal: anyone can call as it, so it cannot be given permissions.`;
  if (same(principal, n.controller)) return `${text} controls this neuron: the controller may already do everything.`;
  if (n.hot_keys.some((k) => same(k, principal))) return `${text} is a hot key of this neuron and already has every permission: remove the hot key first.`;
  return null;
}

// ---------------------------------------------------------------- split and merge

/** The neuron's free stake: its stake less the reject costs charged and not refunded. */
export const freeStake = (n: Neuron): bigint => (n.stake > n.fees ? n.stake - n.fees : 0n);

/**
 * The most a split may move out of the neuron: the parent pays the ledger `fee` and keeps at least
 * `minStake` free. Below `minStake` (the least the new neuron may get), the neuron cannot be split.
 */
export const maxSplit = (n: Neuron, minStake: bigint, fee: bigint): bigint => freeStake(n) - fee - minStake;

/** Why `amount` cannot be split off the neuron (governance refuses the same), or null. */
export function splitProblem(n: Neuron, amount: bigint, minStake: bigint, fee: bigint, fmt: (v: bigint) => string): string | null {
  const max = maxSplit(n, minStake, fee);
  if (max < minStake) {
    return `Neuron #${n.id.toString()} cannot be split: its free stake (${fmt(freeStake(n))}) must cover the new neuron's minimum of ${fmt(minStake)}, the ledger fee of ${fmt(fee)} and the ${fmt(minStake)} it keeps itself.`;
  }
  if (amount < minStake) return `The new neuron needs at least the minimum stake of ${fmt(minStake)}: split off more.`;
  if (amount > max) {
    return `That leaves neuron #${n.id.toString()} less than the minimum stake of ${fmt(minStake)} free after the ledger fee of ${fmt(fee)}: split off at most ${fmt(max)}.`;
  }
  return null;
}

/** Why `source` cannot be merged into `target` (as far as the browser can tell), or null. */
export function mergeProblem(source: Neuron, target: Neuron, fee: bigint, fmt: (v: bigint) => string): string | null {
  if (source.id === target.id) return 'A neuron cannot be merged into itself: choose another one.';
  for (const n of [source, target]) {
    if (n.dissolve.__kind__ === 'Dissolving') return `Neuron #${n.id.toString()} is dissolving: stop dissolving it first, then merge.`;
  }
  if (freeStake(source) <= fee) return `Neuron #${source.id.toString()}'s free stake (${fmt(freeStake(source))}) does not exceed the ledger fee of ${fmt(fee)}: nothing would arrive.`;
  return null;
}
