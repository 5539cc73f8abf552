"""Wall time of AutoST's default search on the tiny space, with and without energy.

    .venv/bin/python -m benchmarks.bench_search [--energy-generations 2] [--energy-batch 8]

1. --score flops from the CIFAR-10 input shape (closed-form MACs, no forward pass): the
   default evolution (population 50, 20 generations) under the paper's 11-12 M params,
   next to the exact solver's optimum (the gap is reported).
2. The same search with the init-time energy of every candidate recorded (one forward pass
   each). CIFAR-10 itself is not on this machine, so the batch is random CIFAR-shaped
   input: the timing is what matters here, not the energies. Its budget is cut to
   --energy-generations generations and the full-budget wall time is projected from the
   measured rate.
Writes benchmarks/results/search.json.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from autost.geometry import Geometry
from autost.search.evaluate import Constraints, Evaluator
from autost.search.generational import Evolution, EvolutionSettings, SearchState
from autost.search.runner import SearchConfig, run_search, validate
from benchmarks.common import write_result

TINY = "spaces/spikformer_tiny.yaml"
CIFAR = Geometry(in_channels=3, img_size=32, patch_size=4, num_classes=10, time_steps=4)
LIMITS = Constraints(11, 12)


def _timed_search(config: SearchConfig) -> tuple[dict, float]:
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        result = run_search(config, Path(out), progress=False)
        return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--energy-generations", type=int, default=2)
    parser.add_argument("--energy-batch", type=int, default=8)
    args = parser.parse_args()
    default = EvolutionSettings()

    flops, flops_s = _timed_search(SearchConfig(space=TINY, geometry=CIFAR, constraints=LIMITS))
    exact, exact_s = _timed_search(SearchConfig(space=TINY, geometry=CIFAR, constraints=LIMITS, algorithm="exact"))
    gap = 1 - flops["best"]["macs"] / exact["best"]["macs"]

    # The energy search runs without the dataset check (there is no CIFAR here): the
    # evaluator gets the random batch directly and the loop is the one run_search drives.
    config = SearchConfig(space=TINY, geometry=CIFAR, constraints=LIMITS)
    space = validate(config)
    batch = torch.randn(args.energy_batch, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    settings = EvolutionSettings(generations=args.energy_generations)
    evolution = Evolution(space, Evaluator("flops", CIFAR, batch=batch), LIMITS, settings, seed=0)
    start = time.perf_counter()
    state = evolution.run(SearchState(), on_generation=lambda s: None)
    energy_s = time.perf_counter() - start
    evaluated = len(state.legal_records())
    rate = evaluated / energy_s

    result = {
        "space": TINY,
        "geometry": CIFAR.model_kwargs(),
        "param_limits_m": [11, 12],
        "settings": vars(default),
        "flops": {"wall_s": flops_s, "candidates": len(flops["candidates"]),
                  "candidates_per_s": len(flops["candidates"]) / flops_s, "best_macs": flops["best"]["macs"]},
        "exact": {"wall_s": exact_s, "best_macs": exact["best"]["macs"], "best_params": exact["best"]["params"],
                  "best_arch": exact["best"]["arch"]},
        "evolution_gap_to_exact": gap,
        "energy_recorded": {"generations": args.energy_generations, "batch": args.energy_batch,
                            "input": "random normal, CIFAR-10 shape (timing only)", "wall_s": energy_s,
                            "candidates": evaluated, "candidates_per_s": rate,
                            "projected_default_wall_s": default.population * default.generations / rate},
    }
    path = write_result("search", result)
    print(f"flops: {flops_s:.1f} s for {len(flops['candidates'])} candidates "
          f"({result['flops']['candidates_per_s']:.0f}/s), gap to exact {gap:.2%}; "
          f"with energy: {rate:.2f} candidates/s (default budget about {result['energy_recorded']['projected_default_wall_s'] / 60:.0f} min) -> {path}")


if __name__ == "__main__":
    main()
