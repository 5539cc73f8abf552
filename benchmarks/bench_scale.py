"""Candidates per second of a search that measures every candidate's init-time energy, scored
serially, on 1 and 2 local worker processes, and on a local Ray instance.

    .venv/bin/python -m benchmarks.bench_scale [--population 16] [--generations 4] [--repeats 2]

The search: the digits space on the embedded digits data (a real batch of --batch-size
samples, T = 4), --score flops, so each candidate costs one forward pass for its energy.
Every mode runs torch on one thread per process (the serial one too), and every mode must
return the serial search's candidates exactly (checked; the benchmark fails otherwise).

Two rates per run: end to end (wall time, including starting the workers, or Ray, and
their imports) and steady state (generations 2.. only: candidates / time, once the workers
are up). Ray's "local" instance gets every CPU of the machine. Medians over --repeats, the
modes interleaved so that a change in the machine's load hits them alike; the load average
is recorded before and after.

A control says how much parallel CPU the machine offered meanwhile: a pure-Python loop
(no torch, no data) run once in one process and twice at once in two, before each repeat.
Its throughput ratio is the ceiling of any 2-worker speedup measured in the same minutes.
Writes benchmarks/results/scale.json.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from autost.geometry import resolve_geometry
from autost.search.generational import EvolutionSettings
from autost.search.runner import SearchConfig, run_search
from benchmarks.common import write_result

MODES = {"serial": {}, "workers_1": {"workers": 1}, "workers_2": {"workers": 2}, "ray_local": {"ray_address": "local"}}


def _spin(n: int) -> float:
    start = time.perf_counter()
    total = 0
    for i in range(n):
        total += i
    return time.perf_counter() - start


def cpu_control(n: int = 10_000_000) -> float:
    """Throughput of two processes over one on a pure-Python loop (2.0: two free cores)."""
    one = _spin(n)
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        pool.map(_spin, [1000, 1000])  # start both before timing
        start = time.perf_counter()
        pool.map(_spin, [n, n])
        two = time.perf_counter() - start
    return 2 * one / two


def _run(config: SearchConfig, options: dict) -> tuple[dict, dict]:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = run_search(config, Path(out), progress=False, **options)
        wall = time.perf_counter() - start
        history = (Path(out) / "history.csv").read_text().splitlines()[1:]
    # history.csv: generation, best, mean, worst, evaluated (cumulative), elapsed_s (cumulative)
    rows = [line.split(",") for line in history]
    evaluated, elapsed = [int(r[4]) for r in rows], [float(r[5]) for r in rows]
    timing = {"wall_s": wall, "candidates": evaluated[-1], "per_s": evaluated[-1] / wall,
              "steady_per_s": (evaluated[-1] - evaluated[0]) / (elapsed[-1] - elapsed[0]),
              "first_generation_s": elapsed[0]}
    result.pop("elapsed_s")
    return result, timing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--population", type=int, default=16)
    parser.add_argument("--generations", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # Ray on the loopback interface only
    geometry = resolve_geometry(dataset="digits", input_shape=None, num_classes=None, patch_size=None, time_steps=4)
    third = args.population // 4
    config = SearchConfig(space="spaces/digits.yaml", geometry=geometry, dataset="digits", score="flops",
                          settings=EvolutionSettings(population=args.population, select=max(2, third), mutation=third,
                                                     crossover=third, generations=args.generations),
                          batch_size=args.batch_size, energy="measure")  # a forward pass per candidate to spread
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {mode: [] for mode in MODES}
    reference = None
    control = []
    for _ in range(args.repeats):
        control.append(cpu_control())
        print(f"control: two processes do x{control[-1]:.2f} the work of one", flush=True)
        for mode, options in MODES.items():
            result, timing = _run(config, options)
            reference = reference or result
            if result["candidates"] != reference["candidates"]:
                raise SystemExit(f"{mode}: the search found other candidates than the serial one")
            runs[mode].append(timing)
            print(f"{mode:10s} {timing['per_s']:.2f} cand/s end to end, {timing['steady_per_s']:.2f} steady "
                  f"({timing['wall_s']:.1f} s)", flush=True)
    medians = {mode: {key: statistics.median(t[key] for t in timings) for key in timings[0]}
               for mode, timings in runs.items()}
    serial = medians["serial"]
    result = {
        "search": {"space": config.space, "dataset": "digits", "score": "flops (energy measured per candidate)",
                   "time_steps": 4, "batch_size": args.batch_size, "population": args.population,
                   "generations": args.generations},
        "repeats": args.repeats,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "identical_candidates": True,
        "cpu_control_two_over_one": {"median": statistics.median(control), "runs": control},
        "median": medians,
        "speedup_vs_serial": {mode: {"end_to_end": m["per_s"] / serial["per_s"],
                                     "steady": m["steady_per_s"] / serial["steady_per_s"]}
                              for mode, m in medians.items()},
        "runs": runs,
        "note": "2 CPU cores shared with other agents' test suites and benchmarks while this ran (see the "
                "load averages and cpu_control_two_over_one): the 2-worker and Ray speedups are bounded by the "
                "parallel CPU the machine had free, which the control measures",
    }
    path = write_result("scale", result)
    for mode, m in medians.items():
        s = result["speedup_vs_serial"][mode]
        print(f"{mode:10s} median {m['per_s']:.2f} cand/s end to end (x{s['end_to_end']:.2f}), "
              f"{m['steady_per_s']:.2f} steady (x{s['steady']:.2f})")
    print(f"control (the ceiling for 2 workers): x{statistics.median(control):.2f} -> {path}")


if __name__ == "__main__":
    main()
