// Who signs calls: the localnet demo accounts (dev builds) or Internet Identity (mainnet builds).
import { Ed25519KeyIdentity } from '@icp-sdk/core/identity';
import type { Identity } from '@icp-sdk/core/agent';

export const SIGN_IN_MODE: 'dev' | 'ii' = import.meta.env.VITE_SIGN_IN === 'ii' ? 'ii' : 'dev';

export interface DemoAccount {
  name: string;
  role: string;
}

export const DEMO_ACCOUNTS: DemoAccount[] = [
  { name: 'ada', role: 'Token holder: NNG to stake, some NUSD' },
  { name: 'grace', role: 'Token holder: NNG to stake, some NUSD' },
  { name: 'linus', role: 'End user: NUSD to deposit and run models' },
  { name: 'mina', role: 'Model owner: a registered model with credits to claim' },
];

/** seed = SHA-256(UTF-8("neuranft-localnet demo " + name)), the key the Rust side funds. */
export async function demoSeed(name: string): Promise<Uint8Array> {
  const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(`neuranft-localnet demo ${name}`));
  return new Uint8Array(digest);
}

export async function demoIdentity(name: string): Promise<Ed25519KeyIdentity> {
  return Ed25519KeyIdentity.generate(await demoSeed(name));
}

const STORAGE_KEY = 'neuranft.account';

export function rememberedAccount(): string | null {
  try {
    const name = localStorage.getItem(STORAGE_KEY);
    return name && DEMO_ACCOUNTS.some((a) => a.name === name) ? name : null;
  } catch {
    return null;
  }
}

export function rememberAccount(name: string | null): void {
  try {
    if (name === null) localStorage.removeItem(STORAGE_KEY);
    else localStorage.setItem(STORAGE_KEY, name);
  } catch {
    // Storage disabled: the choice lasts for this page only.
  }
}

const II_URL = 'https://identity.ic0.app';

type AuthClientType = import('@icp-sdk/auth/client').AuthClient;
let client: AuthClientType | undefined;

async function authClient(): Promise<AuthClientType> {
  // A constant in each build: dev builds leave Internet Identity's client out.
  if (import.meta.env.VITE_SIGN_IN !== 'ii') throw new Error('Internet Identity is not part of this build');
  if (!client) {
    const { AuthClient } = await import('@icp-sdk/auth/client');
    client = new AuthClient({ identityProvider: II_URL });
  }
  return client;
}

export async function iiRestore(): Promise<Identity | null> {
  const c = await authClient();
  return c.isAuthenticated() ? c.getIdentity() : null;
}

export async function iiSignIn(): Promise<Identity> {
  return (await authClient()).signIn();
}

export async function iiSignOut(): Promise<void> {
  await (await authClient()).signOut();
}
