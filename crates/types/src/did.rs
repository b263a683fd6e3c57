//! The check every canister's test suite runs: its committed `.did` equals the interface it exports.

use candid_parser::utils::{service_equal, CandidSource};

/// Panics unless the file at `path` describes the same service as `exported`.
/// With `UPDATE_DID` set, rewrites the file first.
pub fn assert_did_matches(path: &std::path::Path, exported: &str) {
    if std::env::var_os("UPDATE_DID").is_some() {
        std::fs::write(path, exported).expect("write the .did file");
    }
    let on_disk = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{} cannot be read: {e}", path.display()));
    service_equal(CandidSource::Text(exported), CandidSource::Text(&on_disk)).unwrap_or_else(|e| {
        panic!(
            "{} differs from the code ({e}); run UPDATE_DID=1 cargo test",
            path.display()
        )
    });
}
