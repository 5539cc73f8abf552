"""`run.py import`: a SpikingJelly 2.0 Spikformer as our architecture file and checkpoint, so that
`profile`, `energy` and `train --init-weights` work on it."""
from __future__ import annotations

import argparse
import dataclasses

from autost.commands.arguments import add_options
from autost.tables.commands import IMPORT
from autost.tables.common import TIME_STEPS

OPTIONS = IMPORT
# the --time-steps default of every command: another T is written as the TIME_STEPS gene
DEFAULT_STEPS = TIME_STEPS.default


def run(args: argparse.Namespace) -> int:
    from autost.convert import (MODEL_FILE, ImportRefused, from_spikingjelly, load_spikingjelly_weights, save_import,
                                spikingjelly_geometry, spikingjelly_model)
    from autost.cost import analytic_cost
    from autost.io import atomic_write_json
    from autost.rundir import claim
    from datasets import dataset_info

    info = dataset_info(args.dataset)
    theirs = spikingjelly_model(args.spikingjelly, in_channels=info.in_channels, img_size=info.img_size,
                                num_classes=info.num_classes, time_steps=args.time_steps)
    if args.checkpoint is not None:
        load_spikingjelly_weights(theirs, str(args.checkpoint))
    geometry = spikingjelly_geometry(theirs)
    wanted = (info.in_channels, info.img_size, info.patch_size, info.num_classes)
    if (geometry.in_channels, geometry.img_size, geometry.patch_size, geometry.num_classes) != wanted:
        raise ImportRefused(f"{args.spikingjelly} takes {geometry.in_channels}x{geometry.img_size}x{geometry.img_size} "
                            f"images at patch {geometry.patch_size} in {geometry.num_classes} classes; {args.dataset} "
                            f"is {info.in_channels}x{info.img_size}x{info.img_size}, patch {info.patch_size}, "
                            f"{info.num_classes} classes: give the dataset it was built for")
    ours = from_spikingjelly(theirs)
    arch = ours.arch if args.time_steps == DEFAULT_STEPS else dataclasses.replace(ours.arch,
                                                                                   time_steps=args.time_steps)
    cost = analytic_cost(arch, in_channels=info.in_channels, img_size=info.img_size, patch_size=info.patch_size,
                         time_steps=args.time_steps, num_classes=info.num_classes)
    source = f"spikingjelly:{args.spikingjelly}"
    weights = str(args.checkpoint) if args.checkpoint else "SpikingJelly's initialization"
    with claim(args.out) as out:
        save_import(ours.state_dict(), arch, args.dataset, out, source=source, weights=weights)
        atomic_write_json(out / "import.json", {
            "source": f"spikingjelly.activation_based.model.spikformer.{args.spikingjelly}", "weights": weights,
            "dataset": args.dataset, "time_steps": args.time_steps, "arch": arch.to_dict()["RETRAIN"],
            "params": cost.params, "macs": cost.macs})
    print(f"{arch.short()}: {cost.params:,} params, {cost.macs / 1e9:.3f} GMACs -> {out / 'arch.yaml'}, "
          f"{out / MODEL_FILE}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="turn a SpikingJelly Spikformer into an architecture file and checkpoint",
                       description="Build SpikingJelly 2.0's Spikformer (its weights from --checkpoint, else its "
                                   "initialization), check that it is a network ours computes output for output, "
                                   "and write OUT/arch.yaml, OUT/model.pt (our checkpoint format, for energy "
                                   "--checkpoint and train --init-weights) and OUT/import.json.")
    add_options(p, OPTIONS)
    p.set_defaults(func=run, options=OPTIONS)
