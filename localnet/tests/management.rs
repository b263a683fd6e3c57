//! The management canister over the HTTP interface, as icp-cli and agent-js use it to deploy and
//! inspect: provisional creation with cycles, gzip'd modules with their metadata served at the
//! certified path, every install mode (chunked too), status, settings, start/stop, uninstall and
//! delete — and what a stranger or a malformed request gets (a refusal that changes nothing). Also
//! the certificate a query sees of its canister's certified data, which verifies as a client checks.

use candid::{Encode, Nat, Principal};
use ciborium::value::Value;
use ic_management_canister_types as mgmt;
use localnet::ingress::{canister_request, read_state_request, Ed25519Identity, RequestType};
use localnet::interface::{Interface, Response};
use localnet::LocalNet;
use sha2::{Digest, Sha256};
use std::io::Write;

mod common;
use common::{certificate_of, decode, found, get, verified_certificate, wasm, NOW};

const MANAGEMENT: Principal = Principal::management_canister();

struct Client {
    net: LocalNet,
    interface: Interface,
    /// Requests carry a fresh nonce, as agents' do: the same content twice is one request.
    nonce: u64,
}

/// How a call ended, as a client reads it.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    Replied(Vec<u8>),
    /// A certified reject: code and error code.
    Rejected(u64, String),
    /// Refused before it ran (`non_replicated_rejection`), with its error code.
    Refused(String),
    /// An HTTP status other than 200.
    Status(u16),
}

impl Client {
    fn new() -> Self {
        Self {
            net: LocalNet::new(11),
            interface: Interface::new(b"management test"),
            nonce: 0,
        }
    }

    fn post(&mut self, path: &str, body: &[u8]) -> Response {
        self.interface
            .respond(&mut self.net, "POST", path, body, NOW)
    }

