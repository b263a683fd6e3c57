use super::*;
use ciborium::value::Value;

const NOW: u64 = 1_764_000_000_000_000_000;

fn text(s: &str) -> Value {
    Value::Text(s.into())
}

fn bytes(b: &[u8]) -> Value {
    Value::Bytes(b.to_vec())
}

fn map(entries: Vec<(&str, Value)>) -> Value {
    Value::Map(entries.into_iter().map(|(k, v)| (text(k), v)).collect())
}

fn canister(n: u8) -> Principal {
    Principal::from_slice(&[0, 0, 0, 0, 0, 0, 0, n, 1, 1])
}

fn call_content(sender: Principal, to: Principal, arg: &[u8], expiry: u64) -> Value {
    map(vec![
        ("request_type", text("call")),
        ("sender", bytes(sender.as_slice())),
        ("canister_id", bytes(to.as_slice())),
        ("method_name", text("greet")),
        ("arg", bytes(arg)),
        ("ingress_expiry", Value::Integer(expiry.into())),
        ("nonce", bytes(b"a field this code does not read")),
    ])
}

fn encode(envelope: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::ser::into_writer(envelope, &mut out).unwrap();
    out
}

/// A key that signs like an IC client: its DER public key and a signing function.
trait Identity {
    fn der(&self) -> Vec<u8>;
    fn sign(&self, message: &[u8]) -> Vec<u8>;
    fn principal(&self) -> Principal {
        self_authenticating(&self.der())
    }
}

impl Identity for Ed25519Identity {
    fn der(&self) -> Vec<u8> {
        self.public_key_der()
    }
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        Ed25519Identity::sign(self, message)
    }
}

struct Secp256k1(k256::ecdsa::SigningKey);

impl Identity for Secp256k1 {
    fn der(&self) -> Vec<u8> {
        let mut der = SECP256K1_DER_PREFIX.to_vec();
        let point = self.0.verifying_key().to_encoded_point(false);
        der.extend_from_slice(point.as_bytes());
        der
    }
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        use k256::ecdsa::signature::Signer;
        let signature: k256::ecdsa::Signature = self.0.sign(message);
        signature.to_bytes().to_vec()
    }
}

fn ed(n: u8) -> Ed25519Identity {
    Ed25519Identity::from_secret([n; 32])
}

fn secp(n: u8) -> Secp256k1 {
    Secp256k1(k256::ecdsa::SigningKey::from_slice(&[n; 32]).unwrap())
}

fn request_signature(signer: &dyn Identity, content: &Value) -> Vec<u8> {
    let mut message = REQUEST_DOMAIN.to_vec();
    message.extend_from_slice(&representation_independent_hash(content).unwrap());
    signer.sign(&message)
}

fn signed(identity: &dyn Identity, content: Value) -> Value {
    let signature = request_signature(identity, &content);
    map(vec![
        ("content", content),
        ("sender_pubkey", bytes(&identity.der())),
        ("sender_sig", bytes(&signature)),
    ])
}

/// The example of the interface specification's "Request ids" section, with its published hash.
#[test]
fn the_request_id_is_the_specifications_hash() {
    let content = map(vec![
        ("request_type", text("call")),
        ("sender", bytes(&[0x04])),
        (
            "ingress_expiry",
            Value::Integer(1_685_570_400_000_000_000u64.into()),
        ),
        ("canister_id", bytes(b"\x00\x00\x00\x00\x00\x00\x04\xD2")),
        ("method_name", text("hello")),
        ("arg", bytes(b"DIDL\x00\xFD*")),
    ]);
    assert_eq!(
        hex::encode(representation_independent_hash(&content).unwrap()),
        "1d1091364d6bb8a6c16b203ee75467d59ead468f523eb058880ae8ec80e2b101"
    );
}

