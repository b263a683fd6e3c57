import { describe, expect, it } from 'vitest';
import { Principal } from '@icp-sdk/core/principal';
import { verifyLogTipCertificate } from '../src/lib/certified';

// A valid certificate needs the network's BLS signature: the browser test checks one end to end. Here,
// that a tip is not taken as certified without one.
describe("royalties' certified log tip", () => {
  const royalties = Principal.fromText('aaaaa-aa');
  const rootKey = new Uint8Array(133);
  const hash = new Uint8Array(32).fill(9);

  it('is refused without a certificate', async () => {
    await expect(verifyLogTipCertificate({ length: 3n, hash }, rootKey, royalties)).rejects.toThrow(/no certificate/);
  });
  it('is refused with a certificate that is not one', async () => {
    await expect(verifyLogTipCertificate({ length: 3n, hash, certificate: Uint8Array.from([1, 2, 3]) }, rootKey, royalties)).rejects.toThrow();
  });
});
