//! The NeuraNFT system deployed in localnet, what the e2e tests and the main job drive: deployment,
//! calls, ledgers and royalties.

use crate::*;
use candid::utils::{decode_args, encode_args, ArgumentDecoder, ArgumentEncoder};
use candid::{Encode, Nat, Principal};
use icrc_ledger_types::icrc1::account::Account;
use icrc_ledger_types::icrc1::transfer::{Memo, TransferArg, TransferError};
use icrc_ledger_types::icrc3::blocks::{GetBlocksRequest, GetBlocksResult};
use localnet::LocalNet;
use localnet::{CallReport, Reject};
use neuranft_types::governance::{GovernanceArg, GovernanceConfig, GovernanceUpgrade};
use neuranft_types::proxy::ProxyArg;
use neuranft_types::proxy::ProxyConfig;
use neuranft_types::root::{RootArg, RootConfig};
use neuranft_types::royalties::*;

/// The payment token's fee in the deployments below.
pub const PAYMENT_FEE: u128 = 10_000;

/// The bearer key the helpers' hpc-nodes expect.
pub const NODE_API_KEY: &str = "node-bearer-key-0123456789";

/// Every canister of the system, in one localnet.
pub struct NeuraNft {
    pub net: LocalNet,
    pub payment_ledger: Principal,
    pub governance_ledger: Principal,
    pub royalties: Principal,
    /// The inference-proxy canister ([`NeuraNft::deploy`]), or a principal in its place that makes
    /// the proxy's calls by hand ([`NeuraNft::deploy_royalties_alone`]).
    pub proxy: Principal,
    /// The governance canister ([`NeuraNft::deploy`]), or a principal in its place whose calls are
    /// made by hand ([`NeuraNft::deploy_royalties_alone`]).
    pub governance: Principal,
    /// The root canister (governance's controller after the hand-over), or the anonymous principal
    /// without governance ([`NeuraNft::deploy_royalties_alone`]).
    pub root: Principal,
    /// The frontend canister, once the main job deployed it.
    pub frontend: Option<Principal>,
    pub treasury: Account,
    /// The hpc-nodes started by [`NeuraNft::add_node`] (`None` once shut down).
    pub nodes: Vec<Option<hpc_node::RunningNode>>,
}

/// Decodes a Candid reply, turning a reject into an error.
fn decode<R: for<'a> ArgumentDecoder<'a>>(reply: Result<Vec<u8>, Reject>) -> Result<R, Reject> {
    let bytes = reply?;
    decode_args(&bytes).map_err(|e| Reject {
        code: localnet::reject_code::CANISTER_ERROR,
        message: format!("undecodable reply: {e}"),
    })
}

/// The proxy configuration of the deployments below.
pub fn proxy_config(ledger: Principal, royalties: Principal, governance: Principal) -> ProxyConfig {
    ProxyConfig {
        ledger,
        royalties,
        governance,
        call_fee: 20_000,
        max_prompt_bytes: 16_384,
        max_output_tokens: 512,
        max_receipts_per_batch: 500,
        flush_interval_seconds: 3_600,
        failures_before_suspension: 3,
        max_nodes_per_call: 2,
        calls_per_user_per_minute: 100,
    }
}

/// Holds the founding neuron the full deployment stakes (see [`NeuraNft::deploy`]).
pub fn founder() -> Principal {
    principal(0xF0)
}

/// The founder's stake, in NNG e8s: the founding neuron is [`FOUNDER_NEURON`].
pub const FOUNDER_STAKE: u64 = 500 * 100_000_000;
pub const FOUNDER_NEURON: u64 = 0;
/// The governance token's ledger fee in the deployments.
pub const GOVERNANCE_TOKEN_FEE: u128 = 100_000;

/// The governance parameters of the full deployment: the recommended ones.
pub fn governance_parameters() -> neuranft_types::governance::Parameters {
    neuranft_types::governance::Parameters::default()
}

impl NeuraNft {
    /// The whole system: two icrc-ledgers (payment `NUSD` with `payment_balances`, governance `NNG`
    /// held by `token_holders` and the founder), royalties, the inference-proxy and the governance
    /// canister, which controls the other two (with `admin()`) and receives the treasury share. The
    /// founder stakes the founding neuron (500 NNG, dissolve delay 1 year). No node yet
    /// ([`NeuraNft::add_node`]).
    pub fn deploy(
        seed: u64,
        payment_balances: Vec<(Account, u128)>,
        token_holders: Vec<(Account, u128)>,
        auto_payout_fee_multiple: u64,
    ) -> Self {
        Self::deploy_with(
            seed,
            payment_balances,
            token_holders,
            auto_payout_fee_multiple,
            None,
        )
    }

