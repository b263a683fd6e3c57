//! Governance on the real wasm: token holders stake on the governance-token ledger, propose, follow
//! and vote; adopted proposals execute on the real inference-proxy and royalties, including an
//! upgrade of royalties that loses nothing; governance itself survives an upgrade.

use candid::{Encode, Principal};
use neuranft_types::governance::*;
use neuranft_types::proxy::ApplyNodeRequest;
use neuranft_types::proxy::{ApplyNodeArgs, NodeRecord, NodeStatus, RegistryError};
use neuranft_types::royalties::*;
use neuranft_types::Account;
use serde_bytes::ByteBuf;
use sha2::{Digest, Sha256};
use tests::*;

const E8S: u64 = 100_000_000;
const DAY: u64 = 24 * 3_600;

fn alice() -> Principal {
    principal(0xA1)
}
fn bob() -> Principal {
    principal(0xB0)
}
fn carol() -> Principal {
    principal(0xC0)
}

/// The system with alice, bob and carol holding NNG; they stake neurons 1, 2, 3 of 600, 300 and
/// 100 NNG, all with a one-year dissolve delay like the founder's 500 (so equal bonuses).
fn up() -> (NeuraNft, [NeuronId; 3]) {
    let holders = [alice(), bob(), carol()]
        .iter()
        .map(|p| (account(*p), 1_000 * E8S as u128))
        .collect();
    let mut w = NeuraNft::deploy(31, vec![], holders, 10);
    let a = w.stake_neuron(alice(), 600 * E8S, 365 * DAY).unwrap();
    let b = w.stake_neuron(bob(), 300 * E8S, 365 * DAY).unwrap();
    let c = w.stake_neuron(carol(), 100 * E8S, 365 * DAY).unwrap();
    (w, [a, b, c])
}

fn neuron(w: &mut NeuraNft, id: NeuronId) -> Neuron {
    let (n,): (Option<Neuron>,) = w
        .net
        .query(w.governance, admin(), "get_neuron", (id,))
        .unwrap();
    n.unwrap()
}

fn apply_node(w: &mut NeuraNft) -> u64 {
    let key = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let request = ApplyNodeRequest {
        node: ApplyNodeArgs {
            operator_subaccount: None,
            endpoint: "https://node-eu.example/v1/infer".into(),
            public_key: ByteBuf::from(key.verifying_key().to_bytes().to_vec()),
            models: vec!["llama3.1:8b".into()],
            capacity: 8,
        },
        api_key: NODE_API_KEY.into(),
    };
    let (id,): (Result<u64, RegistryError>,) = w
        .net
        .update(w.proxy, principal(0x0B), "apply_node", (request,))
        .unwrap();
    id.unwrap()
}

fn node_status(w: &mut NeuraNft, id: u64) -> NodeStatus {
    let (nodes,): (Vec<NodeRecord>,) = w.net.query(w.proxy, admin(), "nodes", ()).unwrap();
    nodes.into_iter().find(|n| n.id == id).unwrap().status
}

