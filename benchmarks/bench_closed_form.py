"""Closed-form init-time energy against the measured estimate, on real data, out of sample.

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_closed_form [--n 100] [--settings NAME ...]

For each setting (a committed space on a real dataset of its geometry), side by side in one run:

1. a rate table calibrated as a search calibrates it (``energy.closed_form.calibration_archs``,
   seed 0): weights seeded with seed 0, on a real training batch of 32 drawn with seed 0;
2. ``--n`` random architectures of the space (drawn with seed 1), NOT the calibration's, each
   measured (``energy.measure``) with other weights (seed 1) on another real batch (the test
   split, drawn with seed 1): calibration and test share neither architectures, weights nor
   images, so the error covers all three;
3. under each energy model, compute-only (spikformer-45nm) and memory-aware (lemaire, SpikingJelly's
   LemaireEnergyProfiler through ``energy.counters.lemaire``): the relative error |closed form - measured|
   / measured (mean, median, 90th percentile, max), and the candidates per second of each (closed
   form from cold lookup caches, measurement), and the closed form's candidates per second over
   5,000 random candidates in a row, as a search prices them (they share stems and blocks), per
   second of wall time and of this process's CPU time (the machine may be shared);
4. the five architectures of the largest errors, each measured again with four other weight
   draws: the closed form estimates the mean over weights, one draw of a narrow network's
   weights moves its energy by several percent, so their spread is the error's noise floor;
5. with ``--draws-all K``, under the memory-aware model, every test architecture measured with K
   weight draws: the error against their mean and their median, the architecture of each worst
   case named with its draws, and the draws in which no LIF fired at all (silent networks).

Settings: ``digits`` (spaces/digits.yaml on digits), ``hybrid`` (spaces/digits_hybrid.yaml on
digits: attention types, T, tau, threshold, shortcut), ``ndigits`` (spaces/digits.yaml on the
event data) and ``headline`` (spaces/headline_cpu.yaml on Fashion-MNIST, skipped with a note
where Debian's dataset-fashion-mnist is not installed). CIFAR-10 is not on this machine, and a
noise batch is not data: no CIFAR-shaped figure is made. Writes
benchmarks/results/energy_closed_form.json.
"""
from __future__ import annotations

import argparse
import dataclasses
import random
import statistics
import time

import torch

from autost.arch import Arch
from autost.batches import real_batch, step_batches
from autost.geometry import Geometry, resolve_geometry
from autost.model import build_model
from autost.seeding import arch_seed
from autost.space import SearchSpace
from benchmarks.common import write_result
from datasets import DatasetNotFoundError, check_available
from energy.closed_form import (CALIBRATION_ARCHS, calibrate, calibration_archs, closed_form_energy, output_rates,
                                stem_archs)
from energy.measure import measure_network

MODELS = ("spikformer-45nm", "lemaire")  # compute only (Spikformer's convention) and memory-aware
MEMORY_AWARE = ("lemaire",)  # the models whose error --draws-all also measures against weight-draw means
SETTINGS = {"digits": ("spaces/digits.yaml", "digits"), "hybrid": ("spaces/digits_hybrid.yaml", "digits"),
            "ndigits": ("spaces/digits.yaml", "ndigits"), "headline": ("spaces/headline_cpu.yaml", "fashion-mnist")}
BATCH = 32
WORST = 5  # the architectures of the largest errors, each measured again with other weights
DRAWS = 5  # weight draws (seeds TEST_SEED, TEST_SEED + 1, ...) of each of them
SEARCH_N = 5000  # random candidates priced in a row, as a search prices them
CALIBRATION_SEED, TEST_SEED = 0, 1


def _batches(dataset: str, space: SearchSpace, geometry: Geometry, seed: int, split: str):
    kwargs = dict(batch_size=BATCH, seed=seed, split=split)
    return (real_batch(dataset, time_steps=geometry.time_steps, **kwargs),
            step_batches(dataset, space.time_steps, time_steps=geometry.time_steps, **kwargs))


