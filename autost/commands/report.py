"""`run.py report`: the HTML and Markdown report of a run folder."""
from __future__ import annotations

import argparse

from autost.commands.arguments import add_options
from autost.errors import UsageError
from autost.tables.commands import REPORT

OPTIONS = REPORT


def run(args: argparse.Namespace) -> int:
    from autost.io import atomic_write_json
    from autost.report.compare import compare_searches
    from autost.report.run import load_run, write_report
    from autost.rundir import check_writable

    data = load_run(args.run)
    out = check_writable(args.out or args.run / "report")
    if args.compare:
        other = load_run(args.compare)
        if data.search is None or other.search is None:
            raise UsageError("--compare needs a search.json in both --run and --compare")
        data.comparison = compare_searches(data.search, other.search,
                                           data_root=str(args.data_root) if args.data_root else None)
        atomic_write_json(out / "energy_models.json", data.comparison)
    page = write_report(data, out)
    print(f"report: {page} (and report.md beside it)")
    for line in data.missing:
        print(f"  not in the report: {line}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="write report.html and report.md for a run folder",
                       description="Write a self-contained report.html (plots embedded) and report.md (plots "
                                   "beside it) for a run folder: chosen architectures with params, MACs, init-time "
                                   "and trained energy (the energy model named, compute and memory apart), "
                                   "accuracy and firing rates; search progress, candidates and the proxy/energy "
                                   "Pareto front; energy per layer and per layer type, SNN against the same "
                                   "network as an ANN; training curves. With --compare, the two runs' candidates "
                                   "under both runs' energy models, side by side.")
    add_options(p, OPTIONS)
    p.set_defaults(func=run, options=OPTIONS)
