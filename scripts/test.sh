#!/usr/bin/env bash
# Runs every test: formatting, lints, the canister wasm build, unit and property tests, and a compile
# of the benchmarks. This is the command README.md names and CI runs.
set -euo pipefail
cd "$(dirname "$0")/.."

# Whether the workspace's own target/ existed before: with CARGO_TARGET_DIR elsewhere, nothing may
# create it (checked at the end).
own_target_existed=$([ -e target ] && echo yes || echo no)
# Each section's heading carries the seconds since the start, so a slow CI run shows where it went.
started=$SECONDS
section() { echo "== $1 (at $((SECONDS - started)) s)"; }

scripts/setup.sh --browser
section "cargo fmt --check"
cargo fmt --all -- --check
section "cargo clippy"
cargo clippy --locked --workspace --all-targets --all-features -- -D warnings
section "canister wasm"
scripts/build-canisters.sh
section "cargo test"
cargo test --locked --workspace --all-targets --all-features
section "JS client test (agent-js against localnet serve)"
TARGET="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)"
LOCALNET_BIN="$TARGET/debug/localnet" PROBE_WASM="$TARGET/canisters/localnet-probe.wasm.gz" \
  LEDGER_WASM="$TARGET/canisters/icrc-ledger.wasm.gz" \
  npm test --prefix clients/js
section "web app: bindings match the .did files, type check and lint, unit tests"
npm run --prefix frontend --silent bindings:check
npm run --prefix frontend --silent check
npm test --prefix frontend --silent
section "web app in Chromium (playwright-core) against the live system, screenshots in $TARGET/ui-screenshots"
scripts/web-test.sh
if [ -n "${CARGO_TARGET_DIR:-}" ] && [ "$own_target_existed" = no ] && [ -e target ]; then
  echo "target/ was created although CARGO_TARGET_DIR=$CARGO_TARGET_DIR: something ignores it" >&2
  exit 1
fi
echo "all tests passed in $((SECONDS - started)) s"
