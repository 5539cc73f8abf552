"""`run.py profile`: size, MACs, init-time energy and activation-code scores of one architecture."""
from __future__ import annotations

import argparse
import json

from autost.commands.arguments import add_options
from autost.commands.energy import energy_summary
from autost.tables.commands import PROFILE

OPTIONS = PROFILE


def profile(args: argparse.Namespace) -> dict:
    """The numbers `run.py profile` prints, as one dict."""
    import torch

    from autost.arch import Arch
    from autost.batches import real_batch
    from autost.cost import analytic_cost, count_macs, count_params
    from autost.geometry import resolve_geometry
    from autost.memory import check_fits
    from autost.model import build_model
    from autost.scores.codes import activation_scores
    from energy.measure import measure_network
    from energy.models import get_model

    get_model(args.energy_model)
    arch = Arch.from_yaml(args.arch)
    geo = resolve_geometry(dataset=args.dataset, input_shape=args.input_shape, num_classes=args.num_classes,
                           patch_size=args.patch_size, time_steps=args.time_steps).for_arch(arch)
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
        result.update(measure_network(model, batch, args.energy_model).to_dict())
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


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("profile", help="params, MACs, init-time energy and NASWOT/SAHD of one architecture",
                       description="Count the parameters and MACs of one architecture; with --dataset also "
                                   "estimate its spike energy at initialization from a real batch (per-layer "
                                   "table) and its NASWOT and SAHD activation-code scores.")
    add_options(p, OPTIONS)
    p.set_defaults(func=run, options=OPTIONS)
