"""`run.py energy`: the spike energy of one architecture, at init or trained, with plots."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from autost.commands.arguments import add_options
from autost.tables.commands import ENERGY

if TYPE_CHECKING:
    from autost.arch import Arch
    from autost.geometry import Geometry

OPTIONS = ENERGY


def energy_summary(result: dict) -> str:
    """One line: total, its compute/memory split where the model has memory, MAC/AC, the ANN twin."""
    split = (f"compute {result['compute_mj']:.6g} + memory {result['memory_mj']:.6g}; " if result["memory_mj"]
             else "")
    return (f"{result['energy_mj']:.6g} mJ per sample under {result['energy_model']} ({split}MAC "
            f"{result['mac_mj']:.6g}, AC {result['ac_mj']:.6g}; as an ANN {result['ann_mj']:.6g}, as an INT8 ANN "
            f"{result['ann_int8_mj']:.6g})")


def run(args: argparse.Namespace) -> int:
    from autost.arch import Arch
    from autost.geometry import resolve_geometry
    from autost.memory import check_fits
    from autost.rundir import claim
    from energy.models import get_model

    get_model(args.energy_model)
    arch = Arch.from_yaml(args.arch)
    geometry = resolve_geometry(dataset=args.dataset, input_shape=None, num_classes=None, patch_size=None,
                                time_steps=args.time_steps).for_arch(arch)
    check_fits(arch, geometry, args.batch_size, use="forward")
    with claim(args.out) as out:
        return _measure(args, arch, geometry, out)


def _measure(args: argparse.Namespace, arch: Arch, geometry: Geometry, out: Path) -> int:
    from autost.batches import real_batch
    from autost.io import atomic_write_json
    from autost.report import plots
    from energy.measure import measure_energy

    batch = real_batch(args.dataset, batch_size=args.batch_size, time_steps=geometry.time_steps, seed=args.seed,
                       data_root=args.data_root, split="test")
    report = measure_energy(arch, geometry, batch, checkpoint=args.checkpoint, seed=args.seed,
                            energy_model=args.energy_model)
    stage = "trained" if args.checkpoint else "init"
    result = {"arch": arch.to_dict()["RETRAIN"], "dataset": args.dataset, "stage": stage,
              "checkpoint": str(args.checkpoint) if args.checkpoint else None, "batch_size": args.batch_size,
              "macs": report.macs, **report.to_dict()}
    atomic_write_json(out / "energy.json", result)
    layers = result["layers"]
    plots.firing_rates(layers, out / "firing_rates.png", title=f"Input firing rate per layer ({stage})")
    plots.energy_breakdown(layers, out / "energy_layers.png", model=args.energy_model)
    plots.snn_vs_ann([(arch.short(), report.total_mj, report.ann_mj, report.ann_int8_mj)], out / "snn_vs_ann.png",
                     model=args.energy_model)
    print(f"{arch.short()} ({stage}): {energy_summary(result)} -> {out / 'energy.json'}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("energy", help="spike energy of one architecture, at init or trained, with plots",
                       description="Estimate the energy per sample of one architecture from a real test batch: "
                                   "freshly initialized (BatchNorm on batch statistics) or, with --checkpoint, "
                                   "trained (running statistics), under one energy model. Writes OUT/energy.json "
                                   "and per-layer plots.")
    add_options(p, OPTIONS)
    p.set_defaults(func=run, options=OPTIONS)
