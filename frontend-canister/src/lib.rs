//! The frontend canister's logic: the web app's files and its runtime configuration
//! (`/config.json`: which network, which canisters) certified in one asset router, and a request
//! answered with the certified response (response verification v2, what the IC's HTTP gateways
//! check before a browser sees a byte).
//!
//! One build of the web app serves any deployment: the canister ids differ between localnet and
//! mainnet, so they come from the install argument, not from the bundle.

use candid::{CandidType, Deserialize, Principal};
use ic_asset_certification::{Asset, AssetConfig, AssetEncoding, AssetFallbackConfig, AssetRouter};
use ic_http_certification::{HttpRequest, HttpResponse, Method, StatusCode};
use std::collections::BTreeMap;

/// The canisters the web app talks to, by the names its `config.json` gives them.
pub const CANISTER_NAMES: [&str; 5] = [
    "payment_ledger",
    "governance_ledger",
    "royalties",
    "inference_proxy",
    "governance",
];

/// Which network the app is on: it decides where the app's agent sends calls (its own origin on a
/// local network, the IC's API boundary nodes on mainnet) and whether it fetches the root key.
#[derive(CandidType, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network {
    Local,
    Ic,
}

/// What the canister serves as `/config.json`.
#[derive(CandidType, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct FrontendConfig {
    pub network: Network,
    /// Every name of `CANISTER_NAMES`, once.
    pub canisters: Vec<(String, Principal)>,
}

/// The install and upgrade argument: a configuration at install; on upgrade, a new one (`Init` or
/// `Upgrade(Some(..))`) or none (keep the one installed).
#[derive(CandidType, Deserialize, Clone, Debug)]
pub enum FrontendArg {
    Init(FrontendConfig),
    Upgrade(Option<FrontendConfig>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    UnknownCanister(String),
    DuplicateCanister(String),
    MissingCanister(&'static str),
    AnonymousCanister(String),
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::UnknownCanister(name) => write!(
                f,
                "unknown canister name {name:?} (expected {CANISTER_NAMES:?})"
            ),
            Self::DuplicateCanister(name) => write!(f, "canister {name:?} is named twice"),
            Self::MissingCanister(name) => write!(f, "canister {name:?} is missing"),
            Self::AnonymousCanister(name) => {
                write!(f, "canister {name:?} is the anonymous principal")
            }
        }
    }
}

impl FrontendConfig {
    /// The configuration's JSON, or why it cannot configure the app.
    pub fn to_json(&self) -> Result<String, ConfigError> {
        let mut canisters = BTreeMap::new();
        for (name, id) in &self.canisters {
            if !CANISTER_NAMES.contains(&name.as_str()) {
                return Err(ConfigError::UnknownCanister(name.clone()));
            }
            if *id == Principal::anonymous() {
                return Err(ConfigError::AnonymousCanister(name.clone()));
            }
            if canisters.insert(name.as_str(), id.to_text()).is_some() {
                return Err(ConfigError::DuplicateCanister(name.clone()));
            }
        }
        if let Some(missing) = CANISTER_NAMES
            .iter()
            .find(|name| !canisters.contains_key(*name))
        {
            return Err(ConfigError::MissingCanister(missing));
        }
        let network = match self.network {
            Network::Local => "local",
            Network::Ic => "ic",
        };
        Ok(serde_json::json!({ "network": network, "canisters": canisters }).to_string())
    }
}

/// The content type a file is served with, by its extension (certified with it, so a replica
/// cannot make a browser sniff a script out of a JSON file).
pub fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript",
        Some("css") => "text/css",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("wasm") => "application/wasm",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// The headers every response carries: the browser may load code only from this canister, and
/// connect only to this origin (a local network's API is on it) or the IC's API boundary nodes.
pub fn security_headers(network: Network) -> Vec<(String, String)> {
    let connect = match network {
        Network::Local => "'self'",
        Network::Ic => "'self' https://icp-api.io https://icp0.io https://*.icp0.io",
    };
    let csp = format!(
        "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; font-src 'self'; connect-src {connect}; \
         frame-src https://identity.ic0.app https://id.ai; base-uri 'none'; form-action 'none'; \
         frame-ancestors 'none'"
    );
    let mut headers = vec![
        ("content-security-policy".to_string(), csp),
        ("x-content-type-options".to_string(), "nosniff".to_string()),
        ("x-frame-options".to_string(), "DENY".to_string()),
        ("referrer-policy".to_string(), "same-origin".to_string()),
    ];
    if network == Network::Ic {
        headers.push((
            "strict-transport-security".to_string(),
            "max-age=31536000; includeSubDomains".to_string(),
        ));
    }
    headers
}