    /// A v3 call sent to `effective`'s endpoint.
    fn call_via(
        &mut self,
        who: &Ed25519Identity,
        effective: Principal,
        canister: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> Outcome {
        let mut content = canister_request(
            RequestType::Call,
            who.principal(),
            canister,
            method,
            &arg,
            NOW + 60,
        );
        self.nonce += 1;
        if let Value::Map(fields) = &mut content {
            fields.push((
                Value::Text("nonce".into()),
                Value::Bytes(self.nonce.to_be_bytes().to_vec()),
            ));
        }
        let request_id = localnet::ingress::representation_independent_hash(&content).unwrap();
        let response = self.post(
            &format!("/api/v3/canister/{effective}/call"),
            &who.envelope(content),
        );
        if response.status != 200 {
            return Outcome::Status(response.status);
        }
        let answer = decode(&response);
        if get(&answer, "status") == &Value::Text("non_replicated_rejection".into()) {
            let Value::Text(code) = get(&answer, "error_code") else {
                panic!("an error code")
            };
            return Outcome::Refused(code.clone());
        }
        let certificate = verified_certificate(&self.interface, &certificate_of(&answer));
        let status = found(&certificate, &[b"request_status", &request_id, b"status"]);
        if status == b"replied" {
            return Outcome::Replied(
                found(&certificate, &[b"request_status", &request_id, b"reply"]).to_vec(),
            );
        }
        let code = found(
            &certificate,
            &[b"request_status", &request_id, b"reject_code"],
        );
        let error = found(
            &certificate,
            &[b"request_status", &request_id, b"error_code"],
        );
        Outcome::Rejected(
            leb128::read::unsigned(&mut &code[..]).unwrap(),
            String::from_utf8(error.to_vec()).unwrap(),
        )
    }

    /// A management call sent to the endpoint of the canister it acts on.
    fn manage(
        &mut self,
        who: &Ed25519Identity,
        canister: Principal,
        method: &str,
        arg: Vec<u8>,
    ) -> Outcome {
        self.call_via(who, canister, MANAGEMENT, method, arg)
    }

    fn install(
        &mut self,
        who: &Ed25519Identity,
        id: Principal,
        mode: mgmt::CanisterInstallMode,
        module: &[u8],
    ) -> Outcome {
        self.manage(who, id, "install_code", install_arg(id, mode, module))
    }

    fn status(&mut self, who: &Ed25519Identity, id: Principal) -> mgmt::CanisterStatusResult {
        match self.manage(
            who,
            id,
            "canister_status",
            Encode!(&mgmt::CanisterIdRecord { canister_id: id }).unwrap(),
        ) {
            Outcome::Replied(bytes) => candid::decode_one(&bytes).unwrap(),
            other => panic!("canister_status: {other:?}"),
        }
    }

    fn read_state(&mut self, who: &Ed25519Identity, id: Principal, path: &[&[u8]]) -> Response {
        let body = who.envelope(read_state_request(
            who.principal(),
            &[path.to_vec()],
            NOW + 60,
        ));
        self.post(&format!("/api/v3/canister/{id}/read_state"), &body)
    }

    /// The certified value at `path`, or `None` if the certificate shows it absent.
    fn certified(
        &mut self,
        who: &Ed25519Identity,
        id: Principal,
        path: &[&[u8]],
    ) -> Option<Vec<u8>> {
        let answer = decode(&self.read_state(who, id, path));
        let certificate = verified_certificate(&self.interface, &certificate_of(&answer));
        match certificate.tree.lookup_path(path.iter().copied()) {
            ic_certification::LookupResult::Found(value) => Some(value.to_vec()),
            ic_certification::LookupResult::Absent => None,
            other => panic!("{path:?}: {other:?}"),
        }
    }
}

/// `wasm` with an `icp:` custom section appended.
fn with_section(mut wasm: Vec<u8>, name: &str, contents: &[u8]) -> Vec<u8> {
    let mut section = Vec::new();
    leb128::write::unsigned(&mut section, name.len() as u64).unwrap();
    section.extend_from_slice(name.as_bytes());
    section.extend_from_slice(contents);
    wasm.push(0);
    leb128::write::unsigned(&mut wasm, section.len() as u64).unwrap();
    wasm.extend_from_slice(&section);
    wasm
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

const CANDID: &[u8] = b"service : { read : () -> (blob) query }";

/// The module as icp-cli and dfx build it: metadata sections, gzip'd.
fn built_module(private_note: &[u8]) -> Vec<u8> {
    let wasm = with_section(wasm(), "icp:public candid:service", CANDID);
    gzip(&with_section(wasm, "icp:private note", private_note))
}

fn create(
    client: &mut Client,
    who: &Ed25519Identity,
    settings: Option<mgmt::CanisterSettings>,
) -> Principal {
    let arg = Encode!(&mgmt::ProvisionalCreateCanisterWithCyclesArgs {
        amount: Some(Nat::from(5_000_000_000_000u64)),
        settings,
        specified_id: None,
        sender_canister_version: None,
    })
    .unwrap();
    // Provisional creation may go through any canister's endpoint (agents use a fixed one).
    let any = Principal::from_text("rwlgt-iiaaa-aaaaa-aaaaa-cai").unwrap();
    match client.call_via(
        who,
        any,
        MANAGEMENT,
        "provisional_create_canister_with_cycles",
        arg,
    ) {
        Outcome::Replied(bytes) => {
            candid::decode_one::<mgmt::CanisterIdRecord>(&bytes)
                .unwrap()
                .canister_id
        }
        other => panic!("provisional create: {other:?}"),
    }
}

fn install_arg(id: Principal, mode: mgmt::CanisterInstallMode, module: &[u8]) -> Vec<u8> {
    Encode!(&mgmt::InstallCodeArgs {
        mode,
        canister_id: id,
        wasm_module: module.to_vec(),
        arg: vec![],
        sender_canister_version: None,
    })
    .unwrap()
}

fn id_arg(id: Principal) -> Vec<u8> {
    Encode!(&mgmt::CanisterIdRecord { canister_id: id }).unwrap()
}

fn query(client: &mut Client, who: &Ed25519Identity, id: Principal, method: &str) -> Response {
    let content = canister_request(
        RequestType::Query,
        who.principal(),
        id,
        method,
        b"",
        NOW + 60,
    );
    client.post(
        &format!("/api/v3/canister/{id}/query"),
        &who.envelope(content),
    )
}

fn query_error(response: &Response) -> Option<String> {
    let answer = decode(response);
    match get(&answer, "status") {
        Value::Text(s) if s == "replied" => None,
        _ => match get(&answer, "error_code") {
            Value::Text(code) => Some(code.clone()),
            other => panic!("{other:?}"),
        },
    }
}

#[test]
fn a_client_deploys_inspects_and_retires_a_canister_by_ingress() {
    let mut client = Client::new();
    let alice = Ed25519Identity::from_secret([1; 32]);
    let bob = Ed25519Identity::from_secret([2; 32]);
    let id = create(&mut client, &alice, None);
    let status = client.status(&alice, id);
    assert_eq!(status.settings.controllers, vec![alice.principal()]);
    assert_eq!(status.cycles, Nat::from(5_000_000_000_000u64));
    assert_eq!(status.module_hash, None);

    // A gzip'd module with metadata, installed; its hash is that of the bytes installed.
    let module = built_module(b"for controllers");
    let installed = client.manage(
        &alice,
        id,
        "install_code",
        install_arg(id, mgmt::CanisterInstallMode::Install, &module),
    );
    assert_eq!(installed, Outcome::Replied(Encode!().unwrap()));
    let hash = Sha256::digest(&module).to_vec();
    assert_eq!(client.status(&alice, id).module_hash, Some(hash.clone()));
    assert_eq!(
        client.certified(&bob, id, &[b"canister", id.as_slice(), b"module_hash"]),
        Some(hash)
    );
    assert_eq!(query_error(&query(&mut client, &bob, id, "read")), None);

    // Public metadata for anyone, private metadata for controllers only.
    assert_eq!(
        client.certified(
            &bob,
            id,
            &[b"canister", id.as_slice(), b"metadata", b"candid:service"]
        ),
        Some(CANDID.to_vec())
    );
    assert_eq!(
        client
            .read_state(
                &bob,
                id,
                &[b"canister", id.as_slice(), b"metadata", b"note"]
            )
            .status,
        403
    );
    assert_eq!(
        client.certified(
            &alice,
            id,
            &[b"canister", id.as_slice(), b"metadata", b"note"]
        ),
        Some(b"for controllers".to_vec())
    );
    assert_eq!(
        client.certified(
            &bob,
            id,
            &[b"canister", id.as_slice(), b"metadata", b"absent"]
        ),
        None
    );

    // Settings: controllers move (and are certified), the rest is kept and reported.
    let settings = Encode!(&mgmt::UpdateSettingsArgs {
        canister_id: id,
        settings: mgmt::CanisterSettings {
            controllers: Some(vec![alice.principal(), bob.principal()]),
            freezing_threshold: Some(Nat::from(86_400u64)),
            ..Default::default()
        },
        sender_canister_version: None,
    })
    .unwrap();
    assert!(matches!(
        client.manage(&alice, id, "update_settings", settings),
        Outcome::Replied(_)
    ));
    let status = client.status(&bob, id);
    assert_eq!(
        status.settings.controllers,
        vec![alice.principal(), bob.principal()]
    );
    assert_eq!(status.settings.freezing_threshold, Nat::from(86_400u64));

    // Stopped, a canister refuses queries; started, it answers again.
    assert!(matches!(
        client.manage(&bob, id, "stop_canister", id_arg(id)),
        Outcome::Replied(_)
    ));
    assert_eq!(
        client.status(&bob, id).status,
        mgmt::CanisterStatusType::Stopped
    );
    assert_eq!(
        query_error(&query(&mut client, &bob, id, "read")),
        Some("IC0508".into())
    );
    assert!(matches!(
        client.manage(&bob, id, "start_canister", id_arg(id)),
        Outcome::Replied(_)
    ));
    assert_eq!(query_error(&query(&mut client, &bob, id, "read")), None);

    // An upgrade by chunks: uploaded, listed, installed by hash.
    let upgraded = built_module(b"second version");
    let (first, second) = upgraded.split_at(upgraded.len() / 2);
    let mut hashes = Vec::new();
    for chunk in [first, second] {
        let arg = Encode!(&mgmt::UploadChunkArgs {
            canister_id: id,
            chunk: chunk.to_vec(),
        })
        .unwrap();
        let Outcome::Replied(bytes) = client.manage(&alice, id, "upload_chunk", arg) else {
            panic!("upload_chunk")
        };
        hashes.push(candid::decode_one::<mgmt::ChunkHash>(&bytes).unwrap());
    }
    let Outcome::Replied(stored) = client.manage(&alice, id, "stored_chunks", id_arg(id)) else {
        panic!("stored_chunks")
    };
    assert_eq!(
        candid::decode_one::<Vec<mgmt::ChunkHash>>(&stored)
            .unwrap()
            .len(),
        2
    );
    let chunked = |module_hash: Vec<u8>| {
        Encode!(&mgmt::InstallChunkedCodeArgs {
            mode: mgmt::CanisterInstallMode::Upgrade(None),
            target_canister: id,
            store_canister: None,
            chunk_hashes_list: hashes.clone(),
            wasm_module_hash: module_hash,
            arg: vec![],
            sender_canister_version: None,
        })
        .unwrap()
    };
    assert_eq!(
        client.manage(&alice, id, "install_chunked_code", chunked(vec![0; 32])),
        Outcome::Rejected(4, "IC0406".into()),
        "chunks that do not hash to the module hash install nothing"
    );
    let upgraded_hash = Sha256::digest(&upgraded).to_vec();
    assert!(matches!(
        client.manage(
            &alice,
            id,
            "install_chunked_code",
            chunked(upgraded_hash.clone())
        ),
        Outcome::Replied(_)
    ));
    assert_eq!(client.status(&alice, id).module_hash, Some(upgraded_hash));
    assert_eq!(
        client.certified(
            &alice,
            id,
            &[b"canister", id.as_slice(), b"metadata", b"note"]
        ),
        Some(b"second version".to_vec())
    );

    // Reinstall, uninstall, then delete — which needs the canister stopped.
    assert!(matches!(
        client.manage(
            &alice,
            id,
            "install_code",
            install_arg(id, mgmt::CanisterInstallMode::Reinstall, &module)
        ),
        Outcome::Replied(_)
    ));
    assert!(matches!(
        client.manage(&alice, id, "uninstall_code", id_arg(id)),
        Outcome::Replied(_)
    ));
    assert_eq!(client.status(&alice, id).module_hash, None);
    assert_eq!(
        client.manage(&alice, id, "delete_canister", id_arg(id)),
        Outcome::Rejected(5, "IC0510".into())
    );
    assert!(matches!(
        client.manage(&alice, id, "stop_canister", id_arg(id)),
        Outcome::Replied(_)
    ));
    assert!(matches!(
        client.manage(&alice, id, "delete_canister", id_arg(id)),
        Outcome::Replied(_)
    ));
    assert!(client.net.controllers(id).is_none());
}

#[test]
fn strangers_and_malformed_management_calls_change_nothing() {
    let mut client = Client::new();
    let alice = Ed25519Identity::from_secret([1; 32]);
    let mallory = Ed25519Identity::from_secret([3; 32]);
    let id = create(&mut client, &alice, None);
    let module = built_module(b"note");

    // Not a controller: install, settings, stop, status and delete are rejected (IC0512, the code
    // icp-cli reads to fall back to the certified state tree for a stranger's `canister status`).
    assert_eq!(
        client.manage(
            &mallory,
            id,
            "install_code",
            install_arg(id, mgmt::CanisterInstallMode::Install, &module)
        ),
        Outcome::Rejected(5, "IC0512".into())
    );
    let take_over = Encode!(&mgmt::UpdateSettingsArgs {
        canister_id: id,
        settings: mgmt::CanisterSettings {
            controllers: Some(vec![mallory.principal()]),
            ..Default::default()
        },
        sender_canister_version: None,
    })
    .unwrap();
    assert_eq!(
        client.manage(&mallory, id, "update_settings", take_over),
        Outcome::Rejected(5, "IC0512".into())
    );
    for method in ["stop_canister", "canister_status", "delete_canister"] {
        assert_eq!(
            client.manage(&mallory, id, method, id_arg(id)),
            Outcome::Rejected(5, "IC0512".into()),
            "{method}"
        );
    }
    let status = client.status(&alice, id);
    assert_eq!(status.settings.controllers, vec![alice.principal()]);
    assert_eq!(status.module_hash, None);
    assert_eq!(status.status, mgmt::CanisterStatusType::Running);

    // A management call sent to another canister's endpoint, or with an undecodable argument, is
    // refused at the door.
    let other = create(&mut client, &alice, None);
    assert_eq!(
        client.call_via(
            &alice,
            other,
            MANAGEMENT,
            "install_code",
            install_arg(id, mgmt::CanisterInstallMode::Install, &module)
        ),
        Outcome::Status(400)
    );
    assert_eq!(
        client.manage(&alice, id, "install_code", b"DIDL garbage".to_vec()),
        Outcome::Status(400)
    );
    // Methods for canisters only are refused by ingress.
    for method in ["raw_rand", "http_request", "create_canister"] {
        assert_eq!(
            client.manage(&alice, id, method, id_arg(id)),
            Outcome::Refused("IC0406".into()),
            "{method}"
        );
    }
    // A specified id already taken, a module that is not wasm, a chunk over 1 MiB.
    let taken = Encode!(&mgmt::ProvisionalCreateCanisterWithCyclesArgs {
        specified_id: Some(id),
        ..Default::default()
    })
    .unwrap();
    assert_eq!(
        client.manage(&alice, id, "provisional_create_canister_with_cycles", taken),
        Outcome::Rejected(4, "IC0406".into())
    );
    // Not a canister id: a user's principal, the anonymous one, the management canister's.
    for not_a_canister in [alice.principal(), Principal::anonymous(), MANAGEMENT] {
        let arg = Encode!(&mgmt::ProvisionalCreateCanisterWithCyclesArgs {
            specified_id: Some(not_a_canister),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            client.manage(&alice, id, "provisional_create_canister_with_cycles", arg),
            Outcome::Rejected(4, "IC0406".into()),
            "{not_a_canister}"
        );
    }
    assert_eq!(
        client.manage(
            &alice,
            id,
            "install_code",
            install_arg(id, mgmt::CanisterInstallMode::Install, &gzip(b"not wasm"))
        ),
        Outcome::Rejected(5, "IC0503".into())
    );
    let oversize = Encode!(&mgmt::UploadChunkArgs {
        canister_id: id,
        chunk: vec![0; 1024 * 1024 + 1],
    })
    .unwrap();
    assert_eq!(
        client.manage(&alice, id, "upload_chunk", oversize),
        Outcome::Rejected(4, "IC0406".into())
    );
    assert_eq!(client.status(&alice, id).module_hash, None);
}

/// A query's `ic0.data_certificate` is a certificate a client verifies with the root key, over the
/// canister's certified data and the time — what the ICRC-3 tip certificate is made of.
#[test]
fn a_query_sees_a_genuine_certificate_of_its_certified_data() {
    let mut client = Client::new();
    let alice = Ed25519Identity::from_secret([1; 32]);
    let id = create(&mut client, &alice, None);
    assert!(matches!(
        client.manage(
            &alice,
            id,
            "install_code",
            install_arg(id, mgmt::CanisterInstallMode::Install, &wasm())
        ),
        Outcome::Replied(_)
    ));
    let data = Sha256::digest(b"the log's tip").to_vec();
    assert!(matches!(
        client.call_via(&alice, id, id, "certify", data.clone()),
        Outcome::Replied(_)
    ));
    let answer = decode(&query(&mut client, &alice, id, "certificate"));
    let Value::Map(reply) = get(&answer, "reply") else {
        panic!("a reply")
    };
    let Value::Bytes(certificate) = get(reply, "arg") else {
        panic!("the certificate")
    };
    let certificate = verified_certificate(&client.interface, certificate);
    assert_eq!(
        found(
            &certificate,
            &[b"canister", id.as_slice(), b"certified_data"]
        ),
        &data[..]
    );
    assert_eq!(
        found(&certificate, &[b"time"]),
        localnet::certification::leb128(client.net.time())
    );
    // The same data, certified for read_state too.
    assert_eq!(
        client.certified(&alice, id, &[b"canister", id.as_slice(), b"certified_data"]),
        Some(data)
    );
}

/// A reinstall whose module does not compile leaves the canister as it was; after an uninstall the
/// version keeps rising (calls made by the old code can never reach new code).
#[test]
fn a_failed_reinstall_keeps_the_canister_and_versions_never_go_back() {
    let mut client = Client::new();
    let alice = Ed25519Identity::from_secret([1; 32]);
    let id = create(&mut client, &alice, None);
    let module = built_module(b"v1");
    let install = mgmt::CanisterInstallMode::Install;
    assert!(matches!(
        client.install(&alice, id, install, &module),
        Outcome::Replied(_)
    ));
    let before = client.status(&alice, id);
    assert_eq!(
        client.install(
            &alice,
            id,
            mgmt::CanisterInstallMode::Reinstall,
            &gzip(b"not wasm")
        ),
        Outcome::Rejected(5, "IC0503".into())
    );
    let after = client.status(&alice, id);
    assert_eq!(after.module_hash, before.module_hash);
    assert_eq!(after.version, before.version);
    assert_eq!(query_error(&query(&mut client, &alice, id, "read")), None);

    assert!(matches!(
        client.manage(&alice, id, "uninstall_code", id_arg(id)),
        Outcome::Replied(_)
    ));
    let uninstalled = client.status(&alice, id).version;
    assert!(uninstalled > before.version);
    assert!(matches!(
        client.install(&alice, id, install, &module),
        Outcome::Replied(_)
    ));
    assert!(client.status(&alice, id).version > uninstalled);
}
