//! The frontend canister on its real wasm (the web app's built files embedded): every answer passes
//! the response verification the IC's HTTP gateways run (ic-response-verification, against
//! localnet's root key), a tampered one does not, the configuration survives upgrades, a bad one is
//! refused, and the first load stays within the web app's budget of compressed JavaScript.

use candid::{Encode, Principal};
use frontend::{FrontendArg, FrontendConfig, Network, CANISTER_NAMES};
use ic_http_certification::{HttpRequest, HttpResponse};
use localnet::LocalNet;
use tests::*;

/// The budget of the web app's first load: compressed JavaScript.
const FIRST_LOAD_JS_BUDGET: usize = 400 * 1024;

fn config(first: u64) -> FrontendConfig {
    FrontendConfig {
        network: Network::Local,
        canisters: CANISTER_NAMES
            .iter()
            .enumerate()
            .map(|(n, name)| (name.to_string(), principal(first + n as u64)))
            .collect(),
    }
}

fn deploy(net: &mut LocalNet, config: FrontendConfig) -> Principal {
    let id = net.create_canister(admin());
    net.install_canister(
        id,
        &canister_wasm("frontend"),
        Encode!(&FrontendArg::Init(config)).unwrap(),
        admin(),
    )
    .expect("the frontend installs");
    id
}

fn get(path: &str) -> HttpRequest<'static> {
    HttpRequest::get(path)
        .with_headers(vec![("accept-encoding".into(), "gzip".into())])
        .with_certificate_version(2)
        .build()
}

fn ask(net: &mut LocalNet, id: Principal, request: &HttpRequest<'static>) -> HttpResponse<'static> {
    let bytes = net
        .query_call(
            id,
            Principal::anonymous(),
            "http_request",
            Encode!(request).unwrap(),
        )
        .expect("http_request answers");
    candid::decode_one(&bytes).expect("an HttpResponse")
}

/// What an IC HTTP gateway checks: the certificate (localnet's root key, fresh), the witness
/// against the certified data, the response's hash in the tree.
fn verify(
    net: &LocalNet,
    id: Principal,
    request: &HttpRequest<'static>,
    response: &HttpResponse<'static>,
) -> Result<(), String> {
    let info = ic_response_verification::verify_request_response_pair(
        request.clone(),
        response.clone(),
        id.as_slice(),
        net.time() as u128,
        300_000_000_000,
        &net.root_key().public_key_der(),
        2,
    )
    .map_err(|e| e.to_string())?;
    assert_eq!(info.verification_version, 2);
    info.response
        .map(|_| ())
        .ok_or_else(|| "the certification does not cover the response".to_string())
}

fn header<'a>(response: &'a HttpResponse, name: &str) -> Option<&'a str> {
    response
        .headers()
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .expect("gzip");
    out
}

/// The scripts `index.html` loads first (its module script and the modules it preloads), as paths
/// from the root (the app links them relative to it: `./assets/…`).
fn first_load_scripts(index: &str) -> Vec<String> {
    index
        .split(['"', '\''])
        .filter_map(|s| s.strip_prefix("./assets/").or(s.strip_prefix("/assets/")))
        .filter(|s| s.ends_with(".js"))
        .map(|s| format!("/assets/{s}"))
        .collect()
}

#[test]
fn every_file_is_served_certified_and_verifies_as_a_gateway_checks() {
    let mut net = LocalNet::new(7);
    let id = deploy(&mut net, config(500));

    let index_request = get("/");
    let index = ask(&mut net, id, &index_request);
    assert_eq!(index.status_code().as_u16(), 200);
    verify(&net, id, &index_request, &index).expect("index.html verifies");
    let body = if header(&index, "content-encoding") == Some("gzip") {
        gunzip(index.body())
    } else {
        index.body().to_vec()
    };
    let html = String::from_utf8(body).expect("index.html is text");
    assert!(html.contains("<script"), "{html}");
    let scripts = first_load_scripts(&html);
    assert!(!scripts.is_empty(), "index.html loads no script: {html}");

    let mut compressed_js = 0;
    for script in &scripts {
        let request = get(script);
        let response = ask(&mut net, id, &request);
        assert_eq!(response.status_code().as_u16(), 200, "{script}");
        verify(&net, id, &request, &response).unwrap_or_else(|e| panic!("{script}: {e}"));
        assert_eq!(header(&response, "content-encoding"), Some("gzip"));
        assert_eq!(header(&response, "content-type"), Some("text/javascript"));
        compressed_js += response.body().len();
    }
    println!(
        "first load: {} scripts, {compressed_js} bytes of gzip'd JavaScript (budget {FIRST_LOAD_JS_BUDGET})",
        scripts.len()
    );
    assert!(
        compressed_js <= FIRST_LOAD_JS_BUDGET,
        "the first load is {compressed_js} bytes of compressed JavaScript"
    );

    let config_request = get("/config.json");
    let served = ask(&mut net, id, &config_request);
    verify(&net, id, &config_request, &served).expect("config.json verifies");
    assert_eq!(served.body(), config(500).to_json().unwrap().as_bytes());

    // A path without a file is the app's entry point (it routes by the fragment), certified too.
    let deep = get("/proposals/7");
    let fallback = ask(&mut net, id, &deep);
    assert_eq!(fallback.status_code().as_u16(), 200);
    verify(&net, id, &deep, &fallback).expect("the fallback verifies");
}

