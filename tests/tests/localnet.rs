//! localnet's management canister, HTTPS outcalls, timers and fault injection, exercised by a real
//! ic-cdk canister (`localnet-probe`).

use candid::{Decode, Encode, Principal};
use ic_management_canister_types::{HttpHeader, HttpRequestResult};
use localnet::{reject_code, Fault, LocalNet};
use std::io::{Read, Write};
use tests::*;

fn probe(net: &mut LocalNet) -> Principal {
    let id = net.create_canister(admin());
    net.install_canister(
        id,
        &canister_wasm("localnet-probe"),
        Encode!().unwrap(),
        admin(),
    )
    .expect("the probe installs");
    id
}

type FetchResult = Result<(u16, Vec<u8>), String>;

#[test]
fn mocked_outcalls_run_the_transform_check_sizes_and_charge_cycles() {
    let mut net = LocalNet::new(1);
    let p = probe(&mut net);
    let before = net.cycles_balance(p);
    let arg = Encode!(
        &"https://node.example/api/generate",
        &b"{\"prompt\":\"hi\"}".to_vec()
    )
    .unwrap();
    let id = net.submit_call(p, admin(), "fetch", arg.clone()).unwrap();
    net.tick();
    let pending = net.pending_http_requests();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].url, "https://node.example/api/generate");
    assert_eq!(pending[0].body, b"{\"prompt\":\"hi\"}");
    assert!(!pending[0].is_replicated);
    assert_eq!(pending[0].max_response_bytes, 10_000);
    net.mock_http_response(
        pending[0].id,
        Ok(HttpRequestResult {
            status: 200u16.into(),
            headers: vec![HttpHeader {
                name: "x-node".into(),
                value: "eu-1".into(),
            }],
            body: b"{\"eval_count\":7}".to_vec(),
        }),
        850,
    );
    let reply = net.await_call(id).unwrap();
    let result = Decode!(&reply, FetchResult).unwrap();
    assert_eq!(result, Ok((200, b"{\"eval_count\":7}".to_vec())));
    // What the canister spent beyond its own executions and call fees is the outcall's price for
    // what it used (the rest of the attached cycles came back).
    let outcall_charge = before - net.cycles_balance(p) - net.call_report(id).cycles();
    let without_transform = localnet::cost::http_request_cost_v2(&localnet::cost::HttpUsage {
        request_bytes: 33 + 15 + "strip_headers".len() as u64,
        roundtrip_ms: 850,
        raw_response_bytes: 16 + 10,
        transformed_response_bytes: 16,
        transform_instructions: 0,
        replicated: false,
    });
    assert!(
        outcall_charge >= without_transform && outcall_charge < without_transform + 13_000_000,
        "charged {outcall_charge}, expected {without_transform} + the transform's instructions"
    );

    // A response above max_response_bytes is refused.
    let id = net.submit_call(p, admin(), "fetch", arg).unwrap();
    net.tick();
    let pending = net.pending_http_requests();
    net.mock_http_response(
        pending[0].id,
        Ok(HttpRequestResult {
            status: 200u16.into(),
            headers: vec![],
            body: vec![0; 10_001],
        }),
        10,
    );
    let result = Decode!(&net.await_call(id).unwrap(), FetchResult).unwrap();
    assert!(result.unwrap_err().contains("size limit"));
}

#[test]
fn loopback_outcalls_reach_a_real_http_server() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut chunk = [0u8; 4096];
        while !request.ends_with(b"ping") {
            let n = stream.read(&mut chunk).unwrap();
            if n == 0 {
                break;
            }
            request.extend_from_slice(&chunk[..n]);
        }
        let text = String::from_utf8_lossy(&request).into_owned();
        let body = if text.ends_with("ping") {
            "pong"
        } else {
            "????"
        };
        write!(
            stream,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nX-Test: 1\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        text
    });
    let mut net = LocalNet::new(2);
    net.allow_loopback_http(addr.clone());
    let p = probe(&mut net);
    let reply = net
        .update_call(
            p,
            admin(),
            "fetch",
            Encode!(&format!("http://{addr}/infer"), &b"ping".to_vec()).unwrap(),
        )
        .unwrap();
    assert_eq!(
        Decode!(&reply, FetchResult).unwrap(),
        Ok((200, b"pong".to_vec()))
    );
    let request = server.join().unwrap();
    assert!(request.starts_with("POST /infer HTTP/1.1\r\n"), "{request}");
}

