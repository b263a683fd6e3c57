#!/usr/bin/env bash
# Times radCAD's own benchmark model (two update blocks, 100,000 timesteps, 5 runs, 2 parameter
# subsets) and a simplified royalty split in radCAD (installed from PyPI into <target>/radcad-venv, <target> being $CARGO_TARGET_DIR or target/) and in
# the sim crate, side by side in one run, both on one core, and prints the ratios.
# Usage: scripts/radcad-bench.sh [timesteps] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
TIMESTEPS="${1:-100000}"
RUNS="${2:-5}"
TARGET="${CARGO_TARGET_DIR:-target}"
VENV="$TARGET/radcad-venv"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet "radcad==0.14.0" typing_extensions
fi
cargo build --locked --release -q -p sim
echo "radCAD (Python, single process) and sim (Rust, one thread): $TIMESTEPS timesteps, $RUNS runs"
python_json=$("$VENV/bin/python" sim/bench/radcad_bench.py "$TIMESTEPS" "$RUNS")
rust_json=$("$TARGET/release/sim" bench-radcad "$TIMESTEPS" "$RUNS")
python3 - "$python_json" "$rust_json" <<'PY'
import json, sys
py, rs = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for model in ("benchmark", "royalty"):
    assert py[f"{model}_records"] == rs[f"{model}_records"], (model, py, rs)
    ratio = py[f"{model}_seconds"] / rs[f"{model}_seconds"]
    print(f"{model:<10} radCAD {py[model + '_seconds']:9.3f} s   sim {rs[model + '_seconds']:9.4f} s   "
          f"{py[model + '_records']} substeps each   sim is {ratio:,.0f}x faster")
PY