#[test]
fn stake_propose_follow_vote_and_admit_a_node_on_the_real_proxy() {
    let (mut w, [a, b, c]) = up();
    // Stakes are on the governance-token ledger, in each neuron's subaccount.
    let sub = Account {
        owner: w.governance,
        subaccount: Some(neuron_subaccount(a)),
    };
    let nng = w.governance_ledger;
    assert_eq!(w.ledger_balance(nng, sub), 600 * E8S as u128);
    assert_eq!(neuron(&mut w, a).controller, alice());
    // Carol follows alice on node admission.
    let (r,): (Result<Neuron, GovernanceError>,) = w
        .net
        .update(
            w.governance,
            carol(),
            "follow",
            (c, Topic::NodeAdmission, vec![a]),
        )
        .unwrap();
    r.unwrap();

    let node = apply_node(&mut w);
    assert_eq!(node_status(&mut w, node), NodeStatus::Applied);
    let (proposal, _) = w.propose(alice(), a, "Admit node-eu", Action::AdmitNode { node });
    let proposal = proposal.unwrap();
    let info = w.proposal(proposal);
    assert_eq!(info.status, ProposalStatus::Open);
    // Alice's yes and carol's by following: 700 of 1,500 NNG (equal bonuses aside) is not yet half.
    let (detail,): (Option<ProposalDetail>,) = w
        .net
        .query(
            w.governance,
            admin(),
            "get_proposal",
            (proposal, 0u64, 10u32),
        )
        .unwrap();
    let ballots = detail.unwrap().ballots;
    assert_eq!(ballots.len(), 4, "founder, alice, bob, carol");
    let vote_of = |n: NeuronId| ballots.iter().find(|(id, _)| *id == n).unwrap().1.vote;
    assert_eq!(vote_of(a), Vote::Yes);
    assert_eq!(vote_of(c), Vote::Yes, "carol followed alice");
    assert_eq!(vote_of(b), Vote::Unspecified);
    // Bob's yes makes an absolute majority: adopted, then executed by governance's job.
    let (tally, _) = w.vote(bob(), b, proposal, Vote::Yes);
    let tally = tally.unwrap();
    assert!(tally.yes * 2 > tally.total);
    w.run_governance();
    assert_eq!(w.proposal(proposal).status, ProposalStatus::Executed);
    assert_eq!(node_status(&mut w, node), NodeStatus::Active);
    // The proxy applies each proposal id once: a replay is done, another payload a conflict.
    for (action, expected) in [
        (
            neuranft_types::proxy::NodeAction::Admit,
            RegistryError::ProposalAlreadyExecuted { proposal },
        ),
        (
            neuranft_types::proxy::NodeAction::Remove,
            RegistryError::ProposalConflict { proposal },
        ),
    ] {
        let (replay,): (Result<NodeRecord, RegistryError>,) = w
            .net
            .update(
                w.proxy,
                w.governance,
                "decide_node",
                (proposal, node, action),
            )
            .unwrap();
        assert_eq!(replay, Err(expected));
    }
    assert_eq!(node_status(&mut w, node), NodeStatus::Active);
    // Queries for the UI: filters by topic and status, the neurons of a principal.
    let listed = w.list_proposals(ListProposalsArgs {
        before: None,
        limit: 10,
        topic: Some(Topic::NodeAdmission),
        status: Some("Executed".into()),
    });
    assert_eq!(listed.len(), 1);
    assert_eq!(
        listed[0].rendered_action,
        format!("AdmitNode {{ node: {node} }}")
    );
    let (mine,): (Vec<Neuron>,) = w
        .net
        .query(w.governance, admin(), "neurons_of", (carol(),))
        .unwrap();
    assert_eq!(mine.iter().map(|n| n.id).collect::<Vec<_>>(), vec![c]);
    // Nobody voted twice; the tally equals the ballots.
    let (again, _) = w.vote(bob(), b, proposal, Vote::No);
    assert!(again.is_err());
}

#[test]
fn a_rejected_proposal_changes_nothing_and_keeps_the_reject_cost() {
    let (mut w, [a, b, _]) = up();
    let node = apply_node(&mut w);
    let (proposal, _) = w.propose(carol(), 3, "Admit node-eu", Action::AdmitNode { node });
    let proposal = proposal.unwrap();
    w.vote(alice(), a, proposal, Vote::No).0.unwrap();
    w.vote(bob(), b, proposal, Vote::No).0.unwrap();
    assert_eq!(w.proposal(proposal).status, ProposalStatus::Rejected);
    w.run_governance();
    assert_eq!(node_status(&mut w, node), NodeStatus::Applied);
    assert_eq!(neuron(&mut w, 3).fees, governance_parameters().reject_cost);
    // Bad input: typed errors, nothing charged.
    let before = neuron(&mut w, a);
    let (r, _) = w.propose(bob(), a, "Not bob's neuron", Action::AdmitNode { node });
    assert_eq!(r, Err(GovernanceError::NotAuthorized));
    let bad_split = Action::SetRoyaltySplit {
        split: SplitConfig {
            host_bps: 1,
            model_owners_bps: 1,
            data_owners_bps: 1,
            treasury_bps: 1,
        },
    };
    let (r, _) = w.propose(alice(), a, "Bad split", bad_split);
    assert!(matches!(r, Err(GovernanceError::InvalidArgument { .. })));
    assert_eq!(neuron(&mut w, a), before);
    let anonymous = w.net.update_call(
        w.governance,
        Principal::anonymous(),
        "start_dissolving",
        Encode!(&a).unwrap(),
    );
    assert!(anonymous.is_err());
    let (r,): (Result<NeuronId, GovernanceError>,) = w
        .net
        .update(
            w.governance,
            alice(),
            "stake_neuron",
            (StakeArgs {
                amount: 1,
                dissolve_delay_seconds: DAY,
            },),
        )
        .unwrap();
    assert_eq!(
        r,
        Err(GovernanceError::StakeBelowMinimum {
            minimum: governance_parameters().min_stake
        })
    );
}

