//! Upgrade test: the whole state comes back from stable memory.

use super::*;

#[test]
fn whole_state_survives_reopening_stable_memory() {
    let memory = DefaultMemoryImpl::default();
    let (fingerprint, liabilities, model, log_tip, payout) = {
        let mut s = fresh_with(memory.clone());
        let m = register(&mut s, &[(1, 700_000), (2, 300_000)], &[(5, 10_000)]);
        s.settle(
            proxy(),
            batch(1, vec![receipt(1, m, 9, 1_234_567, 0, T0)]),
            T0,
        )
        .unwrap();
        s.transfer_shares(
            p(1),
            TransferSharesArgs {
                model: m,
                from_subaccount: None,
                to: acc(3),
                units: 100,
            },
            T0 + SEC,
        )
        .unwrap();
        s.set_split(
            governance(),
            SetSplitArgs {
                proposal_id: 9,
                split: split(1, 2, 3, 9_994),
            },
            T0 + SEC,
        )
        .unwrap();
        s.moderate_model(
            governance(),
            ModerateModelArgs {
                proposal_id: 10,
                model: m,
                action: ModerationAction::Suspend,
                reason: "under review".into(),
            },
            T0 + SEC,
        )
        .unwrap();
        let payout = s
            .record_payout(&acc(1), &acc(1), PayoutKind::Claim, FEE, T0 + SEC)
            .unwrap();
        (
            s.fingerprint(),
            s.liabilities(),
            s.get_model(m),
            s.log_tip(),
            payout,
        )
    };
    let reopened = State::open(memory);
    assert_eq!(reopened.fingerprint(), fingerprint);
    assert_eq!(reopened.liabilities(), liabilities);
    assert_eq!(reopened.get_model(0), model);
    assert_eq!(reopened.log_tip(), log_tip);
    assert_eq!(reopened.payout(payout.id), Some(payout.clone()));
    assert_eq!(reopened.pending_payout_ids(10), vec![payout.id]);
    assert_eq!(reopened.current_split().proposal_id, Some(9));
    assert_consistent(&reopened);
}

/// A payout pending when the version before the book was upgraded (listed in the retired map 13,
/// no op in the book) comes back pending, in the book, and is retried and paid like any other.
#[test]
fn a_payout_pending_in_the_layout_before_the_book_moves_into_it_once() {
    let memory = DefaultMemoryImpl::default();
    let payout = {
        let mut s = fresh_with(memory.clone());
        let m = register(&mut s, &[(1, 1_000_000)], &[]);
        s.settle(
            proxy(),
            batch(1, vec![receipt(1, m, 9, 1_000_000, 0, T0)]),
            T0,
        )
        .unwrap();
        let payout = s
            .record_payout(&acc(1), &acc(1), PayoutKind::Claim, FEE, T0)
            .unwrap();
        s.put_back_as_before_the_book(payout.id);
        assert!(s.pending_payout_ids(10).is_empty(), "the book has no op");
        payout
    };
    let reopened = State::open(memory.clone());
    assert_eq!(reopened.pending_payout_ids(10), vec![payout.id]);
    assert_eq!(reopened.payout(payout.id), Some(payout.clone()));
    let fingerprint = reopened.fingerprint();
    drop(reopened);
    let again = State::open(memory);
    assert_eq!(again.pending_payout_ids(10), vec![payout.id], "moved once");
    assert_eq!(again.fingerprint(), fingerprint);
    assert_consistent(&again);
}
