// The agent and one actor per canister, from /config.json and the signed-in identity.
import { AnonymousIdentity, HttpAgent, type Identity } from '@icp-sdk/core/agent';
import { createActor as governanceActor, type Governance } from '../bindings/governance/governance';
import { createActor as royaltiesActor, type Royalties } from '../bindings/royalties/royalties';
import { createActor as proxyActor, type Inference_proxy } from '../bindings/inference_proxy/inference_proxy';
import { createActor as ledgerActor, type Icrc_ledger } from '../bindings/icrc_ledger/icrc_ledger';
import type { AppConfig } from './config';
import type { Token } from './format';
import { withTimeout } from './errors';

export interface Api {
  config: AppConfig;
  agent: HttpAgent;
  governance: Governance;
  royalties: Royalties;
  proxy: Inference_proxy;
  paymentLedger: Icrc_ledger;
  governanceLedger: Icrc_ledger;
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