    /// Ledgers and royalties, with a principal funded with `proxy_funds` in the proxy's place: for
    /// driving royalties with receipts chosen by hand ([`NeuraNft::fund_and_settle`]).
    pub fn deploy_royalties_alone(
        seed: u64,
        proxy_funds: u128,
        token_holders: Vec<(Account, u128)>,
        auto_payout_fee_multiple: u64,
    ) -> Self {
        let stand_in = principal(0x50);
        Self::deploy_with(
            seed,
            vec![(account(stand_in), proxy_funds)],
            token_holders,
            auto_payout_fee_multiple,
            Some(stand_in),
        )
    }

    fn deploy_with(
        seed: u64,
        payment_balances: Vec<(Account, u128)>,
        token_holders: Vec<(Account, u128)>,
        auto_payout_fee_multiple: u64,
        proxy_stand_in: Option<Principal>,
    ) -> Self {
        let mut net = LocalNet::new(seed);
        let full = proxy_stand_in.is_none();
        let mut token_holders = token_holders;
        if full {
            token_holders.push((account(founder()), FOUNDER_STAKE as u128 * 2));
        }
        let payment_ledger = deploy_ledger(&mut net, "NUSD", PAYMENT_FEE, payment_balances);
        let governance_ledger = deploy_ledger(&mut net, "NNG", GOVERNANCE_TOKEN_FEE, token_holders);
        let royalties = net.create_canister(admin());
        let proxy = proxy_stand_in.unwrap_or_else(|| net.create_canister(admin()));
        let governance = if full {
            net.create_canister(admin())
        } else {
            principal(0x51)
        };
        let root = if full {
            let root = net.create_canister(admin());
            let arg = RootArg::Init(RootConfig { governance });
            net.install_canister(
                root,
                &canister_wasm("root"),
                Encode!(&arg).unwrap(),
                admin(),
            )
            .expect("root installs");
            root
        } else {
            Principal::anonymous()
        };
        let treasury = if full {
            Account {
                owner: governance,
                subaccount: Some(neuranft_types::governance::TREASURY_SUBACCOUNT),
            }
        } else {
            account(principal(0x52))
        };
        let init = RoyaltiesArg::Init(InitArgs {
            auto_payout_fee_multiple,
            ..InitArgs::with_defaults(payment_ledger, governance, proxy, treasury)
        });
        net.install_canister(
            royalties,
            &canister_wasm("royalties"),
            Encode!(&init).unwrap(),
            admin(),
        )
        .expect("royalties installs");
        if full {
            let config = proxy_config(payment_ledger, royalties, governance);
            net.install_canister(
                proxy,
                &canister_wasm("inference-proxy"),
                Encode!(&ProxyArg::Init(config)).unwrap(),
                admin(),
            )
            .expect("the proxy installs");
            let config = GovernanceConfig {
                governance_ledger,
                payment_ledger,
                royalties,
                inference_proxy: proxy,
                parameters: governance_parameters(),
                root: Some(root),
                frontend: None,
            };
            net.install_canister(
                governance,
                &canister_wasm("governance"),
                Encode!(&GovernanceArg::Init(config)).unwrap(),
                admin(),
            )
            .expect("governance installs");
            for canister in [royalties, proxy] {
                net.set_controllers(canister, admin(), vec![admin(), governance])
                    .expect("admin controls it");
            }
        }
        let mut w = Self {
            net,
            payment_ledger,
            governance_ledger,
            royalties,
            proxy,
            governance,
            root,
            frontend: None,
            treasury,
            nodes: Vec::new(),
        };
        if full {
            let neuron = w
                .stake_neuron(founder(), FOUNDER_STAKE, 365 * 24 * 3_600)
                .expect("the founder stakes");
            assert_eq!(neuron, FOUNDER_NEURON);
        }
        w
    }

    /// The hand-over (what `docs/sovereignty.md` does with icp-cli): governance learns the frontend
    /// canister (if deployed) by an upgrade the deployer may still make, then becomes the only
    /// controller of royalties, the proxy, both ledgers, root and the frontend, and root the only
    /// controller of governance. From then on only an adopted proposal changes their code or
    /// settings.
    pub fn hand_over(&mut self) -> Result<(), Reject> {
        if let Some(frontend) = self.frontend {
            let arg = GovernanceArg::Upgrade(Some(GovernanceUpgrade {
                royalties: None,
                inference_proxy: None,
                root: None,
                frontend: Some(frontend),
            }));
            self.net.upgrade_canister(
                self.governance,
                &canister_wasm("governance"),
                Encode!(&Some(arg)).unwrap(),
                admin(),
            )?;
        }
        for canister in self.handed_over() {
            self.net
                .set_controllers(canister, admin(), vec![self.governance])?;
        }
        self.net
            .set_controllers(self.governance, admin(), vec![self.root])
    }

