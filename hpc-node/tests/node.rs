//! hpc-node over real HTTP on loopback: authentication, deduplication, signatures, bad input, the
//! Ollama wire format (fixtures in the shape of Ollama's `/api/generate` and `/api/chat` responses),
//! missing usage and timeouts.

use ed25519_dalek::{Signature, SigningKey, Verifier};
use hpc_node::backend::{parse_ollama_response, Deterministic, Ollama};
use hpc_node::{Backend, BackendError, Config};
use neuranft_types::node::{signed_usage_message, ChatMessage, InferRequest, InferResponse};
use std::time::Duration;

const KEY: &str = "test-bearer-key-0123456789";

fn fixture(name: &str) -> serde_json::Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn config() -> Config {
    Config {
        listen: "127.0.0.1:0".into(),
        api_key: KEY.into(),
        ..Config::default()
    }
}

fn request(id: &str) -> InferRequest {
    InferRequest {
        request_id: id.into(),
        model: "llama3.1:8b".into(),
        prompt: Some("Why is the sky blue?".into()),
        messages: None,
        max_tokens: 64,
        temperature: Some(0.2),
        seed: Some(7),
    }
}

fn post(addr: std::net::SocketAddr, key: Option<&str>, body: &str) -> (u16, String) {
    let mut req = ureq::post(&format!("http://{addr}/v1/infer"));
    if let Some(k) = key {
        req = req.set("Authorization", &format!("Bearer {k}"));
    }
    match req
        .set("Content-Type", "application/json")
        .send_string(body)
    {
        Ok(r) => (r.status(), r.into_string().unwrap()),
        Err(ureq::Error::Status(code, r)) => (code, r.into_string().unwrap()),
        Err(e) => panic!("transport error: {e}"),
    }
}

fn signing_key() -> SigningKey {
    SigningKey::from_bytes(&[42; 32])
}

#[test]
fn ollama_wire_format_is_read_and_a_missing_count_is_unknown() {
    let generate = parse_ollama_response(&fixture("ollama_generate.json"), false).unwrap();
    assert_eq!(generate.usage.input_tokens, 26);
    assert_eq!(generate.usage.output_tokens, 290);
    assert_eq!(generate.usage.total_duration_ns, 5_043_500_667);
    assert!(generate.output.starts_with("The sky is blue"));
    let chat = parse_ollama_response(&fixture("ollama_chat.json"), true).unwrap();
    assert_eq!(
        (chat.usage.input_tokens, chat.usage.output_tokens),
        (26, 282)
    );
    assert_eq!(chat.output, "Hello! How can I help you today?");
    assert_eq!(
        parse_ollama_response(&fixture("ollama_generate_no_prompt_count.json"), false),
        Err(BackendError::UsageUnknown("prompt_eval_count"))
    );
}

#[test]
fn the_deterministic_backend_is_deterministic_and_bounded() {
    let a = Deterministic.complete(&request("a")).unwrap();
    assert_eq!(
        a,
        Deterministic.complete(&request("b")).unwrap(),
        "the id does not matter"
    );
    let mut other = request("a");
    other.seed = Some(8);
    assert_ne!(a.output, Deterministic.complete(&other).unwrap().output);
    let mut short = request("a");
    short.max_tokens = 3;
    assert_eq!(
        Deterministic.complete(&short).unwrap().usage.output_tokens,
        3
    );
    assert_eq!(
        a.usage.input_tokens,
        ("Why is the sky blue?".len() as u64).div_ceil(4) + 1
    );
}

#[test]
fn authenticated_signed_and_deduplicated() {
    let node = hpc_node::start(config(), Box::new(Deterministic), signing_key()).unwrap();
    let body = serde_json::to_string(&request("req-1")).unwrap();
    assert_eq!(post(node.addr, None, &body).0, 401);
    assert_eq!(post(node.addr, Some("wrong-key-wrong-key"), &body).0, 401);
    let (status, first) = post(node.addr, Some(KEY), &body);
    assert_eq!(status, 200, "{first}");
    let response: InferResponse = serde_json::from_str(&first).unwrap();
    let message = signed_usage_message(
        &response.request_id,
        &response.model,
        &response.usage,
        &response.output,
    );
    let signature = Signature::from_slice(&hex::decode(&response.signature).unwrap()).unwrap();
    signing_key()
        .verifying_key()
        .verify(&message, &signature)
        .unwrap();
    // A tampered count no longer verifies.
    let mut forged = response.usage;
    forged.output_tokens += 1;
    let forged_message = signed_usage_message(
        &response.request_id,
        &response.model,
        &forged,
        &response.output,
    );
    assert!(signing_key()
        .verifying_key()
        .verify(&forged_message, &signature)
        .is_err());
    // The same request again: the stored response, no second inference.
    assert_eq!(post(node.addr, Some(KEY), &body), (200, first));
    assert_eq!(node.inferences_run(), 1);
    // The same id with another request is refused.
    let mut other = request("req-1");
    other.max_tokens = 5;
    let (status, _) = post(
        node.addr,
        Some(KEY),
        &serde_json::to_string(&other).unwrap(),
    );
    assert_eq!(status, 409);
    node.shutdown();
}

