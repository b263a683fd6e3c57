//! The request envelopes of the IC's HTTP interface, as the interface specification gives them:
//! CBOR decoding, request ids (the representation-independent hash of `content`), the
//! `ingress_expiry` window, and sender authentication — anonymous, Ed25519, ECDSA secp256k1, and
//! chains of delegations. It is the first thing a live localnet does with a request: a request that
//! does not pass is answered with a typed error and reaches no canister.
//!
//! The request id is computed from the CBOR value the client sent, not from a typed copy of it, so
//! that a field this code does not know (a client's `nonce`, `sender_info`, a future field) is hashed
//! exactly as the client signed it.

use candid::Principal;
use ciborium::value::Value;
use sha2::{Digest, Sha224, Sha256};

/// The domain separator of a request signature.
pub const REQUEST_DOMAIN: &[u8] = b"\x0Aic-request";
/// The domain separator of a delegation signature.
pub const DELEGATION_DOMAIN: &[u8] = b"\x1Aic-request-auth-delegation";
/// `ingress_expiry` may be at most this far ahead of the network's clock (the IC's 5 minutes plus
/// the 30 s of drift it allows).
pub const MAX_INGRESS_TTL_NANOS: u64 = (5 * 60 + 30) * 1_000_000_000;
/// The IC accepts at most this many delegations in a chain.
pub const MAX_DELEGATIONS: usize = 20;
/// The self-describing CBOR tag clients may put in front of an envelope.
const SELF_DESCRIBE_TAG: u64 = 55_799;
/// DER `SubjectPublicKeyInfo` prefix of an Ed25519 key (RFC 8410); the 32 key bytes follow.
pub const ED25519_DER_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];
/// DER `SubjectPublicKeyInfo` prefix of an uncompressed ECDSA secp256k1 key (RFC 5480); the 65 key
/// bytes (0x04 ‖ x ‖ y) follow.
pub const SECP256K1_DER_PREFIX: [u8; 23] = [
    0x30, 0x56, 0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b,
    0x81, 0x04, 0x00, 0x0a, 0x03, 0x42, 0x00,
];

/// Why a request is refused before it reaches a canister. Every variant is answered with HTTP 400
/// and the message, as replicas do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the request is not a CBOR envelope: {0}")]
    Malformed(String),
    #[error("the request's content lacks `{0}` or it has the wrong type")]
    MissingField(&'static str),
    #[error("unknown request type `{0}`")]
    UnknownRequestType(String),
    #[error("ingress_expiry {expiry} is not within the expected range (now {now}, at most {max})")]
    ExpiryOutOfRange { expiry: u64, now: u64, max: u64 },
    #[error("the anonymous sender carries no public key or signature")]
    AnonymousWithKey,
    #[error("a sender other than the anonymous one needs a public key and a signature")]
    MissingSignature,
    #[error("the sender {sender} is not the principal of the public key ({derived})")]
    SenderMismatch { sender: String, derived: String },
    #[error("unsupported public key (only Ed25519 and ECDSA secp256k1 DER keys)")]
    UnsupportedKey,
    #[error("invalid signature: {0}")]
    InvalidSignature(String),
    #[error("more than {MAX_DELEGATIONS} delegations")]
    TooManyDelegations,
    #[error("delegation {index} expired at {expiration} (now {now})")]
    DelegationExpired {
        index: usize,
        expiration: u64,
        now: u64,
    },
    #[error("the delegations do not allow canister {canister}")]
    CanisterNotInTargets { canister: String },
}

/// What a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequestType {
    Call,
    Query,
    ReadState,
}

/// A decoded, authenticated request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub request_type: RequestType,
    pub request_id: [u8; 32],
    pub sender: Principal,
    pub ingress_expiry: u64,
    /// `call` and `query` only.
    pub canister_id: Option<Principal>,
    pub method_name: Option<String>,
    pub arg: Option<Vec<u8>>,
    /// `read_state` only: each path a list of labels.
    pub paths: Option<Vec<Vec<Vec<u8>>>>,
    /// The canisters the sender's delegations restrict it to (`None`: any).
    pub targets: Option<Vec<Principal>>,
}

