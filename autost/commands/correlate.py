"""`run.py correlate`: how well does each training-free proxy rank architectures by trained accuracy?"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autost.commands.arguments import out_folder
from autost.commands.energy import add_energy_model_argument
from autost.correlate import RESULT, StudyConfig, run_study


def config_from_args(args: argparse.Namespace) -> StudyConfig:
    return StudyConfig(
        space=str(args.space), dataset=args.dataset, n=args.n, epochs=args.epochs, seed=args.seed,
        param_limits=tuple(args.param_limits) if args.param_limits else None, time_steps=args.time_steps,
        batch_size=args.batch_size, train_batch_size=args.train_batch_size, limit=args.limit, lam=args.lam,
        resamples=args.resamples, energy_model=args.energy_model, ensembles=tuple(args.ensemble or ()),
        data_root=str(args.data_root) if args.data_root else None)


def run(args: argparse.Namespace) -> int:
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
    print(title)
    print(f"{'proxy':10s} {'Kendall tau':>11s} {'95% interval':>16s} {'Spearman rho':>13s}")
    for proxy in order:
        s = stats[proxy]
        tau = "n/a" if s["kendall_tau"] is None else f"{s['kendall_tau']:+.3f}"
        ci = "" if not s["kendall_ci"] else f"[{s['kendall_ci'][0]:+.2f}, {s['kendall_ci'][1]:+.2f}]"
        rho = "n/a" if s["spearman_rho"] is None else f"{s['spearman_rho']:+.3f}"
        print(f"{proxy:10s} {tau:>11s} {ci:>16s} {rho:>13s}")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "correlate", help="rank-correlate every training-free proxy with trained accuracy",
        description="Sample N architectures of a space (stratified over depth and width), score each at "
                    "initialization with every proxy (MACs, init-time energy and every registered score: params, "
                    "AutoST's MACs + lambda/NASWOT, NASWOT, SAHD, synflow, grad-norm, ZiCo), train each for "
                    "--epochs, and write Kendall's tau and Spearman's rho of each proxy against test accuracy and against the trained network's "
                    "energy, with bootstrap intervals, to "
                    f"OUT/{RESULT}, with plots. Training runs go to OUT/runs/NNN; a killed study continues "
                    "with --resume.")
    p.add_argument("--space", type=Path, required=True, help="search space YAML (AutoST SEARCH_SPACE format)")
    p.add_argument("--dataset", required=True, help="dataset to score and train on (digits and ndigits are embedded)")
    p.add_argument("--data-root", type=Path, help="folder holding the non-embedded datasets (fashion-mnist/nfashion default to /usr/share/datasets where Debian's dataset-fashion-mnist is installed)")
    p.add_argument("--out", type=out_folder, required=True, help="output folder")
    p.add_argument("--n", type=int, default=30, help="architectures to sample and train (default 30)")
    p.add_argument("--epochs", type=int, default=3, help="training epochs per architecture (default 3)")
    p.add_argument("--seed", type=int, default=0, help="seed of sampling, weights, batch and training (default 0)")
    p.add_argument("--param-limits", type=float, nargs=2, metavar=("MIN", "MAX"),
                   help="sample architectures with MIN..MAX million parameters")
    p.add_argument("--time-steps", type=int, default=4, help="time steps T for scoring and training (default 4)")
    p.add_argument("--batch-size", type=int, default=32,
                   help="real batch for energy, NASWOT/SAHD and grad-norm (default 32)")
    p.add_argument("--train-batch-size", type=int, default=16,
                   help="training batch size (default 16: a short run needs about 100 optimizer steps before "
                        "BatchNorm's running statistics, and so test accuracy, mean anything)")
    p.add_argument("--limit", type=int, help="train and test on the first N samples of each split (quick runs)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="train N architectures at once in local processes (one torch thread each)")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="one architecture per Ray task on the cluster at ADDR ('local' starts one)")
    p.add_argument("--lambda", dest="lam", type=float, default=1.0,
                   help="lambda of the AutoST proxy MACs + lambda/NASWOT (default 1; 0 would make it MACs)")
    p.add_argument("--ensemble", action="append", metavar="ensemble:A+B",
                   help="also record this rank ensemble of registered scores (repeatable)")
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1000)")
    p.add_argument("--resume", action="store_true", help="continue the study in OUT")
    p.add_argument("--rescore", action="store_true",
                   help="with --resume: score the study's architectures again with the current proxies, keeping "
                        "their training results (after a proxy's definition changed)")
    add_energy_model_argument(p)
    p.add_argument("--verbose", action="store_true", help="print the training's per-epoch lines")
    p.set_defaults(func=run)
