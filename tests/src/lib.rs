//! Shared set-up for the end-to-end scenarios: the canister wasm built by
//! `scripts/build-canisters.sh`, deployment helpers, and the ICRC acceptance suite's `LedgerEnv` over
//! a ledger canister in localnet.

mod dao;
pub mod demo;
mod inference;
pub mod live;
pub mod scenario;
mod system;
pub mod walkthrough;

pub use system::*;

use candid::utils::{decode_args, encode_args, ArgumentDecoder, ArgumentEncoder};
use candid::{Encode, Nat, Principal};
use icrc_ledger_types::icrc1::account::Account;
use localnet::LocalNet;
use neuranft_types::ledger::{LedgerArg, LedgerInitArgs};
use std::cell::RefCell;
use std::rc::Rc;

/// Where `scripts/build-canisters.sh` puts the wasm: `<target>/canisters`, `<target>` being
/// `CARGO_TARGET_DIR` (relative to the workspace root, as cargo reads it) or the workspace's `target/`.
pub fn canisters_dir() -> std::path::PathBuf {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "target".into());
    workspace.join(target).join("canisters")
}

/// The release wasm of `canister` (`icrc-ledger`, `royalties`, …). Panics with the command to run when
/// it has not been built.
pub fn canister_wasm(canister: &str) -> Vec<u8> {
    let path = canisters_dir().join(format!("{canister}.wasm.gz"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{} is missing ({e}): run scripts/build-canisters.sh first",
            path.display()
        )
    })
}

/// A Llama 3.1 8B fine-tune named `name`, wholly owned by `owner`, with no data owners.
pub fn sole_owner_model(
    owner: Principal,
    name: &str,
    price: neuranft_types::royalties::Price,
) -> neuranft_types::royalties::RegisterModelArgs {
    use neuranft_types::royalties::{ModelMetadata, RegisterModelArgs, ShareHolding};
    RegisterModelArgs {
        metadata: ModelMetadata {
            name: name.into(),
            base_model: "llama3.1:8b".into(),
            architecture: "decoder 8B".into(),
            datasets: vec![],
            training_params: vec![],
            licence: "llama3.1-community".into(),
        },
        price,
        owners: vec![ShareHolding {
            account: account(owner),
            units: 1_000_000,
        }],
        data_owners: vec![],
    }
}

pub fn principal(n: u64) -> Principal {
    let mut bytes = n.to_be_bytes().to_vec();
    bytes.push(0x02);
    Principal::from_slice(&bytes)
}

pub fn account(owner: Principal) -> Account {
    Account {
        owner,
        subaccount: None,
    }
}

/// Who controls the canisters the helpers deploy.
pub fn admin() -> Principal {
    principal(0xAD)
}

pub fn minter() -> Principal {
    principal(0x11)
}

/// Deploys an icrc-ledger with `fee` and the given initial balances.
pub fn deploy_ledger(
    net: &mut LocalNet,
    symbol: &str,
    fee: u128,
    initial: Vec<(Account, u128)>,
) -> Principal {
    let id = net.create_canister(admin());
    let arg = LedgerArg::Init(LedgerInitArgs {
        token_name: format!("{symbol} token"),
        token_symbol: symbol.into(),
        decimals: 8,
        transfer_fee: fee.into(),
        minting_account: account(minter()),
        initial_balances: initial
            .into_iter()
            .map(|(a, b)| (a, Nat::from(b)))
            .collect(),
        max_memo_length: Some(64),
        min_burn_amount: None,
    });
    net.install_canister(
        id,
        &canister_wasm("icrc-ledger"),
        Encode!(&arg).unwrap(),
        admin(),
    )
    .expect("the ledger installs");
    id
}

/// The acceptance suite's view of a ledger canister in localnet, as one caller.
#[derive(Clone)]
pub struct LocalnetLedgerEnv {
    pub net: Rc<RefCell<LocalNet>>,
    pub ledger: Principal,
    pub caller: Principal,
    pub next_principal: Rc<RefCell<u64>>,
}

#[async_trait::async_trait(?Send)]
impl icrc1_test_env::LedgerEnv for LocalnetLedgerEnv {
    fn fork(&self) -> Self {
        let n = {
            let mut next = self.next_principal.borrow_mut();
            *next += 1;
            *next
        };
        Self {
            caller: principal(n),
            ..self.clone()
        }
    }

    fn principal(&self) -> Principal {
        self.caller
    }

    async fn time(&self) -> std::time::SystemTime {
        std::time::UNIX_EPOCH + std::time::Duration::from_nanos(self.net.borrow().time())
    }

    async fn query<Input, Output>(&self, method: &str, input: Input) -> anyhow::Result<Output>
    where
        Input: ArgumentEncoder + std::fmt::Debug,
        Output: for<'a> ArgumentDecoder<'a>,
    {
        let arg = encode_args(input)?;
        let bytes = self
            .net
            .borrow_mut()
            .query_call(self.ledger, self.caller, method, arg)?;
        Ok(decode_args(&bytes)?)
    }

    async fn update<Input, Output>(&self, method: &str, input: Input) -> anyhow::Result<Output>
    where
        Input: ArgumentEncoder + std::fmt::Debug,
        Output: for<'a> ArgumentDecoder<'a>,
    {
        let arg = encode_args(input)?;
        let bytes = self
            .net
            .borrow_mut()
            .update_call(self.ledger, self.caller, method, arg)?;
        Ok(decode_args(&bytes)?)
    }
}
