//! The changes a proposal can make (the `change` of a `[[proposals]]` entry, or an A/B variant):
//! their syntax, and each applied to a scenario.

use super::{ProposalSpec, Scenario, Split};

/// A change a proposal would make, applied to a scenario.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    Split(Split),
    CallFee(u64),
    /// Both per-1k prices of every model scaled by `percent` (100 = unchanged).
    Prices {
        percent: u64,
    },
    /// Host number `index` (in the scenario's order) is removed.
    RemoveNode {
        index: usize,
    },
    /// Host number `index`, which applied during the run, is admitted.
    AdmitNode {
        index: usize,
    },
    /// `amount` is paid from the treasury to a grantee.
    TreasuryGrant {
        amount: u64,
    },
    /// Model number `index` (in the scenario's order) is suspended by the DAO: the proxy refuses
    /// it, and users, who see it unavailable, choose among the others.
    SuspendModel {
        index: usize,
    },
    /// Model number `index`, suspended before, serves again.
    ReinstateModel {
        index: usize,
    },
    /// The proxy's limit on the tokens one call may ask for (`SetProxyLimits`, the other limits
    /// unchanged): a call asking for more is refused, charged nothing.
    MaxOutputTokens(u32),
    /// Royalties' automatic payout threshold, in ledger fees (`SetPayoutSettings`, the interval
    /// unchanged): the payout job pays only balances of at least this many fees.
    PayoutThreshold(u64),
}

impl Change {
    /// Parses `split=H,M,D,T`, `call_fee=N`, `prices=P%`, `admit_node=I`, `remove_node=I`,
    /// `treasury_grant=AMOUNT`, `suspend_model=I`, `reinstate_model=I`, `max_output_tokens=N` or
    /// `payout_threshold=N`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (key, value) = text
            .split_once('=')
            .ok_or(format!("{text:?}: expected key=value"))?;
        let number = |v: &str| {
            v.trim()
                .parse::<u64>()
                .map_err(|_| format!("{v:?} is not a number"))
        };
        match key.trim() {
            "split" => {
                let parts: Vec<u64> = value.split(',').map(number).collect::<Result<_, _>>()?;
                let [h, m, d, t] = parts[..] else {
                    return Err(
                        "split needs four basis-point parts: host,owners,data,treasury".into(),
                    );
                };
                if h + m + d + t != 10_000 {
                    return Err(format!(
                        "the split's parts sum to {}; they must sum to 10,000",
                        h + m + d + t
                    ));
                }
                Ok(Change::Split(Split {
                    host_bps: h as u16,
                    model_owners_bps: m as u16,
                    data_owners_bps: d as u16,
                    treasury_bps: t as u16,
                }))
            }
            "call_fee" => Ok(Change::CallFee(number(value)?)),
            "prices" => Ok(Change::Prices {
                percent: number(value.trim_end_matches('%'))?,
            }),
            "remove_node" => Ok(Change::RemoveNode {
                index: number(value)? as usize,
            }),
            "admit_node" => Ok(Change::AdmitNode {
                index: number(value)? as usize,
            }),
            "treasury_grant" => Ok(Change::TreasuryGrant {
                amount: number(value)?,
            }),
            "suspend_model" => Ok(Change::SuspendModel {
                index: number(value)? as usize,
            }),
            "reinstate_model" => Ok(Change::ReinstateModel {
                index: number(value)? as usize,
            }),
            "max_output_tokens" => match u32::try_from(number(value)?) {
                Ok(n @ 1..=100_000) => Ok(Change::MaxOutputTokens(n)),
                _ => Err(format!("max_output_tokens={value}: must be 1–100,000")),
            },
            "payout_threshold" => match number(value)? {
                n @ 1..=1_000_000 => Ok(Change::PayoutThreshold(n)),
                _ => Err(format!(
                    "payout_threshold={value}: must be 1–1,000,000 ledger fees"
                )),
            },
            other => Err(format!(
                "unknown change {other:?}: split, call_fee, prices, admit_node, remove_node, \
                 treasury_grant, suspend_model, reinstate_model, max_output_tokens or \
                 payout_threshold"
            )),
        }
    }

    /// The scenario as if the change were adopted from the start: a node admitted serves from the
    /// start, a node removed never serves, a grant is proposed at step 0 and every holder who votes
    /// supports it, a suspended model is never chosen, users ask within a token limit. The result is checked like a scenario file.
    pub fn apply(&self, scenario: &Scenario) -> Result<Scenario, String> {
        let mut s = scenario.clone();
        match self {
            Change::Split(split) => s.economy.split = *split,
            Change::CallFee(fee) => s.economy.call_fee = *fee,
            Change::Prices { percent } => {
                for m in &mut s.models {
                    m.per_1k_input_tokens = m.per_1k_input_tokens * percent / 100;
                    m.per_1k_output_tokens = m.per_1k_output_tokens * percent / 100;
                }
            }
            Change::RemoveNode { index } => {
                let host = s.hosts.get_mut(*index).ok_or(format!(
                    "host {index}: there are {} hosts",
                    scenario.hosts.len()
                ))?;
                host.down_from_step = Some(0);
            }
            Change::AdmitNode { index } => {
                let host = s.hosts.get_mut(*index).ok_or(format!(
                    "host {index}: there are {} hosts",
                    scenario.hosts.len()
                ))?;
                if host.applies_at_step.take().is_none() {
                    return Err(format!(
                        "host {index} is a founding host, admitted from the start already"
                    ));
                }
            }
            Change::TreasuryGrant { amount } => s.proposals.push(ProposalSpec {
                at_step: 0,
                every_steps: None,
                change: format!("treasury_grant={amount}"),
                support_ppm: 1_000_000,
            }),
            Change::SuspendModel { index } => {
                let model = s.models.get_mut(*index).ok_or(format!(
                    "model {index}: there are {} models",
                    scenario.models.len()
                ))?;
                model.quality = 0;
            }
            Change::PayoutThreshold(n) => s.economy.auto_payout_fee_multiple = *n,
            Change::MaxOutputTokens(n) => {
                // Users who read the limit ask within it.
                s.users.max_tokens_max = s.users.max_tokens_max.min(*n);
                s.users.max_tokens_min = s.users.max_tokens_min.min(*n);
            }
            Change::ReinstateModel { .. } => {
                return Err(
                    "every model is listed from the start: reinstate_model previews nothing".into(),
                )
            }
        }
        s.name = format!("{} (variant)", scenario.name);
        s.check("")
            .map_err(|e| format!("the variant: {}", e.message))?;
        Ok(s)
    }
}
