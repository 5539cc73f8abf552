"""`run.py sample`: draw architectures from a space and print their sizes."""
from __future__ import annotations

import argparse
import random
from pathlib import Path

from autost.cost import analytic_cost
from autost.space import SearchSpace


def run(args: argparse.Namespace) -> int:
    space = SearchSpace.from_yaml(args.space)
    rng = random.Random(args.seed)
    print(f"{space.name}: {space.size():,} architectures (sizes for 1x16x16 input, T 4, 10 classes)")
    for _ in range(args.n):
        arch = space.sample(rng)
        cost = analytic_cost(arch, in_channels=1, img_size=16, patch_size=4, time_steps=4, num_classes=10)
        print(f"  {arch.short():40s} {cost.params / 1e6:8.3f} M params  {cost.macs / 1e6:9.2f} M MACs")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="sample architectures from a space and print their sizes",
                       description="Sample architectures from a search space and print their parameter counts.")
    p.add_argument("--space", type=Path, default=Path("spaces/digits.yaml"), help="search space YAML")
    p.add_argument("--n", type=int, default=5, help="how many to sample (default 5)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=run)
