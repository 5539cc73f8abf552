"""Command-line interface: parses arguments and calls library functions.

Every subcommand turns bad input into one line on stderr and exit status 2 (argparse's own
usage errors included), an operating-system error (a full disk, a path too long) into one line
and exit status 1, and Ctrl-C into one line and exit status 130 (128 + SIGINT, the shell's
convention).

Every option is checked by its table (``autost.tables``) before the command runs. The parsers are
built from those tables and the command modules import their work when they run, so ``--help``
loads no torch and answers at once.
"""
from __future__ import annotations

import argparse
import sys
from typing import Iterator, NoReturn

from autost.commands import (correlate, energy, import_model, pipeline, profile, report, sample, search, supernet,
                             train)
from autost.commands.arguments import add_options, mapping
from autost.errors import UsageError
from autost.options import read
from autost.tables.common import EVERY_COMMAND
from autost.threads import apply_threads

COMMANDS = (pipeline, search, train, energy, report, profile, sample, correlate, supernet, import_model)


class Parser(argparse.ArgumentParser):
    """argparse with a usage error on one line (the usage itself is one ``--help`` away)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="run.py",
        description="AutoST: training-free search for energy-efficient spiking transformers.",
        epilog="Typical use: run.py pipeline --config configs/demo.yaml (search, train, energy, report on the "
               "embedded data), or the stages one by one: search -> train --from-search -> report. "
               "`run.py COMMAND --help` lists each command's options.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.register(sub)
    for p in _leaves(parser):
        add_options(p, EVERY_COMMAND)
    return parser


def _leaves(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    """The parsers that take a command's own options: each subcommand's, or for a command with
    actions of its own (``supernet train``) each action's, where its options are written."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                nested = any(isinstance(a, argparse._SubParsersAction) for a in child._actions)
                yield from _leaves(child) if nested else (child,)


def os_error(err: OSError) -> str:
    """An operating-system error as one line: what failed, on which file."""
    reason = err.strerror or type(err).__name__
    return f"{err.filename}: {reason}" if err.filename else reason


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        table = (*args.options, *EVERY_COMMAND)
        checked = read(table, mapping(args, table), None, f"run.py {args.command}")
        apply_threads(args.threads)
        from autost.memory import memory_limit

        with memory_limit(checked["max_memory"]):
            return args.func(args)
    except KeyboardInterrupt:
        # Results are written atomically and checkpoints after each epoch or generation, so
        # nothing is half-written: say how to go on instead of printing a traceback.
        if not hasattr(args, "resume"):
            print("interrupted", file=sys.stderr)
        elif args.resume:
            print("interrupted; run the same command again to resume", file=sys.stderr)
        else:
            print("interrupted; resume with the same command plus --resume", file=sys.stderr)
        return 130
    except (UsageError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"error: {os_error(err)}", file=sys.stderr)
        return 1
