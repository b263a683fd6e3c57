//! A neuron's life on the real wasm: split and merge move tokens between neuron subaccounts on the
//! real governance-token ledger (each neuron's stake stays exactly its subaccount's balance),
//! delegated permissions let a principal vote without moving stake, an attacker can do neither, and
//! everything survives an upgrade of governance.

use candid::{Encode, Principal};
use neuranft_types::governance::*;
use neuranft_types::Account;
use tests::*;

const E8S: u64 = 100_000_000;
const DAY: u64 = 24 * 3_600;

fn owner() -> Principal {
    principal(0xA1)
}
fn delegate() -> Principal {
    principal(0xD1)
}
fn attacker() -> Principal {
    principal(0xBAD)
}

fn neuron(w: &mut NeuraNft, id: NeuronId) -> Option<Neuron> {
    let (n,): (Option<Neuron>,) = w
        .net
        .query(w.governance, admin(), "get_neuron", (id,))
        .unwrap();
    n
}

fn subaccount(w: &mut NeuraNft, id: NeuronId) -> u128 {
    let (ledger, governance) = (w.governance_ledger, w.governance);
    w.ledger_balance(
        ledger,
        Account {
            owner: governance,
            subaccount: Some(neuron_subaccount(id)),
        },
    )
}

fn split(
    w: &mut NeuraNft,
    caller: Principal,
    neuron: NeuronId,
    amount: u64,
) -> Result<NeuronId, GovernanceError> {
    let (r, _) = w.call(
        w.governance,
        caller,
        "split_neuron",
        (SplitNeuronArgs { neuron, amount },),
    );
    let (result,): (Result<NeuronId, GovernanceError>,) = r.unwrap();
    result
}

fn merge(
    w: &mut NeuraNft,
    caller: Principal,
    target: NeuronId,
    source: NeuronId,
) -> Result<Neuron, GovernanceError> {
    let (r, _) = w.call(
        w.governance,
        caller,
        "merge_neurons",
        (MergeNeuronsArgs { target, source },),
    );
    let (result,): (Result<Neuron, GovernanceError>,) = r.unwrap();
    result
}

fn set_permissions(
    w: &mut NeuraNft,
    caller: Principal,
    neuron: NeuronId,
    who: Principal,
    permissions: Vec<NeuronPermission>,
) -> Result<Neuron, GovernanceError> {
    let (r, _) = w.call(
        w.governance,
        caller,
        "set_permissions",
        (neuron, who, permissions),
    );
    let (result,): (Result<Neuron, GovernanceError>,) = r.unwrap();
    result
}

#[test]
fn split_merge_and_delegated_votes_on_the_real_ledger_survive_an_upgrade() {
    let mut w = NeuraNft::deploy(
        51,
        vec![],
        vec![(account(owner()), 1_000 * E8S as u128)],
        10,
    );
    let n = w.stake_neuron(owner(), 600 * E8S, 365 * DAY).unwrap();
    let staked = subaccount(&mut w, n);
    assert_eq!(staked, 600 * E8S as u128);

    // The attacker can neither split, merge nor grant itself anything.
    assert_eq!(
        split(&mut w, attacker(), n, 100 * E8S),
        Err(GovernanceError::NotAuthorized)
    );
    assert_eq!(
        set_permissions(
            &mut w,
            attacker(),
            n,
            attacker(),
            vec![NeuronPermission::Vote]
        )
        .map(|_| ()),
        Err(GovernanceError::NotAuthorized)
    );
    // The anonymous caller does not even get in (inspect_message; the state refuses it too).
    let (r, _) = w.call::<_, (Result<NeuronId, GovernanceError>,)>(
        w.governance,
        Principal::anonymous(),
        "split_neuron",
        (SplitNeuronArgs {
            neuron: n,
            amount: 100 * E8S,
        },),
    );
    assert!(r.is_err());

    let child = split(&mut w, owner(), n, 200 * E8S).unwrap();
    let fee = GOVERNANCE_TOKEN_FEE;
    assert_eq!(subaccount(&mut w, child), 200 * E8S as u128);
    assert_eq!(subaccount(&mut w, n), 400 * E8S as u128 - fee);
    for id in [n, child] {
        let stake = neuron(&mut w, id).unwrap().stake as u128;
        assert_eq!(
            stake,
            subaccount(&mut w, id),
            "neuron {id}'s stake is its subaccount"
        );
    }
    assert_eq!(neuron(&mut w, child).unwrap().controller, owner());

    // The delegate may vote with the child, and nothing else.
    set_permissions(
        &mut w,
        owner(),
        child,
        delegate(),
        vec![NeuronPermission::Vote],
    )
    .unwrap();
    let (delegated,): (Vec<Neuron>,) = w
        .net
        .query(w.governance, admin(), "neurons_of", (delegate(),))
        .unwrap();
    assert_eq!(
        delegated.iter().map(|n| n.id).collect::<Vec<_>>(),
        vec![child]
    );
    let (proposal, _) = w.propose(
        founder(),
        FOUNDER_NEURON,
        "A motion",
        Action::Motion {
            text: "We adopt the data charter.".into(),
        },
    );
    let proposal = proposal.unwrap();
    let info = w.proposal(proposal);
    if info.status == ProposalStatus::Open {
        w.vote(delegate(), child, proposal, Vote::No).0.unwrap();
    }
    assert_eq!(
        split(&mut w, delegate(), child, 10 * E8S),
        Err(GovernanceError::NotAuthorized)
    );
    let (proposed, _) = w.propose(
        delegate(),
        child,
        "Not mine to propose",
        Action::Motion { text: "x".into() },
    );
    assert_eq!(proposed, Err(GovernanceError::NotAuthorized));

    // The grant and both neurons survive an upgrade of governance.
    let before = (neuron(&mut w, n), neuron(&mut w, child));
    let arg: Option<GovernanceArg> = Some(GovernanceArg::Upgrade(None));
    w.net
        .upgrade_canister(
            w.governance,
            &canister_wasm("governance"),
            Encode!(&arg).unwrap(),
            admin(),
        )
        .unwrap();
    assert_eq!((neuron(&mut w, n), neuron(&mut w, child)), before);

    // Merged back: one neuron, the fee paid twice in all, the child's subaccount empty.
    let merged = merge(&mut w, owner(), n, child).unwrap();
    assert_eq!(merged.stake as u128, staked - 2 * fee);
    assert_eq!(subaccount(&mut w, n), staked - 2 * fee);
    assert_eq!(subaccount(&mut w, child), 0);
    assert_eq!(neuron(&mut w, child), None);
    let (delegated,): (Vec<Neuron>,) = w
        .net
        .query(w.governance, admin(), "neurons_of", (delegate(),))
        .unwrap();
    assert!(
        delegated.is_empty(),
        "the grant went with the merged neuron"
    );
}
