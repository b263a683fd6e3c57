//! The main job's report: every party's balances, nodes, neurons and proposals, the conservation
//! checks and the instructions and cycles of each operation.

use super::*;

/// What the scenario leaves for its report.
pub(super) struct Ended {
    pub users: Vec<Principal>,
    pub spent: BTreeMap<Principal, u128>,
    pub dia: Principal,
    pub left: u128,
    pub node_names: [&'static str; 2],
    pub calls: u64,
    pub neurons: Vec<(&'static str, NeuronId)>,
    pub holders: Vec<(Account, u128)>,
    pub holder_names: [&'static str; 4],
    pub checks: Vec<(String, bool)>,
    pub costs: Costs,
    pub metered_total: u128,
}

/// Prints the report; whether every check passed.
pub(super) fn print(w: &mut NeuraNft, ended: Ended) -> bool {
    let Ended {
        users,
        spent,
        dia,
        left,
        node_names,
        calls,
        neurons,
        holders,
        holder_names,
        mut checks,
        mut costs,
        metered_total,
    } = ended;
    println!(
        "\n{:<12} {:>12} {:>12} {:>12} {:>14}",
        "user", "deposited", "spent", "in proxy", "NUSD on ledger"
    );
    let payment = w.payment_ledger;
    let mut users_add_up = true;
    for (name, user) in USERS.iter().zip(&users) {
        let b = w.user_balance(*user);
        let on_ledger = w.ledger_balance(payment, account(*user));
        let spent = spent.get(user).copied().unwrap_or(0);
        let withdrawn = if *user == dia { left } else { 0 };
        users_add_up &= b.held == 0 && b.available + spent + withdrawn == USER_DEPOSIT;
        println!(
            "{name:<12} {USER_DEPOSIT:>12} {spent:>12} {:>12} {on_ledger:>14}",
            b.available
        );
    }
    checks.push((
        "every user: deposit = spent + balance (+ withdrawn), nothing held".into(),
        users_add_up,
    ));

    let (nodes,): (Vec<NodeRecord>,) = w.net.query(w.proxy, admin(), "nodes", ()).unwrap();
    println!(
        "\n{:<10} {:>10} {:>10} {:>14}  status",
        "node", "successes", "failures", "mean latency"
    );
    for (name, node) in node_names.iter().zip(&nodes) {
        let status = match &node.status {
            NodeStatus::Suspended {
                by_proposal: None, ..
            } => "suspended by the proxy".into(),
            other => format!("{other:?}"),
        };
        println!(
            "{name:<10} {:>10} {:>10} {:>11} ms  {status}",
            node.stats.successes,
            node.stats.failures,
            node.stats.total_latency_ms / node.stats.successes.max(1)
        );
    }
    checks.push((
        "every paid call answered by a node that signed it".into(),
        nodes.iter().map(|n| n.stats.successes).sum::<u64>() == calls,
    ));

    let names = [
        "alice",
        "bob",
        "carol",
        "dave",
        "hospital-data",
        "wiki-data",
        "node-eu",
        "node-us",
    ];
    println!(
        "\n{:<15} {:>12} {:>12} {:>12} {:>14}",
        "stakeholder", "credited", "available", "paid", "NUSD on ledger"
    );
    let mut rows: Vec<(String, Account)> = names
        .iter()
        .map(|n| (n.to_string(), account(named(n))))
        .collect();
    rows.push(("treasury".into(), w.treasury));
    for (name, acc) in rows {
        let b = w.balance(acc);
        let on_ledger = w.ledger_balance(payment, acc);
        println!(
            "{name:<15} {:>12} {:>12} {:>12} {:>14}",
            b.credited_total, b.available, b.paid_total, on_ledger
        );
    }
    println!(
        "\n{:<10} {:>7} {:>16} {:>14} {:>16}",
        "neuron", "id", "stake (e8s)", "fees", "voting power"
    );
    for (name, id) in &neurons {
        let (n,): (Option<Neuron>,) = w
            .net
            .query(w.governance, admin(), "get_neuron", (*id,))
            .unwrap();
        let (vp,): (Option<u128>,) = w
            .net
            .query(w.governance, admin(), "voting_power", (*id,))
            .unwrap();
        let n = n.expect("the neuron exists");
        println!(
            "{name:<10} {id:>7} {:>16} {:>14} {:>16}",
            n.stake,
            n.fees,
            vp.unwrap_or(0)
        );
    }
    let proposals = w.list_proposals(neuranft_types::governance::ListProposalsArgs {
        before: None,
        limit: 20,
        topic: None,
        status: None,
    });
    println!(
        "\n{:<4} {:<40} {:<22} {:<9} {:>6}",
        "id", "proposal", "topic", "status", "yes %"
    );
    for p in proposals.iter().rev() {
        let status = match &p.status {
            ProposalStatus::Failed { .. } => "Failed".to_string(),
            other => format!("{other:?}"),
        };
        println!(
            "{:<4} {:<40} {:<22} {:<9} {:>6}",
            p.id,
            p.title,
            format!("{:?}", p.topic),
            status,
            p.tally.yes * 100 / p.tally.total.max(1)
        );
    }
    checks.push((
        "every proposal executed".into(),
        proposals
            .iter()
            .all(|p| p.status == ProposalStatus::Executed),
    ));

    println!("\ngovernance token NNG:");
    let governance_ledger = w.governance_ledger;
    let mut supply = 0;
    for ((holder, _), name) in holders.iter().zip(holder_names) {
        let balance = w.ledger_balance(governance_ledger, *holder);
        supply += balance;
        println!("  {name:<15} {balance:>14}");
    }
    println!("  total {supply}");

    let proxy_audit = w.proxy_audit();
    let pl = &proxy_audit.liabilities;
    println!(
        "\nproxy: NUSD balance {} = available {} + held {} + unsettled {} + batched {} + fee reserve {} + withdrawals in flight {}: {}",
        proxy_audit.ledger_balance,
        pl.available,
        pl.held,
        pl.unsettled,
        pl.batched,
        pl.fee_reserve,
        pl.withdrawals_in_flight,
        if proxy_audit.agrees { "AGREE" } else { "DISAGREE" }
    );
    checks.push((
        "proxy: ledger balance = what it owes".into(),
        proxy_audit.agrees,
    ));
    checks.push((
        "proxy: every receipt flushed and settled".into(),
        pl.unsettled == 0 && pl.batched == 0,
    ));
    let (audit, report) = w.audit();
    costs.add("audit (royalties)", &report);
    let l = &audit.liabilities;
    let conserved = l.settled_total == l.available + l.in_flight + l.paid_total + l.undistributed;
    println!(
        "royalties: settled {} = available {} + in flight {} + paid {} + undistributed fractions {}: {}",
        l.settled_total,
        l.available,
        l.in_flight,
        l.paid_total,
        l.undistributed,
        if conserved { "CONSERVED" } else { "BROKEN" }
    );
    println!(
        "royalties: NUSD balance {} vs owed {}: {}",
        audit.ledger_balance,
        l.total,
        if audit.agrees { "AGREE" } else { "DISAGREE" }
    );
    println!(
        "metered by the proxy {metered_total} = settled by royalties {}: {}",
        l.settled_total,
        if metered_total == l.settled_total {
            "EXACT"
        } else {
            "MISMATCH"
        }
    );
    checks.push((
        "royalties: settled = credits + paid + fractions".into(),
        conserved,
    ));
    checks.push((
        "royalties: ledger balance = what it owes".into(),
        audit.agrees,
    ));
    checks.push((
        "every unit metered was settled exactly once".into(),
        metered_total == l.settled_total,
    ));
    let (entries, log_chain) = w.settlement_log();
    println!(
        "settlement log: {} entries; the stakeholders' verifier (certificate, chain, every credit \
         recomputed, every balance compared): {}",
        entries.len(),
        match &log_chain {
            Ok(()) => "agrees".to_string(),
            Err(e) => format!("REFUTES: {e}"),
        }
    );
    checks.push((
        "settlement log certified, chained and every credit recomputed".into(),
        log_chain.is_ok(),
    ));
    let ledger_chain = w.verify_ledger_chain(payment);
    println!(
        "NUSD ledger: {} blocks, ICRC-3 hash chain {}",
        ledger_chain.as_ref().map_or(0, |n| *n),
        if ledger_chain.is_ok() {
            "verified"
        } else {
            "BROKEN"
        }
    );
    checks.push(("NUSD ledger hash chain".into(), ledger_chain.is_ok()));

    println!(
        "\n{:<40} {:>6} {:>14} {:>14}",
        "operation (localnet)", "calls", "instructions", "cycles"
    );
    for (op, runs) in &costs.0 {
        let n = runs.len() as u64;
        let instructions = runs.iter().map(|r| r.0).sum::<u64>() / n;
        let cycles = runs.iter().map(|r| r.1).sum::<u128>() / n as u128;
        println!("{op:<40} {n:>6} {instructions:>14} {cycles:>14}");
    }
    println!("(mean per call over every execution the call caused; cycles: 5 M per message + 1 per instruction + call fees; an outcall's own fee is not included)");

    let failed: Vec<&String> = checks
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(c, _)| c)
        .collect();
    if failed.is_empty() {
        println!("\nall {} checks passed", checks.len());
        true
    } else {
        eprintln!("\nscenario FAILED its checks:");
        for c in failed {
            eprintln!("  {c}");
        }
        false
    }
}
