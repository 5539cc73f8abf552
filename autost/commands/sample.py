"""`run.py sample`: draw architectures from a space and print their sizes."""
from __future__ import annotations

import argparse
import random

from autost.commands.arguments import add_options
from autost.geometry import Geometry
from autost.tables.commands import SAMPLE

OPTIONS = SAMPLE
# the input the sizes are counted for: digits-like images
GEOMETRY = Geometry(in_channels=1, img_size=16, patch_size=4, num_classes=10, time_steps=4)


def _millions(n: int, width: int, digits: int) -> str:
    """``n`` in millions, also beyond a float's range (an absurd MLP_RATIO)."""
    from autost.memory import count_text

    return f"{n / 1e6:{width}.{digits}f}" if n < 10 ** 300 else f"{count_text(n // 10 ** 6):>{width}s}"


def run(args: argparse.Namespace) -> int:
    from autost.cost import analytic_cost
    from autost.memory import check_space, count_text, label
    from autost.space import SearchSpace

    space = SearchSpace.from_yaml(args.space)
    check_space(space, GEOMETRY, 1, use=None)  # counting only: a space too deep to count is refused here
    rng = random.Random(args.seed)
    print(f"{space.name}: {count_text(space.size())} architectures (sizes for 1x16x16 input, T 4, 10 classes)")
    for _ in range(args.n):
        arch = space.sample(rng)
        cost = analytic_cost(arch, **GEOMETRY.model_kwargs())
        print(f"  {label(arch):40s} {_millions(cost.params, 8, 3)} M params  {_millions(cost.macs, 9, 2)} M MACs")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sample", help="sample architectures from a space and print their sizes",
                       description="Sample architectures from a search space and print their parameter counts.")
    add_options(p, OPTIONS)
    p.set_defaults(func=run, options=OPTIONS)