/// A wasm with one more custom section: the same code, another module hash.
fn with_note(wasm: &[u8], note: &str) -> Vec<u8> {
    let name = b"neuranft:note";
    let mut payload = vec![name.len() as u8];
    payload.extend_from_slice(name);
    payload.extend_from_slice(note.as_bytes());
    let mut out = wasm.to_vec();
    out.push(0);
    let mut size = payload.len();
    loop {
        let byte = (size & 0x7f) as u8;
        size >>= 7;
        if size == 0 {
            out.push(byte);
            break;
        }
        out.push(byte | 0x80);
    }
    out.extend_from_slice(&payload);
    out
}

#[test]
fn an_adopted_upgrade_of_royalties_installs_the_shown_wasm_and_loses_nothing() {
    let (mut w, _) = up();
    let args = sole_owner_model(
        alice(),
        "medical-llama",
        Price {
            per_1k_input_tokens: 1_000,
            per_1k_output_tokens: 2_000,
        },
    );
    let (model, _) = w.register_model(alice(), args);
    let model = model.unwrap();
    let (before,): (Option<ModelView>,) = w
        .net
        .query(w.royalties, admin(), "get_model", (model,))
        .unwrap();
    let (tip_before,): (LogTip,) = w.net.query(w.royalties, admin(), "log_tip", ()).unwrap();

    let wasm = with_note(&canister_wasm("royalties"), "release 2");
    let hash = hex::encode(Sha256::digest(&wasm));
    let upgrade_arg: Option<RoyaltiesArg> = Some(RoyaltiesArg::Upgrade(None));
    let action = Action::UpgradeCanister {
        target: UpgradeTarget::Royalties,
        wasm: ByteBuf::from(wasm),
        arg: ByteBuf::from(Encode!(&upgrade_arg).unwrap()),
        chunked_wasm: None,
    };
    let (id, _) = w.propose(alice(), 1, "Upgrade royalties to release 2", action);
    let id = id.unwrap();
    let shown = w.proposal(id).rendered_action;
    assert!(
        shown.contains(&hash),
        "the proposal shows the wasm's hash: {shown}"
    );
    // Critical: alice (40% of the power) needs bob and the founder for two thirds.
    w.vote(bob(), 2, id, Vote::Yes).0.unwrap();
    w.vote(founder(), FOUNDER_NEURON, id, Vote::Yes).0.unwrap();
    w.run_governance();
    let info = w.proposal(id);
    assert_eq!(info.status, ProposalStatus::Executed, "{info:?}");
    assert_eq!(
        w.net.module_hash(w.royalties).map(hex::encode),
        Some(hash),
        "the shown wasm is installed"
    );
    assert_eq!(
        w.net.status(w.royalties),
        Some(localnet::CanisterStatus::Running)
    );
    let (after,): (Option<ModelView>,) = w
        .net
        .query(w.royalties, admin(), "get_model", (model,))
        .unwrap();
    assert_eq!(after, before);
    let (tip_after,): (LogTip,) = w.net.query(w.royalties, admin(), "log_tip", ()).unwrap();
    assert_eq!(tip_after, tip_before);
    let (audit, _) = w.audit();
    assert!(audit.agrees);
}