/// The principal of a DER public key: SHA-224 of the key, then 0x02.
pub fn self_authenticating(der_public_key: &[u8]) -> Principal {
    let mut bytes = Sha224::digest(der_public_key).to_vec();
    bytes.push(0x02);
    Principal::from_slice(&bytes)
}

/// The representation-independent hash of a CBOR value (the interface specification's
/// `hash_of_map` and its rules for the other types).
pub fn representation_independent_hash(value: &Value) -> Result<[u8; 32], EnvelopeError> {
    let hash = |bytes: &[u8]| -> [u8; 32] { Sha256::digest(bytes).into() };
    Ok(match value {
        Value::Bytes(b) => hash(b),
        Value::Text(t) => hash(t.as_bytes()),
        Value::Integer(i) => {
            let n = u64::try_from(*i)
                .map_err(|_| EnvelopeError::Malformed("a negative or huge integer".into()))?;
            let mut leb = Vec::with_capacity(10);
            leb128::write::unsigned(&mut leb, n).expect("writing to a Vec cannot fail");
            hash(&leb)
        }
        Value::Array(items) => {
            let mut concat = Vec::with_capacity(items.len() * 32);
            for item in items {
                concat.extend_from_slice(&representation_independent_hash(item)?);
            }
            hash(&concat)
        }
        Value::Map(entries) => {
            let mut pairs = Vec::with_capacity(entries.len());
            for (k, v) in entries {
                let mut pair = representation_independent_hash(k)?.to_vec();
                pair.extend_from_slice(&representation_independent_hash(v)?);
                pairs.push(pair);
            }
            pairs.sort();
            hash(&pairs.concat())
        }
        Value::Tag(_, inner) => representation_independent_hash(inner)?,
        _ => {
            return Err(EnvelopeError::Malformed(
                "floats, booleans and null have no request-id hash".into(),
            ))
        }
    })
}

fn field<'a>(map: &'a [(Value, Value)], name: &str) -> Option<&'a Value> {
    map.iter()
        .find(|(k, _)| matches!(k, Value::Text(t) if t == name))
        .map(|(_, v)| v)
}

fn as_map(value: &Value) -> Option<&[(Value, Value)]> {
    match value {
        Value::Map(m) => Some(m),
        Value::Tag(_, inner) => as_map(inner),
        _ => None,
    }
}

fn bytes(map: &[(Value, Value)], name: &'static str) -> Result<Vec<u8>, EnvelopeError> {
    match field(map, name) {
        Some(Value::Bytes(b)) => Ok(b.clone()),
        _ => Err(EnvelopeError::MissingField(name)),
    }
}

fn optional_bytes(
    map: &[(Value, Value)],
    name: &'static str,
) -> Result<Option<Vec<u8>>, EnvelopeError> {
    match field(map, name) {
        None => Ok(None),
        Some(Value::Bytes(b)) => Ok(Some(b.clone())),
        Some(_) => Err(EnvelopeError::MissingField(name)),
    }
}

fn nat(map: &[(Value, Value)], name: &'static str) -> Result<u64, EnvelopeError> {
    match field(map, name) {
        Some(Value::Integer(i)) => u64::try_from(*i).map_err(|_| EnvelopeError::MissingField(name)),
        _ => Err(EnvelopeError::MissingField(name)),
    }
}

fn text(map: &[(Value, Value)], name: &'static str) -> Result<String, EnvelopeError> {
    match field(map, name) {
        Some(Value::Text(t)) => Ok(t.clone()),
        _ => Err(EnvelopeError::MissingField(name)),
    }
}

