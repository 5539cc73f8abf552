"""`run.py supernet train`: train the weight-sharing supernet of a space (``autost.supernet``)."""
from __future__ import annotations

import argparse
from pathlib import Path

from autost.commands.arguments import out_folder
from autost.supernet import SUMMARY, SupernetConfig, train_supernet


def run(args: argparse.Namespace) -> int:
    config = SupernetConfig(space=str(args.space), dataset=args.dataset, steps=args.steps, batch_size=args.batch_size,
                            lr=args.lr, time_steps=args.time_steps, seed=args.seed, limit=args.limit,
                            save_every=args.save_every, calibration_batches=args.calibration_batches,
                            data_root=str(args.data_root) if args.data_root else None)
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
    t.add_argument("--space", type=Path, required=True, help="search space YAML")
    t.add_argument("--dataset", required=True, help="dataset to train on (digits and ndigits are embedded)")
    t.add_argument("--data-root", type=Path, help="folder holding the non-embedded datasets")
    t.add_argument("--out", type=out_folder, required=True, help="output folder")
    t.add_argument("--steps", type=int, default=200, help="training steps (default 200)")
    t.add_argument("--batch-size", type=int, default=32, help="batch size (default 32)")
    t.add_argument("--lr", type=float, default=1e-3, help="AdamW learning rate (default 1e-3)")
    t.add_argument("--time-steps", type=int, default=4, help="time steps T (default 4)")
    t.add_argument("--seed", type=int, default=0, help="seed of weights, batches and sampled candidates (default 0)")
    t.add_argument("--limit", type=int, help="train on the first N samples only")
    t.add_argument("--save-every", type=int, default=50, help="checkpoint every N steps (default 50)")
    t.add_argument("--calibration-batches", type=int, default=4,
                   help="training batches that recalibrate BatchNorm when --score supernet rates a candidate "
                        "(default 4)")
    t.add_argument("--resume", action="store_true", help="continue the supernet in OUT")
    t.set_defaults(func=run)
