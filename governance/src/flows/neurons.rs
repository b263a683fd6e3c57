//! A neuron's money flows: staking, adding stake, disbursing, splitting and merging. Each moves
//! tokens through the staking book's outbox (exactly once) and changes the state only once the
//! ledger moved them; the neurons involved are busy meanwhile.

use super::*;

/// Stakes a new neuron: pulls `amount` from the caller (ICRC-2; the caller approved `amount + fee`)
/// into the neuron's subaccount, then creates the neuron.
pub async fn stake<L: LedgerRuntime>(
    governance: &RefCell<Governance>,
    book: &RefCell<Book>,
    ledger: &L,
    caller: Principal,
    args: StakeArgs,
    now: u64,
) -> Result<NeuronId, GovernanceError> {
    governance.borrow().check_new_stake(caller, args.amount)?;
    let fee = ledger_fee(book, ledger).await?;
    let id = governance.borrow_mut().allocate_neuron_id();
    governance.borrow_mut().try_begin_transfer(id);
    let op = MoneyOp::Stake {
        neuron: id,
        controller: caller,
        amount: args.amount,
        dissolve_delay_seconds: args.dissolve_delay_seconds,
    };
    pull_into_neuron(
        governance,
        book,
        ledger,
        caller,
        id,
        args.amount,
        fee,
        now,
        op,
    )
    .await?;
    Ok(id)
}

/// Pulls `amount` from `caller` (ICRC-2, the caller pays the fee) into `neuron`'s subaccount and
/// applies `op` once the ledger moved it. The neuron must be marked busy; a refused enqueue frees it.
#[allow(clippy::too_many_arguments)]
async fn pull_into_neuron<L: LedgerRuntime>(
    governance: &RefCell<Governance>,
    book: &RefCell<Book>,
    ledger: &L,
    caller: Principal,
    neuron: NeuronId,
    amount: u64,
    fee: u128,
    now: u64,
    op: MoneyOp,
) -> Result<(), GovernanceError> {
    let kind = TransferKind::TransferFrom {
        spender_subaccount: None,
        from: Account {
            owner: caller,
            subaccount: None,
        },
        to: Account {
            owner: ledger.caller(),
            subaccount: Some(neuron_subaccount(neuron)),
        },
    };
    let memo = tagged_memo(STAKE_MEMO_TAG, governance.borrow_mut().next_memo_seq());
    let intent = enqueue(
        &mut book.borrow_mut(),
        kind,
        amount as u128,
        FeePolicy::PaidBySender,
        memo,
        fee,
        now,
        op,
    )
    .inspect_err(|_| governance.borrow_mut().end_transfer(neuron))?;
    outcome(resolve(governance, book, ledger, intent).await)
}

/// Adds `amount` from the caller (ICRC-2) to a neuron the caller controls.
pub async fn increase_stake<L: LedgerRuntime>(
    governance: &RefCell<Governance>,
    book: &RefCell<Book>,
    ledger: &L,
    caller: Principal,
    neuron: NeuronId,
    amount: u64,
    now: u64,
) -> Result<(), GovernanceError> {
    let n = governance
        .borrow()
        .neuron(neuron)
        .ok_or(GovernanceError::NeuronNotFound { neuron })?;
    if n.controller != caller {
        return Err(GovernanceError::NotAuthorized);
    }
    if amount == 0 {
        return Err(GovernanceError::InvalidArgument {
            field: "amount".into(),
            reason: "must be positive".into(),
        });
    }
    n.stake
        .checked_add(amount)
        .ok_or(GovernanceError::Overflow)?;
    let fee = ledger_fee(book, ledger).await?;
    if !governance.borrow_mut().try_begin_transfer(neuron) {
        return Err(GovernanceError::Busy);
    }
    let op = MoneyOp::AddStake { neuron, amount };
    pull_into_neuron(
        governance, book, ledger, caller, neuron, amount, fee, now, op,
    )
    .await
}

/// Pays a dissolved neuron's stake minus its reject costs to `to` (default: the controller; the
/// ledger fee is deducted), moves the reject costs to governance's account, and removes the neuron.
pub async fn disburse<L: LedgerRuntime>(
    governance: &RefCell<Governance>,
    book: &RefCell<Book>,
    ledger: &L,
    caller: Principal,
    neuron: NeuronId,
    to: Option<Account>,
    now: u64,
) -> Result<u64, GovernanceError> {
    let n = governance.borrow().check_disburse(caller, neuron, now)?;
    let to = to.unwrap_or(Account {
        owner: caller,
        subaccount: None,
    });
    refuse_minting_account(ledger, book, &to).await?;
    let fee = ledger_fee(book, ledger).await?;
    if !governance.borrow_mut().try_begin_transfer(neuron) {
        return Err(GovernanceError::Busy);
    }
    let amount = n.stake.saturating_sub(n.fees);
    if amount as u128 <= fee {
        // Nothing the ledger could pay: only the reject costs move.
        sweep_fees(
            &mut governance.borrow_mut(),
            &mut book.borrow_mut(),
            ledger.caller(),
            neuron,
            fee,
            now,
        );
        resolve_sweep(governance, book, ledger, neuron).await;
        return Ok(0);
    }
    let kind = TransferKind::Transfer {
        from_subaccount: Some(neuron_subaccount(neuron)),
        to,
    };
    // Its own statement: a borrow of governance in the call would still be held by `inspect_err`.
    let memo = tagged_memo(DISBURSE_MEMO_TAG, governance.borrow_mut().next_memo_seq());
    let intent = enqueue(
        &mut book.borrow_mut(),
        kind,
        amount as u128,
        FeePolicy::DeductedFromAmount,
        memo,
        fee,
        now,
        MoneyOp::Disburse { neuron, amount },
    )
    .inspect_err(|_| governance.borrow_mut().end_transfer(neuron))?;
    outcome(resolve(governance, book, ledger, intent).await)?;
    resolve_sweep(governance, book, ledger, neuron).await;
    Ok(amount)
}

