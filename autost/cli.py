"""Command-line interface: parses arguments and calls library functions.

Every subcommand turns bad input into one line on stderr and exit status 2.
"""
from __future__ import annotations

import argparse
import sys

from autost.commands import correlate, energy, pipeline, profile, report, sample, search, train
from autost.errors import UsageError

COMMANDS = (pipeline, search, train, energy, report, profile, sample, correlate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="run.py",
        description="AutoST: training-free search for energy-efficient spiking transformers.",
        epilog="Typical use: run.py pipeline --config configs/demo.yaml (search, train, energy, report on the "
               "embedded data), or the stages one by one: search -> train --from-search -> report. "
               "`run.py COMMAND --help` lists each command's options.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
