"""Candidates scored per second: closed-form cost vs building the model and counting with thop.

    .venv/bin/python -m benchmarks.bench_scoring [--n 40]

Same architectures (seeded samples of spaces/spikformer_tiny.yaml, CIFAR-10 geometry) for
both paths, timed side by side in one run; writes benchmarks/results/scoring.json.
"""
from __future__ import annotations

import argparse
import random

import torch

from autost.cost import analytic_cost, count_macs
from autost.geometry import Geometry
from autost.model import build_model
from autost.space import SearchSpace
from benchmarks.common import median_seconds, write_result

CIFAR = Geometry(in_channels=3, img_size=32, patch_size=4, num_classes=10, time_steps=4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="architectures scored by the thop path")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    space = SearchSpace.from_yaml("spaces/spikformer_tiny.yaml")
    rng = random.Random(0)
    archs = [space.sample(rng) for _ in range(args.n)]
    geo = CIFAR.model_kwargs()
    example = torch.zeros(1, CIFAR.in_channels, CIFAR.img_size, CIFAR.img_size)

    def analytic():
        for arch in archs:
            analytic_cost(arch, **geo)

    def counted():
        for arch in archs:
            count_macs(build_model(arch, **geo), example)

    t_analytic, all_analytic = median_seconds(analytic, args.repeats * 20)
    t_counted, all_counted = median_seconds(counted, max(1, args.repeats // 2))
    result = {
        "architectures": len(archs),
        "space": "spaces/spikformer_tiny.yaml",
        "geometry": geo,
        "analytic_candidates_per_s": len(archs) / t_analytic,
        "thop_candidates_per_s": len(archs) / t_counted,
        "speedup": t_counted / t_analytic,
        "analytic_seconds": all_analytic,
        "thop_seconds": all_counted,
    }
    path = write_result("scoring", result)
    print(f"analytic {result['analytic_candidates_per_s']:,.0f}/s, thop {result['thop_candidates_per_s']:,.1f}/s, "
          f"speed-up {result['speedup']:,.0f}x -> {path}")


if __name__ == "__main__":
    main()
