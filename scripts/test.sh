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
echo "== JS client test (agent-js against localnet serve)"
TARGET="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)"
LOCALNET_BIN="$TARGET/debug/localnet" PROBE_WASM="$TARGET/canisters/localnet-probe.wasm.gz" \
  LEDGER_WASM="$TARGET/canisters/icrc-ledger.wasm.gz" \
  npm test --prefix clients/js
echo "all tests passed"
