// The payment ledger's ICRC-3 tip certificate, checked against the network's root key: the BLS
// signature and time by agent-js `Certificate.create`, then the hash tree's root against the
// canister's certified data, then the tip read from the tree.
import { Cbor, Certificate, lookupResultToBuffer, lookup_path, reconstruct, type HashTree } from '@icp-sdk/core/agent';
import { lebDecode, PipeArrayBuffer } from '@icp-sdk/core/candid';
import type { Principal } from '@icp-sdk/core/principal';
import { toHex } from './format';

export interface CertifiedTip {
  blockIndex: bigint;
  blockHash: string;
  certifiedData: string;
}

export async function verifyTipCertificate(
  tip: { certificate: Uint8Array; hash_tree: Uint8Array },
  rootKey: Uint8Array,
  canisterId: Principal,
): Promise<CertifiedTip> {
  const cert = await Certificate.create({
    certificate: new Uint8Array(tip.certificate),
    rootKey,
    principal: { canisterId },
  });
  const certified = lookupResultToBuffer(cert.lookup_path(['canister', canisterId.toUint8Array(), 'certified_data']));
  if (!certified) throw new Error('the certificate has no certified data for the ledger');
  const tree = Cbor.decode<HashTree>(new Uint8Array(tip.hash_tree));
  const root = await reconstruct(tree);
  if (toHex(root) !== toHex(certified)) throw new Error("the hash tree's root is not the ledger's certified data");
  const hash = lookupResultToBuffer(lookup_path(['last_block_hash'], tree));
  const index = lookupResultToBuffer(lookup_path(['last_block_index'], tree));
  if (!hash || !index) throw new Error('the hash tree has no last_block_hash / last_block_index');
  return {
    blockIndex: lebDecode(new PipeArrayBuffer(index)),
    blockHash: toHex(hash),
    certifiedData: toHex(certified),
  };
}
