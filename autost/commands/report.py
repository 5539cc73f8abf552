"""`run.py report`: the HTML and Markdown report of a run folder."""
from __future__ import annotations

import argparse
from pathlib import Path

from autost.commands.arguments import out_folder
from autost.errors import UsageError
from autost.io import atomic_write_json
from autost.rundir import check_writable
from autost.report.compare import compare_searches
from autost.report.run import load_run, write_report


def run(args: argparse.Namespace) -> int:
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
    p.add_argument("--run", type=Path, required=True, help="run folder (a pipeline's --out, or a search's --out)")
    p.add_argument("--out", type=out_folder, help="where to write the report (default RUN/report)")
    p.add_argument("--compare", type=Path, metavar="RUN_B",
                   help="a second run (same dataset) searched under another energy model: RUN's top-k and "
                        "RUN_B's front (or top-k) are measured under both models (table, plot, energy_models.json)")
    p.add_argument("--data-root", type=Path, help="with --compare: folder holding the non-embedded datasets")
    p.set_defaults(func=run)
