//! The live system's demo accounts: named Ed25519 keys the web app derives too (so a demo needs no
//! wallet: one click continues as one of them), funded by the main job, and a model owned by one of
//! them with credits to claim.
//!
//! The key of demo account `name` is the Ed25519 key whose RFC 8032 seed is
//! `SHA-256("neuranft-localnet demo " ‖ name)` — the web app computes the same
//! (`frontend/src/lib/identity.ts`). They exist on the local network only: anyone can derive them.

use crate::{account, minter, NeuraNft};
use candid::{Nat, Principal};
use icrc_ledger_types::icrc1::transfer::{TransferArg, TransferError};
use localnet::ingress::Ed25519Identity;
use neuranft_types::proxy::InferArgs;
use neuranft_types::royalties::{
    DatasetRef, ModelId, ModelMetadata, Price, RegisterModelArgs, ShareHolding, TrainingParam,
};
use sha2::{Digest, Sha256};

const E8S: u128 = 100_000_000;

/// A demo account: its name, what it is for, and what the main job gives it (e8s of NUSD, NNG).
pub struct DemoAccount {
    pub name: &'static str,
    pub role: &'static str,
    pub nusd: u128,
    pub nng: u128,
}

/// The token holders hold enough NNG to stake 1,000 NNG twice each. Two 1,000 NNG neurons with a
/// four-year delay (voting power ×2) hold more than two thirds of all voting power once live — what
/// a critical proposal (a royalty split) needs to be decided at once — and one alone does not hold
/// half.
pub const DEMO_ACCOUNTS: [DemoAccount; 4] = [
    DemoAccount {
        name: "ada",
        role: "token holder",
        nusd: 100 * E8S,
        nng: 3_000 * E8S,
    },
    DemoAccount {
        name: "grace",
        role: "token holder",
        nusd: 100 * E8S,
        nng: 3_000 * E8S,
    },
    DemoAccount {
        name: "linus",
        role: "end user",
        nusd: 500 * E8S,
        nng: 0,
    },
    DemoAccount {
        name: "mina",
        role: "model owner",
        nusd: 10 * E8S,
        nng: 0,
    },
];

/// The key of demo account `name`.
pub fn identity(name: &str) -> Ed25519Identity {
    let seed = Sha256::digest(format!("neuranft-localnet demo {name}").as_bytes());
    Ed25519Identity::from_secret(seed.into())
}

pub fn principal(name: &str) -> Principal {
    identity(name).principal()
}

/// Mints `amount` on `ledger` to `to` (the ledgers' minting account is the deployment's).
pub fn mint(
    w: &mut NeuraNft,
    ledger: Principal,
    to: Principal,
    amount: u128,
) -> Result<(), String> {
    let mint = TransferArg {
        from_subaccount: None,
        to: account(to),
        fee: None,
        created_at_time: None,
        memo: None,
        amount: Nat::from(amount),
    };
    let (r, _) = w.call(ledger, minter(), "icrc1_transfer", (mint,));
    let (minted,): (Result<Nat, TransferError>,) = r.map_err(|e| e.to_string())?;
    minted.map_err(|e| format!("minting for {to}: {e:?}"))?;
    Ok(())
}

/// Calls on mina's model the main job makes as linus before serving, so that mina has credits.
const SEED_CALLS: u64 = 6;

/// Funds every demo account and registers mina's model, used `SEED_CALLS` times by linus and
/// settled: mina starts with credits in royalties. Returns the model's id.
pub fn prepare(w: &mut NeuraNft) -> Result<ModelId, String> {
    for demo in &DEMO_ACCOUNTS {
        let who = principal(demo.name);
        for (ledger, amount) in [
            (w.payment_ledger, demo.nusd),
            (w.governance_ledger, demo.nng),
        ] {
            if amount > 0 {
                mint(w, ledger, who, amount)?;
            }
        }
    }
    let mina = principal("mina");
    let (model, _) = w.register_model(mina, mina_model(mina));
    let model = model.map_err(|e| format!("registering mina's model: {e:?}"))?;
    let linus = principal("linus");
    let (deposited, _) = w.deposit(linus, 20 * E8S);
    deposited.map_err(|e| format!("linus's deposit: {e:?}"))?;
    for n in 0..SEED_CALLS {
        let args = InferArgs {
            model,
            prompt: Some(format!("Summarise the ECG of patient {n} in one line.")),
            messages: None,
            max_tokens: 64,
            temperature: None,
            seed: Some(n),
        };
        let (answer, _) = w.infer(linus, args);
        answer.map_err(|e| format!("linus's call on mina's model: {e:?}"))?;
    }
    let (flushed, _) = w.flush();
    if flushed.settled.is_empty() {
        return Err(format!("the demo calls were not settled: {flushed:?}"));
    }
    Ok(model)
}

fn mina_model(mina: Principal) -> RegisterModelArgs {
    RegisterModelArgs {
        metadata: ModelMetadata {
            name: "mina-cardio-8b".into(),
            base_model: "llama3.1:8b".into(),
            architecture: "LLaMA 3.1 decoder, 8B, LoRA r=16".into(),
            datasets: vec![DatasetRef {
                uri: "ipfs://mina-cardio-notes".into(),
                sha256: serde_bytes::ByteBuf::from(Sha256::digest(b"mina-cardio-notes").to_vec()),
            }],
            training_params: vec![TrainingParam {
                key: "epochs".into(),
                value: "2".into(),
            }],
            licence: "llama3.1-community".into(),
        },
        // Cheap enough that the seed calls credit mina less than royalties' payout timer pushes by
        // itself (20 ledger fees): her credits wait for her to claim them.
        price: Price {
            per_1k_input_tokens: 100_000,
            per_1k_output_tokens: 200_000,
        },
        owners: vec![ShareHolding {
            account: account(mina),
            units: 1_000_000,
        }],
        data_owners: vec![],
    }
}

#[cfg(test)]
mod tests {
    /// The web app derives the same key from the same rule (its unit test pins this principal too).
    #[test]
    fn a_demo_accounts_principal_is_fixed_by_its_name() {
        assert_eq!(
            super::principal("ada").to_text(),
            "nkvso-ukvvw-umtvd-fajvc-3xvdx-6fgg2-rz3ko-35abx-g4it2-xoxlc-pae"
        );
        assert_eq!(super::DEMO_ACCOUNTS[0].name, "ada");
    }
}