def _against_draws(label: str, closed: float, draws: list[tuple[float, bool]]) -> dict:
    """One architecture's closed form against its measurements with several weight draws
    (``(mJ, silent)``, the test weights first): the error against the test weights' measurement,
    against the mean over the draws (what a table of mean rates estimates) and against their
    median. A silent draw (no LIF of the network fires on the batch: the stem's first, D/8-channel
    LIF stage can stay dark on sparse events) costs only its fixed memory traffic, a fraction of a
    live draw's; it pulls the mean down but not the median, and no table of rates predicts it."""
    energies = [mj for mj, _ in draws]
    mean, median = statistics.mean(energies), statistics.median(energies)
    return {"arch": label, "closed_form_mj": closed, "measured_mj": energies[0],
            "error": abs(closed - energies[0]) / energies[0],
            "measured_over_weight_draws_mj": {"mean": mean, "median": median, "min": min(energies),
                                              "max": max(energies), "draws": energies,
                                              "silent_draws": sum(silent for _, silent in draws)},
            "error_vs_draw_mean": abs(closed - mean) / mean, "error_vs_draw_median": abs(closed - median) / median}


def _stats(errors: list[float]) -> dict:
    errors = sorted(errors)
    return {"mean": statistics.mean(errors), "median": statistics.median(errors),
            "p90": errors[int(0.9 * (len(errors) - 1))], "max": errors[-1]}


