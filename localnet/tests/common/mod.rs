//! What the HTTP-interface tests share: the test canister, and reading answers and certificates as a
//! client does.
#![allow(dead_code)]

use ciborium::value::Value;
use localnet::interface::{Interface, Response};

/// The time the tests' requests are made at (nanoseconds).
pub const NOW: u64 = 1_764_000_000_000_000_000;

/// The conformance canister (tests/conformance.wat).
pub fn wasm() -> Vec<u8> {
    wat::parse_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance.wat"
    ))
    .expect("conformance.wat parses")
}

pub fn decode(response: &Response) -> Vec<(Value, Value)> {
    assert_eq!(
        response.status,
        200,
        "{}",
        String::from_utf8_lossy(&response.body)
    );
    let value: Value = ciborium::de::from_reader(&response.body[..]).unwrap();
    let Value::Tag(55_799, inner) = value else {
        panic!("self-describing CBOR: {value:?}")
    };
    let Value::Map(entries) = *inner else {
        panic!("a map")
    };
    entries
}

pub fn get<'a>(map: &'a [(Value, Value)], name: &str) -> &'a Value {
    &map.iter()
        .find(|(k, _)| matches!(k, Value::Text(t) if t == name))
        .unwrap_or_else(|| panic!("no {name}"))
        .1
}

/// A certificate from an answer: its signature verifies against the root key over its tree.
pub fn verified_certificate(interface: &Interface, bytes: &[u8]) -> ic_certification::Certificate {
    let certificate: ic_certification::Certificate = serde_cbor::from_slice(bytes).unwrap();
    let mut message = localnet::certification::STATE_ROOT_DOMAIN.to_vec();
    message.extend_from_slice(&certificate.tree.digest());
    ic_verify_bls_signature::verify_bls_signature(
        &certificate.signature,
        &message,
        &interface.root.public_key(),
    )
    .expect("the certificate is signed by the root key");
    certificate
}

pub fn found<'a>(certificate: &'a ic_certification::Certificate, path: &[&[u8]]) -> &'a [u8] {
    match certificate.tree.lookup_path(path.iter().copied()) {
        ic_certification::LookupResult::Found(value) => value,
        other => panic!("{path:?}: {other:?}"),
    }
}

pub fn certificate_of(answer: &[(Value, Value)]) -> Vec<u8> {
    let Value::Bytes(certificate) = get(answer, "certificate") else {
        panic!("a certificate")
    };
    certificate.clone()
}
