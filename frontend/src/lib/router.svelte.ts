// Hash routes, so that a canister serving index.html at / serves every screen.
export type Route =
  | { name: 'proposals' }
  | { name: 'proposal'; id: bigint }
  | { name: 'new-proposal' }
  | { name: 'neurons' }
  | { name: 'treasury' }
  | { name: 'models' }
  | { name: 'earnings' }
  | { name: 'use' }
  | { name: 'nodes' }
  | { name: 'sign-in' }
  | { name: 'not-found'; path: string };

export function parseRoute(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/\/+$/, '') || '/proposals';
  const parts = path.split('/').filter(Boolean);
  const [first, second] = parts;
  if (first === 'proposals' && second === 'new' && parts.length === 2) return { name: 'new-proposal' };
  if (first === 'proposals' && second !== undefined && /^\d+$/.test(second) && parts.length === 2) {
    return { name: 'proposal', id: BigInt(second) };
  }
  if (parts.length === 1) {
    switch (first) {
      case 'proposals':
      case 'neurons':
      case 'treasury':
      case 'models':
      case 'earnings':
      case 'use':
      case 'nodes':
      case 'sign-in':
        return { name: first };
    }
  }
  return { name: 'not-found', path };
}

export const router = $state({ route: parseRoute(typeof window === 'undefined' ? '' : window.location.hash) });

export function startRouter(): void {
  window.addEventListener('hashchange', () => {
    router.route = parseRoute(window.location.hash);
    window.scrollTo(0, 0);
  });
}

export function go(hash: string): void {
  window.location.hash = hash;
}