    /// The canisters the hand-over gives governance (governance itself goes to root).
    pub fn handed_over(&self) -> Vec<Principal> {
        let mut canisters = vec![
            self.royalties,
            self.proxy,
            self.payment_ledger,
            self.governance_ledger,
            self.root,
        ];
        canisters.extend(self.frontend);
        canisters
    }

    pub fn call<A: ArgumentEncoder, R: for<'a> ArgumentDecoder<'a>>(
        &mut self,
        canister: Principal,
        sender: Principal,
        method: &str,
        args: A,
    ) -> (Result<R, Reject>, CallReport) {
        let arg = encode_args(args).expect("arguments encode");
        let (reply, report) = self
            .net
            .update_call_with_report(canister, sender, method, arg);
        (decode(reply), report)
    }

    pub fn register_model(
        &mut self,
        manager: Principal,
        args: RegisterModelArgs,
    ) -> (Result<ModelId, RegistryError>, CallReport) {
        let (r, report) = self.call(self.royalties, manager, "register_model", (args,));
        let (result,): (Result<ModelId, RegistryError>,) = r.expect("register_model answers");
        // Royalties pushes the new model to the proxy in the next round.
        self.ticks(3);
        (result, report)
    }

    pub fn ticks(&mut self, n: usize) {
        for _ in 0..n {
            self.net.tick();
        }
    }

    pub fn ledger_balance(&mut self, ledger: Principal, account: Account) -> u128 {
        let (balance,): (Nat,) = self
            .net
            .query(ledger, account.owner, "icrc1_balance_of", (account,))
            .expect("balance query answers");
        u128::try_from(&balance.0).expect("balance fits u128")
    }

    /// The proxy's part of settlement: transfer the batch total to royalties, then `settle`.
    /// Returns the settlement and the reports of the transfer and of `settle`.
    pub fn fund_and_settle(
        &mut self,
        batch_id: u64,
        receipts: Vec<Receipt>,
    ) -> (Result<SettleOk, SettleError>, CallReport, CallReport) {
        let total: u64 = receipts.iter().map(|r| r.amount).sum();
        let transfer = TransferArg {
            from_subaccount: None,
            to: account(self.royalties),
            fee: None,
            created_at_time: Some(self.net.time()),
            memo: Some(Memo::from(batch_id)),
            amount: Nat::from(total),
        };
        let (r, transfer_report) = self.call(
            self.payment_ledger,
            self.proxy,
            "icrc1_transfer",
            (transfer,),
        );
        let (block,): (Result<Nat, TransferError>,) = r.expect("the ledger answers");
        let block = block.expect("the proxy is funded");
        let args = SettleArgs {
            batch_id,
            funding_block: block,
            receipts,
        };
        let (r, settle_report) = self.call(self.royalties, self.proxy, "settle", (args,));
        let (result,): (Result<SettleOk, SettleError>,) = r.expect("settle answers");
        (result, transfer_report, settle_report)
    }

    pub fn claim(&mut self, who: Principal) -> (Result<Payout, ClaimError>, CallReport) {
        let args = ClaimArgs {
            from_subaccount: None,
            to: None,
        };
        let (r, report) = self.call(self.royalties, who, "claim", (args,));
        let (result,): (Result<Payout, ClaimError>,) = r.expect("claim answers");
        (result, report)
    }

    pub fn audit(&mut self) -> (AuditReport, CallReport) {
        let (r, report) = self.call(self.royalties, admin(), "audit", ());
        let (result,): (Result<AuditReport, AuditError>,) = r.expect("audit answers");
        (result.expect("the ledger answers the audit"), report)
    }

    pub fn balance(&mut self, who: Account) -> StakeholderBalance {
        let (b,): (StakeholderBalance,) = self
            .net
            .query(self.royalties, who.owner, "balance_of", (who,))
            .expect("balance_of answers");
        b
    }

    pub fn upgrade_royalties(&mut self) -> Result<CallReport, Reject> {
        let arg: Option<RoyaltiesArg> = Some(RoyaltiesArg::Upgrade(None));
        self.net.upgrade_canister(
            self.royalties,
            &canister_wasm("royalties"),
            Encode!(&arg).unwrap(),
            admin(),
        )
    }

