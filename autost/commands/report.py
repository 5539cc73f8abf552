"""`run.py report`: the HTML and Markdown report of a run folder."""
from __future__ import annotations

import argparse
from pathlib import Path

from energy.report import load_run, write_report


def run(args: argparse.Namespace) -> int:
    page = write_report(load_run(args.run), args.out or args.run / "report")
    print(f"report: {page} (and report.md beside it)")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write report.html and report.md for a run folder",
                       description="Write a self-contained report.html (plots embedded) and report.md (plots "
                                   "beside it) for a run folder: chosen architectures with params, MACs, init-time "
                                   "and trained energy, accuracy and firing rates; search progress, candidates and "
                                   "the proxy/energy Pareto front; per-layer energy; training curves.")
    p.add_argument("--run", type=Path, required=True, help="run folder (a pipeline's --out, or a search's --out)")
    p.add_argument("--out", type=Path, help="where to write the report (default RUN/report)")
    p.set_defaults(func=run)
