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
/// argument as its length, SHA-256 and Candid text.
pub fn render_action(action: &Action) -> String {
    match action {
        Action::UpgradeCanister { target, wasm, arg } => format!(
            "UpgradeCanister {{ target: {target:?}, wasm: {} bytes, sha256 {}, arg: {} bytes, sha256 {}, arg as Candid: {} }}",
            wasm.len(),
            hex::encode(Sha256::digest(wasm)),
            arg.len(),
            hex::encode(Sha256::digest(arg)),
            render_upgrade_arg(arg),
        ),
        other => format!("{other:?}"),
    }
}