#[test]
fn bad_input_is_a_typed_400_and_runs_nothing() {
    let node = hpc_node::start(config(), Box::new(Deterministic), signing_key()).unwrap();
    let cases = [
        ("unknown model", {
            let mut r = request("x1");
            r.model = "gpt-9".into();
            serde_json::to_string(&r).unwrap()
        }),
        ("zero max_tokens", {
            let mut r = request("x2");
            r.max_tokens = 0;
            serde_json::to_string(&r).unwrap()
        }),
        ("prompt and messages", {
            let mut r = request("x3");
            r.messages = Some(vec![ChatMessage {
                role: "user".into(),
                content: "hi".into(),
            }]);
            serde_json::to_string(&r).unwrap()
        }),
        (
            "bad request id",
            serde_json::to_string(&request("spaces are bad")).unwrap(),
        ),
        ("huge prompt", {
            let mut r = request("x4");
            r.prompt = Some("a".repeat(1_000_001));
            serde_json::to_string(&r).unwrap()
        }),
        ("not json", "{not json".to_string()),
    ];
    for (what, body) in cases {
        let (status, text) = post(node.addr, Some(KEY), &body);
        assert_eq!(status, 400, "{what}: {text}");
        assert!(text.contains("bad_request"), "{what}: {text}");
    }
    assert_eq!(node.inferences_run(), 0);
    node.shutdown();
}

/// A stand-in Ollama that answers every request with `body` after `delay`.
fn fake_ollama(body: String, delay: Duration) -> (String, std::thread::JoinHandle<()>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let url = format!("http://{}", server.server_addr().to_ip().unwrap());
    let handle = std::thread::spawn(move || {
        for _ in 0..2 {
            let Ok(Some(request)) = server.recv_timeout(Duration::from_secs(5)) else {
                return;
            };
            std::thread::sleep(delay);
            let _ = request.respond(tiny_http::Response::from_string(body.clone()));
        }
    });
    (url, handle)
}

fn ollama(url: String, timeout: Duration) -> Box<dyn Backend> {
    Box::new(Ollama {
        base_url: url,
        model_map: Default::default(),
        timeout,
    })
}

#[test]
fn the_ollama_backend_forwards_and_fails_on_missing_usage_and_timeouts() {
    let (url, fake) = fake_ollama(fixture("ollama_generate.json").to_string(), Duration::ZERO);
    let node =
        hpc_node::start(config(), ollama(url, Duration::from_secs(5)), signing_key()).unwrap();
    let (status, text) = post(
        node.addr,
        Some(KEY),
        &serde_json::to_string(&request("o1")).unwrap(),
    );
    assert_eq!(status, 200, "{text}");
    let response: InferResponse = serde_json::from_str(&text).unwrap();
    assert_eq!(
        (response.usage.input_tokens, response.usage.output_tokens),
        (26, 290)
    );
    node.shutdown();
    drop(fake);

    let (url, _fake) = fake_ollama(
        fixture("ollama_generate_no_prompt_count.json").to_string(),
        Duration::ZERO,
    );
    let node =
        hpc_node::start(config(), ollama(url, Duration::from_secs(5)), signing_key()).unwrap();
    let (status, text) = post(
        node.addr,
        Some(KEY),
        &serde_json::to_string(&request("o2")).unwrap(),
    );
    assert_eq!(status, 502, "{text}");
    assert!(text.contains("prompt_eval_count"));
    node.shutdown();

    let (url, _fake) = fake_ollama(
        fixture("ollama_generate.json").to_string(),
        Duration::from_secs(3),
    );
    let node = hpc_node::start(
        config(),
        ollama(url, Duration::from_millis(500)),
        signing_key(),
    )
    .unwrap();
    let (status, text) = post(
        node.addr,
        Some(KEY),
        &serde_json::to_string(&request("o3")).unwrap(),
    );
    assert!(status == 504 || status == 502, "{status}: {text}");
    node.shutdown();
}

#[test]
fn configuration_files_name_their_errors() {
    let config = Config::from_toml("listen = \"0.0.0.0:9000\"\napi_key = \"0123456789abcdef\"\nmodels = [\"llama3.1:8b\", \"llama3.1:70b\"]\n[ollama]\nurl = \"http://gpu:11434\"\n").unwrap();
    assert_eq!(config.models.len(), 2);
    assert_eq!(config.ollama.url, "http://gpu:11434");
    config.validate().unwrap();
    let err = Config::from_toml("lisen = \"x\"").unwrap_err();
    assert!(
        err.contains("unknown field") && err.contains("lisen"),
        "{err}"
    );
    let err = Config::from_toml("workers = \"four\"").unwrap_err();
    assert!(err.contains("workers"), "{err}");
    assert!(Config::default().validate().is_err(), "no api key");
}
