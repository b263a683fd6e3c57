// The signed-in principal's neurons and their ballots on a proposal.
import type { Neuron, Ballot } from '../bindings/governance/governance';
import { session } from './session.svelte';
import { query } from './util.svelte';

export async function myNeurons(): Promise<Neuron[]> {
  const api = session.api;
  if (!api || !session.principal) return [];
  const list = await query(api.governance.neurons_of(session.principal), 'Governance (neurons_of)');
  return [...list].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
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