/// Sends the fee sweep a disbursement queued, so the neuron goes at once when the ledger answers.
async fn resolve_sweep<L: LedgerRuntime>(
    governance: &RefCell<Governance>,
    book: &RefCell<Book>,
    ledger: &L,
    neuron: NeuronId,
) {
    let sweep = book
        .borrow()
        .find(|op| *op == MoneyOp::SweepFees { neuron });
    if let Some(sweep) = sweep {
        resolve(governance, book, ledger, sweep).await;
    }
}

/// One transfer between two neurons' subaccounts of governance, both marked busy by the caller:
/// moves `amount` (`policy` says who pays the fee; `fees` is the fee expected and the most the
/// ledger may ask, if bounded) from `from` to `to` and applies `op` once the ledger moved it; a
/// refused enqueue frees both neurons.
#[allow(clippy::too_many_arguments)]
async fn move_between_neurons<L: LedgerRuntime>(
    governance: &RefCell<Governance>,
    book: &RefCell<Book>,
    ledger: &L,
    (from, to): (NeuronId, NeuronId),
    amount: u64,
    policy: FeePolicy,
    (tag, op): (&[u8; 8], MoneyOp),
    (fee, fee_limit): (u128, Option<u128>),
    now: u64,
) -> Result<(), GovernanceError> {
    let transfer = Transfer {
        kind: TransferKind::Transfer {
            from_subaccount: Some(neuron_subaccount(from)),
            to: Account {
                owner: ledger.caller(),
                subaccount: Some(neuron_subaccount(to)),
            },
        },
        gross: amount as u128,
        fee_policy: policy,
        memo: tagged_memo(tag, governance.borrow_mut().next_memo_seq()),
        fee_limit,
    };
    // Its own statement: the book's borrow ends before the transfer is driven.
    let intent = enqueue_transfer(&mut book.borrow_mut(), transfer, fee, now, op);
    let intent = intent.inspect_err(|_| {
        let mut g = governance.borrow_mut();
        g.end_transfer(from);
        g.end_transfer(to);
    })?;
    outcome(resolve(governance, book, ledger, intent).await)
}

/// Splits `args.amount` off a neuron the caller controls into a new neuron (see
/// [`Governance::split_completed`]); the parent pays the ledger fee, at most what leaves it the
/// minimum stake. Returns the new neuron's id.
pub async fn split_neuron<L: LedgerRuntime>(
    governance: &RefCell<Governance>,
    book: &RefCell<Book>,
    ledger: &L,
    caller: Principal,
    args: SplitNeuronArgs,
    now: u64,
) -> Result<NeuronId, GovernanceError> {
    let fee = ledger_fee(book, ledger).await?;
    let parent = args.neuron;
    let fee_limit = governance.borrow().check_split(caller, &args, fee)?;
    if !governance.borrow_mut().try_begin_transfer(parent) {
        return Err(GovernanceError::Busy);
    }
    let child = governance.borrow_mut().allocate_neuron_id();
    governance.borrow_mut().try_begin_transfer(child);
    let op = (
        SPLIT_MEMO_TAG,
        MoneyOp::Split {
            parent,
            child,
            amount: args.amount,
        },
    );
    let (pair, policy, fees) = (
        (parent, child),
        FeePolicy::PaidBySender,
        (fee, Some(fee_limit)),
    );
    move_between_neurons(
        governance,
        book,
        ledger,
        pair,
        args.amount,
        policy,
        op,
        fees,
        now,
    )
    .await?;
    Ok(child)
}

/// Merges `args.source` into `args.target`, both the caller's (see
/// [`Governance::merge_completed`]): the source's whole stake moves, the ledger fee deducted.
/// Returns the merged neuron.
pub async fn merge_neurons<L: LedgerRuntime>(
    governance: &RefCell<Governance>,
    book: &RefCell<Book>,
    ledger: &L,
    caller: Principal,
    args: MergeNeuronsArgs,
    now: u64,
) -> Result<Neuron, GovernanceError> {
    let fee = ledger_fee(book, ledger).await?;
    let (target, source) = governance.borrow().check_merge(caller, &args, fee)?;
    {
        let mut g = governance.borrow_mut();
        if !g.try_begin_transfer(target.id) {
            return Err(GovernanceError::Busy);
        }
        if !g.try_begin_transfer(source.id) {
            g.end_transfer(target.id);
            return Err(GovernanceError::Busy);
        }
    }
    let op = (
        MERGE_MEMO_TAG,
        MoneyOp::Merge {
            target: target.id,
            source: source.id,
        },
    );
    // Deducted from the amount: a higher fee only moves less (the source is emptied either way).
    let (pair, policy, fees) = (
        (source.id, target.id),
        FeePolicy::DeductedFromAmount,
        (fee, None),
    );
    move_between_neurons(
        governance,
        book,
        ledger,
        pair,
        source.stake,
        policy,
        op,
        fees,
        now,
    )
    .await?;
    governance
        .borrow()
        .neuron(target.id)
        .ok_or(GovernanceError::NeuronNotFound { neuron: target.id })
}
