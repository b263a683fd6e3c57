//! Making proposals: frozen and bounded ballot writing, spam limits, spikes of voting power, the
//! checks of an action and the text voters read for it.

use super::*;
use crate::power::voting_power;
use crate::state::Progress;
use serde_bytes::ByteBuf;

#[test]
fn voting_power_is_frozen_when_the_proposal_is_made() {
    let (mut g, [a, b, _]) = three();
    let id = g.make_proposal(p(0), split_proposal(a), T0, BIG).unwrap();
    let frozen = g.ballot(id, b).unwrap().voting_power;
    g.add_stake(b, 1_000 * E8S, T0 + 1).unwrap();
    g.increase_dissolve_delay(p(1), b, 365 * DAY, T0 + 1)
        .unwrap();
    assert_eq!(g.ballot(id, b).unwrap().voting_power, frozen);
    let late = neuron(&mut g, 9, 1_000);
    assert_eq!(
        g.register_vote(p(9), late, id, Vote::Yes, T0 + 2, BIG),
        Err(GovernanceError::NoBallot),
        "a neuron made after the proposal has no ballot"
    );
    let total = g.proposal(id).unwrap().tally.total;
    g.register_vote(p(1), b, id, Vote::Yes, T0 + 3, BIG)
        .unwrap();
    let tally = g.proposal(id).unwrap().tally;
    assert_eq!(tally.total, total);
    assert_eq!(tally.yes, g.ballot(id, a).unwrap().voting_power + frozen);
}

#[test]
fn ballots_are_written_in_bounded_chunks_and_frozen_before_a_change() {
    let mut g = fresh();
    let ids: Vec<NeuronId> = (0..1_000).map(|i| neuron(&mut g, i, 1 + i % 7)).collect();
    let id = g.make_proposal(p(0), motion(ids[0]), T0, 100).unwrap();
    let expected: u128 = ids
        .iter()
        .map(|n| voting_power(&g.neuron(*n).unwrap(), &parameters(), T0).unwrap())
        .sum();
    assert_eq!(status(&g, id), ProposalStatus::Preparing);
    assert_eq!(
        g.register_vote(p(1), ids[1], id, Vote::Yes, T0 + 1, 100),
        Err(GovernanceError::VotingClosed)
    );
    // A neuron the writer has not reached yet changes: its ballot keeps the power it had.
    let before = voting_power(&g.neuron(ids[900]).unwrap(), &parameters(), T0).unwrap();
    g.add_stake(ids[900], 10_000 * E8S, T0 + 1).unwrap();
    let mut steps = 0;
    while status(&g, id) == ProposalStatus::Preparing {
        let Progress {
            ballots_written, ..
        } = g.advance(T0 + 2, 100);
        assert!(ballots_written <= 100);
        steps += 1;
    }
    assert!(steps >= 9, "{steps} steps");
    assert_eq!(g.ballot(id, ids[900]).unwrap().voting_power, before);
    assert_eq!(g.proposal(id).unwrap().tally.total, expected);
    assert_eq!(g.ballots(id, 0, 2_000).len(), 1_000);
}

#[test]
fn spam_limits_and_bad_callers_are_typed_errors_that_change_nothing() {
    let (mut g, [a, b, _]) = three();
    g.add_hot_key(p(0), a, p(50)).unwrap();
    let before = g.neuron(a).unwrap();
    assert_eq!(
        g.make_proposal(Principal::anonymous(), motion(a), T0, BIG),
        Err(GovernanceError::AnonymousCaller)
    );
    assert_eq!(
        g.make_proposal(p(1), motion(a), T0, BIG),
        Err(GovernanceError::NotAuthorized)
    );
    assert!(matches!(
        g.make_proposal(
            p(0),
            MakeProposalArgs {
                title: String::new(),
                ..motion(a)
            },
            T0,
            BIG
        ),
        Err(GovernanceError::InvalidArgument { .. })
    ));
    let bad_split = MakeProposalArgs {
        action: Action::SetRoyaltySplit {
            split: SplitConfig {
                host_bps: 1,
                model_owners_bps: 1,
                data_owners_bps: 1,
                treasury_bps: 1,
            },
        },
        ..motion(a)
    };
    assert!(matches!(
        g.make_proposal(p(0), bad_split, T0, BIG),
        Err(GovernanceError::InvalidArgument { .. })
    ));
    let not_wasm = MakeProposalArgs {
        action: Action::UpgradeCanister {
            target: UpgradeTarget::Royalties,
            wasm: ByteBuf::from(b"not a wasm".to_vec()),
            arg: ByteBuf::new(),
            chunked_wasm: None,
        },
        ..motion(a)
    };
    assert!(matches!(
        g.make_proposal(p(0), not_wasm, T0, BIG),
        Err(GovernanceError::InvalidArgument { .. })
    ));
    assert_eq!(g.neuron(a).unwrap(), before, "nothing charged");
    // A hot key may propose and vote, never move stake or the dissolve state.
    g.make_proposal(p(50), motion(a), T0, BIG).unwrap();
    assert_eq!(
        g.start_dissolving(p(50), a, T0),
        Err(GovernanceError::NotAuthorized)
    );
    // At most two open proposals per neuron.
    let second = g.make_proposal(p(0), split_proposal(a), T0, BIG).unwrap();
    assert_eq!(
        g.make_proposal(p(0), motion(a), T0, BIG),
        Err(GovernanceError::TooManyOpenProposals { max: 2 })
    );
    // A neuron below the minimum delay cannot propose; one without free stake cannot pay the cost.
    let short = g.allocate_neuron_id();
    g.create_neuron(short, p(7), 10 * E8S, DAY, T0).unwrap();
    assert!(matches!(
        g.make_proposal(p(7), motion(short), T0, BIG),
        Err(GovernanceError::DissolveDelayTooShort { .. })
    ));
    let poor = g.allocate_neuron_id();
    g.create_neuron(poor, p(8), E8S, 365 * DAY, T0).unwrap();
    g.make_proposal(p(8), motion(poor), T0, BIG).unwrap();
    assert!(matches!(
        g.make_proposal(p(8), motion(poor), T0, BIG),
        Err(GovernanceError::InsufficientStakeForRejectCost { .. })
    ));
    assert_eq!(
        g.register_vote(p(1), b, second, Vote::Unspecified, T0, BIG),
        Err(GovernanceError::InvalidArgument {
            field: "vote".into(),
            reason: "Yes or No".into()
        })
    );
    g.register_vote(p(1), b, second, Vote::No, T0, BIG).unwrap();
    assert_eq!(
        g.register_vote(p(1), b, second, Vote::Yes, T0, BIG),
        Err(GovernanceError::VotingClosed)
    );
    assert_eq!(
        g.check_new_stake(p(9), 1),
        Err(GovernanceError::StakeBelowMinimum { minimum: E8S })
    );
    assert_eq!(
        g.check_new_stake(Principal::anonymous(), E8S),
        Err(GovernanceError::AnonymousCaller)
    );
}

