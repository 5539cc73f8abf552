"""The papers' networks and the hybrid space: cost and init-time energy per attention type and
shortcut, and the exact solver's time on the hybrid tiny space.

1. Spikformer-4-384 at CIFAR shape (T 4) with each attention type in every block, under each
   shortcut (``spike``: Spikformer's and QKFormer's arrangement; ``membrane``: the Spike-driven
   Transformer's): params and MACs (closed form), and the init-time energy (spikformer-45nm,
   BatchNorm on batch statistics) on a uniform-noise CIFAR-shaped batch of 8 drawn with seed 0
   (CIFAR-10 is not on this machine; the figure says so), weights seeded with 0; with the share
   spent in the masks and sums of SDSA and Q-K attention and the share charged as MACs.
2. ``--algorithm exact`` on ``spaces/hybrid_tiny.yaml`` at CIFAR shape under 11-12 M params.

The closed form's error on the hybrid space is measured on real data by bench_closed_form.

``OMP_NUM_THREADS=1 python -m benchmarks.bench_hybrid`` -> ``benchmarks/results/hybrid.json``.
"""
from __future__ import annotations

import time

import torch

from autost.arch import Arch
from autost.cost import analytic_cost
from autost.geometry import Geometry
from autost.layers import SHORTCUTS
from autost.model import build_model
from autost.search.evaluate import Constraints
from autost.search.exact_solver import exact_flops_optimum
from autost.space import SearchSpace
from benchmarks.common import write_result
from energy.measure import measure_network

CIFAR = Geometry(in_channels=3, img_size=32, patch_size=4, num_classes=10, time_steps=4)
SPIKE_OPS = ("kv", "kv_sum", "q_sum", "mask")
BATCH = "uniform noise in [0, 1), 8 CIFAR-shaped images, seed 0 (CIFAR-10 is not on this machine)"


def per_type(batch: torch.Tensor) -> dict:
    rows = {}
    for shortcut in SHORTCUTS:
        for name in ("ssa", "sdsa", "qk"):
            arch = Arch(4, 384, (4,) * 4, (12,) * 4, (name,) * 4, shortcut=shortcut)
            cost = analytic_cost(arch, **CIFAR.model_kwargs())
            torch.manual_seed(0)
            report = measure_network(build_model(arch, **CIFAR.model_kwargs()), batch)
            masks = sum(layer.energy_mj for layer in report.layers if layer.name.rsplit(".", 1)[-1] in SPIKE_OPS)
            rows[f"{name}/{shortcut}"] = {
                "params": cost.params, "macs": cost.macs, "energy_mj": report.total_mj, "mac_mj": report.mac_mj,
                "mac_share": report.mac_mj / report.total_mj, "mask_and_sum_mj": masks,
                "mask_and_sum_share": masks / report.total_mj}
    return rows


def main() -> None:
    batch = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    rows = per_type(batch)
    space = SearchSpace.from_yaml("spaces/hybrid_tiny.yaml")
    start = time.perf_counter()
    macs, params, best = exact_flops_optimum(space, CIFAR, Constraints(11, 12), keep=1)[0]
    exact = {"wall_s": time.perf_counter() - start, "best_macs": macs, "best_params": params,
             "best_arch": best.to_dict()["RETRAIN"]}
    path = write_result("hybrid", {"spikformer_4_384_cifar": rows, "batch": BATCH, "energy_model": "spikformer-45nm",
                                   "exact_hybrid_tiny": exact, "command": "python -m benchmarks.bench_hybrid"})
    for name, row in rows.items():
        print(f"{name}: {row['params']:,} params, {row['macs'] / 1e9:.3f} GMACs, {row['energy_mj']:.4f} mJ at init "
              f"(MACs {row['mac_share']:.0%}, masks and sums {row['mask_and_sum_share']:.2%})")
    print(f"exact on hybrid tiny: {exact['wall_s']:.1f} s, {macs / 1e9:.4f} GMACs at {params / 1e6:.3f} M -> {path}")


if __name__ == "__main__":
    main()
