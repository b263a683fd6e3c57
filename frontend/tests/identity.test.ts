import { describe, expect, it } from 'vitest';
import { demoIdentity } from '../src/lib/identity';

describe('demo accounts', () => {
  // tests/src/demo.rs pins the same principal: the main job funds exactly the keys the app signs with.
  it('derives the key the Rust side funds', async () => {
    expect((await demoIdentity('ada')).getPrincipal().toText()).toBe(
      'nkvso-ukvvw-umtvd-fajvc-3xvdx-6fgg2-rz3ko-35abx-g4it2-xoxlc-pae',
    );
    expect((await demoIdentity('grace')).getPrincipal().toText()).not.toBe(
      (await demoIdentity('ada')).getPrincipal().toText(),
    );
  });
});
