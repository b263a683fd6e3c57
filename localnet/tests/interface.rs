//! The HTTP interface over a LocalNet, as a client sees it: the status with the root key, queries by
//! an Ed25519 identity and by the anonymous principal answered with node signatures that verify, and
//! the refusals (bad signature, expired, wrong endpoint, unknown method, unknown route).

use candid::Principal;
use ciborium::value::Value;
use localnet::certification::response_signable;
use localnet::ingress::{canister_request, read_state_request, Ed25519Identity, RequestType};
use localnet::interface::Interface;
use localnet::LocalNet;

mod common;
use common::{certificate_of, decode, found, get, verified_certificate, wasm, NOW};

fn setup() -> (LocalNet, Interface, Principal) {
    let mut net = LocalNet::new(3);
    let controller = Principal::from_slice(&[9; 29]);
    let id = net.create_canister(controller);
    net.install_canister(id, &wasm(), vec![], controller)
        .unwrap();
    (net, Interface::new(b"interface test"), id)
}

fn query_content(sender: Principal, id: Principal, method: &str, expiry: u64) -> Value {
    canister_request(RequestType::Query, sender, id, method, b"", expiry)
}

/// A call of `method` by `who`, and its request id.
fn call_content(who: &Ed25519Identity, id: Principal, method: &str) -> (Value, [u8; 32]) {
    let content = canister_request(
        RequestType::Call,
        who.principal(),
        id,
        method,
        b"",
        NOW + 60,
    );
    let request_id = localnet::ingress::representation_independent_hash(&content).unwrap();
    (content, request_id)
}

fn query_path(id: Principal) -> String {
    format!("/api/v3/canister/{id}/query")
}

#[test]
fn the_status_serves_the_root_key() {
    let (mut net, mut interface, _) = setup();
    let status = decode(&interface.respond(&mut net, "GET", "/api/v2/status", b"", NOW));
    assert_eq!(
        get(&status, "root_key"),
        &Value::Bytes(interface.root.public_key_der())
    );
    assert_eq!(
        get(&status, "replica_health_status"),
        &Value::Text("healthy".into())
    );
}

/// A signed query is answered with the canister's reply and a node signature over it that verifies
/// with the node's key — the check agent-js and icp-cli make by default.
#[test]
fn a_signed_query_is_answered_and_the_answer_is_signed() {
    let (mut net, mut interface, id) = setup();
    let alice = Ed25519Identity::from_secret([1; 32]);
    let content = query_content(alice.principal(), id, "read", NOW + 60);
    let request_id = localnet::ingress::representation_independent_hash(&content).unwrap();
    let response = interface.respond(
        &mut net,
        "POST",
        &query_path(id),
        &alice.envelope(content),
        NOW,
    );
    let answer = decode(&response);
    assert_eq!(get(&answer, "status"), &Value::Text("replied".into()));
    let expected = net
        .query_call(id, alice.principal(), "read", vec![])
        .unwrap();
    let reply = get(&answer, "reply").clone();
    let Value::Map(ref reply_fields) = reply else {
        panic!("reply is a map")
    };
    assert_eq!(get(reply_fields, "arg"), &Value::Bytes(expected));

    let Value::Array(signatures) = get(&answer, "signatures") else {
        panic!("signatures")
    };
    let Value::Map(signature) = &signatures[0] else {
        panic!("a signature map")
    };
    let (Value::Bytes(sig), Value::Integer(timestamp), Value::Bytes(identity)) = (
        get(signature, "signature"),
        get(signature, "timestamp"),
        get(signature, "identity"),
    ) else {
        panic!("signature fields")
    };
    assert_eq!(identity, interface.node.node_id().as_slice());
    let timestamp = u64::try_from(*timestamp).unwrap();
    let signable = response_signable(
        vec![("status", Value::Text("replied".into())), ("reply", reply)],
        timestamp,
        &request_id,
    );
    let der = interface.node.public_key_der();
    let key = ed25519_dalek::VerifyingKey::from_bytes(der[12..].try_into().unwrap()).unwrap();
    let signature = ed25519_dalek::Signature::from_slice(sig).unwrap();
    assert!(key.verify_strict(&signable, &signature).is_ok());
}