#[test]
fn anonymous_requests_carry_no_key_and_self_describing_cbor_is_accepted() {
    let content = call_content(Principal::anonymous(), canister(1), b"DIDL\0\0", NOW + 60);
    let envelope = Value::Tag(55_799, Box::new(map(vec![("content", content.clone())])));
    let request = authenticate(&encode(&envelope), NOW).unwrap();
    assert_eq!(request.request_type, RequestType::Call);
    assert_eq!(request.sender, Principal::anonymous());
    assert_eq!(request.canister_id, Some(canister(1)));
    assert_eq!(request.method_name.as_deref(), Some("greet"));
    assert_eq!(
        request.request_id,
        representation_independent_hash(&content).unwrap(),
        "unknown fields (the nonce) are hashed as sent"
    );
    let with_key = map(vec![
        ("content", content),
        ("sender_pubkey", bytes(&ed(1).der())),
    ]);
    assert_eq!(
        authenticate(&encode(&with_key), NOW),
        Err(EnvelopeError::AnonymousWithKey)
    );
}

#[test]
fn ed25519_and_secp256k1_senders_are_verified() {
    let identities: [&dyn Identity; 2] = [&ed(7), &secp(7)];
    for identity in identities {
        let content = call_content(identity.principal(), canister(1), b"DIDL\0\0", NOW + 60);
        let request = authenticate(&encode(&signed(identity, content.clone())), NOW).unwrap();
        assert_eq!(request.sender, identity.principal());

        // The signature of another request, another key's signature, no signature at all.
        let other = call_content(identity.principal(), canister(1), b"DIDL\0\x01", NOW + 60);
        let forged = map(vec![
            ("content", other),
            ("sender_pubkey", bytes(&identity.der())),
            ("sender_sig", bytes(&request_signature(identity, &content))),
        ]);
        assert!(matches!(
            authenticate(&encode(&forged), NOW),
            Err(EnvelopeError::InvalidSignature(_))
        ));
        let unsigned = map(vec![
            ("content", content.clone()),
            ("sender_pubkey", bytes(&identity.der())),
        ]);
        assert_eq!(
            authenticate(&encode(&unsigned), NOW),
            Err(EnvelopeError::MissingSignature)
        );
        // A key that is not the sender's.
        let impostor = ed(9);
        let stolen = map(vec![
            ("content", content.clone()),
            ("sender_pubkey", bytes(&impostor.der())),
            ("sender_sig", bytes(&request_signature(&impostor, &content))),
        ]);
        assert!(matches!(
            authenticate(&encode(&stolen), NOW),
            Err(EnvelopeError::SenderMismatch { .. })
        ));
    }
}

#[test]
fn the_expiry_must_be_within_the_window() {
    let identity = ed(3);
    for (expiry, ok) in [
        (NOW, true),
        (NOW + MAX_INGRESS_TTL_NANOS, true),
        (NOW - 1, false),
        (NOW + MAX_INGRESS_TTL_NANOS + 1, false),
    ] {
        let content = call_content(identity.principal(), canister(1), b"DIDL\0\0", expiry);
        let result = authenticate(&encode(&signed(&identity, content)), NOW);
        assert_eq!(result.is_ok(), ok, "{expiry}: {result:?}");
        if !ok {
            assert!(matches!(
                result,
                Err(EnvelopeError::ExpiryOutOfRange { .. })
            ));
        }
    }
}

#[test]
fn malformed_envelopes_are_typed_errors() {
    assert!(matches!(
        authenticate(b"\xff\x00 not cbor", NOW),
        Err(EnvelopeError::Malformed(_))
    ));
    assert!(matches!(
        authenticate(&encode(&text("a string")), NOW),
        Err(EnvelopeError::Malformed(_))
    ));
    let no_method = map(vec![(
        "content",
        map(vec![
            ("request_type", text("call")),
            ("sender", bytes(&[0x04])),
            ("canister_id", bytes(canister(1).as_slice())),
            ("arg", bytes(b"")),
            ("ingress_expiry", Value::Integer((NOW + 1).into())),
        ]),
    )]);
    assert_eq!(
        authenticate(&encode(&no_method), NOW),
        Err(EnvelopeError::MissingField("method_name"))
    );
    let unknown = map(vec![(
        "content",
        map(vec![
            ("request_type", text("teleport")),
            ("sender", bytes(&[0x04])),
            ("ingress_expiry", Value::Integer((NOW + 1).into())),
        ]),
    )]);
    assert_eq!(
        authenticate(&encode(&unknown), NOW),
        Err(EnvelopeError::UnknownRequestType("teleport".into()))
    );
}

