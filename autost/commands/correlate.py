"""`run.py correlate`: how well does each training-free proxy rank architectures by trained accuracy?"""
from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from autost.commands.arguments import add_options
from autost.tables.study import STUDY, STUDY_COMMAND

if TYPE_CHECKING:
    from autost.correlate import StudyConfig

OPTIONS = STUDY_COMMAND


def config_from_args(args: argparse.Namespace) -> StudyConfig:
    """The ``StudyConfig`` that the options describe (it checks itself with ``STUDY``)."""
    from autost.correlate import StudyConfig

    values = {o.name: getattr(args, o.name) for o in STUDY}
    values.update(space=str(args.space), data_root=str(args.data_root) if args.data_root else None,
                  param_limits=tuple(args.param_limits) if args.param_limits else None,
                  ensembles=tuple(args.ensembles or ()), supernet=str(args.supernet) if args.supernet else None)
    return StudyConfig(**values)


def run(args: argparse.Namespace) -> int:
    from autost.correlate import RESULT, run_study

    def log(message: str) -> None:
        if args.verbose:
            print(message, file=sys.stderr, flush=True)

    result = run_study(config_from_args(args), args.out, resume=args.resume, log=log, workers=args.workers,
                       ray_address=args.ray_address, rescore=args.rescore)
    _print_table("against test accuracy", result["ranking"], result["stats"])
    if result.get("energy_stats"):
        _print_table("against the trained network's energy", result["energy_ranking"], result["energy_stats"])
    print(f"{len(result['table'])} architectures; table and statistics in {args.out / RESULT}")
    return 0


def _print_table(title: str, order: list[str], stats: dict) -> None:
    print(title + " (size-controlled: Kendall tau within bins of near-equal MACs, partial Spearman given log MACs)")
    print(f"{'proxy':22s} {'Kendall tau':>11s} {'95% interval':>16s} {'Spearman rho':>13s} "
          f"{'binned tau':>10s} {'95% interval':>16s} {'partial rho':>11s}")
    for proxy in order:
        s, c = stats[proxy], stats[proxy]["size_controlled"]
        print(f"{proxy:22s} {_num(s['kendall_tau']):>11s} {_ci(s['kendall_ci']):>16s} {_num(s['spearman_rho']):>13s} "
              f"{_num(c['binned_kendall']):>10s} {_ci(c['binned_kendall_ci']):>16s} {_num(c['partial_spearman']):>11s}")


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.3f}"


def _ci(interval: list[float] | None) -> str:
    return "" if not interval else f"[{interval[0]:+.2f}, {interval[1]:+.2f}]"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "correlate", help="rank-correlate every training-free proxy with trained accuracy",
        description="Sample N architectures of a space (stratified over depth and width), score each at "
                    "initialization with every proxy (MACs, init-time energy and every registered score: params, "
                    "AutoST's MACs + lambda/NASWOT, NASWOT, SAHD, synflow, grad-norm, ZiCo; a trained supernet's with "
                    "--supernet), train each for "
                    "--epochs, and write Kendall's tau and Spearman's rho of each proxy against test accuracy and against the trained network's "
                    "energy, overall and size-controlled (within bins of near-equal MACs; partial rank correlation "
                    "given log MACs), with bootstrap intervals, to "
                    "OUT/correlate.json, with plots. Training runs go to OUT/runs/NNN; a killed study continues "
                    "with --resume.")
    add_options(p, OPTIONS)
    p.set_defaults(func=run, options=OPTIONS)
