#!/usr/bin/env bash
# Runs every test: formatting, lints, the canister wasm build, unit and property tests, and a compile
# of the benchmarks. This is the command README.md names and CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --locked --workspace --all-targets --all-features -- -D warnings
echo "== canister wasm"
scripts/build-canisters.sh
echo "== cargo test"
cargo test --locked --workspace --all-targets --all-features
echo "all tests passed"
