#!/usr/bin/env bash
# Sets a fresh machine up for building and testing: the pinned toolchain with the wasm32 target,
# rustfmt and clippy. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v rustup >/dev/null 2>&1; then
  echo "rustup is required (https://rustup.rs); it is the only thing this script does not install." >&2
  exit 1
fi
# rust-toolchain.toml pins the channel, the components and the wasm32 target; `rustup show` installs them.
rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install
rustup target add wasm32-unknown-unknown
rustup component add rustfmt clippy
cargo fetch --locked
# npm packages, exactly as the lockfiles pin them: the tools (icp-cli, ic-wasm), the JS client
# test's agent-js and the web app's (frontend/: Svelte, Vite, agent-js, playwright-core).
if ! command -v npm >/dev/null 2>&1; then
  echo "node and npm are required (tools/, clients/js)" >&2
  exit 1
fi
for dir in tools clients/js frontend; do
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error
done
# Debian's Chromium for the web app's browser test (playwright-core drives it; it downloads no
# browser), when asked for: `scripts/setup.sh --browser`.
if [ "${1:-}" = --browser ] && [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get install -y --no-install-recommends chromium >/dev/null 2>&1 ||
      { apt-get update -qq && apt-get install -y --no-install-recommends chromium >/dev/null; })
  else
    echo "the browser test needs Chromium: apt-get install --no-install-recommends chromium (as root)" >&2
    exit 1
  fi
fi
echo "setup: toolchain $(rustc --version), targets: $(rustup target list --installed | tr '\n' ' ')"