#[test]
fn governance_survives_its_own_upgrade_with_an_open_proposal() {
    let (mut w, [a, b, _]) = up();
    let node = apply_node(&mut w);
    let (id, _) = w.propose(alice(), a, "Admit node-eu", Action::AdmitNode { node });
    let id = id.unwrap();
    let before = w.proposal(id);
    let neuron_before = neuron(&mut w, b);
    let arg: Option<GovernanceArg> = Some(GovernanceArg::Upgrade(None));
    w.net
        .upgrade_canister(
            w.governance,
            &canister_wasm("governance"),
            Encode!(&arg).unwrap(),
            admin(),
        )
        .unwrap();
    assert_eq!(w.proposal(id), before);
    assert_eq!(neuron(&mut w, b), neuron_before);
    // Voting and execution go on after the upgrade, on the re-armed timer.
    w.vote(bob(), b, id, Vote::Yes).0.unwrap();
    w.net.advance_time(std::time::Duration::from_secs(10));
    w.ticks(5);
    assert_eq!(w.proposal(id).status, ProposalStatus::Executed);
    assert_eq!(node_status(&mut w, node), NodeStatus::Active);
    // Dissolving and disbursing a neuron pays its stake back on the ledger.
    let (r,): (Result<Neuron, GovernanceError>,) = w
        .net
        .update(w.governance, carol(), "start_dissolving", (3u64,))
        .unwrap();
    r.unwrap();
    w.net
        .advance_time(std::time::Duration::from_secs(366 * DAY));
    let nng = w.governance_ledger;
    let before = w.ledger_balance(nng, account(carol()));
    let (paid,): (Result<u64, GovernanceError>,) = w
        .net
        .update(w.governance, carol(), "disburse", (3u64, None::<Account>))
        .unwrap();
    assert_eq!(paid, Ok(100 * E8S));
    assert_eq!(
        w.ledger_balance(nng, account(carol())),
        before + 100 * E8S as u128 - GOVERNANCE_TOKEN_FEE
    );
    let (gone,): (Option<Neuron>,) = w
        .net
        .query(w.governance, admin(), "get_neuron", (3u64,))
        .unwrap();
    assert!(gone.is_none());
}

/// A network saved and loaded back (`localnet serve --state-dir`) keeps the ledgers' balances and an
/// open proposal with its ballots, and the system goes on: the votes cast after the restart adopt
/// the proposal and governance executes it.
#[test]
fn a_saved_network_keeps_balances_and_an_open_proposal() {
    let (mut w, [a, b, c]) = up();
    let (proposal, _) = w.propose(
        carol(),
        c,
        "Adopt the data charter",
        Action::Motion {
            text: "The DAO adopts the medical data charter.".into(),
        },
    );
    let proposal = proposal.unwrap();
    w.run_governance();
    let before = w.proposal(proposal);
    assert_eq!(before.status, ProposalStatus::Open);
    let balances = |w: &mut NeuraNft| {
        [alice(), bob(), carol()].map(|p| w.ledger_balance(w.governance_ledger, account(p)))
    };
    let balances_before = balances(&mut w);

    let dir = std::env::temp_dir().join(format!("neuranft-saved-{}", std::process::id()));
    w.net.save(&dir).unwrap();
    w.net = localnet::LocalNet::load(&dir)
        .unwrap()
        .expect("a saved network");
    std::fs::remove_dir_all(&dir).unwrap();

    assert_eq!(balances(&mut w), balances_before);
    assert_eq!(w.proposal(proposal), before);
    for (voter, neuron) in [(alice(), a), (bob(), b)] {
        let (tally, _) = w.vote(voter, neuron, proposal, Vote::Yes);
        tally.unwrap();
    }
    w.run_governance();
    assert_eq!(w.proposal(proposal).status, ProposalStatus::Executed);
}

fn current_split(w: &mut NeuraNft) -> SplitRecord {
    let (split,): (Option<SplitRecord>,) = w
        .net
        .query(w.royalties, admin(), "get_split", (None::<SplitVersion>,))
        .unwrap();
    split.unwrap()
}