fn principal(map: &[(Value, Value)], name: &'static str) -> Result<Principal, EnvelopeError> {
    let b = bytes(map, name)?;
    Principal::try_from_slice(&b).map_err(|_| EnvelopeError::MissingField(name))
}

/// Checks `signature` over `message` by the DER public key `der` (Ed25519 or ECDSA secp256k1 with
/// SHA-256, the two kinds of key IC clients make).
pub fn verify_signature(der: &[u8], message: &[u8], signature: &[u8]) -> Result<(), EnvelopeError> {
    if let Some(key) = der.strip_prefix(&ED25519_DER_PREFIX[..]) {
        let key: [u8; 32] = key.try_into().map_err(|_| EnvelopeError::UnsupportedKey)?;
        let key = ed25519_dalek::VerifyingKey::from_bytes(&key)
            .map_err(|e| EnvelopeError::InvalidSignature(e.to_string()))?;
        let signature = ed25519_dalek::Signature::from_slice(signature)
            .map_err(|e| EnvelopeError::InvalidSignature(e.to_string()))?;
        return key
            .verify_strict(message, &signature)
            .map_err(|e| EnvelopeError::InvalidSignature(e.to_string()));
    }
    if let Some(key) = der.strip_prefix(&SECP256K1_DER_PREFIX[..]) {
        use k256::ecdsa::signature::Verifier;
        let key = k256::ecdsa::VerifyingKey::from_sec1_bytes(key)
            .map_err(|e| EnvelopeError::InvalidSignature(e.to_string()))?;
        let signature = k256::ecdsa::Signature::from_slice(signature)
            .map_err(|e| EnvelopeError::InvalidSignature(e.to_string()))?;
        return key
            .verify(message, &signature)
            .map_err(|e| EnvelopeError::InvalidSignature(e.to_string()));
    }
    Err(EnvelopeError::UnsupportedKey)
}

/// Decodes and authenticates an envelope received at `now` (nanoseconds): the request id, the
/// expiry window, the sender's key and signature and every delegation in the chain.
pub fn authenticate(body: &[u8], now: u64) -> Result<Request, EnvelopeError> {
    let envelope: Value =
        ciborium::de::from_reader(body).map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
    let envelope = match envelope {
        Value::Tag(SELF_DESCRIBE_TAG, inner) => *inner,
        other => other,
    };
    let envelope = as_map(&envelope).ok_or(EnvelopeError::Malformed("not a map".into()))?;
    let content_value = field(envelope, "content").ok_or(EnvelopeError::MissingField("content"))?;
    let content = as_map(content_value).ok_or(EnvelopeError::MissingField("content"))?;
    let request_id = representation_independent_hash(content_value)?;

    let request_type = match text(content, "request_type")?.as_str() {
        "call" => RequestType::Call,
        "query" => RequestType::Query,
        "read_state" => RequestType::ReadState,
        other => return Err(EnvelopeError::UnknownRequestType(other.into())),
    };
    let sender = principal(content, "sender")?;
    let ingress_expiry = nat(content, "ingress_expiry")?;
    let max = now.saturating_add(MAX_INGRESS_TTL_NANOS);
    if ingress_expiry < now || ingress_expiry > max {
        return Err(EnvelopeError::ExpiryOutOfRange {
            expiry: ingress_expiry,
            now,
            max,
        });
    }
    let (canister_id, method_name, arg, paths) = match request_type {
        RequestType::Call | RequestType::Query => (
            Some(principal(content, "canister_id")?),
            Some(text(content, "method_name")?),
            Some(bytes(content, "arg")?),
            None,
        ),
        RequestType::ReadState => (None, None, None, Some(read_state_paths(content)?)),
    };

    let pubkey = optional_bytes(envelope, "sender_pubkey")?;
    let signature = optional_bytes(envelope, "sender_sig")?;
    let delegations = field(envelope, "sender_delegation");
    let targets = if sender == Principal::anonymous() {
        if pubkey.is_some() || signature.is_some() || delegations.is_some() {
            return Err(EnvelopeError::AnonymousWithKey);
        }
        None
    } else {
        let (Some(pubkey), Some(signature)) = (pubkey, signature) else {
            return Err(EnvelopeError::MissingSignature);
        };
        let derived = self_authenticating(&pubkey);
        if derived != sender {
            return Err(EnvelopeError::SenderMismatch {
                sender: sender.to_text(),
                derived: derived.to_text(),
            });
        }
        let (signing_key, targets) = follow_delegations(&pubkey, delegations, now)?;
        let mut message = REQUEST_DOMAIN.to_vec();
        message.extend_from_slice(&request_id);
        verify_signature(&signing_key, &message, &signature)?;
        targets
    };
    if let (Some(targets), Some(canister)) = (&targets, canister_id) {
        if !targets.contains(&canister) {
            return Err(EnvelopeError::CanisterNotInTargets {
                canister: canister.to_text(),
            });
        }
    }
    Ok(Request {
        request_type,
        request_id,
        sender,
        ingress_expiry,
        canister_id,
        method_name,
        arg,
        paths,
        targets,
    })
}