#[test]
fn rejects_and_refusals_have_the_specs_shapes() {
    let (mut net, mut interface, id) = setup();
    let alice = Ed25519Identity::from_secret([1; 32]);
    // An unknown method: a signed reject with its error code.
    let content = query_content(alice.principal(), id, "nope", NOW + 60);
    let answer = decode(&interface.respond(
        &mut net,
        "POST",
        &query_path(id),
        &alice.envelope(content),
        NOW,
    ));
    assert_eq!(get(&answer, "status"), &Value::Text("rejected".into()));
    assert_eq!(get(&answer, "reject_code"), &Value::Integer(3.into()));
    assert_eq!(get(&answer, "error_code"), &Value::Text("IC0302".into()));
    assert!(matches!(get(&answer, "signatures"), Value::Array(s) if s.len() == 1));

    let refused = |interface: &mut Interface, net: &mut LocalNet, path: &str, body: Vec<u8>| {
        let r = interface.respond(net, "POST", path, &body, NOW);
        (r.status, String::from_utf8_lossy(&r.body).to_string())
    };
    // Another key's signature: the sender is alice, the key is mallory's.
    let mallory = Ed25519Identity::from_secret([2; 32]);
    let content = query_content(alice.principal(), id, "read", NOW + 60);
    let (status, message) = refused(
        &mut interface,
        &mut net,
        &query_path(id),
        mallory.envelope(content),
    );
    assert_eq!(status, 400);
    assert!(
        message.contains("not the principal of the public key"),
        "{message}"
    );
    // Expired.
    let content = query_content(alice.principal(), id, "read", NOW - 1);
    let (status, message) = refused(
        &mut interface,
        &mut net,
        &query_path(id),
        alice.envelope(content),
    );
    assert_eq!(status, 400);
    assert!(message.contains("ingress_expiry"), "{message}");
    // A query for one canister sent to another's endpoint; a call sent to the query endpoint.
    let other = Principal::from_slice(&[0, 0, 0, 0, 0, 0, 0, 99, 1, 1]);
    let content = query_content(alice.principal(), id, "read", NOW + 60);
    let (status, _) = refused(
        &mut interface,
        &mut net,
        &query_path(other),
        alice.envelope(content),
    );
    assert_eq!(status, 400);
    let content = canister_request(
        RequestType::Call,
        alice.principal(),
        id,
        "inc",
        b"",
        NOW + 60,
    );
    let (status, _) = refused(
        &mut interface,
        &mut net,
        &query_path(id),
        alice.envelope(content),
    );
    assert_eq!(status, 400);
    // Not CBOR; an unknown route.
    let (status, _) = refused(
        &mut interface,
        &mut net,
        &query_path(id),
        b"{json?}".to_vec(),
    );
    assert_eq!(status, 400);
    let (status, message) = refused(&mut interface, &mut net, "/api/v9/teleport", vec![]);
    assert_eq!(status, 404);
    assert!(message.contains("/api/v9/teleport"));
    // Nothing changed: the canister's state is as before.
    let after = net
        .query_call(id, alice.principal(), "read", vec![])
        .unwrap();
    let fresh = setup();
    let mut fresh_net = fresh.0;
    assert_eq!(
        after,
        fresh_net
            .query_call(fresh.2, alice.principal(), "read", vec![])
            .unwrap()
    );
}

#[test]
fn the_anonymous_principal_queries_without_a_key() {
    let (mut net, mut interface, id) = setup();
    let content = query_content(Principal::anonymous(), id, "read", NOW + 60);
    let envelope = Value::Map(vec![(Value::Text("content".into()), content)]);
    let mut body = Vec::new();
    ciborium::ser::into_writer(&envelope, &mut body).unwrap();
    let answer = decode(&interface.respond(
        &mut net,
        "POST",
        &format!("/api/v2/canister/{id}/query"),
        &body,
        NOW,
    ));
    assert_eq!(get(&answer, "status"), &Value::Text("replied".into()));
}

/// v3 (and v4) calls are answered when executed, with a certificate of the reply at
/// `/request_status/<id>/reply`; the update's effect is visible to a later query.
#[test]
fn a_synchronous_call_is_answered_with_a_certified_reply() {
    let (mut net, mut interface, id) = setup();
    let alice = Ed25519Identity::from_secret([1; 32]);
    let before = net
        .query_call(id, alice.principal(), "read", vec![])
        .unwrap();
    for version in ["v3", "v4"] {
        let (content, request_id) = call_content(&alice, id, "inc");
        let path = format!("/api/{version}/canister/{id}/call");
        let answer =
            decode(&interface.respond(&mut net, "POST", &path, &alice.envelope(content), NOW));
        assert_eq!(get(&answer, "status"), &Value::Text("replied".into()));
        let certificate = verified_certificate(&interface, &certificate_of(&answer));
        assert_eq!(
            found(&certificate, &[b"request_status", &request_id, b"status"]),
            b"replied"
        );
        let reply = found(&certificate, &[b"request_status", &request_id, b"reply"]).to_vec();
        assert_eq!(
            reply,
            net.query_call(id, alice.principal(), "read", vec![])
                .unwrap()
        );
        assert_eq!(
            found(&certificate, &[b"time"]),
            localnet::certification::leb128(NOW)
        );
    }
    assert_ne!(
        net.query_call(id, alice.principal(), "read", vec![])
            .unwrap(),
        before
    );
}

