//! The text voters read for a proposal's action, with an upgrade's argument decoded as Candid.

use super::*;
use sha2::{Digest, Sha256};

/// The most of an upgrade argument's Candid text a proposal shows; a longer one is not shown at all
/// (a cut could hide exactly the field that matters) and voters see why.
pub const MAX_RENDERED_ARG_BYTES: usize = 8_192;
/// Bounds the work of decoding an argument nobody has checked yet (in Candid's cost units, which
/// count a value decoded without types 50 times): ample for any argument whose text can be shown.
const ARG_DECODING_QUOTA: usize = 2_000_000;

/// An upgrade argument as voters should read it: its Candid text, decoded without types so that no
/// field is left out (field names appear as their Candid hashes), or why it is not shown.
fn render_upgrade_arg(arg: &[u8]) -> String {
    let mut config = candid::DecoderConfig::new();
    config
        .set_decoding_quota(ARG_DECODING_QUOTA)
        .set_skipping_quota(ARG_DECODING_QUOTA);
    match candid::IDLArgs::from_bytes_with_config(arg, &config) {
        Ok(args) => {
            let text = args.to_string();
            if text.len() > MAX_RENDERED_ARG_BYTES {
                format!(
                    "NOT SHOWN: its Candid text has {} bytes, more than {MAX_RENDERED_ARG_BYTES}",
                    text.len()
                )
            } else {
                text
            }
        }
        // The decoder's message may quote the whole input: it is left out.
        Err(_) => "NOT SHOWN: it does not decode as Candid (within the decoding limits)".into(),
    }
}

/// The text a proposal shows for its action; a wasm appears as its length and SHA-256, an upgrade
/// argument as its length, SHA-256 and Candid text, a treasury transfer's recipient as its ICRC-1
/// textual account (what wallets and explorers show), not as bytes.
pub fn render_action(action: &Action) -> String {
    match action {
        Action::UpgradeCanister {
            target,
            wasm,
            arg,
            chunked_wasm,
        } => render_upgrade(*target, wasm, arg, chunked_wasm.as_ref()),
        Action::TransferTreasury { to, amount } => {
            format!("TransferTreasury {{ to: {to}, amount: {amount} }}")
        }
        Action::RegisterGenericFunction {
            name,
            description,
            target,
            method,
            validator,
        } => format!(
            "RegisterGenericFunction {{ name: {name:?}, description: {description:?}, target: {target}, method: {method}, validator: {validator} }}"
        ),
        Action::ExecuteGenericFunction { function, payload } => format!(
            "ExecuteGenericFunction {{ function: {function}, payload: {} bytes, sha256 {} }}",
            payload.len(),
            hex::encode(Sha256::digest(payload)),
        ),
        other => format!("{other:?}"),
    }
}

/// An upgrade as voters read it: the module's length and SHA-256 (and its chunks' count), the
/// argument's length, SHA-256 and Candid text.
pub(super) fn render_upgrade(
    target: UpgradeTarget,
    module: &[u8],
    arg: &[u8],
    chunked: Option<&ChunkedWasm>,
) -> String {
    let chunks = chunked.map_or(super::module_chunks(module).count(), |c| {
        c.chunk_hashes.len()
    });
    format!(
        "UpgradeCanister {{ target: {target:?}, wasm: {} bytes in {chunks} chunk(s), sha256 {}, arg: {} bytes, sha256 {}, arg as Candid: {} }}",
        module.len(),
        hex::encode(Sha256::digest(module)),
        arg.len(),
        hex::encode(Sha256::digest(arg)),
        render_upgrade_arg(arg),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_treasury_transfer_names_its_recipient_as_wallets_do() {
        let owner = candid::Principal::from_text("rrkah-fqaaa-aaaaa-aaaaq-cai").unwrap();
        let to = |subaccount| neuranft_types::Account { owner, subaccount };
        let plain = render_action(&Action::TransferTreasury {
            to: to(None),
            amount: 50_000,
        });
        assert_eq!(
            plain,
            "TransferTreasury { to: rrkah-fqaaa-aaaaa-aaaaq-cai, amount: 50000 }"
        );
        let mut sub = [0u8; 32];
        sub[31] = 1;
        let with_subaccount = render_action(&Action::TransferTreasury {
            to: to(Some(sub)),
            amount: 1,
        });
        assert!(
            with_subaccount.starts_with("TransferTreasury { to: rrkah-fqaaa-aaaaa-aaaaq-cai-")
                && with_subaccount.ends_with(".1, amount: 1 }"),
            "{with_subaccount}"
        );
    }
}
