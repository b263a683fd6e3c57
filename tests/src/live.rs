//! The system live: a deployed [`NeuraNft`] served by localnet's HTTP interface to real clients
//! (icp-cli, agent-js, a browser), as the main job leaves it. Besides serving, it prepares what a
//! newcomer needs to use the system with icp-cli: an identity with tokens, the canister ids where
//! icp-cli looks for them (`.icp/data/mappings/localnet.ids.json`), and a spare hpc-node to admit.

use crate::{admin, canister_wasm, NeuraNft, NODE_API_KEY};
use candid::{Encode, Principal};
use localnet::ingress::Ed25519Identity;
use localnet::interface::Interface;
use localnet::serve::Serving;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The seed of the live network's keys: the root key (and so `icp.yaml`'s `root-key`) never changes.
pub const SEED: &[u8] = b"neuranft-localnet";
/// Where the main job serves by default (icp-cli's and dfx's local port).
pub const DEFAULT_BIND: &str = "127.0.0.1:4943";
/// The URL of [`DEFAULT_BIND`], as `icp.yaml` names it.
pub const DEFAULT_URL: &str = "http://127.0.0.1:4943";
/// The icp-cli environment (and connected network) of `icp.yaml`.
pub const ENVIRONMENT: &str = "localnet";
/// What the newcomer is given: 1,000 NUSD and 4,200 NNG (8 decimals each) — enough NNG to hold the
/// majority of all voting power, so that a proposal of theirs is adopted at once on this local network.
pub const NEWCOMER_NUSD: u128 = 1_000 * 100_000_000;
pub const NEWCOMER_NNG: u128 = 4_200 * 100_000_000;
/// The spare hpc-node's number (for [`NeuraNft::start_node`]).
const SPARE_NODE: u8 = 9;

/// The newcomer's key (Ed25519, fixed: the PEM is written for icp-cli to import).
pub fn newcomer() -> Ed25519Identity {
    Ed25519Identity::from_secret(Sha256::digest(b"neuranft-localnet newcomer").into())
}

