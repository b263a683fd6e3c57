"""radCAD's benchmark model and a simplified royalty split, timed in radCAD (single process).

Run by scripts/radcad-bench.sh, which also times the same two models in the sim crate and prints the
ratio. Prints one JSON object: seconds per model and the number of recorded substeps.
"""
import json
import math
import sys
import time

from radcad import Model, Simulation, Experiment
from radcad.engine import Backend

TIMESTEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
RUNS = int(sys.argv[2]) if len(sys.argv) > 2 else 5


# --- radCAD's benchmark model: a <- a*|cos a|; five unit policies drive b <- b + sum * param.
def unit_policy(params, substep, history, state):
    return {"step_size": 1}


def next_a(params, substep, history, state, signal):
    return "a", state["a"] * abs(math.cos(state["a"]))


def next_b(params, substep, history, state, signal):
    return "b", state["b"] + signal["step_size"] * params["a"]


benchmark = Model(
    initial_state={"a": 1.0, "b": 2.0},
    state_update_blocks=[
        {"policies": {}, "variables": {"a": next_a}},
        {
            "policies": {f"p_{i}": unit_policy for i in range(1, 6)},
            "variables": {"b": next_b},
        },
    ],
    params={"a": [1, 2]},
)


# --- A simplified royalty split: one receipt per timestep, credited exactly by cumulative shares.
SPLIT = [3_000, 5_000, 1_000, 1_000]


def receipt(params, substep, history, state):
    return {"amount": 1_000 + (state["timestep_count"] * 7_919) % 5_000}


def settle(params, substep, history, state, signal):
    return "settled", state["settled"] + signal["amount"]


def credit(params, substep, history, state, signal):
    settled = state["settled"] + signal["amount"]
    return "credited", [settled * bps // 10_000 for bps in SPLIT]


def count(params, substep, history, state, signal):
    return "timestep_count", state["timestep_count"] + 1


royalty = Model(
    initial_state={"timestep_count": 0, "settled": 0, "credited": [0, 0, 0, 0]},
    state_update_blocks=[
        {
            "policies": {"receipt": receipt},
            "variables": {"settled": settle, "credited": credit, "timestep_count": count},
        }
    ],
    params={},
)


def timed(model, timesteps, runs):
    experiment = Experiment(Simulation(model=model, timesteps=timesteps, runs=runs))
    experiment.engine.backend = Backend.SINGLE_PROCESS
    started = time.perf_counter()
    result = experiment.run()
    return time.perf_counter() - started, len(result)


benchmark_seconds, benchmark_records = timed(benchmark, TIMESTEPS, RUNS)
royalty_seconds, royalty_records = timed(royalty, TIMESTEPS, 1)
print(
    json.dumps(
        {
            "benchmark_seconds": benchmark_seconds,
            "benchmark_records": benchmark_records,
            "royalty_seconds": royalty_seconds,
            "royalty_records": royalty_records,
        }
    )
)