/// v2: `202 Accepted`, then `read_state` of the request's status — by its sender only.
#[test]
fn an_accepted_call_is_polled_by_its_sender() {
    let (mut net, mut interface, id) = setup();
    let alice = Ed25519Identity::from_secret([1; 32]);
    let (content, request_id) = call_content(&alice, id, "inc");
    let path = format!("/api/v2/canister/{id}/call");
    let envelope = alice.envelope(content);
    assert_eq!(
        interface
            .respond(&mut net, "POST", &path, &envelope, NOW)
            .status,
        202
    );
    // Sent again (agents retry): still accepted, and it runs once.
    assert_eq!(
        interface
            .respond(&mut net, "POST", &path, &envelope, NOW)
            .status,
        202
    );
    net.tick();
    let read_state = |who: &Ed25519Identity, paths: Vec<Vec<&[u8]>>| {
        who.envelope(read_state_request(who.principal(), &paths, NOW + 60))
    };
    let state_path = format!("/api/v3/canister/{id}/read_state");
    let body = read_state(&alice, vec![vec![b"request_status", &request_id]]);
    let answer = decode(&interface.respond(&mut net, "POST", &state_path, &body, NOW));
    let certificate = verified_certificate(&interface, &certificate_of(&answer));
    assert_eq!(
        found(&certificate, &[b"request_status", &request_id, b"status"]),
        b"replied"
    );
    let counter = net
        .query_call(id, alice.principal(), "read", vec![])
        .unwrap();
    assert_eq!(
        found(&certificate, &[b"request_status", &request_id, b"reply"]),
        &counter[..]
    );
    // Another principal may not read alice's request.
    let mallory = Ed25519Identity::from_secret([2; 32]);
    let body = read_state(&mallory, vec![vec![b"request_status", &request_id]]);
    assert_eq!(
        interface
            .respond(&mut net, "POST", &state_path, &body, NOW)
            .status,
        403
    );
    // The subnet's keys and the canister's module hash and controllers, certified.
    let subnet = interface.subnet_id();
    let node = interface.node.node_id();
    let body = read_state(
        &mallory,
        vec![
            vec![b"subnet", subnet.as_slice(), b"public_key"],
            vec![b"canister", id.as_slice(), b"module_hash"],
            vec![b"canister", id.as_slice(), b"controllers"],
        ],
    );
    let answer = decode(&interface.respond(&mut net, "POST", &state_path, &body, NOW));
    let certificate = verified_certificate(&interface, &certificate_of(&answer));
    assert_eq!(
        found(&certificate, &[b"subnet", subnet.as_slice(), b"public_key"]),
        &interface.root.public_key_der()[..]
    );
    assert_eq!(
        found(
            &certificate,
            &[
                b"subnet",
                subnet.as_slice(),
                b"node",
                node.as_slice(),
                b"public_key"
            ]
        ),
        &interface.node.public_key_der()[..]
    );
    assert_eq!(
        found(&certificate, &[b"canister", id.as_slice(), b"module_hash"]),
        &net.module_hash(id).unwrap()[..]
    );
    let controllers: Value = ciborium::de::from_reader(found(
        &certificate,
        &[b"canister", id.as_slice(), b"controllers"],
    ))
    .unwrap();
    assert_eq!(
        controllers,
        Value::Tag(
            55_799,
            Box::new(Value::Array(vec![Value::Bytes(vec![9; 29])]))
        )
    );
}

/// A call the canister rejects is certified as rejected, with its code.
#[test]
fn a_trapping_call_is_certified_as_rejected() {
    let (mut net, mut interface, id) = setup();
    let alice = Ed25519Identity::from_secret([1; 32]);
    let (content, request_id) = call_content(&alice, id, "inc_then_trap");
    let path = format!("/api/v3/canister/{id}/call");
    let answer = decode(&interface.respond(&mut net, "POST", &path, &alice.envelope(content), NOW));
    let certificate = verified_certificate(&interface, &certificate_of(&answer));
    assert_eq!(
        found(&certificate, &[b"request_status", &request_id, b"status"]),
        b"rejected"
    );
    assert_eq!(
        found(
            &certificate,
            &[b"request_status", &request_id, b"reject_code"]
        ),
        &[5]
    );
    assert_eq!(
        found(
            &certificate,
            &[b"request_status", &request_id, b"error_code"]
        ),
        b"IC0503"
    );
}

