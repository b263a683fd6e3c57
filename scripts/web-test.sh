#!/usr/bin/env bash
# The web app's browser test: starts the main job (small scenario) serving on a free loopback port
# with its files under a temporary project directory, waits until the frontend canister's URL is
# written, runs frontend/e2e/ (playwright-core driving Debian's Chromium) against it, and stops the
# system. Screenshots of every screen: <target>/ui-screenshots/. Expects the canisters' wasm and the
# scenario binary built (scripts/test.sh builds both before calling this).
set -euo pipefail
cd "$(dirname "$0")/.."
TARGET="$(cd "${CARGO_TARGET_DIR:-target}" && pwd)"
SCENARIO="$TARGET/debug/scenario"
if [ ! -x "$SCENARIO" ]; then
  cargo build --locked -p tests --bin scenario
fi

project="$(mktemp -d)"
log="$project/scenario.log"
"$SCENARIO" --small --bind 127.0.0.1:0 --project "$project" > "$log" 2>&1 &
live=$!
# Ctrl-C ends the main job once it serves; before that (and as a background job of a script, which
# ignores SIGINT) only TERM does, and KILL if it does not end within 10 s.
stop() {
  local status=$?
  if [ "$status" -ne 0 ] && [ -f "$log" ]; then
    echo "the main job's last output:" >&2
    tail -15 "$log" >&2
  fi
  kill -INT "$live" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 "$live" 2>/dev/null || break; sleep 0.5; done
  kill -TERM "$live" 2>/dev/null || true
  for _ in $(seq 1 20); do kill -0 "$live" 2>/dev/null || break; sleep 0.5; done
  kill -KILL "$live" 2>/dev/null || true
  wait "$live" 2>/dev/null || true
  rm -rf "$project"
}
trap stop EXIT

url_file="$project/.icp/data/frontend-url.txt"
for _ in $(seq 1 600); do
  if [ -s "$url_file" ] && grep -q "serving until Ctrl-C" "$log"; then break; fi
  if ! kill -0 "$live" 2>/dev/null; then
    echo "the main job stopped before serving:" >&2
    tail -30 "$log" >&2
    exit 1
  fi
  sleep 0.5
done
if [ ! -s "$url_file" ] || ! grep -q "serving until Ctrl-C" "$log"; then
  echo "the main job did not serve within 5 minutes:" >&2
  tail -30 "$log" >&2
  exit 1
fi
APP_URL="$(cat "$url_file")"
echo "the web app at $APP_URL"
mkdir -p "$TARGET/ui-screenshots"
APP_URL="$APP_URL" SCREENSHOTS="$TARGET/ui-screenshots" CHROMIUM="${CHROMIUM:-/usr/bin/chromium}" \
  GOVERNANCE_WASM="$TARGET/wasm32-unknown-unknown/release/governance.wasm" \
  npm run --prefix frontend --silent e2e
