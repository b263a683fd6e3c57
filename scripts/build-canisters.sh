#!/usr/bin/env bash
# Builds every canister to wasm (release, wasm32-unknown-unknown, --locked) into <target>/canisters/,
# where <target> is $CARGO_TARGET_DIR (if set) or target/, as dfx and icp-cli build modules: shrunk by
# ic-wasm, with the canister's Candid interface as public `candid:service` metadata (what icp-cli
# reads before each call), gzip-compressed: <target>/canisters/<name>.wasm.gz.
# With a canister name as argument (as dfx passes it), builds just that one.
set -euo pipefail
cd "$(dirname "$0")/.."

CANISTERS=(icrc-ledger royalties inference-proxy governance root localnet-probe frontend)
if [ $# -gt 0 ]; then CANISTERS=("$@"); fi

# The frontend canister embeds the web app's built files (frontend/dist): build them first, from
# the lockfile's packages (scripts/setup.sh installs them).
for c in "${CANISTERS[@]}"; do
  if [ "$c" = frontend ]; then
    # NEURANFT_WEB_MODE=mainnet: Internet Identity sign-in (the default build offers the local
    # network's demo accounts).
    if [ "${NEURANFT_WEB_MODE:-local}" = mainnet ]; then
      npm run --prefix frontend --silent build:mainnet
    else
      npm run --prefix frontend --silent build
    fi
  fi
done

TARGET="${CARGO_TARGET_DIR:-target}"
mkdir -p "$TARGET"
TARGET="$(cd "$TARGET" && pwd)"

args=()
for c in "${CANISTERS[@]}"; do args+=(-p "$c"); done
cargo build --locked --release --target wasm32-unknown-unknown "${args[@]}"

IC_WASM=tools/node_modules/@icp-sdk/ic-wasm-linux-x64/bin/ic-wasm
if [ ! -x "$IC_WASM" ]; then
  echo "ic-wasm is missing: run scripts/setup.sh" >&2
  exit 1
fi

# package: the built module, shrunk, with its .did as metadata (if the canister has one), gzip'd.
package() {
  local built="$1" out="$2" did="$3" tmp="$2.tmp"
  "$IC_WASM" "$built" -o "$tmp" shrink
  if [ -n "$did" ]; then
    "$IC_WASM" "$tmp" -o "$tmp" metadata candid:service -f "$did" -v public
  fi
  gzip -n -9 -c "$tmp" > "$out"
  rm -f "$tmp"
  echo "built $out ($(wc -c < "$out") bytes)"
}

mkdir -p "$TARGET/canisters"
for c in "${CANISTERS[@]}"; do
  dir="$c"
  if [ "$c" = frontend ]; then dir=frontend-canister; fi
  did="$(ls "$dir"/*.did 2>/dev/null | head -1 || true)"
  package "$TARGET/wasm32-unknown-unknown/release/$c.wasm" "$TARGET/canisters/$c.wasm.gz" "$did"
done

# The benchmark build of governance (with `bench_seed_neurons`), unless one canister was asked for.
if [ $# -eq 0 ]; then
  cargo build --locked --release --target wasm32-unknown-unknown -p governance --features bench
  package "$TARGET/wasm32-unknown-unknown/release/governance.wasm" \
    "$TARGET/canisters/governance-bench.wasm.gz" governance/governance.did
fi