/// A replica that alters a body or serves one file's certified answer for another path is caught.
#[test]
fn a_tampered_answer_fails_verification() {
    let mut net = LocalNet::new(8);
    let id = deploy(&mut net, config(600));
    let request = get("/config.json");
    let served = ask(&mut net, id, &request);

    let forged_body = br#"{"network":"local","canisters":{"governance":"aaaaa-aa"}}"#.to_vec();
    let forged = HttpResponse::builder()
        .with_status_code(served.status_code())
        .with_headers(served.headers().to_vec())
        .with_body(forged_body)
        .build();
    assert!(verify(&net, id, &request, &forged).is_err());

    let other_path = get("/index.html");
    assert!(verify(&net, id, &other_path, &served).is_err());

    let stripped = HttpResponse::builder()
        .with_status_code(served.status_code())
        .with_headers(
            served
                .headers()
                .iter()
                .filter(|(n, _)| !n.eq_ignore_ascii_case("ic-certificate"))
                .cloned()
                .collect(),
        )
        .with_body(served.body().to_vec())
        .build();
    assert!(verify(&net, id, &request, &stripped).is_err());
}

#[test]
fn the_configuration_survives_upgrades_and_a_bad_one_is_refused() {
    let mut net = LocalNet::new(9);
    let wasm = canister_wasm("frontend");
    let id = deploy(&mut net, config(700));
    let served = |net: &mut LocalNet| {
        let request = get("/config.json");
        let response = ask(net, id, &request);
        verify(net, id, &request, &response).expect("verifies");
        String::from_utf8(response.body().to_vec()).unwrap()
    };

    net.upgrade_canister(id, &wasm, Encode!(&None::<FrontendArg>).unwrap(), admin())
        .expect("an upgrade without an argument keeps the configuration");
    assert_eq!(served(&mut net), config(700).to_json().unwrap());

    let arg = FrontendArg::Upgrade(Some(config(800)));
    net.upgrade_canister(id, &wasm, Encode!(&Some(arg)).unwrap(), admin())
        .expect("an upgrade with a configuration replaces it");
    assert_eq!(served(&mut net), config(800).to_json().unwrap());

    // A tool that passes its install argument again on upgrade replaces the configuration too.
    let arg = FrontendArg::Init(config(850));
    net.upgrade_canister(id, &wasm, Encode!(&Some(arg)).unwrap(), admin())
        .expect("an upgrade with Init replaces the configuration");
    assert_eq!(served(&mut net), config(850).to_json().unwrap());

    let mut missing = config(900);
    missing.canisters.pop();
    let arg = FrontendArg::Upgrade(Some(missing.clone()));
    let refused = net
        .upgrade_canister(id, &wasm, Encode!(&Some(arg)).unwrap(), admin())
        .expect_err("a configuration without governance is refused");
    assert!(
        refused.message.contains("\"governance\" is missing"),
        "{refused:?}"
    );
    assert_eq!(
        served(&mut net),
        config(850).to_json().unwrap(),
        "a refused upgrade changes nothing"
    );

    let fresh = net.create_canister(admin());
    let refused = net
        .install_canister(
            fresh,
            &wasm,
            Encode!(&FrontendArg::Init(missing)).unwrap(),
            admin(),
        )
        .expect_err("installing with a bad configuration fails");
    assert!(
        refused.message.contains("invalid frontend configuration"),
        "{refused:?}"
    );

    let stranger = principal(0xBAD);
    assert!(
        net.upgrade_canister(id, &wasm, Encode!(&None::<FrontendArg>).unwrap(), stranger)
            .is_err(),
        "only a controller upgrades the frontend"
    );
}
