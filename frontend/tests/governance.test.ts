import { describe, expect, it } from 'vitest';
import { Principal } from '@icp-sdk/core/principal';
import { NeuronPermission, type Neuron } from '../src/bindings/governance/governance';
import { formatAmount } from '../src/lib/format';
import { granteeProblem, grantsOf, maxSplit, mayAct, mergeProblem, permissionsOf, roleOf, splitProblem } from '../src/lib/governance';

const controller = Principal.fromText('aaaaa-aa');
const hotKey = Principal.fromText('rrkah-fqaaa-aaaaa-aaaaq-cai');
const voter = Principal.fromText('ryjl3-tyaaa-aaaaa-aaaba-cai');
const stranger = Principal.fromText('r7inp-6aaaa-aaaaa-aaabq-cai');
const anonymous = Principal.anonymous();
const E8S = 100_000_000n;

function neuron(over: Partial<Neuron> = {}): Neuron {
  return {
    id: 3n,
    controller,
    grants: [{ principal: voter, permissions: [NeuronPermission.Vote] }],
    fees: 0n,
    created_at: 0n,
    aging_since: 0n,
    stake: 1_000n * E8S,
    hot_keys: [hotKey],
    followees: [],
    dissolve: { __kind__: 'NotDissolving', NotDissolving: { dissolve_delay_seconds: 86_400n } },
    ...over,
  };
}

describe('who may act with a neuron', () => {
  const n = neuron();
  it('the controller may do everything, controller-only actions included', () => {
    expect(roleOf(n, controller)).toBe('controller');
    expect(mayAct(n, controller, null)).toBe(true);
    for (const p of Object.values(NeuronPermission)) expect(mayAct(n, controller, p)).toBe(true);
  });
  it('a hot key may vote, propose and manage followees, not what only the controller may', () => {
    expect(roleOf(n, hotKey)).toBe('hot key');
    expect(mayAct(n, hotKey, null)).toBe(false);
    expect(permissionsOf(n, hotKey)).toEqual([NeuronPermission.Vote, NeuronPermission.SubmitProposal, NeuronPermission.ManageFollowees]);
  });
  it('a grantee may do exactly what it was granted', () => {
    expect(roleOf(n, voter)).toBe('grantee');
    expect(mayAct(n, voter, NeuronPermission.Vote)).toBe(true);
    expect(mayAct(n, voter, NeuronPermission.SubmitProposal)).toBe(false);
    expect(mayAct(n, voter, NeuronPermission.ManageFollowees)).toBe(false);
    expect(mayAct(n, voter, null)).toBe(false);
    expect(permissionsOf(n, voter)).toEqual([NeuronPermission.Vote]);
  });
  it('anyone else, the anonymous principal and nobody signed in may do nothing', () => {
    for (const p of [stranger, anonymous, null, undefined]) {
      expect(roleOf(n, p)).toBeNull();
      expect(mayAct(n, p, null)).toBe(false);
      expect(permissionsOf(n, p)).toEqual([]);
    }
  });
  it('a neuron stored before permissions existed has no grants', () => {
    const old = neuron({ grants: undefined });
    expect(grantsOf(old)).toEqual([]);
    expect(mayAct(old, voter, NeuronPermission.Vote)).toBe(false);
    expect(mayAct(old, hotKey, NeuronPermission.Vote)).toBe(true);
  });
  it('compares principals by value, not by object', () => {
    expect(mayAct(n, Principal.fromText(voter.toText()), NeuronPermission.Vote)).toBe(true);
  });
  it('refuses to grant to the anonymous principal, the controller or a hot key', () => {
    expect(granteeProblem(n, anonymous)).toMatch(/anonymous principal/);
    expect(granteeProblem(n, controller)).toMatch(/controls this neuron/);
    expect(granteeProblem(n, hotKey)).toMatch(/hot key .* remove the hot key first/);
    expect(granteeProblem(n, stranger)).toBeNull();
    expect(granteeProblem(n, voter)).toBeNull();
  });
});

describe('split and merge bounds', () => {
  const fmt = (v: bigint) => `${formatAmount(v, 8)} NNG`;
  const min = 10n * E8S;
  const fee = 10_000n;
  it('a split leaves the parent the minimum free after the fee, and gives the child at least the minimum', () => {
    const n = neuron({ fees: 5n * E8S });
    // free 995 NNG − fee − 10 NNG kept
    expect(maxSplit(n, min, fee)).toBe(985n * E8S - fee);
    expect(splitProblem(n, min, min, fee, fmt)).toBeNull();
    expect(splitProblem(n, maxSplit(n, min, fee), min, fee, fmt)).toBeNull();
    expect(splitProblem(n, min - 1n, min, fee, fmt)).toMatch(/at least the minimum stake of 10 NNG/);
    expect(splitProblem(n, maxSplit(n, min, fee) + 1n, min, fee, fmt)).toMatch(/split off at most 984\.9999 NNG\.$/);
  });
  it('a neuron too small for two minimum stakes and the fee cannot be split', () => {
    const n = neuron({ stake: 2n * min + fee - 1n });
    expect(splitProblem(n, min, min, fee, fmt)).toMatch(/cannot be split/);
    expect(splitProblem(neuron({ stake: 2n * min + fee }), min, min, fee, fmt)).toBeNull();
  });
  it('a merge refuses the same neuron, a dissolving one and a source that cannot pay the fee', () => {
    const a = neuron();
    const b = neuron({ id: 4n });
    expect(mergeProblem(b, a, fee, fmt)).toBeNull();
    expect(mergeProblem(a, a, fee, fmt)).toMatch(/into itself/);
    const dissolving = neuron({ id: 5n, dissolve: { __kind__: 'Dissolving', Dissolving: { dissolved_at: 1n } } });
    expect(mergeProblem(dissolving, a, fee, fmt)).toMatch(/#5 is dissolving/);
    expect(mergeProblem(b, dissolving, fee, fmt)).toMatch(/#5 is dissolving/);
    expect(mergeProblem(neuron({ id: 6n, stake: fee + 5n, fees: 5n }), a, fee, fmt)).toMatch(/does not exceed the ledger fee/);
  });
});