fn read_state_paths(content: &[(Value, Value)]) -> Result<Vec<Vec<Vec<u8>>>, EnvelopeError> {
    let Some(Value::Array(paths)) = field(content, "paths") else {
        return Err(EnvelopeError::MissingField("paths"));
    };
    paths
        .iter()
        .map(|path| match path {
            Value::Array(labels) => labels
                .iter()
                .map(|label| match label {
                    Value::Bytes(b) => Ok(b.clone()),
                    _ => Err(EnvelopeError::MissingField("paths")),
                })
                .collect(),
            _ => Err(EnvelopeError::MissingField("paths")),
        })
        .collect()
}

/// Walks the delegation chain from the sender's key: each delegation is signed by the key before
/// it and names the next one. Returns the key that must sign the request and the intersection of
/// the chain's canister targets.
fn follow_delegations(
    sender_key: &[u8],
    delegations: Option<&Value>,
    now: u64,
) -> Result<(Vec<u8>, Option<Vec<Principal>>), EnvelopeError> {
    let Some(delegations) = delegations else {
        return Ok((sender_key.to_vec(), None));
    };
    let Value::Array(chain) = delegations else {
        return Err(EnvelopeError::MissingField("sender_delegation"));
    };
    if chain.len() > MAX_DELEGATIONS {
        return Err(EnvelopeError::TooManyDelegations);
    }
    let mut key = sender_key.to_vec();
    let mut targets: Option<Vec<Principal>> = None;
    for (index, signed) in chain.iter().enumerate() {
        let signed = as_map(signed).ok_or(EnvelopeError::MissingField("sender_delegation"))?;
        let delegation_value =
            field(signed, "delegation").ok_or(EnvelopeError::MissingField("delegation"))?;
        let delegation =
            as_map(delegation_value).ok_or(EnvelopeError::MissingField("delegation"))?;
        let signature = bytes(signed, "signature")?;
        let mut message = DELEGATION_DOMAIN.to_vec();
        message.extend_from_slice(&representation_independent_hash(delegation_value)?);
        verify_signature(&key, &message, &signature)?;
        let expiration = nat(delegation, "expiration")?;
        if expiration < now {
            return Err(EnvelopeError::DelegationExpired {
                index,
                expiration,
                now,
            });
        }
        if let Some(listed) = field(delegation, "targets") {
            let Value::Array(listed) = listed else {
                return Err(EnvelopeError::MissingField("targets"));
            };
            let listed: Vec<Principal> = listed
                .iter()
                .map(|t| match t {
                    Value::Bytes(b) => Principal::try_from_slice(b)
                        .map_err(|_| EnvelopeError::MissingField("targets")),
                    _ => Err(EnvelopeError::MissingField("targets")),
                })
                .collect::<Result<_, _>>()?;
            targets = Some(match targets {
                None => listed,
                Some(before) => before.into_iter().filter(|p| listed.contains(p)).collect(),
            });
        }
        key = bytes(delegation, "pubkey")?;
    }
    Ok((key, targets))
}