/// A governance reinstalled from scratch numbers its proposals from the start again. Before targets
/// bound a proposal id to its payload, royalties answered its new proposal "already applied" and
/// governance showed Executed while the split in force was the old one.
#[test]
fn a_proposal_id_applied_with_another_payload_fails_the_proposal_and_changes_nothing() {
    let mut w = NeuraNft::deploy(37, vec![], vec![], 10);
    let first = SplitConfig {
        host_bps: 2_000,
        model_owners_bps: 6_000,
        data_owners_bps: 1_000,
        treasury_bps: 1_000,
    };
    let executed = w.adopt("A split", Action::SetRoyaltySplit { split: first });
    assert_eq!(executed.status, ProposalStatus::Executed, "{executed:?}");
    assert_eq!(current_split(&mut w).split, first);

    let config = GovernanceConfig {
        governance_ledger: w.governance_ledger,
        payment_ledger: w.payment_ledger,
        royalties: w.royalties,
        inference_proxy: w.proxy,
        root: Some(w.root),
        frontend: w.frontend,
        parameters: governance_parameters(),
    };
    w.net
        .reinstall_canister(
            w.governance,
            &canister_wasm("governance"),
            Encode!(&GovernanceArg::Init(config)).unwrap(),
            admin(),
        )
        .unwrap();
    let neuron = w
        .stake_neuron(founder(), FOUNDER_STAKE / 2, 365 * DAY)
        .unwrap();
    assert_eq!(neuron, FOUNDER_NEURON);
    let other = SplitConfig {
        host_bps: 1_000,
        model_owners_bps: 7_000,
        data_owners_bps: 1_000,
        treasury_bps: 1_000,
    };
    let info = w.adopt("Another split", Action::SetRoyaltySplit { split: other });
    assert_eq!(info.id, executed.id, "the same proposal id again");
    match &info.status {
        ProposalStatus::Failed { reason } => assert!(
            reason.contains("ProposalConflict"),
            "the reason names the conflict: {reason}"
        ),
        status => panic!("the proposal must fail, not be {status:?}"),
    }
    assert_eq!(current_split(&mut w).split, first, "nothing changed");
}

/// After the hand-over the deployer can change nothing of royalties, the proxy or the ledgers —
/// neither code nor settings nor run state — and the DAO upgrades a ledger by proposal.
#[test]
fn after_the_hand_over_only_an_adopted_proposal_changes_the_system() {
    use ic_management_canister_types::{CanisterIdRecord, CanisterStatusResult};
    let (mut w, [a, b, _]) = up();
    w.hand_over().unwrap();
    let management = Principal::management_canister();
    for canister in w.handed_over() {
        let record = CanisterIdRecord {
            canister_id: canister,
        };
        let (status,): (CanisterStatusResult,) = w
            .net
            .update(
                management,
                w.governance,
                "canister_status",
                (record.clone(),),
            )
            .expect("governance, a controller, reads the status");
        assert_eq!(status.settings.controllers, vec![w.governance]);
        let refused: Result<(CanisterStatusResult,), _> =
            w.net
                .update(management, admin(), "canister_status", (record.clone(),));
        assert!(refused.is_err(), "the deployer is no controller");
        let stop: Result<(), _> = w
            .net
            .update(management, admin(), "stop_canister", (record,));
        assert!(stop.is_err(), "the deployer cannot stop {canister}");
        let wasm = with_note(&canister_wasm("royalties"), "hostile");
        assert!(w
            .net
            .upgrade_canister(canister, &wasm, vec![], admin())
            .is_err());
        assert!(w
            .net
            .set_controllers(canister, admin(), vec![admin()])
            .is_err());
        assert_eq!(w.net.controllers(canister), Some(vec![w.governance]));
    }
    // Governance itself belongs to root, which obeys only governance.
    assert_eq!(w.net.controllers(w.governance), Some(vec![w.root]));
    let wasm = with_note(&canister_wasm("governance"), "hostile");
    assert!(w
        .net
        .upgrade_canister(w.governance, &wasm, vec![], admin())
        .is_err());
    let record = ic_management_canister_types::CanisterIdRecord {
        canister_id: w.governance,
    };
    let stop: Result<(), _> = w
        .net
        .update(management, admin(), "stop_canister", (record,));
    assert!(stop.is_err(), "the deployer cannot stop governance");
    let hostile = neuranft_types::root::UpgradeGovernanceArgs {
        proposal: 99,
        wasm_module_hash: ByteBuf::from(vec![0; 32]),
        chunk_hashes: vec![ByteBuf::from(vec![0; 32])],
        arg: ByteBuf::new(),
    };
    let (asked,): (Result<neuranft_types::root::UpgradeStatus, neuranft_types::root::RootError>,) =
        w.net
            .update(w.root, admin(), "upgrade_governance", (hostile,))
            .unwrap();
    assert_eq!(asked, Err(neuranft_types::root::RootError::NotGovernance));

    let before = w.ledger_balance(w.governance_ledger, account(alice()));
    let wasm = with_note(&canister_wasm("icrc-ledger"), "release 2");
    let hash = hex::encode(Sha256::digest(&wasm));
    let arg: Option<neuranft_types::ledger::LedgerArg> =
        Some(neuranft_types::ledger::LedgerArg::Upgrade(None));
    let action = Action::UpgradeCanister {
        target: UpgradeTarget::GovernanceLedger,
        wasm: ByteBuf::from(wasm),
        arg: ByteBuf::from(Encode!(&arg).unwrap()),
        chunked_wasm: None,
    };
    let (id, _) = w.propose(alice(), a, "Upgrade the NNG ledger", action);
    let id = id.unwrap();
    w.vote(bob(), b, id, Vote::Yes).0.unwrap();
    w.vote(founder(), FOUNDER_NEURON, id, Vote::Yes).0.unwrap();
    w.run_governance();
    let info = w.proposal(id);
    assert_eq!(info.status, ProposalStatus::Executed, "{info:?}");
    assert_eq!(
        w.net.module_hash(w.governance_ledger).map(hex::encode),
        Some(hash)
    );
    assert_eq!(
        w.ledger_balance(w.governance_ledger, account(alice())),
        before
    );
}