/// Calls received together are answered as one round: one root-key signature certifies every
/// answer, and each client's tree has the other calls pruned whole — it verifies, shows its own
/// reply, and reveals neither the other's status nor its request id.
#[test]
fn calls_received_together_share_one_signature_and_see_only_their_own_status() {
    let (mut net, mut interface, id) = setup();
    let alice = Ed25519Identity::from_secret([1; 32]);
    let bob = Ed25519Identity::from_secret([2; 32]);
    let (a, a_id) = call_content(&alice, id, "inc");
    let (b, b_id) = call_content(&bob, id, "inc");
    let path = format!("/api/v3/canister/{id}/call");
    let request = |body: Vec<u8>| localnet::interface::HttpIn {
        method: "POST".into(),
        url: path.clone(),
        host: None,
        headers: vec![],
        body,
    };
    let answers = interface.respond_many(
        &mut net,
        vec![request(alice.envelope(a)), request(bob.envelope(b))],
        NOW,
    );
    let certificates: Vec<ic_certification::Certificate> = answers
        .iter()
        .map(|answer| verified_certificate(&interface, &certificate_of(&decode(answer))))
        .collect();
    assert_eq!(certificates[0].signature, certificates[1].signature);
    for (certificate, own, other) in [
        (&certificates[0], &a_id, &b_id),
        (&certificates[1], &b_id, &a_id),
    ] {
        assert_eq!(
            found(certificate, &[b"request_status", own, b"status"]),
            b"replied"
        );
        assert!(matches!(
            certificate
                .tree
                .lookup_path([&b"request_status"[..], other, b"status"]),
            ic_certification::LookupResult::Unknown
        ));
    }
    // Not even the other request's id is in a client's certificate.
    for (answer, other) in [(&answers[0], &b_id), (&answers[1], &a_id)] {
        let bytes = certificate_of(&decode(answer));
        assert!(!bytes.windows(32).any(|w| w == &other[..]));
    }
    // Both ran: the counter moved twice.
    let state = net
        .query_call(id, alice.principal(), "read", vec![])
        .unwrap();
    assert_eq!(i32::from_le_bytes(state[0..4].try_into().unwrap()), 2);
}

/// A body over the limit is refused before it is decoded (413), by the API and the gateway alike.
#[test]
fn an_oversize_request_is_refused_unread() {
    let (mut net, mut interface, id) = setup();
    let huge = vec![0u8; localnet::interface::MAX_REQUEST_BYTES + 1];
    let call = interface.respond(
        &mut net,
        "POST",
        &format!("/api/v3/canister/{id}/call"),
        &huge,
        NOW,
    );
    assert_eq!(call.status, 413);
    let page = interface.respond_http(
        &mut net,
        "POST",
        &format!("/?canisterId={id}"),
        None,
        vec![],
        &huge,
        NOW,
    );
    assert_eq!(page.status, 413);
}

/// The record of a request is kept while it could be sent again, and forgotten once it expired and
/// was answered (memory stays bounded under load); the expired request, resent, is refused, not run.
#[test]
fn expired_answered_requests_are_forgotten_and_cannot_run_again() {
    let (mut net, mut interface, id) = setup();
    let alice = Ed25519Identity::from_secret([1; 32]);
    let (content, _) = call_content(&alice, id, "inc");
    let envelope = alice.envelope(content);
    let path = format!("/api/v3/canister/{id}/call");
    assert_eq!(
        interface
            .respond(&mut net, "POST", &path, &envelope, NOW)
            .status,
        200
    );
    assert_eq!(interface.recorded_calls(), 1);
    let later = NOW + 120_000_000_000;
    assert_eq!(
        interface
            .respond(&mut net, "GET", "/api/v2/status", b"", later)
            .status,
        200
    );
    assert_eq!(interface.recorded_calls(), 0);
    assert_eq!(
        interface
            .respond(&mut net, "POST", &path, &envelope, later)
            .status,
        400
    );
    let state = net
        .query_call(id, alice.principal(), "read", vec![])
        .unwrap();
    assert_eq!(
        i32::from_le_bytes(state[0..4].try_into().unwrap()),
        1,
        "run once"
    );
}
