// The signed-in principal's neurons and their ballots on a proposal.
import type { Neuron, Ballot, NeuronPermission } from '../bindings/governance/governance';
import { session } from './session.svelte';
import { query } from './util.svelte';
import { mayAct } from './governance';

/**
 * The neurons the signed-in principal controls, is a hot key of or holds a grant on (`neurons_of`),
 * by id; with `permission`, only those it may use for that.
 */
export async function myNeurons(permission?: NeuronPermission): Promise<Neuron[]> {
  const api = session.api;
  const me = session.principal;
  if (!api || !me) return [];
  const list = await query(api.governance.neurons_of(me), 'Governance (neurons_of)');
  return list.filter((n) => permission === undefined || mayAct(n, me, permission)).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The ballot of each neuron on `proposal` (get_proposal pages ballots by neuron id: one page per neuron). */
// A plain Map, filled once and then handed over whole (never mutated while shown).
const newMap = () => new Map<bigint, Ballot | null>();

export async function ballotsOf(proposal: bigint, neurons: Neuron[]): Promise<Map<bigint, Ballot | null>> {
  const api = session.api;
  const out = newMap();
  if (!api) return out;
  await Promise.all(
    neurons.map(async (n) => {
      const d = await query(api.governance.get_proposal(proposal, n.id, 1), 'Governance (get_proposal)');
      const first = d?.ballots[0];
      out.set(n.id, first && first[0] === n.id ? first[1] : null);
    }),
  );
  return out;
}
