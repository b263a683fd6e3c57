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

/// Entries stored before format 2 (a Candid `LogEntry`) and receipts settled one by one before
/// ranges stay readable after the upgrade: the old entry is served as format 1, new entries chain
/// onto its hash, and the old receipt settled again is a duplicate.
#[test]
fn the_log_and_receipts_of_the_version_before_ranges_read_on() {
    let memory = DefaultMemoryImpl::default();
    let old_hash = ByteBuf::from(vec![7u8; 32]);
    {
        let mut s = fresh_with(memory.clone());
        let (length, prev) = (s.log_tip().length, s.log_tip().hash);
        let legacy = LogEntry {
            index: length,
            timestamp: T0,
            prev_hash: prev,
            hash: old_hash.clone(),
            event: LogEvent::BatchSettled {
                batch_id: 7,
                funding_block: Nat::from(7u8),
                receipts: vec![],
                duplicate_receipts: vec![],
            },
        };
        s.as_before_ranges(3, 7, &legacy);
    }
    let mut s = State::open(memory);
    let m = register(&mut s, &[(1, 1_000_000)], &[]);
    let ok = s
        .settle(
            proxy(),
            batch(
                8,
                vec![receipt(3, m, 9, 50, 0, T0), receipt(4, m, 9, 50, 0, T0)],
            ),
            T0,
        )
        .unwrap();
    assert_eq!(ok.duplicate_receipts, vec![3]);
    let page = s.encoded_log_page(0, 100);
    let formats: Vec<u8> = page.entries.iter().map(|e| e.format).collect();
    assert_eq!(formats.iter().filter(|f| **f == LOG_FORMAT_V1).count(), 1);
    let legacy = page
        .entries
        .iter()
        .find(|e| e.format == LOG_FORMAT_V1)
        .unwrap();
    assert_eq!(legacy.hash, old_hash);
    // In a real log the format-1 entries come first; here the install wrote one entry before: the
    // chain is checked from the legacy entry on.
    let at = legacy.index;
    let prev: [u8; 32] = legacy.prev_hash.as_slice().try_into().unwrap();
    let from_legacy = &page.entries[at as usize..];
    let tip = verify_log_chain(prev, at, at, from_legacy).expect("the chain links");
    assert_eq!(
        verify_log_chain(prev, at, 0, from_legacy),
        Err(ChainError::LegacyAfterFormat2 { index: at }),
        "a format-1 entry where format 2 began is refused"
    );
    assert_eq!(tip, s.log_tip_hash());
    assert!(matches!(
        s.log_page(legacy.index, 1).entries[0].event,
        LogEvent::BatchSettled { batch_id: 7, .. }
    ));
}
