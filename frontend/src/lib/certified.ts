// Certified tips, checked against the network's root key. One path for every canister: agent-js
// `Certificate.create` checks the BLS signature, the time and the subnet's delegation for the
// canister, and the canister's certified data is read from the certificate. Then per canister:
// - the payment ledger (ICRC-3): the certified data is the root of a hash tree that holds the tip;
// - royalties: the certified data is the settlement log's tip hash itself.
import { Cbor, Certificate, lookupResultToBuffer, lookup_path, reconstruct, type HashTree } from '@icp-sdk/core/agent';
import { lebDecode, PipeArrayBuffer } from '@icp-sdk/core/candid';
import type { Principal } from '@icp-sdk/core/principal';
import { toHex } from './format';

/** The certified data `canisterId` set, from a certificate verified against `rootKey` (throws if it does not verify). */
export async function verifiedCertifiedData(certificate: Uint8Array, rootKey: Uint8Array, canisterId: Principal): Promise<Uint8Array> {
  const cert = await Certificate.create({
    certificate: new Uint8Array(certificate),
    rootKey,
    principal: { canisterId },
  });
  const certified = lookupResultToBuffer(cert.lookup_path(['canister', canisterId.toUint8Array(), 'certified_data']));
  if (!certified) throw new Error(`the certificate has no certified data for canister ${canisterId.toText()}`);
  return certified;
}

export interface CertifiedTip {
  blockIndex: bigint;
  blockHash: string;
  certifiedData: string;
}

/** The payment ledger's ICRC-3 tip (`icrc3_get_tip_certificate`). */
export async function verifyTipCertificate(
  tip: { certificate: Uint8Array; hash_tree: Uint8Array },
  rootKey: Uint8Array,
  canisterId: Principal,
): Promise<CertifiedTip> {
  const certified = await verifiedCertifiedData(tip.certificate, rootKey, canisterId);
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

/**
 * Royalties' settlement log tip (`certified_log_tip`): the certified data must be the served hash.
 * The hash covers the last entry's index, so a chain of `length` entries ending in it certifies
 * `length` too; the length itself is not in the certificate.
 */
export async function verifyLogTipCertificate(
  tip: { length: bigint; hash: Uint8Array; certificate?: Uint8Array },
  rootKey: Uint8Array,
  canisterId: Principal,
): Promise<{ length: bigint; hash: string }> {
  if (!tip.certificate) throw new Error('royalties served no certificate (it is only given in a non-replicated query)');
  const certified = await verifiedCertifiedData(tip.certificate, rootKey, canisterId);
  if (toHex(certified) !== toHex(tip.hash)) throw new Error("royalties' certified data is not the log tip hash it served");
  return { length: tip.length, hash: toHex(certified) };
}
