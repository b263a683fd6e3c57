#!/usr/bin/env bash
# The main job: builds every canister's wasm, starts localnet (the embedded local network), deploys the
# payment and governance-token ledgers, royalties and the inference-proxy, starts two hpc-nodes on
# loopback, runs the end-to-end scenario (tests/src/scenario.rs) and prints the report.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
scripts/build-canisters.sh
cargo run --locked -q -p tests --bin scenario
