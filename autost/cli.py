"""Command-line interface: parses arguments and calls library functions.

Every subcommand turns bad input into one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from autost.arch import Arch
from autost.model import build_model
from autost.space import SearchSpace


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


def _sample(args: argparse.Namespace) -> int:
    space = SearchSpace.from_yaml(args.space)
    rng = random.Random(args.seed)
    print(f"{space.name}: {space.size():,} architectures")
    for _ in range(args.n):
        arch = space.sample(rng)
        model = build_model(arch, in_channels=1, img_size=16, patch_size=4, time_steps=4, num_classes=10)
        params = sum(p.numel() for p in model.parameters())
        print(f"  {arch.short():40s} {params / 1e6:8.3f} M params")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run.py",
        description="AutoST: training-free search for energy-efficient spiking transformers.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("sample", help="sample architectures from a space and print their sizes")
    p.add_argument("--space", type=Path, default=Path("spaces/digits.yaml"), help="search space YAML")
    p.add_argument("--n", type=int, default=5, help="how many to sample (default 5)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_sample)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