/// `module.wasm.gz` decompressed, with a custom section of `padding` pseudo-random (incompressible)
/// bytes, gzip'd again: the same code in a module of more than `padding` bytes.
fn padded(module_gz: &[u8], padding: usize) -> Vec<u8> {
    use std::io::{Read, Write};
    let mut wasm = Vec::new();
    flate2::read::GzDecoder::new(module_gz)
        .read_to_end(&mut wasm)
        .unwrap();
    let mut noise = Vec::with_capacity(padding + 32);
    let mut block = [7u8; 32];
    while noise.len() < padding {
        block = Sha256::digest(block).into();
        noise.extend_from_slice(&block);
    }
    // Hex keeps the note valid UTF-8; gzip packs its two characters per byte back into about one,
    // so the compressed module grows by about `padding`.
    let note = hex::encode(&noise[..padding]);
    let wasm = with_note(&wasm, &note);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&wasm).unwrap();
    gz.finish().unwrap()
}

fn stage(
    w: &mut NeuraNft,
    caller: Principal,
    neuron: NeuronId,
    chunk: &[u8],
) -> Result<ByteBuf, GovernanceError> {
    let args = StageChunkArgs {
        neuron,
        chunk: ByteBuf::from(chunk.to_vec()),
    };
    let (r,): (Result<ByteBuf, GovernanceError>,) = w
        .net
        .update(w.governance, caller, "stage_wasm_chunk", (args,))
        .unwrap();
    r
}

fn staged(w: &mut NeuraNft, neuron: NeuronId) -> Vec<StagedChunk> {
    let (chunks,): (Vec<StagedChunk>,) = w
        .net
        .query(w.governance, admin(), "staged_chunks", (neuron,))
        .unwrap();
    chunks
}

