#!/usr/bin/env bash
# Builds every canister to wasm (release, wasm32-unknown-unknown, --locked) into <target>/canisters/,
# where <target> is $CARGO_TARGET_DIR (if set) or target/.
# With a canister name as argument (as dfx passes it), builds just that one.
set -euo pipefail
cd "$(dirname "$0")/.."

CANISTERS=(icrc-ledger royalties inference-proxy governance localnet-probe)
if [ $# -gt 0 ]; then CANISTERS=("$@"); fi

TARGET="${CARGO_TARGET_DIR:-target}"
mkdir -p "$TARGET"
TARGET="$(cd "$TARGET" && pwd)"

args=()
for c in "${CANISTERS[@]}"; do args+=(-p "$c"); done
cargo build --locked --release --target wasm32-unknown-unknown "${args[@]}"

mkdir -p "$TARGET/canisters"
for c in "${CANISTERS[@]}"; do
  cp "$TARGET/wasm32-unknown-unknown/release/$c.wasm" "$TARGET/canisters/$c.wasm"
  echo "built $TARGET/canisters/$c.wasm ($(wc -c < "$TARGET/canisters/$c.wasm") bytes)"
done

# The benchmark build of governance (with `bench_seed_neurons`), unless one canister was asked for.
if [ $# -eq 0 ]; then
  cargo build --locked --release --target wasm32-unknown-unknown -p governance --features bench
  cp "$TARGET/wasm32-unknown-unknown/release/governance.wasm" "$TARGET/canisters/governance-bench.wasm"
  echo "built $TARGET/canisters/governance-bench.wasm (benchmarks only)"
fi
