//! The frontend canister shell: the web app's files, embedded at build time (`build.rs`), and its
//! configuration, kept in stable memory across upgrades, certified at install and upgrade and
//! served by `http_request`.

use candid::{Decode, Encode};
use frontend::{FrontendArg, FrontendConfig, Site};
use ic_http_certification::{HttpRequest, HttpResponse};
use ic_stable_structures::{DefaultMemoryImpl, StableCell};
use std::cell::RefCell;

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

thread_local! {
    /// The configuration's Candid bytes (empty before the first install).
    static CONFIG: RefCell<StableCell<Vec<u8>, DefaultMemoryImpl>> =
        RefCell::new(StableCell::init(DefaultMemoryImpl::default(), Vec::new()));
    static SITE: RefCell<Option<Site>> = const { RefCell::new(None) };
}

fn stored_config() -> Option<FrontendConfig> {
    let bytes = CONFIG.with(|c| c.borrow().get().clone());
    (!bytes.is_empty()).then(|| Decode!(&bytes, FrontendConfig).expect("stored by configure"))
}

/// Checks and stores `config`, certifies the site with it.
fn configure(config: FrontendConfig) {
    let json = config
        .to_json()
        .unwrap_or_else(|e| ic_cdk::trap(format!("invalid frontend configuration: {e}")));
    let site = Site::new(ASSETS, json, config.network).unwrap_or_else(|e| ic_cdk::trap(e));
    ic_cdk::api::certified_data_set(site.root_hash());
    CONFIG.with(|c| {
        c.borrow_mut()
            .set(Encode!(&config).expect("a configuration encodes"))
    });
    SITE.with(|s| *s.borrow_mut() = Some(site));
}

#[ic_cdk::init]
fn init(arg: FrontendArg) {
    match arg {
        FrontendArg::Init(config) => configure(config),
        FrontendArg::Upgrade(_) => ic_cdk::trap("install the frontend with FrontendArg::Init"),
    }
}

#[ic_cdk::post_upgrade]
fn post_upgrade(arg: Option<FrontendArg>) {
    // A deployment tool that passes its install argument again on upgrade (`Init`) replaces the
    // configuration, as `Upgrade(Some(..))` does.
    let config = match arg {
        Some(FrontendArg::Upgrade(Some(config)) | FrontendArg::Init(config)) => config,
        None | Some(FrontendArg::Upgrade(None)) => {
            stored_config().unwrap_or_else(|| ic_cdk::trap("no configuration was installed"))
        }
    };
    configure(config);
}

/// The web app's files and `/config.json`, each answer certified (response verification v2).
#[ic_cdk::query]
fn http_request(request: HttpRequest<'static>) -> HttpResponse<'static> {
    let certificate = ic_cdk::api::data_certificate().unwrap_or_default();
    SITE.with(|s| match s.borrow().as_ref() {
        Some(site) => site.serve(&request, &certificate),
        None => ic_cdk::trap("the frontend is not configured"),
    })
}

/// What `/config.json` says, as Candid.
#[ic_cdk::query]
fn config() -> FrontendConfig {
    stored_config().unwrap_or_else(|| ic_cdk::trap("the frontend is not configured"))
}

ic_cdk::export_candid!();

fn main() {}

#[cfg(test)]
mod tests {
    #[test]
    fn did_file_matches_exported_interface() {
        let did = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("frontend.did");
        neuranft_types::did::assert_did_matches(&did, &super::__export_service());
    }
}
