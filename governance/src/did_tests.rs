//! The shell's interface checks: governance.did against the exported interface, the docs' dfx
//! commands against governance.did.

fn did_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("governance.did")
}

/// The benchmark build's extra method is not part of the interface.
#[test]
fn did_file_matches_exported_interface() {
    let exported: String = crate::__export_service()
        .lines()
        .filter(|l| !l.contains("bench_seed_") && !l.contains("Benchmark wasm only"))
        .map(|l| format!("{l}\n"))
        .collect();
    neuranft_types::did::assert_did_matches(&did_path(), &exported);
}

/// Every dfx command the docs show for governance type-checks against governance.did.
#[test]
fn readme_dfx_arguments_typecheck() {
    neuranft_types::did::assert_readme_dfx_commands(
        &neuranft_types::did::documented_dfx_commands(),
        "governance",
        &did_path(),
        17,
    );
}
