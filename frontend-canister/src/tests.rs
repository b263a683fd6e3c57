use super::*;
use ic_http_certification::HttpRequest;

const INDEX: &[u8] =
    b"<!doctype html><title>NeuraNFT</title><script src=/assets/app-1.js></script>";
const APP: &[u8] = b"console.log('the app')";
const APP_GZ: &[u8] = b"\x1f\x8b pretend gzip";
static FILES: &[(&str, &[u8])] = &[
    ("index.html", INDEX),
    ("assets/app-1.js", APP),
    ("assets/app-1.js.gz", APP_GZ),
];

fn config() -> FrontendConfig {
    FrontendConfig {
        network: Network::Local,
        canisters: CANISTER_NAMES
            .iter()
            .enumerate()
            .map(|(n, name)| {
                (
                    name.to_string(),
                    Principal::from_slice(&[n as u8 + 1, 1, 1, 1]),
                )
            })
            .collect(),
    }
}

fn site() -> Site {
    Site::new(FILES, config().to_json().unwrap(), Network::Local).unwrap()
}

fn header<'a>(response: &'a HttpResponse, name: &str) -> Option<&'a str> {
    response
        .headers()
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

#[test]
fn config_json_names_every_canister_once() {
    let json: serde_json::Value = serde_json::from_str(&config().to_json().unwrap()).unwrap();
    assert_eq!(json["network"], "local");
    for name in CANISTER_NAMES {
        assert!(json["canisters"][name].is_string(), "{name} missing");
    }

    let mut missing = config();
    missing.canisters.pop();
    assert_eq!(
        missing.to_json(),
        Err(ConfigError::MissingCanister("governance"))
    );
    let mut doubled = config();
    doubled.canisters.push(doubled.canisters[0].clone());
    assert_eq!(
        doubled.to_json(),
        Err(ConfigError::DuplicateCanister("payment_ledger".into()))
    );
    let mut unknown = config();
    unknown.canisters[0].0 = "cycles_ledger".into();
    assert_eq!(
        unknown.to_json(),
        Err(ConfigError::UnknownCanister("cycles_ledger".into()))
    );
    let mut anonymous = config();
    anonymous.canisters[1].1 = Principal::anonymous();
    assert_eq!(
        anonymous.to_json(),
        Err(ConfigError::AnonymousCanister("governance_ledger".into()))
    );
}

#[test]
fn serves_index_at_root_and_as_the_fallback_with_a_certificate() {
    let site = site();
    for path in ["/", "/index.html", "/no/such/page"] {
        let response = site.serve(&HttpRequest::get(path).build(), b"cert");
        assert_eq!(response.status_code(), StatusCode::OK, "{path}");
        assert_eq!(response.body(), INDEX, "{path}");
        assert_eq!(
            header(&response, "content-type"),
            Some("text/html; charset=utf-8")
        );
        let certificate = header(&response, "ic-certificate").expect("certified");
        assert!(certificate.contains("version=2"), "{certificate}");
        assert!(header(&response, "content-security-policy")
            .unwrap()
            .contains("script-src 'self'"));
    }
}

#[test]
fn serves_gzip_to_a_browser_that_accepts_it() {
    let site = site();
    let plain = site.serve(&HttpRequest::get("/assets/app-1.js").build(), b"cert");
    assert_eq!(plain.body(), APP);
    let gzip = site.serve(
        &HttpRequest::get("/assets/app-1.js")
            .with_headers(vec![("accept-encoding".into(), "gzip, deflate, br".into())])
            .build(),
        b"cert",
    );
    assert_eq!(gzip.body(), APP_GZ);
    assert_eq!(header(&gzip, "content-encoding"), Some("gzip"));
    assert_eq!(
        header(&gzip, "cache-control"),
        Some("public, max-age=31536000, immutable")
    );
}

#[test]
fn serves_the_configuration_uncached() {
    let response = site().serve(&HttpRequest::get("/config.json").build(), b"cert");
    assert_eq!(response.status_code(), StatusCode::OK);
    assert_eq!(response.body(), config().to_json().unwrap().as_bytes());
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
    assert_eq!(header(&response, "content-type"), Some("application/json"));
}

#[test]
fn refuses_what_it_does_not_serve() {
    let site = site();
    let post = site.serve(&HttpRequest::post("/").build(), b"cert");
    assert_eq!(post.status_code(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(header(&post, "ic-certificate").is_none());
    assert!(Site::new(&[("app.js", APP)], "{}".into(), Network::Local).is_err());
}

#[test]
fn a_different_configuration_is_a_different_certified_root() {
    let mut other = config();
    other.canisters[0].1 = Principal::from_slice(&[9, 9, 9]);
    let other = Site::new(FILES, other.to_json().unwrap(), Network::Local).unwrap();
    assert_ne!(site().root_hash(), other.root_hash());
}

#[test]
fn mainnet_may_connect_to_the_api_boundary_nodes_only() {
    let local = security_headers(Network::Local);
    let ic = security_headers(Network::Ic);
    let csp = |h: &[(String, String)]| h[0].1.clone();
    assert!(csp(&local).contains("connect-src 'self';"));
    assert!(csp(&ic).contains("https://icp-api.io"));
    assert!(ic.iter().any(|(n, _)| n == "strict-transport-security"));
}