/// The system serving, and what was written for its users.
pub struct Live {
    serving: Serving,
    nodes: Vec<hpc_node::RunningNode>,
    pub url: String,
    /// The web app, served by the frontend canister through localnet's gateway.
    pub app_url: String,
    /// Mina's model, with credits from the demo calls.
    pub demo_model: neuranft_types::royalties::ModelId,
    pub root_key_der: Vec<u8>,
    /// icp-cli's names for the canisters, with their ids.
    pub canisters: Vec<(&'static str, Principal)>,
    pub newcomer: Principal,
    /// The spare node's endpoint and Ed25519 public key (not yet applied for).
    pub spare_endpoint: String,
    pub spare_public_key: [u8; 32],
    /// The files written: the canister mapping, the newcomer's PEM and the shell variables.
    pub mappings: PathBuf,
    pub newcomer_pem: PathBuf,
    pub env_file: PathBuf,
    /// The root key, DER hex (what icp.yaml's `root-key` and dfx's `--root-key` take).
    pub root_key_file: PathBuf,
}

/// Funds the newcomer, starts the spare node, writes the newcomer's files under `project/.icp/data`
/// and serves `w` at `bind`.
pub fn open(mut w: NeuraNft, bind: SocketAddr, project: &Path) -> Result<Live, String> {
    let newcomer = newcomer();
    let me = newcomer.principal();
    for (ledger, amount) in [
        (w.payment_ledger, NEWCOMER_NUSD),
        (w.governance_ledger, NEWCOMER_NNG),
    ] {
        crate::demo::mint(&mut w, ledger, me, amount)?;
    }
    let demo_model = crate::demo::prepare(&mut w)?;
    let (spare, spare_key) = w.start_node(SPARE_NODE);
    let spare_endpoint = format!("http://{}/v1/infer", spare.addr);
    let spare_public_key = spare_key.verifying_key().to_bytes();
    let canisters = vec![
        ("payment_ledger", w.payment_ledger),
        ("governance_ledger", w.governance_ledger),
        ("royalties", w.royalties),
        ("inference_proxy", w.proxy),
        ("governance", w.governance),
    ];

    let (frontend, frontend_config) = deploy_frontend(&mut w, &canisters)?;
    w.frontend = Some(frontend);
    // Root is not one of the web app's canisters, but icp-cli and the docs name it.
    let mut canisters = canisters;
    canisters.push(("root", w.root));
    w.hand_over()
        .map_err(|e| format!("the hand-over to governance: {e:?}"))?;

    let data = project.join(".icp/data");
    let mappings_dir = data.join("mappings");
    std::fs::create_dir_all(&mappings_dir).map_err(|e| format!("{}: {e}", data.display()))?;
    let mappings = mappings_dir.join(format!("{ENVIRONMENT}.ids.json"));
    let json: std::collections::BTreeMap<&str, String> = canisters
        .iter()
        .chain([&("frontend", frontend)])
        .map(|(name, id)| (*name, id.to_text()))
        .collect();
    write(
        &mappings,
        &serde_json::to_string_pretty(&json).expect("a map of strings serializes"),
    )?;
    let newcomer_pem = data.join("newcomer.pem");
    write(&newcomer_pem, &newcomer.pkcs8_pem())?;
    let env_file = data.join("live.env");
    let mut env = String::from(
        "# Written by the main job: the live system's canister ids and its spare hpc-node.\n",
    );
    for (name, id) in &canisters {
        writeln!(env, "{}={id}", name.to_uppercase()).expect("writing to a String");
    }
    writeln!(env, "NODE_ENDPOINT={spare_endpoint}").expect("writing to a String");
    writeln!(env, "NODE_API_KEY={NODE_API_KEY}").expect("writing to a String");
    // As a Candid blob literal's contents: every byte escaped.
    let blob: String = spare_public_key
        .iter()
        .map(|b| format!("\\{b:02x}"))
        .collect();
    writeln!(env, "NODE_PUBLIC_KEY='{blob}'").expect("writing to a String");
    write(&env_file, &env)?;

    let frontend_config_file = data.join("frontend-config.json");
    write(&frontend_config_file, &frontend_config)?;

    let interface = Interface::new(SEED);
    let root_key_der = interface.root.public_key_der();
    let root_key_file = data.join("root-key.hex");
    write(&root_key_file, &format!("{}\n", hex::encode(&root_key_der)))?;
    let NeuraNft { net, nodes, .. } = w;
    let serving = localnet::serve::serve(net, interface, bind, false)?;
    let app_url = app_url(frontend, serving.addr);
    write(&data.join("frontend-url.txt"), &format!("{app_url}\n"))?;
    let mut nodes: Vec<hpc_node::RunningNode> = nodes.into_iter().flatten().collect();
    nodes.push(spare);
    Ok(Live {
        url: format!("http://{}", serving.addr),
        app_url,
        demo_model,
        serving,
        nodes,
        root_key_der,
        canisters,
        newcomer: me,
        spare_endpoint,
        spare_public_key,
        mappings,
        newcomer_pem,
        env_file,
        root_key_file,
    })
}

/// Installs the frontend canister (the web app's certified files) configured with `canisters`;
/// returns its id and the `config.json` it serves.
fn deploy_frontend(
    w: &mut NeuraNft,
    canisters: &[(&'static str, Principal)],
) -> Result<(Principal, String), String> {
    let config = frontend::FrontendConfig {
        network: frontend::Network::Local,
        canisters: canisters
            .iter()
            .map(|(name, id)| (name.to_string(), *id))
            .collect(),
    };
    let json = config.to_json().map_err(|e| e.to_string())?;
    let id = w.net.create_canister(admin());
    let arg = Encode!(&frontend::FrontendArg::Init(config)).expect("the argument encodes");
    w.net
        .install_canister(id, &canister_wasm("frontend"), arg, admin())
        .map_err(|e| format!("installing the frontend: {e:?}"))?;
    Ok((id, json))
}

/// Where a browser opens the web app: the frontend canister's host on localnet's gateway.
pub fn app_url(frontend: Principal, addr: SocketAddr) -> String {
    format!("http://{frontend}.localhost:{}/", addr.port())
}

fn write(path: &Path, contents: &str) -> Result<(), String> {
    std::fs::write(path, contents).map_err(|e| format!("{}: {e}", path.display()))
}

impl Live {
    pub fn addr(&self) -> SocketAddr {
        self.serving.addr
    }

    /// How to use the running system: printed by the main job.
    pub fn instructions(&self) -> String {
        let mut out = String::new();
        let w = &mut out;
        let _ = writeln!(
            w,
            "localnet is serving the IC HTTP interface at {}",
            self.url
        );
        let _ = writeln!(
            w,
            "  root key (DER hex): {}",
            hex::encode(&self.root_key_der)
        );
        for (name, id) in &self.canisters {
            let _ = writeln!(w, "  {name:<18} {id}");
        }
        let _ = writeln!(w, "  spare hpc-node      {}", self.spare_endpoint);
        let _ = writeln!(w, "\nthe web app: {}", self.app_url);
        let _ = writeln!(w, "  (sign in as a demo account:");
        for demo in &crate::demo::DEMO_ACCOUNTS {
            let _ = writeln!(
                w,
                "   {:<6} {:<13} {}",
                demo.name,
                demo.role,
                crate::demo::principal(demo.name)
            );
        }
        let _ = writeln!(
            w,
            "   mina owns model {} with credits to claim)\n",
            self.demo_model
        );
        let _ = writeln!(w, "written: {}", self.mappings.display());
        let _ = writeln!(
            w,
            "         {} (the newcomer's key: {})",
            self.newcomer_pem.display(),
            self.newcomer
        );
        let _ = writeln!(w, "         {}", self.env_file.display());
        let _ = writeln!(
            w,
            "         {} (the root key)",
            self.root_key_file.display()
        );
        let _ = writeln!(
            w,
            "\nicp.yaml names this network '{ENVIRONMENT}'. Try (docs/walkthrough.md goes on from here):"
        );
        let _ = writeln!(w, "  export PATH=\"$PWD/tools/node_modules/@icp-sdk/icp-cli-linux-x64/bin:$PATH\" DO_NOT_TRACK=1 ICP_ENVIRONMENT={ENVIRONMENT}");
        let _ = writeln!(
            w,
            "  icp identity import newcomer --from-pem .icp/data/newcomer.pem --storage plaintext"
        );
        let _ = writeln!(w, "  icp identity default newcomer");
        let _ = writeln!(w, "  icp canister call royalties list_models '(null, 10)'");
        let _ = writeln!(w, "  icp canister call governance list_proposals '(record {{ before = null; limit = 5; topic = null; status = null }})'");
        out
    }

    /// Runs the stakeholders' verifier (`neuranft-verify`) against the live network over its HTTP
    /// interface, as a stakeholder would: the certificate of royalties' log tip, the chain, every
    /// credit, and mina's balance recomputed. Returns its verdict with the command that repeats it.
    pub fn verify_settlement_over_http(&self) -> Result<String, String> {
        let royalties = self
            .canisters
            .iter()
            .find(|(name, _)| *name == "royalties")
            .map(|(_, id)| *id)
            .expect("royalties is deployed");
        let mina = icrc_ledger_types::icrc1::account::Account {
            owner: crate::demo::principal("mina"),
            subaccount: None,
        };
        let trust = settlement_verifier::Trust {
            royalties,
            root_key_der: self.root_key_der.clone(),
            now_nanos: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("after 1970")
                .as_nanos(),
            max_certificate_skew_nanos: 300_000_000_000,
        };
        let mut source = settlement_verifier::http::HttpSource::new(&self.url, royalties);
        let verdict =
            settlement_verifier::verify(&mut source, &trust, None).map_err(|e| e.to_string())?;
        let check = settlement_verifier::check_account(&mut source, &verdict.replay, &mina)
            .map_err(|e| e.to_string())?;
        if !check.agrees() {
            return Err(format!(
                "mina: the log gives {:?}, royalties reports {:?}",
                check.recomputed, check.reported
            ));
        }
        Ok(format!(
            "settlement verifier over {}: certificate, chain of {} entries and the credits of {} batches \
             ({} receipts) verified; mina recomputed {} credited = royalties' {}\n  \
             repeat: cargo run -q -p settlement-verifier -- --url {} --royalties {royalties} \
             --root-key-file {} --account {mina}\n",
            self.url,
            verdict.length,
            verdict.replay.batches,
            verdict.replay.receipts,
            check.recomputed.credited_total,
            check.reported.credited_total,
            self.url,
            self.root_key_file.display(),
        ))
    }

    /// Stops serving (after the request in progress) and the hpc-nodes.
    pub fn stop(self) -> localnet::LocalNet {
        let net = self.serving.stop();
        for node in self.nodes {
            node.shutdown();
        }
        net
    }
}