    /// Lets the payout timer run: advances past its interval and ticks until its calls finish.
    pub fn run_payout_timer(&mut self) {
        self.net.advance_time(std::time::Duration::from_secs(61));
        self.ticks(10);
    }

    /// Reads a ledger's whole block log through ICRC-3 and checks every `phash` link and the tip.
    pub fn verify_ledger_chain(&mut self, ledger: Principal) -> Result<u64, String> {
        let mut blocks = Vec::new();
        loop {
            let request = vec![GetBlocksRequest {
                start: Nat::from(blocks.len() as u64),
                length: Nat::from(1_000u32),
            }];
            let (page,): (GetBlocksResult,) = self
                .net
                .query(ledger, admin(), "icrc3_get_blocks", (request,))
                .map_err(|e| e.to_string())?;
            let len = u64::try_from(&page.log_length.0).map_err(|e| e.to_string())?;
            if page.blocks.is_empty() {
                break;
            }
            blocks.extend(page.blocks.into_iter().map(|b| b.block));
            if blocks.len() as u64 >= len {
                break;
            }
        }
        let tip = blocks.last().map(icrc_ledger::block::block_hash);
        icrc_ledger::block::verify_chain(blocks.iter().cloned(), tip)?;
        Ok(blocks.len() as u64)
    }

    /// Runs the stakeholders' verifier on royalties in process: the certificate of the tip against
    /// the network's root key, the chain up to it, and every credit recomputed from the log.
    pub fn verify_settlement(&mut self) -> Result<settlement_verifier::Verdict, String> {
        let trust = settlement_verifier::Trust {
            royalties: self.royalties,
            root_key_der: self.net.root_key().public_key_der(),
            now_nanos: self.net.time() as u128,
            max_certificate_skew_nanos: 300_000_000_000,
        };
        settlement_verifier::verify(&mut InProcess(self), &trust, None).map_err(|e| e.to_string())
    }

    /// The settlement log, all of it, and whether the verifier agrees with it: certificate, chain,
    /// every batch's credits, and every account's credited total as royalties reports it.
    pub fn settlement_log(&mut self) -> (Vec<LogEntry>, Result<(), String>) {
        let mut entries = Vec::new();
        loop {
            let (page,): (LogPage,) = self
                .net
                .query(
                    self.royalties,
                    admin(),
                    "get_log",
                    (entries.len() as u64, 100u32),
                )
                .expect("get_log answers");
            let total = page.total;
            entries.extend(page.entries);
            if entries.len() as u64 >= total {
                break;
            }
        }
        let verified = self.verify_settlement().and_then(|verdict| {
            let accounts: Vec<Account> = verdict.replay.accounts().map(|(a, _)| *a).collect();
            for account in accounts {
                let check = settlement_verifier::check_account(
                    &mut InProcess(self),
                    &verdict.replay,
                    &account,
                )
                .map_err(|e| e.to_string())?;
                if !check.agrees() {
                    return Err(format!(
                        "{account}: the log gives {:?}, royalties reports {:?}",
                        check.recomputed, check.reported
                    ));
                }
            }
            Ok(())
        });
        (entries, verified)
    }
}

/// Royalties as the verifier reads it, by queries in process.
struct InProcess<'a>(&'a mut NeuraNft);

impl settlement_verifier::LogSource for InProcess<'_> {
    fn certified_tip(&mut self) -> anyhow::Result<CertifiedLogTip> {
        let w = &mut self.0;
        let (tip,): (CertifiedLogTip,) = w
            .net
            .query(w.royalties, Principal::anonymous(), "certified_log_tip", ())
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok(tip)
    }

    fn encoded_page(&mut self, start: u64) -> anyhow::Result<EncodedLogPage> {
        let w = &mut self.0;
        let (page,): (EncodedLogPage,) = w
            .net
            .query(
                w.royalties,
                Principal::anonymous(),
                "get_log_encoded",
                (start, 100u32),
            )
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok(page)
    }

    fn balance_of(&mut self, account: &Account) -> anyhow::Result<StakeholderBalance> {
        let w = &mut self.0;
        let (balance,): (StakeholderBalance,) = w
            .net
            .query(
                w.royalties,
                Principal::anonymous(),
                "balance_of",
                (account,),
            )
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok(balance)
    }

    fn treasury(&mut self) -> anyhow::Result<Account> {
        let w = &mut self.0;
        let (config,): (RoyaltiesConfig,) = w
            .net
            .query(w.royalties, Principal::anonymous(), "get_config", ())
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok(config.treasury)
    }
}
