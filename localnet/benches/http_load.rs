//! A load run on loopback against `localnet serve`: signed `icrc1_transfer` updates per second through
//! the HTTP interface (v3 calls, each answered with its certificate; and v2 calls, accepted at once and
//! polled), and the latency of a signed query (`icrc1_balance_of`, answered with the node's signature),
//! p50 and p99. Requests are signed before the clock starts: what is measured is the server — envelope
//! decoding, signature checks, execution of the real icrc-ledger wasm, certification — not the client.
//!
//! `cargo bench -p localnet --bench http_load` (after scripts/build-canisters.sh). Sizes by
//! `HTTP_LOAD_CALLS` (default 4,000) and `HTTP_LOAD_CLIENTS` (default 8).

use candid::Principal;
use ciborium::value::Value;
use localnet::ingress::{canister_request, Ed25519Identity, RequestType};
use localnet::interface::Interface;
use localnet::LocalNet;
use std::time::{Duration, Instant};

mod support;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Signed envelopes of `method` by `who`, each with its own nonce (distinct request ids).
fn signed(
    who: &Ed25519Identity,
    kind: RequestType,
    ledger: Principal,
    method: &str,
    args: impl Iterator<Item = (u64, Vec<u8>)>,
) -> Vec<Vec<u8>> {
    let expiry = localnet::serve::wall_clock_nanos() + 240_000_000_000;
    args.map(|(n, arg)| {
        let mut content = canister_request(kind, who.principal(), ledger, method, &arg, expiry);
        if let Value::Map(fields) = &mut content {
            fields.push((
                Value::Text("nonce".into()),
                Value::Bytes(n.to_be_bytes().to_vec()),
            ));
        }
        who.envelope(content)
    })
    .collect()
}

fn post(agent: &ureq::Agent, url: &str, body: &[u8]) -> u16 {
    match agent
        .post(url)
        .set("Content-Type", "application/cbor")
        .send_bytes(body)
    {
        Ok(response) => {
            let status = response.status();
            let mut sink = Vec::new();
            std::io::Read::read_to_end(&mut response.into_reader(), &mut sink).unwrap();
            status
        }
        Err(ureq::Error::Status(status, _)) => status,
        Err(e) => panic!("{url}: {e}"),
    }
}

/// Sends every client's envelopes to `url` from its own thread; the elapsed time.
fn blast(url: &str, per_client: Vec<Vec<Vec<u8>>>, expect: u16) -> Duration {
    let started = Instant::now();
    let threads: Vec<_> = per_client
        .into_iter()
        .map(|envelopes| {
            let url = url.to_string();
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().build();
                for envelope in envelopes {
                    assert_eq!(post(&agent, &url, &envelope), expect);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    started.elapsed()
}

fn percentile(sorted: &[Duration], p: usize) -> Duration {
    sorted[(sorted.len() * p / 100).min(sorted.len() - 1)]
}

fn main() {
    let Some(wasm) = support::ledger_wasm() else {
        return;
    };
    let calls = env_or("HTTP_LOAD_CALLS", 4_000);
    let clients = env_or("HTTP_LOAD_CLIENTS", 8).max(1);
    let identities: Vec<Ed25519Identity> = (0..clients)
        .map(|i| Ed25519Identity::from_secret([i as u8 + 1; 32]))
        .collect();
    let mut net = LocalNet::new(1);
    let principals: Vec<Principal> = identities.iter().map(|i| i.principal()).collect();
    let ledger = support::install_ledger(&mut net, &wasm, &principals);
    let serving = localnet::serve::serve(
        net,
        Interface::new(b"http load"),
        "127.0.0.1:0".parse().unwrap(),
        false,
    )
    .unwrap();
    let base = format!("http://{}/api", serving.addr);
    let per_client = calls / clients;
    let total = per_client * clients;
    println!(
        "localnet serve on loopback, icrc-ledger wasm, {clients} clients, {total} requests per run"
    );

    for (version, expect) in [("v3", 200), ("v2", 202)] {
        let envelopes: Vec<Vec<Vec<u8>>> = identities
            .iter()
            .enumerate()
            .map(|(c, who)| {
                let offset = (version == "v2") as u64 * 1_000_000 + c as u64 * 100_000;
                signed(
                    who,
                    RequestType::Call,
                    ledger,
                    "icrc1_transfer",
                    (0..per_client as u64).map(|n| (offset + n, support::transfer(n))),
                )
            })
            .collect();
        let url = format!("{base}/{version}/canister/{ledger}/call");
        let elapsed = blast(&url, envelopes, expect);
        println!(
            "signed icrc1_transfer, {version} call ({}): {:.0} updates/s ({total} in {elapsed:.2?})",
            if version == "v3" {
                "answered with its certificate"
            } else {
                "202 Accepted; executed in the next rounds"
            },
            total as f64 / elapsed.as_secs_f64()
        );
    }

    let who = &identities[0];
    let balance_of = candid::encode_one(icrc_ledger_types::icrc1::account::Account {
        owner: who.principal(),
        subaccount: None,
    })
    .unwrap();
    let queries = signed(
        who,
        RequestType::Query,
        ledger,
        "icrc1_balance_of",
        (0..total.min(2_000) as u64).map(|n| (n, balance_of.clone())),
    );
    let agent = ureq::AgentBuilder::new().build();
    let url = format!("{base}/v3/canister/{ledger}/query");
    let mut latencies: Vec<Duration> = queries
        .iter()
        .map(|envelope| {
            let started = Instant::now();
            assert_eq!(post(&agent, &url, envelope), 200);
            started.elapsed()
        })
        .collect();
    latencies.sort();
    println!(
        "signed query icrc1_balance_of (node-signed answer), one client: p50 {:.2?}, p99 {:.2?} ({} queries)",
        percentile(&latencies, 50),
        percentile(&latencies, 99),
        latencies.len()
    );
    let mut net: LocalNet = serving.stop();
    let (balance,): (candid::Nat,) = net
        .query(
            ledger,
            who.principal(),
            "icrc1_balance_of",
            (icrc_ledger_types::icrc1::account::Account {
                owner: who.principal(),
                subaccount: None,
            },),
        )
        .unwrap();
    // Both runs' transfers of 1 unit plus a fee of 1 each took effect.
    let spent = 2 * 2 * per_client as u64;
    assert_eq!(balance, candid::Nat::from((1u64 << 60) - spent));
}
