#!/usr/bin/env bash
# Builds every canister to wasm (release, wasm32-unknown-unknown, --locked) into target/canisters/.
# With a canister name as argument (as dfx passes it), builds just that one.
set -euo pipefail
cd "$(dirname "$0")/.."

CANISTERS=(icrc-ledger royalties inference-proxy governance localnet-probe)
if [ $# -gt 0 ]; then CANISTERS=("$@"); fi

args=()
for c in "${CANISTERS[@]}"; do args+=(-p "$c"); done
cargo build --locked --release --target wasm32-unknown-unknown "${args[@]}"

mkdir -p target/canisters
for c in "${CANISTERS[@]}"; do
  cp "target/wasm32-unknown-unknown/release/$c.wasm" "target/canisters/$c.wasm"
  echo "built target/canisters/$c.wasm ($(wc -c < "target/canisters/$c.wasm") bytes)"
done

# The benchmark build of governance (with `bench_seed_neurons`), unless one canister was asked for.
if [ $# -eq 0 ]; then
  cargo build --locked --release --target wasm32-unknown-unknown -p governance --features bench
  cp target/wasm32-unknown-unknown/release/governance.wasm target/canisters/governance-bench.wasm
  echo "built target/canisters/governance-bench.wasm (benchmarks only)"
fi