def compare(space_path: str, dataset: str, n: int, draws_all: int = 1) -> dict:
    space = SearchSpace.from_yaml(space_path)
    geometry = resolve_geometry(dataset=dataset, input_shape=None, num_classes=None, patch_size=None, time_steps=4)
    batch, per_step = _batches(dataset, space, geometry, CALIBRATION_SEED, "train")
    start = time.perf_counter()
    archs = calibration_archs(space, CALIBRATION_ARCHS, CALIBRATION_SEED)
    table = calibrate(archs, geometry, batch, seed=CALIBRATION_SEED, step_batches=per_step,
                      stems=stem_archs(space))
    calibration_s = time.perf_counter() - start
    test, test_steps = _batches(dataset, space, geometry, TEST_SEED, "test")
    rng = random.Random(TEST_SEED)
    archs = [space.sample(rng) for _ in range(n)]
    calibrated = set(table.calibrated_on)
    models = {}

    def measure(arch: Arch, model: str, weights_seed: int = TEST_SEED) -> tuple[float, bool]:
        """The measured energy (mJ) of ``arch`` with weights ``weights_seed``, and whether no LIF fired."""
        torch.manual_seed(arch_seed(weights_seed, arch))
        inputs = (test_steps or {}).get(arch.steps(geometry.time_steps), test)
        network = build_model(arch, **geometry.model_kwargs())
        with output_rates(network) as fired:
            mj = measure_network(network, inputs, model).total_mj
        return mj, max(fired.values()) == 0

    def draws(i: int, k: int) -> list[tuple[float, bool]]:
        return [measured[i]] + [measure(archs[i], model, TEST_SEED + d) for d in range(1, k)]

    for model in MODELS:
        start = time.perf_counter()
        measured = [measure(arch, model) for arch in archs]
        measure_s = time.perf_counter() - start
        table = dataclasses.replace(table)  # a fresh copy: no lookup of the previous model cached
        start = time.perf_counter()
        closed = [closed_form_energy(arch, geometry, table, model) for arch in archs]
        closed_s = time.perf_counter() - start
        errors = sorted(abs(c - m) / m for c, (m, _) in zip(closed, measured))
        ranked = sorted(range(n), key=lambda i: -abs(closed[i] - measured[i][0]) / measured[i][0])
        first = {}  # the sample may hold an architecture twice: each once, at its worst
        for i in ranked:
            first.setdefault(archs[i], i)
        worst = list(first.values())[:WORST]
        # a search prices thousands of candidates, which share stems and blocks: the throughput there
        sampler = random.Random(TEST_SEED + 1)
        search = [space.sample(sampler) for _ in range(SEARCH_N)]
        fresh = dataclasses.replace(table)
        start, cpu = time.perf_counter(), time.process_time()
        for arch in search:
            closed_form_energy(arch, geometry, fresh, model)
        search_s, search_cpu_s = time.perf_counter() - start, time.process_time() - cpu
        # per CPU second too: on a machine shared with other jobs the wall clock counts their time
        models[model] = {"search_candidates_per_s": SEARCH_N / search_s,
                         "search_candidates_per_cpu_s": SEARCH_N / search_cpu_s,
            "relative_error": _stats(errors),
            "worst": [_against_draws(archs[i].short(), closed[i], draws(i, DRAWS)) for i in worst],
            "measured_candidates_per_s": n / measure_s, "closed_form_candidates_per_s": n / closed_s}
        if draws_all > 1 and model in MEMORY_AWARE:
            # every test architecture against its weight draws: a table of rates estimates a typical draw
            every = [_against_draws(archs[i].short(), closed[i], draws(i, draws_all)) for i in range(n)]
            models[model]["relative_error_vs_draws"] = {
                "draws": draws_all,
                "vs_mean": _stats([a["error_vs_draw_mean"] for a in every]),
                "vs_median": _stats([a["error_vs_draw_median"] for a in every]),
                "silent_draws": sum(a["measured_over_weight_draws_mj"]["silent_draws"] for a in every),
                "worst_vs_mean": max(every, key=lambda a: a["error_vs_draw_mean"]),
                "worst_vs_median": max(every, key=lambda a: a["error_vs_draw_median"])}
    return {
        "space": space_path, "dataset": dataset, "geometry": geometry.model_kwargs(), "batch": BATCH,
        "calibration": {"architectures": list(table.calibrated_on), "weights_seed": CALIBRATION_SEED,
                        "batch": f"{dataset} train split, {BATCH} samples drawn with seed {CALIBRATION_SEED}"},
        "test": {"architectures": n, "also_in_calibration": sum(a.short() in calibrated for a in archs),
                 "weights_seed": TEST_SEED,
                 "batch": f"{dataset} test split, {BATCH} samples drawn with seed {TEST_SEED}"},
        "calibration_s": calibration_s, "models": models,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100, help="random test architectures per setting (default 100)")
    parser.add_argument("--draws-all", type=int, default=1, metavar="K",
                        help="also measure every test architecture with K weight draws under the memory-aware model "
                             "and report the error against their mean and median (default 1: off)")
    parser.add_argument("--settings", nargs="+", choices=sorted(SETTINGS), default=list(SETTINGS))
    args = parser.parse_args()
    results, skipped = {}, {}
    for name in args.settings:
        space_path, dataset = SETTINGS[name]
        try:
            check_available(dataset, None)
        except DatasetNotFoundError as err:
            skipped[name] = str(err)
            print(f"{name}: skipped ({err})", flush=True)
            continue
        results[name] = compare(space_path, dataset, args.n, args.draws_all)
        for model, r in results[name]["models"].items():
            e = r["relative_error"]
            print(f"{name} ({space_path} on {dataset}), {model}: error mean {e['mean']:.2%}, p90 {e['p90']:.2%}, "
                  f"max {e['max']:.2%}; {r['closed_form_candidates_per_s']:,.0f} vs "
                  f"{r['measured_candidates_per_s']:.2f} candidates/s", flush=True)
            if "relative_error_vs_draws" in r:
                d = r["relative_error_vs_draws"]
                for stat in ("mean", "median"):
                    e, w = d[f"vs_{stat}"], d[f"worst_vs_{stat}"]
                    print(f"    against the {stat} of {d['draws']} weight draws: mean {e['mean']:.2%}, max {e['max']:.2%} "
                          f"({w['arch']}, {w['measured_over_weight_draws_mj']['silent_draws']} silent draws)",
                          flush=True)
                print(f"    silent draws: {d['silent_draws']} of {d['draws'] * args.n}", flush=True)
    path = write_result("energy_closed_form", {"energy_models": list(MODELS), "settings": results, "skipped": skipped,
                                               "command": "python -m benchmarks.bench_closed_form --n "
                                                          f"{args.n} --draws-all {args.draws_all}"})
    print(f"-> {path}")


if __name__ == "__main__":
    main()
