#!/usr/bin/env bash
# The main job: builds every canister's wasm, starts localnet (the embedded local network), deploys the
# payment and governance-token ledgers, royalties, the inference-proxy and governance, starts two
# hpc-nodes on loopback, runs the end-to-end scenario (tests/src/scenario/) and prints the report —
# then keeps the system live on localnet's HTTP interface (http://127.0.0.1:4943) for icp-cli, agent-js
# and browsers until Ctrl-C, and prints how to use it (docs/walkthrough.md goes on from there).
# Arguments: --exit (stop after the report), --bind ADDR.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== setting up (toolchain, npm packages from lockfiles)"
scripts/setup.sh >/dev/null
echo "== building the canisters' wasm (a first build compiles for several minutes)"
scripts/build-canisters.sh
echo "== building the main job"
cargo build --locked -p tests --bin scenario
echo "== running the system on localnet"
cargo run --locked -q -p tests --bin scenario -- "$@"
