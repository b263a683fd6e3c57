// The agent and one actor per canister, from /config.json and the signed-in identity.
import { Actor, AnonymousIdentity, HttpAgent, type Identity, type ActorSubclass } from '@icp-sdk/core/agent';
import { IDL } from '@icp-sdk/core/candid';
import { createActor as governanceActor, type Governance } from '../bindings/governance/governance';
import { createActor as royaltiesActor, type Royalties } from '../bindings/royalties/royalties';
import { createActor as proxyActor, type Inference_proxy } from '../bindings/inference_proxy/inference_proxy';
import { createActor as ledgerActor, type Icrc_ledger } from '../bindings/icrc_ledger/icrc_ledger';
import { idlFactory as royaltiesIdl } from '../bindings/royalties/declarations/royalties.did';
import type { AppConfig } from './config';
import type { Token } from './format';
import { withTimeout } from './errors';
import type { RawLogEntry } from './logchain';

export interface Api {
  config: AppConfig;
  agent: HttpAgent;
  governance: Governance;
  royalties: Royalties;
  proxy: Inference_proxy;
  paymentLedger: Icrc_ledger;
  governanceLedger: Icrc_ledger;
  /** Royalties without the bindings' conversions: the log's raw Candid values, to re-encode and hash. */
  royaltiesRaw: ActorSubclass<{ get_log: (start: bigint, limit: number) => Promise<{ total: bigint; entries: RawLogEntry[] }> }>;
}

export const QUERY_TIMEOUT_MS = 30_000;
export const UPDATE_TIMEOUT_MS = 120_000;

export async function createApi(config: AppConfig, identity: Identity | null): Promise<Api> {
  const local = config.network === 'local';
  const host = local ? window.location.origin : 'https://icp-api.io';
  const agent = await withTimeout(
    HttpAgent.create({
      host,
      identity: identity ?? new AnonymousIdentity(),
      shouldFetchRootKey: local,
    }),
    QUERY_TIMEOUT_MS,
    'The network (root key)',
  );
  const c = config.canisters;
  return {
    config,
    agent,
    governance: governanceActor(c.governance, { agent }),
    royalties: royaltiesActor(c.royalties, { agent }),
    proxy: proxyActor(c.inference_proxy, { agent }),
    paymentLedger: ledgerActor(c.payment_ledger, { agent }),
    governanceLedger: ledgerActor(c.governance_ledger, { agent }),
    royaltiesRaw: Actor.createActor(royaltiesIdl, { agent, canisterId: c.royalties }),
  };
}

export async function tokenOf(ledger: Icrc_ledger): Promise<Token> {
  const [symbol, decimals, fee] = await withTimeout(
    Promise.all([ledger.icrc1_symbol(), ledger.icrc1_decimals(), ledger.icrc1_fee()]),
    QUERY_TIMEOUT_MS,
    'The ledger (symbol, decimals, fee)',
  );
  return { symbol, decimals, fee };
}

/** The Candid type of a settlement-log event, from the royalties interface. */
export function logEventType(): IDL.Type {
  const service = royaltiesIdl({ IDL }) as IDL.ServiceClass;
  const getLog = service._fields.find(([name]) => name === 'get_log')?.[1];
  if (!(getLog instanceof IDL.FuncClass)) throw new Error('royalties has no get_log');
  const page = getLog.retTypes[0];
  const entries = page instanceof IDL.RecordClass ? page._fields.find(([n]) => n === 'entries')?.[1] : undefined;
  const entry = entries instanceof IDL.VecClass ? entries._type : undefined;
  const event = entry instanceof IDL.RecordClass ? entry._fields.find(([n]) => n === 'event')?.[1] : undefined;
  if (!event) throw new Error('royalties get_log has no event type');
  return event;
}