/// After the hand-over governance upgrades itself by proposal, through root, from a 3 MiB module
/// staged in chunks; bad chunks and hashes are refused with typed errors and change nothing.
#[test]
fn governance_upgrades_itself_by_proposal_from_a_3_mib_module_staged_in_chunks() {
    let (mut w, [a, b, c]) = up();
    w.hand_over().unwrap();
    let module = padded(&canister_wasm("governance"), 3 * 1024 * 1024);
    assert!(module.len() > 3 * 1024 * 1024, "{} bytes", module.len());
    let hash = Sha256::digest(&module).to_vec();

    // Only the neuron's controller or hot keys stage, a chunk at most 1 MiB.
    assert_eq!(
        stage(&mut w, carol(), a, &module[..1024]),
        Err(GovernanceError::NotAuthorized)
    );
    assert!(matches!(
        stage(&mut w, alice(), a, &module[..MAX_CHUNK_BYTES + 1]),
        Err(GovernanceError::InvalidArgument { .. })
    ));
    assert_eq!(staged(&mut w, a), vec![]);
    let mut chunk_hashes = Vec::new();
    for chunk in module.chunks(MAX_CHUNK_BYTES) {
        let hash = stage(&mut w, alice(), a, chunk).unwrap();
        assert_eq!(hash.as_slice(), Sha256::digest(chunk).as_slice());
        chunk_hashes.push(hash);
    }
    // Four or five chunks, as the module's code grows.
    let chunks = module.len().div_ceil(MAX_CHUNK_BYTES);
    assert!(chunks >= 4);
    assert_eq!(chunk_hashes.len(), chunks);
    assert_eq!(staged(&mut w, a).len(), chunks);

    let arg: Option<GovernanceArg> = Some(GovernanceArg::Upgrade(None));
    let upgrade = |wasm_module_hash: Vec<u8>, chunk_hashes: Vec<ByteBuf>| Action::UpgradeCanister {
        target: UpgradeTarget::Governance,
        wasm: ByteBuf::new(),
        arg: ByteBuf::from(Encode!(&arg).unwrap()),
        chunked_wasm: Some(ChunkedWasm {
            wasm_module_hash: ByteBuf::from(wasm_module_hash),
            chunk_hashes,
        }),
    };
    // A hash that is not the chunks' concatenation's, or a chunk another neuron staged: refused.
    let (wrong, _) = w.propose(
        alice(),
        a,
        "Upgrade",
        upgrade(vec![0; 32], chunk_hashes.clone()),
    );
    assert!(
        matches!(wrong, Err(GovernanceError::WasmHashMismatch { .. })),
        "{wrong:?}"
    );
    let (not_staged, _) = w.propose(
        carol(),
        c,
        "Upgrade",
        upgrade(hash.clone(), chunk_hashes.clone()),
    );
    assert_eq!(
        not_staged,
        Err(GovernanceError::ChunkNotStaged {
            hash: chunk_hashes[0].clone()
        })
    );
    assert_eq!(
        staged(&mut w, a).len(),
        chunks,
        "the refusals changed nothing"
    );

    let (id, _) = w.propose(
        alice(),
        a,
        "Upgrade governance",
        upgrade(hash.clone(), chunk_hashes),
    );
    let id = id.unwrap();
    assert_eq!(staged(&mut w, a), vec![], "the proposal took its chunks");
    let shown = w.proposal(id).rendered_action;
    assert!(
        shown.contains(&format!(
            "{} bytes in {chunks} chunk(s), sha256 {}",
            module.len(),
            hex::encode(&hash)
        )),
        "{shown}"
    );
    let neuron_before = neuron(&mut w, b);
    w.vote(bob(), b, id, Vote::Yes).0.unwrap();
    w.vote(founder(), FOUNDER_NEURON, id, Vote::Yes).0.unwrap();
    // Root stops governance while it installs: the job's calls are refused meanwhile.
    for _ in 0..40 {
        let _ = w
            .net
            .update::<_, (candid::Reserved,)>(w.governance, admin(), "run_jobs", ());
        w.ticks(3);
        if w.net.status(w.governance) == Some(localnet::CanisterStatus::Running)
            && w.proposal(id).status != ProposalStatus::Adopted
        {
            break;
        }
        w.net.advance_time(std::time::Duration::from_secs(11));
    }
    let info = w.proposal(id);
    assert_eq!(info.status, ProposalStatus::Executed, "{info:?}");
    assert_eq!(
        w.net.module_hash(w.governance).map(|h| h.to_vec()),
        Some(hash)
    );
    assert_eq!(
        w.net.status(w.governance),
        Some(localnet::CanisterStatus::Running)
    );
    assert_eq!(neuron(&mut w, b), neuron_before, "the state survived");
    let (upgrades,): (Vec<(u64, neuranft_types::root::UpgradeStatus)>,) =
        w.net.query(w.root, admin(), "upgrades", ()).unwrap();
    assert_eq!(
        upgrades,
        vec![(id, neuranft_types::root::UpgradeStatus::Done)]
    );
    assert_eq!(w.net.controllers(w.governance), Some(vec![w.root]));
    // The upgraded governance goes on: it still executes proposals.
    let node = apply_node(&mut w);
    let info = w.adopt("Admit node-eu", Action::AdmitNode { node });
    assert_eq!(info.status, ProposalStatus::Executed, "{info:?}");
}