#[test]
fn canisters_create_and_install_canisters_through_the_management_canister() {
    let mut net = LocalNet::new(3);
    let p = probe(&mut net);
    let wasm = canister_wasm("localnet-probe");
    let reply = net
        .update_call(
            p,
            admin(),
            "spawn",
            Encode!(&wasm, &Encode!().unwrap()).unwrap(),
        )
        .unwrap();
    let child = Decode!(&reply, Result<Principal, String>).unwrap().unwrap();
    let (ticks,): (u64,) = net.query(child, admin(), "ticks", ()).unwrap();
    assert_eq!(ticks, 0);
    // The child is controlled by the probe, not by whoever called the probe.
    assert!(net
        .upgrade_canister(child, &wasm, Encode!().unwrap(), admin())
        .is_err());
}

#[test]
fn randomness_is_deterministic_per_seed() {
    let draw = |seed| {
        let mut net = LocalNet::new(seed);
        let p = probe(&mut net);
        let a = Decode!(
            &net.update_call(p, admin(), "random", Encode!().unwrap())
                .unwrap(),
            Vec<u8>
        )
        .unwrap();
        let b = Decode!(
            &net.update_call(p, admin(), "random", Encode!().unwrap())
                .unwrap(),
            Vec<u8>
        )
        .unwrap();
        (a, b)
    };
    let (a, b) = draw(5);
    assert_eq!(a.len(), 32);
    assert_ne!(a, b);
    assert_eq!(draw(5), (a, b));
    assert_ne!(draw(6).0, draw(5).0);
}

#[test]
fn interval_timers_fire_through_self_calls() {
    let mut net = LocalNet::new(4);
    let p = probe(&mut net);
    net.update_call(p, admin(), "start_ticking", Encode!().unwrap())
        .unwrap();
    for _ in 0..35 {
        net.advance_time(std::time::Duration::from_secs(1));
        net.tick();
    }
    let (ticks,): (u64,) = net.query(p, admin(), "ticks", ()).unwrap();
    assert_eq!(ticks, 3);
}

#[test]
fn injected_faults_and_stopped_canisters_reach_the_caller_as_reject_codes() {
    let mut net = LocalNet::new(5);
    let caller = probe(&mut net);
    let callee = probe(&mut net);
    let relay = |net: &mut LocalNet, callee: Principal| {
        let reply = net
            .update_call(
                caller,
                admin(),
                "relay",
                Encode!(&callee, &"start_ticking").unwrap(),
            )
            .unwrap();
        Decode!(&reply, Result<Vec<u8>, (u32, String)>).unwrap()
    };
    assert!(relay(&mut net, callee).is_ok());
    net.inject_fault(
        caller,
        callee,
        Fault::Reject {
            code: reject_code::SYS_TRANSIENT,
            message: "queue full".into(),
        },
    );
    assert_eq!(
        relay(&mut net, callee).unwrap_err().0,
        reject_code::SYS_TRANSIENT
    );
    net.inject_fault(caller, callee, Fault::ExpireBeforeExecution);
    assert_eq!(
        relay(&mut net, callee).unwrap_err().0,
        reject_code::SYS_UNKNOWN
    );
    net.inject_fault(caller, callee, Fault::TrapCallee);
    assert_eq!(
        relay(&mut net, callee).unwrap_err().0,
        reject_code::CANISTER_ERROR
    );
    net.stop_canister(callee, admin()).unwrap();
    assert_eq!(
        relay(&mut net, callee).unwrap_err().0,
        reject_code::CANISTER_ERROR
    );
    net.start_canister(callee, admin()).unwrap();
    assert!(relay(&mut net, callee).is_ok());
    let nobody = Principal::from_slice(&[0, 0, 0, 0, 0, 0, 0x99, 0, 1, 1]);
    assert_eq!(
        relay(&mut net, nobody).unwrap_err().0,
        reject_code::DESTINATION_INVALID
    );
}