/// The certified site: every file, its gzip'd variant where there is one, and `/config.json`.
pub struct Site {
    router: AssetRouter<'static>,
}

/// The path of the runtime configuration.
pub const CONFIG_PATH: &str = "config.json";

impl Site {
    /// Certifies `files` (path relative to the dist root, bytes; `<path>.gz` is the gzip'd variant
    /// of `<path>`) and the configuration. `index.html` answers `/` and every path without a file
    /// (the app routes by the URL's fragment, so only a mistyped path reaches the fallback).
    pub fn new(
        files: &'static [(&'static str, &'static [u8])],
        config_json: String,
        network: Network,
    ) -> Result<Self, String> {
        let names: std::collections::BTreeSet<&str> = files.iter().map(|(p, _)| *p).collect();
        let security = security_headers(network);
        let mut assets: Vec<Asset<'static, 'static>> = files
            .iter()
            .map(|(path, bytes)| Asset::new(*path, *bytes))
            .collect();
        assets.push(Asset::new(CONFIG_PATH, config_json.into_bytes()));

        let mut configs = Vec::new();
        for path in names.iter().filter(|p| !p.ends_with(".gz")) {
            let encodings = if names.contains(format!("{path}.gz").as_str()) {
                vec![AssetEncoding::Gzip.default_config()]
            } else {
                vec![]
            };
            // Hashed file names never change content: cached for good. The rest is asked again.
            let cache = if path.starts_with("assets/") {
                "public, max-age=31536000, immutable"
            } else {
                "no-cache"
            };
            let mut headers = security.clone();
            headers.push(("cache-control".to_string(), cache.to_string()));
            let (fallback_for, aliased_by) = if *path == "index.html" {
                (
                    vec![AssetFallbackConfig {
                        scope: "/".to_string(),
                        status_code: Some(StatusCode::OK),
                    }],
                    vec!["/".to_string()],
                )
            } else {
                (vec![], vec![])
            };
            configs.push(AssetConfig::File {
                path: path.to_string(),
                content_type: Some(content_type(path).to_string()),
                headers,
                fallback_for,
                aliased_by,
                encodings,
            });
        }
        if !names.contains("index.html") {
            return Err("the web app's files have no index.html".to_string());
        }
        let mut headers = security;
        headers.push(("cache-control".to_string(), "no-store".to_string()));
        configs.push(AssetConfig::File {
            path: CONFIG_PATH.to_string(),
            content_type: Some(content_type(CONFIG_PATH).to_string()),
            headers,
            fallback_for: vec![],
            aliased_by: vec![],
            encodings: vec![],
        });

        let mut router = AssetRouter::default();
        router
            .certify_assets(assets, configs)
            .map_err(|e| format!("certifying the web app's files: {e}"))?;
        Ok(Self { router })
    }

    /// What the canister certifies (`ic0.certified_data_set`).
    pub fn root_hash(&self) -> [u8; 32] {
        self.router.root_hash()
    }

    /// The certified answer to `request`, or a plain refusal for what the site does not serve
    /// (a method other than GET or HEAD, a malformed URL).
    pub fn serve(&self, request: &HttpRequest, data_certificate: &[u8]) -> HttpResponse<'static> {
        let method = request.method();
        if method != Method::GET && method != Method::HEAD {
            return plain(
                StatusCode::METHOD_NOT_ALLOWED,
                "the web app's files are read with GET",
            );
        }
        match self.router.serve_asset(data_certificate, request) {
            Ok(response) => response,
            Err(e) => plain(StatusCode::NOT_FOUND, &format!("not served: {e}")),
        }
    }
}

fn plain(status: StatusCode, text: &str) -> HttpResponse<'static> {
    HttpResponse::builder()
        .with_status_code(status)
        .with_headers(vec![(
            "content-type".to_string(),
            "text/plain; charset=utf-8".to_string(),
        )])
        .with_body(text.as_bytes().to_vec())
        .build()
}

#[cfg(test)]
mod tests;
