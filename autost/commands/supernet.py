"""`run.py supernet train`: train the weight-sharing supernet of a space (``autost.supernet``)."""
from __future__ import annotations

import argparse

from autost.commands.arguments import add_options
from autost.tables.commands import SUPERNET, SUPERNET_COMMAND

OPTIONS = SUPERNET_COMMAND


def run(args: argparse.Namespace) -> int:
    from autost.supernet import SUMMARY, SupernetConfig, train_supernet

    values = {o.name: getattr(args, o.name) for o in SUPERNET}
    config = SupernetConfig(**{**values, "space": str(args.space),
                               "data_root": str(args.data_root) if args.data_root else None})
    result = train_supernet(config, args.out, resume=args.resume)
    print(f"supernet of {result['largest']} trained for {result['steps_done']} steps "
          f"({result['passes_per_step']} candidates each) in {result['elapsed_s']:.1f} s; {args.out / SUMMARY}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("supernet", help="train a weight-sharing supernet of a space (for --score supernet)")
    actions = p.add_subparsers(dest="action", required=True)
    t = actions.add_parser(
        "train", help="train the supernet",
        description="Train one weight-entangled supernet of the space: each candidate takes the leading slices of "
                    "the largest network's weights; every step trains the largest, the smallest and two random "
                    "candidates on one batch (the sandwich rule). T, attention type and shortcut cannot share "
                    "weights: a space with more than one choice of them is refused. Writes OUT/supernet.pt and "
                    "OUT/supernet.json; a killed run continues with --resume.")
    add_options(t, OPTIONS)
    t.set_defaults(func=run, options=OPTIONS)