#[test]
fn a_bounded_wait_call_expires_with_sys_unknown_when_its_deadline_passes() {
    let mut net = LocalNet::new(6);
    let caller = probe(&mut net);
    let callee = probe(&mut net);
    let msg = net
        .submit_call(
            caller,
            admin(),
            "relay",
            Encode!(&callee, &"stall").unwrap(),
        )
        .unwrap();
    for _ in 0..3 {
        net.tick();
    }
    assert!(
        net.call_result(msg).is_none(),
        "still waiting on the outcall"
    );
    assert_eq!(net.pending_http_requests().len(), 1);
    // ic-cdk's bounded wait asks for 300 s.
    net.advance_time(std::time::Duration::from_secs(301));
    let reply = net.await_call(msg).unwrap();
    let result = Decode!(&reply, Result<Vec<u8>, (u32, String)>).unwrap();
    assert_eq!(result.unwrap_err().0, reject_code::SYS_UNKNOWN);
}

/// The HTTP gateway: a GET to `<id>.localhost` (or `?canisterId=`) is the canister's `http_request`
/// query; a POST the canister upgrades runs `http_request_update` as an update, whose effect stays; a
/// request naming no canister, an unknown one, a malformed id or a canister without `http_request`
/// gets a refusal and changes nothing.
#[test]
fn the_gateway_serves_a_canisters_http_request_and_upgrades_posts() {
    let mut net = LocalNet::new(21);
    let p = probe(&mut net);
    let mut interface = localnet::interface::Interface::new(b"gateway test");
    let now = net.time();
    let host = format!("{p}.localhost:4943");
    let mut get = |net: &mut LocalNet, method: &str, url: &str, host: Option<&str>, body: &[u8]| {
        interface.respond_http(net, method, url, host, vec![], body, now)
    };
    let page = get(&mut net, "GET", "/index.html?x=1", Some(&host), b"");
    assert_eq!(page.status, 200);
    assert_eq!(
        String::from_utf8(page.body).unwrap(),
        "hello from the probe: GET /index.html?x=1 (certificate version Some(2), 0 headers)"
    );
    assert!(page
        .headers
        .contains(&("Content-Type".into(), "text/plain; charset=utf-8".into())));
    let by_query = get(&mut net, "GET", &format!("/a?canisterId={p}"), None, b"");
    assert_eq!(by_query.status, 200);

    for n in 1..=2 {
        let posted = get(&mut net, "POST", "/form", Some(&host), b"name=ada");
        assert_eq!(posted.status, 201);
        assert_eq!(
            String::from_utf8(posted.body).unwrap(),
            format!("post {n}: name=ada"),
            "each POST ran as an update and its count stayed"
        );
    }

    let nobody = get(&mut net, "GET", "/", Some("127.0.0.1:4943"), b"");
    assert_eq!(nobody.status, 404);
    let unknown = get(&mut net, "GET", "/", Some("aaaaa-aa.localhost"), b"");
    assert_eq!(
        unknown.status,
        404,
        "{}",
        String::from_utf8_lossy(&unknown.body)
    );
    let malformed = get(&mut net, "GET", "/?canisterId=not-a-principal", None, b"");
    assert_eq!(malformed.status, 400);
    let ledger = deploy_ledger(&mut net, "NUSD", 10_000, vec![]);
    let no_pages = get(
        &mut net,
        "GET",
        "/",
        Some(&format!("{ledger}.localhost")),
        b"",
    );
    assert_eq!(
        no_pages.status,
        404,
        "{}",
        String::from_utf8_lossy(&no_pages.body)
    );
    let huge = get(
        &mut net,
        "POST",
        "/form",
        Some(&host),
        &vec![0; 2 * 1024 * 1024 + 1],
    );
    assert_eq!(huge.status, 413);
    let after = get(&mut net, "POST", "/form", Some(&host), b"");
    assert_eq!(String::from_utf8(after.body).unwrap(), "post 3: ");
    // The API is still the API under /api/, whatever the host.
    let status = get(&mut net, "GET", "/api/v2/status", Some(&host), b"");
    assert_eq!(status.status, 200);
}