#[test]
fn a_spike_of_voting_power_is_judged_with_an_earlier_snapshot() {
    let (mut g, [a, b, _]) = three();
    let first = g.make_proposal(p(0), motion(a), T0, BIG).unwrap();
    let before = g.proposal(first).unwrap().tally.total;
    // A whale stakes ten times the existing power and proposes the next day.
    let whale = neuron(&mut g, 9, 1_000);
    let spiked = g
        .make_proposal(p(9), motion(whale), T0 + days(1), BIG)
        .unwrap();
    let info = g.proposal(spiked).unwrap();
    assert_eq!(info.ballots_from, Some(first));
    assert_eq!(info.tally.total, before, "judged with the earlier ballots");
    assert_eq!(g.ballot(spiked, whale).unwrap().voting_power, 0);
    assert_eq!(
        info.status,
        ProposalStatus::Open,
        "the whale's yes weighs nothing"
    );
    g.register_vote(p(1), b, spiked, Vote::No, T0 + days(1), BIG)
        .unwrap();
    // A growth below the factor is not a spike.
    let (mut g, [a, _, _]) = three();
    g.make_proposal(p(0), motion(a), T0, BIG).unwrap();
    let newcomer = neuron(&mut g, 9, 40);
    let normal = g
        .make_proposal(p(9), motion(newcomer), T0 + days(1), BIG)
        .unwrap();
    assert_eq!(g.proposal(normal).unwrap().ballots_from, None);
}

/// A call fee of 0 would leave the proxy no reserve to pay batch transfers (settlement stops); a huge
/// one overflows every quote: both refused when proposed.
#[test]
fn a_call_fee_outside_the_proxys_range_is_refused_at_submission() {
    let (mut g, [a, _, _]) = three();
    for call_fee in [0, 1_000_000_000_001, u128::MAX] {
        let r = g.make_proposal(
            p(0),
            MakeProposalArgs {
                action: Action::SetCallFee { call_fee },
                ..motion(a)
            },
            T0,
            BIG,
        );
        assert!(
            matches!(&r, Err(GovernanceError::InvalidArgument { field, .. }) if field == "call_fee"),
            "{call_fee}: {r:?}"
        );
    }
    let ok = g.make_proposal(
        p(0),
        MakeProposalArgs {
            action: Action::SetCallFee { call_fee: 1 },
            ..motion(a)
        },
        T0,
        BIG,
    );
    assert!(ok.is_ok(), "{ok:?}");
}

