#!/usr/bin/env bash
# The main job: builds the canister wasm, then runs the end-to-end royalties scenario and prints its report.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh >/dev/null
scripts/build-canisters.sh
cargo run --locked -q -p royalties --example scenario
