// Who is signed in, the actors, and the two tokens' metadata (read from the ledgers, never assumed).
import type { Identity } from '@icp-sdk/core/agent';
import type { Principal } from '@icp-sdk/core/principal';
import { createApi, tokenOf, type Api } from './api';
import { loadConfig, type AppConfig } from './config';
import { callFailureText } from './errors';
import type { Token } from './format';
import { demoIdentity, iiRestore, iiSignIn, iiSignOut, rememberAccount, rememberedAccount, SIGN_IN_MODE } from './identity';

interface Session {
  config: AppConfig | null;
  api: Api | null;
  /** Demo account name, or "Internet Identity". */
  account: string | null;
  principal: Principal | null;
  pay: Token | undefined;
  gov: Token | undefined;
  error: string | null;
  ready: boolean;
  /** Increments whenever the identity changes: screens reload on it. */
  epoch: number;
}

export const session: Session = $state({
  config: null,
  api: null,
  account: null,
  principal: null,
  pay: undefined,
  gov: undefined,
  error: null,
  ready: false,
  epoch: 0,
});

const CONNECT_ATTEMPTS = 3;

async function connect(identity: Identity | null, account: string | null): Promise<void> {
  if (!session.config) throw new Error('no config');
  const api = await createApi(session.config, identity);
  session.api = api;
  session.account = account;
  session.principal = identity ? identity.getPrincipal() : null;
  session.epoch += 1;
}

export async function startSession(): Promise<void> {
  try {
    session.config = await loadConfig();
    let identity: Identity | null = null;
    let account: string | null = null;
    if (SIGN_IN_MODE === 'dev') {
      account = session.config.network === 'local' ? rememberedAccount() : null;
      if (account) identity = await demoIdentity(account);
    } else {
      identity = await iiRestore();
      if (identity) account = 'Internet Identity';
    }
    // A network that does not answer at first (a local one still starting) is asked again with a
    // fresh agent, twice, before the page says it cannot connect.
    for (let attempt = 1; ; attempt += 1) {
      try {
        await connect(identity, account);
        const api = session.api as Api | null;
        if (api) {
          const [pay, gov] = await Promise.all([tokenOf(api.paymentLedger), tokenOf(api.governanceLedger)]);
          session.pay = pay;
          session.gov = gov;
        }
        break;
      } catch (e) {
        if (attempt >= CONNECT_ATTEMPTS) throw e;
        console.warn(`connecting, attempt ${attempt} of ${CONNECT_ATTEMPTS} failed:`, e);
        await new Promise((resolve) => setTimeout(resolve, 2_000 * attempt));
      }
    }
  } catch (e) {
    session.error = callFailureText(e);
  } finally {
    session.ready = true;
  }
}

export async function signInDemo(name: string): Promise<void> {
  // Anyone can derive the demo keys: they sign nothing on mainnet, whatever the build.
  if (session.config?.network !== 'local') throw new Error('Demo accounts exist on a local network only.');
  rememberAccount(name);
  await connect(await demoIdentity(name), name);
}

export async function signInII(): Promise<void> {
  await connect(await iiSignIn(), 'Internet Identity');
}

export async function signOut(): Promise<void> {
  if (SIGN_IN_MODE === 'ii') await iiSignOut();
  rememberAccount(null);
  await connect(null, null);
}
