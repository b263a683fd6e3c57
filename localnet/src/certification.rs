//! Certificates as the IC's HTTP interface gives them: a hash tree (ic-certification) and a
//! BLS12-381 signature of its root hash by the network's root key. localnet's root key is its own,
//! derived from a seed, and served DER-wrapped as clients expect it (agent-js from `/api/v2/status`,
//! icp-cli as a connected network's `root-key`); with one subnet and no delegation, clients verify
//! every certificate directly against it.

use ic_certification::{Certificate, HashTree};
use ic_verify_bls_signature::PrivateKey;
use sha2::{Digest, Sha256};

/// What a root key signs: this domain separator, then the tree's root hash.
pub const STATE_ROOT_DOMAIN: &[u8] = b"\x0Dic-state-root";
/// The DER `SubjectPublicKeyInfo` prefix of the IC's BLS12-381 (G2) public keys; the 96 key bytes
/// follow, 133 bytes in all.
pub const ROOT_KEY_DER_PREFIX: [u8; 37] = [
    0x30, 0x81, 0x82, 0x30, 0x1d, 0x06, 0x0d, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0xdc, 0x7c, 0x05,
    0x03, 0x01, 0x02, 0x01, 0x06, 0x0c, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0xdc, 0x7c, 0x05, 0x03,
    0x02, 0x01, 0x03, 0x61, 0x00,
];

/// The network's signing key.
pub struct RootKey {
    secret: PrivateKey,
}

impl RootKey {
    /// The same seed gives the same key: a restarted network keeps the root key clients trust.
    pub fn from_seed(seed: &[u8]) -> Self {
        let mut scalar: [u8; 32] = Sha256::new()
            .chain_update(b"localnet-root-key-v1")
            .chain_update(seed)
            .finalize()
            .into();
        // Below 2^254, so always below the group order (≈ 1.8 × 2^254): every seed gives a key.
        scalar[0] &= 0x3f;
        let secret = PrivateKey::deserialize(&scalar).expect("a scalar below the group order");
        Self { secret }
    }

    /// The 96-byte compressed G2 public key.
    pub fn public_key(&self) -> [u8; 96] {
        self.secret.public_key().serialize()
    }

    /// The public key DER-wrapped, as clients take it.
    pub fn public_key_der(&self) -> Vec<u8> {
        let mut der = ROOT_KEY_DER_PREFIX.to_vec();
        der.extend_from_slice(&self.public_key());
        der
    }

    /// A certificate over `tree`, CBOR-encoded: `{tree, signature}`.
    pub fn certify(&self, tree: HashTree) -> Vec<u8> {
        let signature = self.sign_root(&tree);
        certificate_cbor(tree, signature)
    }

    /// The signature of `tree`'s root hash. Any tree with the same root hash — the same tree with
    /// parts pruned — is certified by it: one signature serves every answer of a round.
    pub fn sign_root(&self, tree: &HashTree) -> Vec<u8> {
        let mut message = STATE_ROOT_DOMAIN.to_vec();
        message.extend_from_slice(&tree.digest());
        self.secret.sign(&message).serialize().to_vec()
    }
}

/// A certificate `{tree, signature}`, CBOR-encoded.
pub fn certificate_cbor(tree: HashTree, signature: Vec<u8>) -> Vec<u8> {
    let certificate = Certificate {
        tree,
        signature,
        delegation: None,
    };
    let mut out = Vec::new();
    ciborium::ser::into_writer(&certificate, &mut out).expect("writing to a Vec cannot fail");
    out
}

/// Unsigned LEB128: how the state tree holds `/time` (nanoseconds) and reject codes.
pub fn leb128(nanos: u64) -> Vec<u8> {
    let mut leb = Vec::with_capacity(10);
    leb128::write::unsigned(&mut leb, nanos).expect("writing to a Vec cannot fail");
    leb
}

/// The tree of labelled subtrees in label order, as the state tree keeps them (clients look paths up
/// by walking ordered forks).
pub fn labeled_tree(entries: std::collections::BTreeMap<Vec<u8>, HashTree>) -> HashTree {
    entries
        .into_iter()
        .rev()
        .map(|(label, tree)| ic_certification::labeled(label, tree))
        .reduce(|right, left| ic_certification::fork(left, right))
        .unwrap_or_else(ic_certification::empty)
}

