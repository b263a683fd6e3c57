//! A canister for localnet's end-to-end conformance tests: an HTTPS outcall with a transform, canister
//! creation and installation through the management canister, randomness, a timer, calls to other
//! canisters with bounded and unbounded waits, a method that traps, and web pages through the HTTP
//! gateway (`http_request`, upgraded to `http_request_update` for a POST).

use candid::Principal;
use ic_cdk::call::Call;
use ic_cdk::{query, update};
use ic_cdk_management_canister::{
    canister_status, create_canister_with_extra_cycles, install_code, raw_rand,
    transform_context_from_query, CanisterIdRecord, CanisterInstallMode, CreateCanisterArgs,
    HttpMethod, HttpRequest, HttpRequestResult, InstallCodeArgs, TransformArgs,
};
use std::cell::Cell;
use std::time::Duration;

thread_local! {
    static TICKS: Cell<u64> = const { Cell::new(0) };
    static POSTS: Cell<u64> = const { Cell::new(0) };
}

/// The HTTP gateway protocol's request and response (the fields this canister uses).
#[derive(candid::CandidType, serde::Deserialize)]
struct GatewayRequest {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    certificate_version: Option<u16>,
}

#[derive(candid::CandidType)]
struct GatewayResponse {
    status_code: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    upgrade: Option<bool>,
}

fn page(status_code: u16, body: String) -> GatewayResponse {
    GatewayResponse {
        status_code,
        headers: vec![("Content-Type".into(), "text/plain; charset=utf-8".into())],
        body: body.into_bytes(),
        upgrade: None,
    }
}

/// A GET is answered by this query; a POST asks the gateway to upgrade to an update call.
#[query]
fn http_request(request: GatewayRequest) -> GatewayResponse {
    if request.method == "POST" {
        return GatewayResponse {
            upgrade: Some(true),
            ..page(200, String::new())
        };
    }
    page(
        200,
        format!(
            "hello from the probe: {} {} (certificate version {:?}, {} headers)",
            request.method,
            request.url,
            request.certificate_version,
            request.headers.len()
        ),
    )
}

/// A POST, as an update: counts the posts and echoes the body.
#[update]
fn http_request_update(request: GatewayRequest) -> GatewayResponse {
    let n = POSTS.with(|p| {
        p.set(p.get() + 1);
        p.get()
    });
    page(
        201,
        format!("post {n}: {}", String::from_utf8_lossy(&request.body)),
    )
}

/// Traps on purpose (what a client sees of a canister error).
#[update]
fn fail() {
    ic_cdk::trap("the probe traps on purpose");
}

/// Fetches `url` with a non-replicated outcall; the transform keeps the status and the body only.
#[update]
async fn fetch(url: String, body: Vec<u8>) -> Result<(u16, Vec<u8>), String> {
    let request = HttpRequest::new(url)
        .with_method(HttpMethod::POST)
        .with_body(body)
        .with_max_response_bytes(10_000)
        .non_replicated()
        .with_transform(transform_context_from_query("strip_headers".into(), vec![]));
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = u16::try_from(&response.status.0).map_err(|e| e.to_string())?;
    Ok((status, response.body))
}

#[query]
fn strip_headers(args: TransformArgs) -> HttpRequestResult {
    HttpRequestResult {
        status: args.response.status,
        headers: vec![],
        body: args.response.body,
    }
}

/// Creates a canister controlled by this one and installs `wasm` in it.
#[update]
async fn spawn(wasm: Vec<u8>, arg: Vec<u8>) -> Result<Principal, String> {
    let created =
        create_canister_with_extra_cycles(&CreateCanisterArgs::default(), 1_000_000_000_000)
            .await
            .map_err(|e| e.to_string())?;
    install_code(&InstallCodeArgs {
        mode: CanisterInstallMode::Install,
        canister_id: created.canister_id,
        wasm_module: wasm,
        arg,
    })
    .await
    .map_err(|e| e.to_string())?;
    let status = canister_status(&CanisterIdRecord {
        canister_id: created.canister_id,
    })
    .await
    .map_err(|e| e.to_string())?;
    if status.module_hash.is_none() {
        return Err("installed canister reports no module".into());
    }
    Ok(created.canister_id)
}

/// Makes an outcall that nobody answers, so that a caller's bounded wait expires.
#[update]
async fn stall() {
    let _ = HttpRequest::new("https://stall.invalid/")
        .non_replicated()
        .send()
        .await;
}

#[update]
async fn random() -> Vec<u8> {
    raw_rand().await.expect("raw_rand answers")
}

/// Calls `method` on `callee` with no argument (bounded wait) and returns the raw reply or the reject.
#[update]
async fn relay(callee: Principal, method: String) -> Result<Vec<u8>, (u32, String)> {
    match Call::bounded_wait(callee, &method).await {
        Ok(response) => Ok(response.into_bytes()),
        Err(ic_cdk::call::CallFailed::CallRejected(r)) => {
            Err((r.raw_reject_code(), r.reject_message().to_string()))
        }
        Err(other) => Err((0, other.to_string())),
    }
}

/// Starts a 10-second interval timer that counts its firings.
#[update]
fn start_ticking() {
    ic_cdk_timers::set_timer_interval(Duration::from_secs(10), || async {
        TICKS.with(|t| t.set(t.get() + 1));
    });
}

#[query]
fn ticks() -> u64 {
    TICKS.with(Cell::get)
}

fn main() {}
