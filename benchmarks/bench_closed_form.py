"""Closed-form init-time energy against the measured estimate: error, speed, and the search it allows.

    .venv/bin/python -m benchmarks.bench_closed_form [--n 100]

For two settings, the digits space on a real digits batch (32, T 4) and AutoST's tiny space
at CIFAR-10 shape (a random CIFAR-shaped batch of 8, T 4: CIFAR itself is not on this
machine), side by side in one run:
1. the rate table calibrated on the search's default architectures (``energy.closed_form``);
2. the closed form's relative error against the measured estimate over ``--n`` random
   architectures of the space (mean and max), and candidates per second of each;
3. on the tiny space: AutoST's default evolution under 11-12 M params, FLOPs only, and the
   same search with an energy limit (90% of the FLOPs-only winner's energy, so the limit
   binds) scored by the closed form (the search's default energy) and by the predicted
   trained energy (``--energy predicted``); the wall time of each, the closed form's both
   with its rate table from a cold on-disk cache (calibration included, as a first search
   pays it) and from a warm one (every later search of the same setting), through the
   cache the search uses (``energy.closed_form.cached_table``, in a temporary folder).
Writes benchmarks/results/energy_closed_form.json.

    .venv/bin/python -m benchmarks.bench_closed_form --other-spaces [--n 100]

measures step 2 alone on the other committed spaces (Spikformer's small and base at CIFAR-10
shape, the headline space on a real Fashion-MNIST batch) and writes
benchmarks/results/energy_closed_form_spaces.json.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time

import torch

from autost.arch import Arch
from autost.batches import real_batch
from autost.geometry import Geometry, resolve_geometry
from autost.model import build_model
from autost.search.evaluate import Constraints, Evaluator
from autost.search.evolution import Evolution, EvolutionSettings, SearchState
from autost.seeding import arch_seed
from autost.space import SearchSpace
from benchmarks.common import write_result
from energy.closed_form import (CALIBRATION_ARCHS, RateTable, cached_table, calibrate, calibration_archs,
                                closed_form_energy, table_key)
from energy.estimate import estimate_energy
from energy.predictor import load_predictor

MODEL = "spikformer-45nm"
CIFAR = Geometry(in_channels=3, img_size=32, patch_size=4, num_classes=10, time_steps=4)


def measured_energies(space: SearchSpace, geometry: Geometry, batch: torch.Tensor,
                      n: int) -> tuple[list[Arch], list[float], float]:
    """``n`` random architectures of ``space`` (seed 1), each one's measured init-time energy on
    ``batch`` (weights seeded as the search seeds them), and the seconds the measuring took."""
    rng = random.Random(1)
    archs = [space.sample(rng) for _ in range(n)]
    measured, seconds = [], 0.0
    for arch in archs:
        start = time.perf_counter()
        torch.manual_seed(arch_seed(0, arch))
        measured.append(estimate_energy(build_model(arch, **geometry.model_kwargs()), batch).total_mj)
        seconds += time.perf_counter() - start
    return archs, measured, seconds


def _compare(space_path: str, geometry: Geometry, batch: torch.Tensor, n: int) -> tuple[dict, RateTable]:
    space = SearchSpace.from_yaml(space_path)
    start = time.perf_counter()
    table = calibrate(calibration_archs(space, CALIBRATION_ARCHS, 0), geometry, batch, seed=0)
    calibration_s = time.perf_counter() - start
    archs, measured, measure_s = measured_energies(space, geometry, batch, n)
    start = time.perf_counter()
    closed = [closed_form_energy(arch, geometry, table, MODEL) for arch in archs]
    closed_s = time.perf_counter() - start
    errors = [abs(c - m) / m for c, m in zip(closed, measured)]
    result = {
        "space": space_path, "geometry": geometry.model_kwargs(), "batch": len(batch), "architectures": n,
        "calibration_archs": list(table.calibrated_on), "calibration_s": calibration_s,
        "relative_error": {"mean": statistics.mean(errors), "median": statistics.median(errors), "max": max(errors)},
        "measured_candidates_per_s": n / measure_s, "closed_form_candidates_per_s": n / closed_s,
        "speedup": measure_s / closed_s,
    }
    return result, table


def _timed_evolution(space: SearchSpace, evaluator: Evaluator, limits: Constraints) -> tuple[float, int, dict]:
    evolution = Evolution(space, evaluator, limits, EvolutionSettings(), seed=0)
    start = time.perf_counter()
    state = evolution.run(SearchState(), on_generation=lambda s: None)
    records = state.legal_records()
    best = max(records, key=lambda r: r["score"])
    return time.perf_counter() - start, len(records), best


def other_spaces(n: int) -> None:
    """The closed form's error and speed on every committed space that ``main`` does not cover."""
    cifar_batch = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    fashion = resolve_geometry(dataset="fashion-mnist", input_shape=None, num_classes=None, patch_size=None,
                               time_steps=4)
    settings = [("spaces/spikformer_small.yaml", CIFAR, lambda: cifar_batch),
                ("spaces/spikformer_base.yaml", CIFAR, lambda: cifar_batch),
                ("spaces/headline_cpu.yaml", fashion,
                 lambda: real_batch("fashion-mnist", batch_size=32, time_steps=4, seed=0))]
    results = {}
    for space_path, geometry, batch in settings:
        results[space_path], _ = _compare(space_path, geometry, batch(), n)
        e = results[space_path]["relative_error"]
        print(f"{space_path}: error mean {e['mean']:.2%}, max {e['max']:.2%}", flush=True)
    path = write_result("energy_closed_form_spaces", {"energy_model": MODEL, "spaces": results,
                                                      "cifar_batch": "random CIFAR-shaped, 8 (CIFAR is not on "
                                                                     "this machine)"})
    print(f"-> {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="random architectures per space")
    parser.add_argument("--other-spaces", action="store_true",
                        help="only the error and speed on the spaces the default run does not cover")
    args = parser.parse_args()
    if args.other_spaces:
        other_spaces(args.n)
        return
    digits = resolve_geometry(dataset="digits", input_shape=None, num_classes=None, patch_size=None, time_steps=4)
    digits_batch = real_batch("digits", batch_size=32, time_steps=4, seed=0)
    cifar_batch = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    on_digits, _ = _compare("spaces/digits.yaml", digits, digits_batch, args.n)
    on_cifar, table = _compare("spaces/spikformer_tiny.yaml", CIFAR, cifar_batch, args.n)

    space = SearchSpace.from_yaml("spaces/spikformer_tiny.yaml")
    flops_s, flops_n, flops_best = _timed_evolution(space, Evaluator("flops", CIFAR), Constraints(11, 12))
    winner = Arch.from_dict({"RETRAIN": flops_best["arch"]})
    limit = 0.9 * closed_form_energy(winner, CIFAR, table, MODEL)
    limits = Constraints(11, 12, limit)
    key = table_key(space, CIFAR, "random CIFAR-shaped batch", 0, len(cifar_batch))
    timings = {}
    with tempfile.TemporaryDirectory() as cache:
        os.environ["AUTOST_CACHE"] = cache
        for run in ("cold_cache", "warm_cache"):
            start = time.perf_counter()
            cached, how = cached_table(key, lambda: calibrate(calibration_archs(space, CALIBRATION_ARCHS, 0),
                                                              CIFAR, cifar_batch, seed=0))
            table_s = time.perf_counter() - start
            evaluator = Evaluator("flops", CIFAR, batch=cifar_batch, rates=cached)
            wall_s, n, best = _timed_evolution(space, evaluator, limits)
            timings[run] = {"rate_table": how, "rate_table_s": table_s, "evolution_s": wall_s,
                            "wall_s": table_s + wall_s, "candidates": n, "best_macs": best["macs"],
                            "best_energy_mj": best["energy_mj"]}
    predictor = load_predictor()
    predicted_limit = 0.9 * predictor.predict(winner, CIFAR, closed_form_energy(winner, CIFAR, table, MODEL))
    predicted_s, predicted_n, predicted_best = _timed_evolution(
        space, Evaluator("flops", CIFAR, batch=cifar_batch, rates=cached, predictor=predictor),
        Constraints(11, 12, predicted_limit))
    search = {
        "settings": vars(EvolutionSettings()), "param_limits_m": [11, 12], "energy_limit_mj": limit,
        "flops_only": {"wall_s": flops_s, "candidates": flops_n, "best_macs": flops_best["macs"]},
        "closed_form_energy_limited": timings,
        "predicted_energy_limited": {"energy_limit_mj": predicted_limit, "wall_s": predicted_s,
                                     "candidates": predicted_n, "best_macs": predicted_best["macs"],
                                     "best_energy_mj": predicted_best["energy_mj"]},
        "time_ratio_warm_cache": timings["warm_cache"]["wall_s"] / flops_s,
        "time_ratio_cold_cache": timings["cold_cache"]["wall_s"] / flops_s,
        "time_ratio_predicted_warm_cache": (timings["warm_cache"]["rate_table_s"] + predicted_s) / flops_s,
    }
    path = write_result("energy_closed_form", {"energy_model": MODEL, "digits": on_digits, "cifar_tiny": on_cifar,
                                               "search": search})
    for name, r in (("digits", on_digits), ("tiny/CIFAR", on_cifar)):
        e = r["relative_error"]
        print(f"{name}: error mean {e['mean']:.2%}, max {e['max']:.2%}; {r['closed_form_candidates_per_s']:,.0f} "
              f"vs {r['measured_candidates_per_s']:.2f} candidates/s")
    print(f"search: FLOPs only {flops_s:.2f} s; energy-limited with the closed form "
          f"{timings['warm_cache']['wall_s']:.2f} s from a warm cache (x{search['time_ratio_warm_cache']:.2f}), "
          f"{timings['cold_cache']['wall_s']:.2f} s from a cold one (x{search['time_ratio_cold_cache']:.2f}); with "
          f"the predicted trained energy x{search['time_ratio_predicted_warm_cache']:.2f} -> {path}")


if __name__ == "__main__":
    main()