/// The client's side of [`authenticate`]: content maps and envelopes signed with an Ed25519 key, as
/// agent-js's `Ed25519KeyIdentity` makes them (tests, benchmarks and tools of this crate use it).
pub struct Ed25519Identity(ed25519_dalek::SigningKey);

impl Ed25519Identity {
    pub fn from_secret(secret: [u8; 32]) -> Self {
        Self(ed25519_dalek::SigningKey::from_bytes(&secret))
    }

    /// The key as a PKCS#8 PEM file, as icp-cli and dfx import identities.
    pub fn pkcs8_pem(&self) -> String {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        self.0
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .expect("an Ed25519 key encodes")
            .to_string()
    }

    pub fn public_key_der(&self) -> Vec<u8> {
        let mut der = ED25519_DER_PREFIX.to_vec();
        der.extend_from_slice(&self.0.verifying_key().to_bytes());
        der
    }

    pub fn principal(&self) -> Principal {
        self_authenticating(&self.public_key_der())
    }

    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        use ed25519_dalek::Signer;
        self.0.sign(message).to_bytes().to_vec()
    }

    /// The CBOR envelope of `content`, signed by this key.
    pub fn envelope(&self, content: Value) -> Vec<u8> {
        let request_id =
            representation_independent_hash(&content).expect("content built of hashable values");
        let mut message = REQUEST_DOMAIN.to_vec();
        message.extend_from_slice(&request_id);
        let envelope = Value::Map(vec![
            (Value::Text("content".into()), content),
            (
                Value::Text("sender_pubkey".into()),
                Value::Bytes(self.public_key_der()),
            ),
            (
                Value::Text("sender_sig".into()),
                Value::Bytes(self.sign(&message)),
            ),
        ]);
        let mut out = Vec::new();
        ciborium::ser::into_writer(&envelope, &mut out).expect("writing to a Vec cannot fail");
        out
    }
}

/// The content of a `call` or `query` request.
pub fn canister_request(
    request_type: RequestType,
    sender: Principal,
    canister: Principal,
    method: &str,
    arg: &[u8],
    ingress_expiry: u64,
) -> Value {
    let kind = match request_type {
        RequestType::Call => "call",
        RequestType::Query => "query",
        RequestType::ReadState => "read_state",
    };
    let text = |s: &str| Value::Text(s.into());
    Value::Map(vec![
        (text("request_type"), text(kind)),
        (text("sender"), Value::Bytes(sender.as_slice().to_vec())),
        (
            text("canister_id"),
            Value::Bytes(canister.as_slice().to_vec()),
        ),
        (text("method_name"), text(method)),
        (text("arg"), Value::Bytes(arg.to_vec())),
        (
            text("ingress_expiry"),
            Value::Integer(ingress_expiry.into()),
        ),
    ])
}

/// The content of a `read_state` request for `paths`.
pub fn read_state_request(sender: Principal, paths: &[Vec<&[u8]>], ingress_expiry: u64) -> Value {
    let text = |s: &str| Value::Text(s.into());
    let paths = paths
        .iter()
        .map(|path| Value::Array(path.iter().map(|l| Value::Bytes(l.to_vec())).collect()))
        .collect();
    Value::Map(vec![
        (text("request_type"), text("read_state")),
        (text("sender"), Value::Bytes(sender.as_slice().to_vec())),
        (text("paths"), Value::Array(paths)),
        (
            text("ingress_expiry"),
            Value::Integer(ingress_expiry.into()),
        ),
    ])
}

#[cfg(test)]
mod tests;