/// [`labeled_tree`] with every entry but `kept` pruned to its hash, label and all (the same root
/// hash: a certificate of the whole tree certifies it).
pub fn labeled_tree_keeping(
    entries: std::collections::BTreeMap<Vec<u8>, HashTree>,
    kept: &[u8],
) -> HashTree {
    entries
        .into_iter()
        .rev()
        .map(|(label, tree)| {
            let node = ic_certification::labeled(label.clone(), tree);
            if label == kept {
                node
            } else {
                ic_certification::pruned(node.digest())
            }
        })
        .reduce(|right, left| ic_certification::fork(left, right))
        .unwrap_or_else(ic_certification::empty)
}

/// The domain separator of a node's signature on a query response.
pub const RESPONSE_DOMAIN: &[u8] = b"\x0Bic-response";

/// A node's key: it signs query responses, and clients find it in the state tree at
/// `/subnet/<subnet>/node/<node>/public_key`.
pub struct NodeKey {
    secret: ed25519_dalek::SigningKey,
}

impl NodeKey {
    pub fn from_seed(seed: &[u8]) -> Self {
        let secret: [u8; 32] = Sha256::new()
            .chain_update(b"localnet-node-key-v1")
            .chain_update(seed)
            .finalize()
            .into();
        Self {
            secret: ed25519_dalek::SigningKey::from_bytes(&secret),
        }
    }

    /// The DER (RFC 8410) public key.
    pub fn public_key_der(&self) -> Vec<u8> {
        let mut der = crate::ingress::ED25519_DER_PREFIX.to_vec();
        der.extend_from_slice(&self.secret.verifying_key().to_bytes());
        der
    }

    /// The node's id: the self-authenticating principal of its key.
    pub fn node_id(&self) -> candid::Principal {
        crate::ingress::self_authenticating(&self.public_key_der())
    }

    /// The signature on a query response (see [`response_signable`]).
    pub fn sign_response(
        &self,
        response_fields: Vec<(&str, ciborium::value::Value)>,
        timestamp: u64,
        request_id: &[u8; 32],
    ) -> [u8; 64] {
        use ed25519_dalek::Signer;
        let message = response_signable(response_fields, timestamp, request_id);
        self.secret.sign(&message).to_bytes()
    }
}

/// What a node signs for a query response: `"\x0Bic-response"` and the representation-independent
/// hash of the response's fields (`status` and `reply`, or the reject's fields) with `timestamp`
/// and `request_id` added.
pub fn response_signable(
    response_fields: Vec<(&str, ciborium::value::Value)>,
    timestamp: u64,
    request_id: &[u8; 32],
) -> Vec<u8> {
    use ciborium::value::Value;
    let mut fields: Vec<(Value, Value)> = response_fields
        .into_iter()
        .map(|(k, v)| (Value::Text(k.into()), v))
        .collect();
    fields.push((
        Value::Text("timestamp".into()),
        Value::Integer(timestamp.into()),
    ));
    fields.push((
        Value::Text("request_id".into()),
        Value::Bytes(request_id.to_vec()),
    ));
    let hash = crate::ingress::representation_independent_hash(&Value::Map(fields))
        .expect("response fields are bytes, text, integers and maps");
    let mut message = RESPONSE_DOMAIN.to_vec();
    message.extend_from_slice(&hash);
    message
}

#[cfg(test)]
mod tests {
    use super::*;
    use ciborium::value::Value;
    use ic_certification::{fork, labeled, leaf};