/// Moderation without a reason, payout settings or proxy limits out of their bounds: refused when
/// proposed, with the field named, and nothing charged or recorded.
#[test]
fn typed_settings_out_of_their_bounds_are_refused_at_submission() {
    use neuranft_types::royalties::{ModerationAction, PayoutSettings};
    let (mut g, neurons) = three();
    let a = neurons[0];
    let limits = neuranft_types::proxy::ProxyLimits {
        max_prompt_bytes: 16_384,
        max_output_tokens: 512,
        calls_per_user_per_minute: 30,
        max_nodes_per_call: 3,
        failures_before_suspension: 3,
        flush_interval_seconds: 30,
        max_receipts_per_batch: 100,
    };
    let settings = PayoutSettings {
        auto_payout_fee_multiple: 10,
        payout_interval_seconds: 60,
    };
    let moderate = |reason: &str| Action::ModerateModel {
        model: 0,
        action: ModerationAction::Suspend,
        reason: reason.into(),
    };
    let refused = [
        (moderate(""), "reason"),
        (moderate(&"r".repeat(2_001)), "reason"),
        (
            Action::SetPayoutSettings {
                settings: PayoutSettings {
                    auto_payout_fee_multiple: 0,
                    ..settings
                },
            },
            "settings",
        ),
        (
            Action::SetProxyLimits {
                limits: neuranft_types::proxy::ProxyLimits {
                    max_nodes_per_call: 11,
                    ..limits
                },
            },
            "limits",
        ),
    ];
    let before = g.neuron(a).unwrap();
    for (action, expected) in refused {
        let r = g.make_proposal(
            p(0),
            MakeProposalArgs {
                action,
                ..motion(a)
            },
            T0,
            BIG,
        );
        assert!(
            matches!(&r, Err(GovernanceError::InvalidArgument { field, .. }) if field == expected),
            "{expected}: {r:?}"
        );
    }
    assert_eq!(g.neuron(a).unwrap(), before, "no reject cost charged");
    let accepted = [
        moderate("harmful output"),
        Action::SetPayoutSettings { settings },
        Action::SetProxyLimits { limits },
    ];
    for (n, (action, neuron)) in accepted.into_iter().zip(neurons).enumerate() {
        let topic = action.topic();
        let args = MakeProposalArgs {
            action,
            ..motion(neuron)
        };
        let id = g.make_proposal(p(n as u64), args, T0, BIG).unwrap();
        assert_eq!(g.proposal(id).unwrap().topic, topic);
    }
}

fn upgrade_to(arg: Vec<u8>) -> Action {
    Action::UpgradeCanister {
        target: UpgradeTarget::Royalties,
        wasm: ByteBuf::from(b"\0asm\x01\0\0\0".to_vec()),
        arg: ByteBuf::from(arg),
        chunked_wasm: None,
    }
}

#[test]
fn an_upgrade_shows_its_argument_as_candid_so_a_new_principal_is_visible() {
    use neuranft_types::royalties::{RoyaltiesArg, UpgradeArgs};
    use sha2::Digest;
    let attacker = Principal::from_text("2chl6-4hpzw-vqaaa-aaaaa-c").unwrap();
    let arg = Some(RoyaltiesArg::Upgrade(Some(UpgradeArgs {
        inference_proxy: Some(attacker),
        ..UpgradeArgs::default()
    })));
    let bytes = candid::encode_one(&arg).unwrap();
    let shown = crate::state::render_action(&upgrade_to(bytes.clone()));
    assert!(
        shown.contains(&format!("principal \"{attacker}\"")),
        "{shown}"
    );
    assert!(shown.contains(&format!(
        "arg: {} bytes, sha256 {}",
        bytes.len(),
        hex::encode(sha2::Sha256::digest(&bytes))
    )));
    assert!(shown.contains(&format!(
        "wasm: 8 bytes in 1 chunk(s), sha256 {}",
        hex::encode(sha2::Sha256::digest(b"\0asm\x01\0\0\0"))
    )));
    // Stored as shown on the proposal voters read.
    let (mut g, [a, _, _]) = three();
    let id = g
        .make_proposal(
            p(0),
            MakeProposalArgs {
                action: upgrade_to(bytes),
                ..motion(a)
            },
            T0,
            BIG,
        )
        .unwrap();
    assert_eq!(g.proposal(id).unwrap().rendered_action, shown);

    // Not Candid, or too long to show whole: said plainly, the hash kept.
    let junk = b"DIDL-but-not-really".to_vec();
    let shown = crate::state::render_action(&upgrade_to(junk.clone()));
    assert!(
        shown.contains("NOT SHOWN: it does not decode as Candid"),
        "{shown}"
    );
    assert!(shown.contains(&hex::encode(sha2::Sha256::digest(&junk))));
    let long = candid::encode_one("x".repeat(crate::state::MAX_RENDERED_ARG_BYTES)).unwrap();
    let shown = crate::state::render_action(&upgrade_to(long));
    assert!(shown.contains("NOT SHOWN: its Candid text has"), "{shown}");
    assert!(!shown.contains("xxxx"), "nothing of a cut text");
}

#[test]
fn a_neuron_has_one_generic_validation_in_flight_and_all_neurons_at_most_the_cap() {
    let mut g = fresh();
    g.begin_validation(0).unwrap();
    assert_eq!(g.begin_validation(0), Err(GovernanceError::Busy));
    for n in 1..crate::state::MAX_VALIDATIONS_IN_FLIGHT as u64 {
        g.begin_validation(n).unwrap();
    }
    assert_eq!(g.begin_validation(99), Err(GovernanceError::Busy), "full");
    g.end_validation(0);
    g.begin_validation(99).unwrap();
    g.begin_validation(0).unwrap_err();
}