/// Alice's proposal, adopted by bob's and the founder's votes and executed by governance's job.
fn adopt_and_execute(
    w: &mut NeuraNft,
    a: NeuronId,
    b: NeuronId,
    title: &str,
    action: Action,
) -> ProposalId {
    let (id, _) = w.propose(alice(), a, title, action);
    let id = id.unwrap();
    w.vote(bob(), b, id, Vote::Yes).0.unwrap();
    w.vote(founder(), FOUNDER_NEURON, id, Vote::Yes).0.unwrap();
    w.run_governance();
    id
}

#[test]
fn a_generic_proposal_changes_a_proxy_limit_with_its_payload_rendered_by_the_proxy() {
    let (mut w, [a, b, _]) = up();
    let register = |target: Principal| Action::RegisterGenericFunction {
        name: "Proxy limits".into(),
        description: "The inference proxy's limits (set_limits).".into(),
        target,
        method: "set_limits".into(),
        validator: "validate_limits".into(),
    };
    // Governance's own treasury ledger is not a generic function's target.
    let ledger = w.payment_ledger;
    let (refused, _) = w.propose(alice(), a, "Ledger", register(ledger));
    assert!(
        matches!(&refused, Err(GovernanceError::InvalidArgument { field, .. }) if field == "target"),
        "{refused:?}"
    );
    let proxy = w.proxy;
    let function = adopt_and_execute(&mut w, a, b, "Register proxy limits", register(proxy));
    assert_eq!(w.proposal(function).status, ProposalStatus::Executed);
    let (functions,): (Vec<GenericFunction>,) = w
        .net
        .query(w.governance, admin(), "generic_functions", ())
        .unwrap();
    assert_eq!(functions.len(), 1);
    assert_eq!((functions[0].id, functions[0].target), (function, w.proxy));

    let (before,): (neuranft_types::proxy::ProxyConfig,) =
        w.net.query(w.proxy, admin(), "get_config", ()).unwrap();
    let call = |limits: &neuranft_types::proxy::ProxyLimits| Action::ExecuteGenericFunction {
        function,
        payload: ByteBuf::from(Encode!(limits).unwrap()),
    };
    let fees_before = neuron(&mut w, a).fees;
    // The proxy's validator refuses limits out of bounds: a typed error, nothing proposed or charged.
    let out_of_bounds = neuranft_types::proxy::ProxyLimits {
        max_nodes_per_call: 11,
        ..before.limits()
    };
    let (refused, _) = w.propose(alice(), a, "Too many nodes", call(&out_of_bounds));
    assert_eq!(
        refused,
        Err(GovernanceError::GenericValidationFailed {
            reason: "the validator: max_nodes_per_call must be 1–10".into()
        })
    );
    // A payload past the limit is refused before the proxy is asked.
    let (refused, _) = w.propose(
        alice(),
        a,
        "Huge",
        Action::ExecuteGenericFunction {
            function,
            payload: ByteBuf::from(vec![0; MAX_GENERIC_PAYLOAD_BYTES + 1]),
        },
    );
    assert!(
        matches!(&refused, Err(GovernanceError::InvalidArgument { field, .. }) if field == "payload")
    );
    assert_eq!(neuron(&mut w, a).fees, fees_before);

    let limits = neuranft_types::proxy::ProxyLimits {
        max_prompt_bytes: 5_000,
        ..before.limits()
    };
    let id = adopt_and_execute(
        &mut w,
        a,
        b,
        "Prompts of at most 5,000 bytes",
        call(&limits),
    );
    let info = w.proposal(id);
    assert_eq!(info.status, ProposalStatus::Executed, "{info:?}");
    assert!(
        info.rendered_action.contains(&format!(
            "validated: \"max_prompt_bytes: {} → 5000; max_output_tokens: {} (unchanged)",
            before.max_prompt_bytes, before.max_output_tokens
        )),
        "voters read the proxy's rendering: {}",
        info.rendered_action
    );
    let (after,): (neuranft_types::proxy::ProxyConfig,) =
        w.net.query(w.proxy, admin(), "get_config", ()).unwrap();
    assert_eq!(after.limits(), limits);
    assert_eq!(after.call_fee, before.call_fee);
    // Nobody but governance calls the method itself.
    let (direct,): (Result<(), RegistryError>,) = w
        .net
        .update(w.proxy, alice(), "set_limits", (before.limits(),))
        .unwrap();
    assert_eq!(direct, Err(RegistryError::NotGovernance));
}