    fn field<'a>(map: &'a Value, name: &str) -> &'a Value {
        let Value::Map(entries) = map else {
            panic!("not a map: {map:?}")
        };
        &entries
            .iter()
            .find(|(k, _)| matches!(k, Value::Text(t) if t == name))
            .unwrap_or_else(|| panic!("no {name}"))
            .1
    }

    #[test]
    fn the_root_key_is_der_wrapped_and_fixed_by_its_seed() {
        let key = RootKey::from_seed(b"seed");
        let der = key.public_key_der();
        assert_eq!(
            der.len(),
            133,
            "the 266 hex characters icp-cli's root-key takes"
        );
        assert!(der.starts_with(&ROOT_KEY_DER_PREFIX));
        assert_eq!(RootKey::from_seed(b"seed").public_key(), key.public_key());
        assert_ne!(RootKey::from_seed(b"other").public_key(), key.public_key());
    }

    /// The certificate decodes as `{tree, signature}`, its tree's root hash is what was signed, and the
    /// signature verifies against the public key (and not against another, nor over another tree).
    #[test]
    fn a_certificate_verifies_against_the_root_key() {
        let key = RootKey::from_seed(b"seed");
        let tree = fork(
            labeled(b"time", leaf(leb128(1_764_000_000_000_000_000))),
            labeled(b"canister", leaf(b"certified data".to_vec())),
        );
        let digest = tree.digest();
        let cbor = key.certify(tree);
        let certificate: Value = ciborium::de::from_reader(&cbor[..]).unwrap();
        let Value::Bytes(signature) = field(&certificate, "signature") else {
            panic!("the signature is bytes")
        };
        assert_eq!(signature.len(), 48, "a G1 signature");
        // The tree is sent unpruned: a time label in it, its leaf LEB128.
        let Value::Array(root) = field(&certificate, "tree") else {
            panic!("the tree is an array")
        };
        assert_eq!(root[0], Value::Integer(1.into()), "a fork at the root");
        let mut message = STATE_ROOT_DOMAIN.to_vec();
        message.extend_from_slice(&digest);
        assert!(ic_verify_bls_signature::verify_bls_signature(
            signature,
            &message,
            &key.public_key()
        )
        .is_ok());
        let other = RootKey::from_seed(b"other").public_key();
        assert!(
            ic_verify_bls_signature::verify_bls_signature(signature, &message, &other).is_err()
        );
        let mut tampered = STATE_ROOT_DOMAIN.to_vec();
        tampered.extend_from_slice(&[0u8; 32]);
        assert!(ic_verify_bls_signature::verify_bls_signature(
            signature,
            &tampered,
            &key.public_key()
        )
        .is_err());
    }

    /// Labels in order, whatever order they were given in: every path is found.
    #[test]
    fn labeled_trees_are_ordered_and_found_by_path() {
        use ic_certification::LookupResult;
        let entries: std::collections::BTreeMap<Vec<u8>, HashTree> = [
            (b"time".to_vec(), leaf(leb128(5))),
            (b"canister".to_vec(), leaf(b"c".to_vec())),
            (b"subnet".to_vec(), leaf(b"s".to_vec())),
        ]
        .into_iter()
        .collect();
        let tree = labeled_tree(entries);
        for (path, value) in [
            ("canister", b"c".to_vec()),
            ("subnet", b"s".to_vec()),
            ("time", leb128(5)),
        ] {
            match tree.lookup_path([path.as_bytes()]) {
                LookupResult::Found(found) => assert_eq!(found, &value[..], "{path}"),
                other => panic!("{path}: {other:?}"),
            }
        }
        assert!(matches!(
            tree.lookup_path([b"nothing".as_slice()]),
            LookupResult::Absent
        ));
        assert_eq!(
            labeled_tree(Default::default()).digest(),
            ic_certification::empty().digest()
        );
    }

    /// A query response's node signature verifies with the node's public key over exactly the
    /// response's fields, the timestamp and the request id.
    #[test]
    fn node_signatures_cover_the_response_the_time_and_the_request() {
        use ciborium::value::Value;
        use ed25519_dalek::Verifier;
        let node = NodeKey::from_seed(b"seed");
        let reply = || {
            vec![
                ("status", Value::Text("replied".into())),
                (
                    "reply",
                    Value::Map(vec![(
                        Value::Text("arg".into()),
                        Value::Bytes(b"DIDL\0\0".to_vec()),
                    )]),
                ),
            ]
        };
        let signature = node.sign_response(reply(), 7, &[1; 32]);
        let expected = |timestamp: u64, request_id: [u8; 32]| {
            response_signable(reply(), timestamp, &request_id)
        };
        let der = node.public_key_der();
        let key = ed25519_dalek::VerifyingKey::from_bytes(der[12..].try_into().unwrap()).unwrap();
        let signature = ed25519_dalek::Signature::from_bytes(&signature);
        assert!(key.verify(&expected(7, [1; 32]), &signature).is_ok());
        assert!(key.verify(&expected(8, [1; 32]), &signature).is_err());
        assert!(key.verify(&expected(7, [2; 32]), &signature).is_err());
        assert_eq!(node.node_id(), crate::ingress::self_authenticating(&der));
    }

    #[test]
    fn time_is_unsigned_leb128() {
        assert_eq!(leb128(0), vec![0]);
        assert_eq!(leb128(624_485), vec![0xe5, 0x8e, 0x26]);
    }
}
