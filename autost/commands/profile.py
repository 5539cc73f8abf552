"""`run.py profile`: size, MACs, init-time energy and activation-code scores of one architecture."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from autost.arch import Arch
from autost.batches import real_batch
from autost.cost import analytic_cost, count_macs, count_params
from autost.geometry import resolve_geometry
from autost.memory import check_fits
from autost.model import build_model
from autost.scores.codes import activation_scores
from autost.commands.energy import add_energy_model_argument, energy_summary
from autost.validate import at_least
from datasets import DATASETS
from energy.estimators import estimate
from energy.models import get_model


def profile(args: argparse.Namespace) -> dict:
    """The numbers `run.py profile` prints, as one dict."""
    get_model(args.energy_model)
    arch = Arch.from_yaml(args.arch)
    geo = resolve_geometry(dataset=args.dataset, input_shape=args.input_shape, num_classes=args.num_classes,
                           patch_size=args.patch_size, time_steps=args.time_steps).for_arch(arch)
    at_least("--batch-size", args.batch_size)
    # with data: NASWOT and SAHD keep every spike; without, thop counts one sample
    check_fits(arch, geo, args.batch_size if args.dataset else 1, use="codes" if args.dataset else "forward")
    torch.manual_seed(args.seed)
    model = build_model(arch, **geo.model_kwargs())
    example = torch.zeros(1, geo.in_channels, geo.img_size, geo.img_size)
    result = {
        "arch": arch.to_dict()["RETRAIN"],
        "params": count_params(model),
        "macs": count_macs(model, example),
        "macs_analytic": analytic_cost(arch, **geo.model_kwargs()).macs,
    }
    if args.dataset:
        batch = real_batch(args.dataset, batch_size=args.batch_size, time_steps=geo.time_steps, seed=args.seed,
                           data_root=args.data_root)
        result.update(estimate(model, batch, args.energy_model).to_dict())
        scores = activation_scores(model, batch)
        result.update(naswot=scores.naswot, sahd=scores.sahd)
    return result


def _print_table(result: dict) -> None:
    print(f"params         {result['params']:,}")
    print(f"MACs (thop)    {result['macs']:,}   (one sample, all time steps)")
    print(f"MACs (closed)  {result['macs_analytic']:,}")
    if "energy_mj" not in result:
        return
    print(f"energy         {energy_summary(result)}")
    print(f"energy model   {result['energy_model']}: {result['energy_charges']}; {result['energy_source']}")
    for note in result["energy_notes"]:
        print(f"               {note}")
    print(f"NASWOT {result['naswot']:.3f}   SAHD {result['sahd']:.3f}")
    print(f"\n{'layer':34s} {'kind':6s} {'MACs':>14s} {'ops':>14s} {'rate':>7s} {'compute mJ':>12s} {'memory mJ':>12s}")
    for layer in result["layers"]:
        print(f"{layer['name']:34s} {layer['kind']:6s} {layer['macs']:14,d} {layer['ops']:14,.0f} "
              f"{layer['firing_rate']:7.3f} {layer['compute_mj']:12.3e} {layer['memory_mj']:12.3e}")


def run(args: argparse.Namespace) -> int:
    result = profile(args)
    if args.json:
        print(json.dumps(result))
    else:
        _print_table(result)
    return 0


def add_geometry_arguments(p: argparse.ArgumentParser) -> None:
    """Options shared by every command that builds models for an input: dataset or shape."""
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", help="dataset whose real batches feed energy and activation scores "
                                       f"({', '.join(DATASETS.names())})")
    src.add_argument("--input-shape", metavar="CxHxW", help="input shape when no data is needed, e.g. 3x32x32")
    p.add_argument("--data-root", type=Path, help="folder holding real datasets (not needed for digits/ndigits; fashion-mnist/nfashion default to /usr/share/datasets where Debian's dataset-fashion-mnist is installed)")
    p.add_argument("--time-steps", type=int, default=4, help="time steps T (default 4)")
    p.add_argument("--num-classes", type=int, help="classes (default: the dataset's; required with --input-shape)")
    p.add_argument("--patch-size", type=int, help="patch size (default: the dataset's; required with --input-shape)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profile", help="params, MACs, init-time energy and NASWOT/SAHD of one architecture",
                       description="Count the parameters and MACs of one architecture; with --dataset also "
                                   "estimate its spike energy at initialization from a real batch (per-layer "
                                   "table) and its NASWOT and SAHD activation-code scores.")
    p.add_argument("--arch", type=Path, required=True, help="architecture YAML (AutoST RETRAIN format)")
    add_geometry_arguments(p)
    p.add_argument("--batch-size", type=int, default=32, help="real batch size for energy and scores (default 32)")
    p.add_argument("--seed", type=int, default=0, help="seed for the weights and the batch (default 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    add_energy_model_argument(p)
    p.set_defaults(func=run)
