"""The init-time energy estimate and an energy-measured search on a GPU.

    python -m benchmarks.bench_gpu_search [--device cuda] [--candidates 200] [--cpu-archs 3]

1. Per candidate, for --archs architectures of the tiny space inside AutoST's 11-12 M params
   (seeded samples, as the search meets them), on the device: a plain forward pass (BatchNorm
   on the batch's statistics, no gradients, as the estimate runs it) against the init-time
   energy estimate under the default model, and the whole ``Evaluator.evaluate`` a search
   calls (closed-form cost, the model built on the CPU from its seed and moved, the estimate).
   Medians over --repeats, after one warm-up. With --cpu-archs N, the first N are also timed on
   this machine's CPU (all its cores) for comparison.
2. AutoST's evolution on the tiny space at CIFAR shape, 11-12 M params, with an energy limit
   (the median energy of part 1's architectures, so the limit bites), population 50 and
   --candidates / 50 generations: every candidate's energy measured on the device.

CIFAR-10 itself is not on the GPU machine, so the batch is seeded uniform noise of CIFAR shape,
as in bench_energy_models: the timings are what matters here, not the energies.
Writes benchmarks/results/search_<device>.json.
"""
from __future__ import annotations

import argparse
import os
import random
import statistics
import time
from typing import Callable

import torch

from autost.arch import Arch
from autost.geometry import Geometry
from autost.model import build_model
from autost.search.evaluate import Constraints, Evaluator
from autost.search.generational import Evolution, EvolutionSettings, SearchState
from autost.space import SearchSpace
from benchmarks.common import write_result
from autost.batchnorm import batchnorm_mode
from energy.measure import measure_network
from energy.models import DEFAULT_MODEL

TINY = "spaces/spikformer_tiny.yaml"
CIFAR = Geometry(in_channels=3, img_size=32, patch_size=4, num_classes=10, time_steps=4)
PARAM_LIMITS = (11, 12)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _median_s(fn: Callable[[], object], device: torch.device, repeats: int) -> float:
    fn()  # warm-up: kernels compiled or chosen, memory allocated
    _sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def sample_archs(space: SearchSpace, evaluator: Evaluator, count: int, seed: int) -> list[Arch]:
    """``count`` distinct architectures of ``space`` inside the param limits, shallowest first."""
    rng, found = random.Random(seed), {}
    limits = Constraints(*PARAM_LIMITS)
    while len(found) < count:
        arch = space.sample(rng)
        if limits.params_ok(evaluator.cost(arch)[0]):
            found[arch.short()] = arch
    return sorted(found.values(), key=lambda a: (a.depth, a.embed_dim))


def per_candidate(arch: Arch, batch: torch.Tensor, repeats: int) -> dict:
    """Seconds of a forward pass, of the energy estimate and of a search's whole evaluation of
    ``arch`` on ``batch``'s device."""
    device = batch.device
    evaluator = Evaluator("flops", CIFAR, batch=batch)
    torch.manual_seed(0)
    model = build_model(arch, **CIFAR.model_kwargs()).to(device)

    def forward() -> None:
        with batchnorm_mode(model, use_batch_stats=True), torch.no_grad():
            model(batch)

    energy = measure_network(model, batch, DEFAULT_MODEL).total_mj
    seconds = {"forward": _median_s(forward, device, repeats),
               "estimate": _median_s(lambda: measure_network(model, batch, DEFAULT_MODEL), device, repeats),
               "evaluate": _median_s(lambda: evaluator.evaluate(arch), device, repeats)}
    return {"arch": arch.short(), "params": evaluator.cost(arch)[0], "macs": evaluator.cost(arch)[1],
            "energy_mj": energy, "median_s": seconds,
            "estimate_over_forward": seconds["estimate"] / seconds["forward"]}


def search(space: SearchSpace, batch: torch.Tensor, energy_limit_mj: float, candidates: int) -> dict:
    settings = EvolutionSettings(generations=max(1, candidates // EvolutionSettings().population))
    constraints = Constraints(*PARAM_LIMITS, energy_max_mj=energy_limit_mj)
    evolution = Evolution(space, Evaluator("flops", CIFAR, batch=batch), constraints, settings, seed=0)
    start = time.perf_counter()
    state = evolution.run(SearchState(), on_generation=lambda s: None)
    _sync(batch.device)
    wall = time.perf_counter() - start
    evaluated = [r for r in state.seen.values() if r is not None]
    legal = state.legal_records()
    best = max(legal, key=lambda r: r["score"]) if legal else None
    return {"settings": vars(settings), "energy_limit_mj": energy_limit_mj, "wall_s": wall,
            "candidates": len(evaluated), "within_energy_limit": len(legal),
            "candidates_per_s": len(evaluated) / wall,
            "projected_default_wall_s": EvolutionSettings().population * EvolutionSettings().generations
            * wall / len(evaluated),
            "best": best and {k: best[k] for k in ("arch", "params", "macs", "energy_mj")}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cuda")
    parser.add_argument("--archs", type=int, default=6, help="architectures timed one by one")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--cpu-archs", type=int, default=0, help="of those, how many to time on the CPU too")
    parser.add_argument("--candidates", type=int, default=200, help="the energy-measured search's budget")
    parser.add_argument("--batch-size", type=int, default=32, help="the search's default batch")
    args = parser.parse_args()
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available")
    space = SearchSpace.from_yaml(TINY)
    cpu_batch = torch.rand(args.batch_size, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    batch = cpu_batch.to(device)
    archs = sample_archs(space, Evaluator("flops", CIFAR), args.archs, seed=0)
    rows = []
    for arch in archs:
        rows.append(per_candidate(arch, batch, args.repeats))
        print(f"{device.type} {arch.short()}: " + ", ".join(f"{k} {v * 1e3:.1f} ms"
                                                           for k, v in rows[-1]["median_s"].items()), flush=True)
    cpu_rows = []
    for arch in archs[: args.cpu_archs]:
        cpu_rows.append(per_candidate(arch, cpu_batch, max(1, args.repeats // 2)))
        print(f"cpu {arch.short()}: " + ", ".join(f"{k} {v * 1e3:.1f} ms"
                                                  for k, v in cpu_rows[-1]["median_s"].items()), flush=True)
    limit = statistics.median(r["energy_mj"] for r in rows)
    found = search(space, batch, limit, args.candidates)
    print(f"search: {found['candidates']} candidates in {found['wall_s']:.1f} s "
          f"({found['candidates_per_s']:.2f}/s), {found['within_energy_limit']} within {limit:.4f} mJ", flush=True)
    result = {
        "device": device.type, "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "space": TINY, "geometry": CIFAR.model_kwargs(), "param_limits_m": list(PARAM_LIMITS),
        "batch_size": args.batch_size, "energy_model": DEFAULT_MODEL, "repeats": args.repeats,
        "input": "seeded uniform noise of CIFAR-10 shape (timing only)",
        "cpu_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(),
        "per_candidate": rows,
        "estimate_over_forward_median": statistics.median(r["estimate_over_forward"] for r in rows),
        "evaluate_s_median": statistics.median(r["median_s"]["evaluate"] for r in rows),
        "per_candidate_cpu": cpu_rows,
        "search": found,
    }
    path = write_result(f"search_{device.type}", result)
    print(f"-> {path}")


if __name__ == "__main__":
    main()
