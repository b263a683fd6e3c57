//! `localnet serve --state-dir`: Ctrl-C saves the network after the request in progress, and a
//! restart serves it again — the canister's heap, mutable global and stable memory as they were, the
//! installs not repeated.

use candid::Principal;
use ciborium::value::Value;
use localnet::ingress::{canister_request, Ed25519Identity, RequestType};
use localnet::serve::wall_clock_nanos;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running `localnet serve` and the URL it printed.
struct Server {
    child: Child,
    url: String,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
}

fn start(args: &[&str]) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_localnet"))
        .arg("serve")
        .args(["--bind", "127.0.0.1:0"])
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("the server prints its URL").unwrap();
        if let Some(url) = line.strip_prefix("localnet serves the IC HTTP interface at ") {
            break url.to_string();
        }
    };
    // The rest of the banner, up to the Ctrl-C hint.
    for line in lines.by_ref() {
        if line.unwrap().starts_with("stop with Ctrl-C") {
            break;
        }
    }
    Server { child, url, lines }
}

impl Server {
    /// Ctrl-C, and what the server printed after it.
    fn interrupt(mut self) -> String {
        let status = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let rest: Vec<String> = self.lines.by_ref().map(|l| l.unwrap()).collect();
        assert!(self.child.wait().unwrap().success());
        rest.join("\n")
    }
}

fn post(url: &str, body: &[u8]) -> Vec<u8> {
    let response = ureq::post(url)
        .set("Content-Type", "application/cbor")
        .send_bytes(body)
        .unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes).unwrap();
    bytes
}

/// The conformance canister's five counters (global, heap, stable, cleanup, timer), read by query.
fn counters(server: &Server, id: Principal, who: &Ed25519Identity) -> Vec<i32> {
    let query = canister_request(
        RequestType::Query,
        who.principal(),
        id,
        "read",
        b"",
        wall_clock_nanos() + 60_000_000_000,
    );
    let answer = post(
        &format!("{}/api/v3/canister/{id}/query", server.url),
        &who.envelope(query),
    );
    let Value::Tag(_, map) = ciborium::de::from_reader::<Value, _>(&answer[..]).unwrap() else {
        panic!("self-describing CBOR")
    };
    let Value::Map(fields) = *map else {
        panic!("a map")
    };
    let reply = fields
        .into_iter()
        .find(|(k, _)| k == &Value::Text("reply".into()))
        .expect("replied")
        .1;
    let Value::Map(reply) = reply else {
        panic!("a reply")
    };
    let Value::Bytes(state) = &reply[0].1 else {
        panic!("bytes")
    };
    state
        .chunks(4)
        .map(|c| i32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[test]
fn ctrl_c_saves_the_network_and_a_restart_serves_it_again() {
    let dir = std::env::temp_dir().join(format!("localnet-state-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let wasm = dir.with_extension("wasm");
    std::fs::write(
        &wasm,
        wat::parse_file(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/conformance.wat"
        ))
        .unwrap(),
    )
    .unwrap();
    let state_dir = dir.to_str().unwrap();
    let server = start(&[
        "--state-dir",
        state_dir,
        "--install",
        wasm.to_str().unwrap(),
    ]);
    let id = Principal::from_text("rwlgt-iiaaa-aaaaa-aaaaa-cai").unwrap();
    let alice = Ed25519Identity::from_secret([1; 32]);
    for n in 0..3u64 {
        // Distinct expiries: three requests, not one sent three times.
        let call = canister_request(
            RequestType::Call,
            alice.principal(),
            id,
            "inc",
            b"",
            wall_clock_nanos() + 60_000_000_000 + n,
        );
        post(
            &format!("{}/api/v3/canister/{id}/call", server.url),
            &alice.envelope(call),
        );
    }
    assert_eq!(&counters(&server, id, &alice)[..3], &[3, 3, 3]);
    let said = server.interrupt();
    assert!(said.contains("saved the network in"), "{said}");

    // Installing again into a saved network is refused; without installs, it is served as saved.
    let refused = Command::new(env!("CARGO_BIN_EXE_localnet"))
        .args(["serve", "--bind", "127.0.0.1:0", "--state-dir", state_dir])
        .args(["--install", wasm.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let root_key_file = dir.with_extension("root-key");
    let server = start(&[
        "--state-dir",
        state_dir,
        "--root-key-file",
        root_key_file.to_str().unwrap(),
    ]);
    let root_key = std::fs::read_to_string(&root_key_file).unwrap();
    assert_eq!(root_key.trim().len(), 266, "the DER root key in hex");
    std::fs::remove_file(&root_key_file).unwrap();
    assert_eq!(
        &counters(&server, id, &alice)[..3],
        &[3, 3, 3],
        "heap, global and stable memory survive the restart"
    );
    server.interrupt();
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::remove_file(&wasm).unwrap();
}
