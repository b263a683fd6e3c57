//! `localnet serve` over real HTTP on loopback: the status, a signed call and query, an unknown
//! route, and the network handed back when the server stops.

use candid::Principal;
use ciborium::value::Value;
use localnet::ingress::{canister_request, Ed25519Identity, RequestType};
use localnet::interface::Interface;
use localnet::serve::{check_bind, serve, wall_clock_nanos};
use localnet::LocalNet;

fn post(url: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let answer = ureq::post(url)
        .set("Content-Type", "application/cbor")
        .send_bytes(body);
    let response = match answer {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(e) => panic!("{url}: {e}"),
    };
    let status = response.status();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes).unwrap();
    (status, bytes)
}

fn field(bytes: &[u8], name: &str) -> Value {
    let Value::Tag(_, map) = ciborium::de::from_reader::<Value, _>(bytes).unwrap() else {
        panic!("self-describing CBOR")
    };
    let Value::Map(entries) = *map else {
        panic!("a map")
    };
    entries
        .into_iter()
        .find(|(k, _)| matches!(k, Value::Text(t) if t == name))
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("no {name}"))
}

#[test]
fn a_live_network_answers_real_http() {
    let mut net = LocalNet::new(5);
    let controller = Principal::from_slice(&[9; 29]);
    let id = net.create_canister(controller);
    let wasm = wat::parse_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/conformance.wat"
    ))
    .unwrap();
    net.install_canister(id, &wasm, vec![], controller).unwrap();
    let interface = Interface::new(b"serve test");
    let root_key = interface.root.public_key_der();
    let serving = serve(net, interface, "127.0.0.1:0".parse().unwrap(), false).unwrap();
    let base = format!("http://{}", serving.addr);

    let status = ureq::get(&format!("{base}/api/v2/status")).call().unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut status.into_reader(), &mut bytes).unwrap();
    assert_eq!(field(&bytes, "root_key"), Value::Bytes(root_key));

    // The network follows the wall clock: an expiry a minute from now is in the window.
    let alice = Ed25519Identity::from_secret([1; 32]);
    let expiry = wall_clock_nanos() + 60_000_000_000;
    let call = canister_request(RequestType::Call, alice.principal(), id, "inc", b"", expiry);
    let (code, answer) = post(
        &format!("{base}/api/v3/canister/{id}/call"),
        &alice.envelope(call),
    );
    assert_eq!(code, 200, "{}", String::from_utf8_lossy(&answer));
    assert_eq!(field(&answer, "status"), Value::Text("replied".into()));
    let query = canister_request(
        RequestType::Query,
        alice.principal(),
        id,
        "read",
        b"",
        expiry,
    );
    let (code, answer) = post(
        &format!("{base}/api/v2/canister/{id}/query"),
        &alice.envelope(query),
    );
    assert_eq!(code, 200);
    let Value::Map(reply) = field(&answer, "reply") else {
        panic!("a reply")
    };
    let Value::Bytes(state) = &reply[0].1 else {
        panic!("reply bytes")
    };
    assert_eq!(
        i32::from_le_bytes(state[0..4].try_into().unwrap()),
        1,
        "incremented once"
    );

    let (code, answer) = post(&format!("{base}/api/v9/teleport"), b"");
    assert_eq!(code, 404, "{}", String::from_utf8_lossy(&answer));

    let mut net = serving.stop();
    let state = net
        .query_call(id, alice.principal(), "read", vec![])
        .unwrap();
    assert_eq!(
        i32::from_le_bytes(state[0..4].try_into().unwrap()),
        1,
        "the state is kept"
    );
    assert!(
        net.time() >= expiry - 60_000_000_000,
        "the clock followed the wall clock"
    );
    assert!(
        net.time() <= wall_clock_nanos(),
        "and rounds did not put it ahead"
    );
}

/// Served, the network's clock is the wall clock's: no number of rounds a client causes (a call that
/// waits runs up to 1,000) moves it ahead, or clients would find their requests expired.
#[test]
fn rounds_do_not_move_an_external_clock() {
    let mut net = LocalNet::new(1);
    net.set_external_clock(true);
    let start = net.time();
    for _ in 0..1_000 {
        net.tick();
    }
    assert_eq!(net.time(), start);
    net.set_external_clock(false);
    net.tick();
    assert!(net.time() > start);
}

#[test]
fn only_loopback_is_served_unless_asked() {
    assert!(check_bind(&"127.0.0.1:4943".parse().unwrap(), false).is_ok());
    assert!(check_bind(&"[::1]:4943".parse().unwrap(), false).is_ok());
    let remote = check_bind(&"0.0.0.0:4943".parse().unwrap(), false);
    assert!(remote.unwrap_err().contains("--allow-remote"));
    assert!(check_bind(&"0.0.0.0:4943".parse().unwrap(), true).is_ok());
}