#[test]
fn read_state_paths_are_decoded() {
    let content = map(vec![
        ("request_type", text("read_state")),
        ("sender", bytes(&[0x04])),
        ("ingress_expiry", Value::Integer((NOW + 1).into())),
        (
            "paths",
            Value::Array(vec![Value::Array(vec![bytes(b"time")])]),
        ),
    ]);
    let request = authenticate(&encode(&map(vec![("content", content)])), NOW).unwrap();
    assert_eq!(request.request_type, RequestType::ReadState);
    assert_eq!(request.paths, Some(vec![vec![b"time".to_vec()]]));
}

/// A delegation from `from` to `to`, signed by `from`.
fn delegation(
    from: &dyn Identity,
    to: &dyn Identity,
    expiration: u64,
    targets: Option<&[Principal]>,
) -> Value {
    let mut fields = vec![
        ("pubkey", bytes(&to.der())),
        ("expiration", Value::Integer(expiration.into())),
    ];
    if let Some(targets) = targets {
        fields.push((
            "targets",
            Value::Array(targets.iter().map(|t| bytes(t.as_slice())).collect()),
        ));
    }
    let delegation = map(fields);
    let mut message = DELEGATION_DOMAIN.to_vec();
    message.extend_from_slice(&representation_independent_hash(&delegation).unwrap());
    map(vec![
        ("delegation", delegation),
        ("signature", bytes(&from.sign(&message))),
    ])
}

fn delegated(
    root: &dyn Identity,
    session: &dyn Identity,
    chain: Vec<Value>,
    to: Principal,
) -> Vec<u8> {
    let content = call_content(root.principal(), to, b"DIDL\0\0", NOW + 60);
    let signature = request_signature(session, &content);
    encode(&map(vec![
        ("content", content),
        ("sender_pubkey", bytes(&root.der())),
        ("sender_sig", bytes(&signature)),
        ("sender_delegation", Value::Array(chain)),
    ]))
}

#[test]
fn delegation_chains_are_followed_with_their_expiry_and_targets() {
    let root = ed(1);
    let middle = secp(2);
    let session = ed(3);
    let chain = vec![
        delegation(
            &root,
            &middle,
            NOW + 3_600,
            Some(&[canister(1), canister(2)]),
        ),
        delegation(&middle, &session, NOW + 60, Some(&[canister(1)])),
    ];
    let request =
        authenticate(&delegated(&root, &session, chain.clone(), canister(1)), NOW).unwrap();
    assert_eq!(
        request.sender,
        root.principal(),
        "the sender is the root key's principal"
    );
    assert_eq!(
        request.targets,
        Some(vec![canister(1)]),
        "the targets intersect"
    );
    assert_eq!(
        authenticate(&delegated(&root, &session, chain.clone(), canister(2)), NOW),
        Err(EnvelopeError::CanisterNotInTargets {
            canister: canister(2).to_text()
        })
    );
    // The request signed by a key earlier in the chain, not by the last one.
    assert!(matches!(
        authenticate(&delegated(&root, &middle, chain.clone(), canister(1)), NOW),
        Err(EnvelopeError::InvalidSignature(_))
    ));
    // Expired, or signed by a key that is not the previous one.
    let expired = vec![delegation(&root, &session, NOW - 1, None)];
    assert!(matches!(
        authenticate(&delegated(&root, &session, expired, canister(1)), NOW),
        Err(EnvelopeError::DelegationExpired { index: 0, .. })
    ));
    let forged = vec![delegation(&middle, &session, NOW + 60, None)];
    assert!(matches!(
        authenticate(&delegated(&root, &session, forged, canister(1)), NOW),
        Err(EnvelopeError::InvalidSignature(_))
    ));
    let long: Vec<Value> = (0..=MAX_DELEGATIONS)
        .map(|_| delegation(&root, &root, NOW + 60, None))
        .collect();
    assert_eq!(
        authenticate(&delegated(&root, &root, long, canister(1)), NOW),
        Err(EnvelopeError::TooManyDelegations)
    );
}
