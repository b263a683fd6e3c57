// /config.json (same origin): which network, and the canister ids. Written by the live job on localnet
// and served by the frontend canister.
export interface AppConfig {
  network: 'local' | 'ic';
  canisters: {
    payment_ledger: string;
    governance_ledger: string;
    royalties: string;
    inference_proxy: string;
    governance: string;
  };
}

const NAMES = ['payment_ledger', 'governance_ledger', 'royalties', 'inference_proxy', 'governance'] as const;

export function parseConfig(json: unknown): AppConfig {
  if (typeof json !== 'object' || json === null) throw new Error('config.json is not an object');
  const o = json as Record<string, unknown>;
  if (o.network !== 'local' && o.network !== 'ic') throw new Error('config.json: "network" must be "local" or "ic"');
  const c = o.canisters as Record<string, unknown> | undefined;
  if (typeof c !== 'object' || c === null) throw new Error('config.json: "canisters" is missing');
  for (const n of NAMES) if (typeof c[n] !== 'string') throw new Error(`config.json: canister "${n}" is missing`);
  return { network: o.network, canisters: c as AppConfig['canisters'] };
}

export async function loadConfig(): Promise<AppConfig> {
  const ctrl = new AbortController();
  const timer = setTimeout(() => ctrl.abort(), 15_000);
  try {
    const res = await fetch('/config.json', { cache: 'no-store', signal: ctrl.signal });
    if (!res.ok) throw new Error(`config.json: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
    return parseConfig(await res.json());
  } catch (e) {
    if (ctrl.signal.aborted) throw new Error('config.json did not load within 15 seconds', { cause: e });
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
