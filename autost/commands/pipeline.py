"""`run.py pipeline`: search, train the top-k, measure energy and report, from one config."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autost.commands.arguments import add_options
from autost.tables.commands import PIPELINE

OPTIONS = PIPELINE


def run(args: argparse.Namespace) -> int:
    from autost.pipeline import load_config, run_pipeline

    config = load_config(args.config, args.set or [])
    out = args.out or Path("runs") / args.config.stem
    run_pipeline(config, out, resume=args.resume, data_root=str(args.data_root) if args.data_root else None,
                 log=lambda message: print(message, file=sys.stderr, flush=True))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pipeline", help="the whole flow from one config: search, train, energy, report",
                       description="Run AutoST end to end from a YAML config with the sections search, train, "
                                   "energy and report (keys: the options of those subcommands). Writes "
                                   "OUT/search, OUT/train/DATASET/NN, OUT/energy and OUT/report; a killed run "
                                   "continues with --resume without redoing finished stages.")
    add_options(p, OPTIONS)
    p.set_defaults(func=run, options=OPTIONS)
