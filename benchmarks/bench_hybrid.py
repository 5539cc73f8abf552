"""The hybrid spaces (issue 15): cost and init-time energy per attention type, the closed-form
energy's error on a hybrid space, and the exact solver's time on the hybrid tiny space.

1. Spikformer-4-384 at CIFAR shape (T 4) with each attention type in every block: params and
   MACs (closed form), init-time energy on a seeded random CIFAR-shaped batch (8), and the
   share of that energy spent in the masks and sums of SDSA and Q-K attention.
2. ``spaces/digits_hybrid.yaml`` on a real digits batch: the closed-form energy against the
   measured estimate over random architectures (as bench_closed_form does for AutoST's spaces).
3. ``--algorithm exact`` on ``spaces/hybrid_tiny.yaml`` at CIFAR shape under 11-12 M params.

``python -m benchmarks.bench_hybrid`` -> ``benchmarks/results/hybrid.json`` (one thread).
"""
from __future__ import annotations

import argparse
import time

import torch

from autost.arch import Arch
from autost.batches import real_batch
from autost.cost import analytic_cost
from autost.geometry import resolve_geometry
from autost.model import build_model
from autost.search.evaluate import Constraints
from autost.search.exact import exact_flops_optimum
from autost.space import SearchSpace
from benchmarks.bench_closed_form import CIFAR, _compare
from benchmarks.common import write_result
from energy.estimate import estimate_energy

SPIKE_OPS = ("kv", "kv_sum", "q_sum", "mask")


def _per_type(batch: torch.Tensor) -> dict:
    rows = {}
    for name in ("ssa", "sdsa", "qk"):
        arch = Arch(4, 384, (4,) * 4, (12,) * 4, (name,) * 4)
        cost = analytic_cost(arch, **CIFAR.model_kwargs())
        torch.manual_seed(0)
        report = estimate_energy(build_model(arch, **CIFAR.model_kwargs()), batch)
        masks = sum(layer.energy_mj for layer in report.layers if layer.name.rsplit(".", 1)[-1] in SPIKE_OPS)
        rows[name] = {"params": cost.params, "macs": cost.macs, "energy_mj": report.total_mj,
                      "mask_and_sum_mj": masks, "mask_and_sum_share": masks / report.total_mj}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="random architectures of the digits hybrid space")
    args = parser.parse_args()
    cifar_batch = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    per_type = _per_type(cifar_batch)

    digits = resolve_geometry(dataset="digits", input_shape=None, num_classes=None, patch_size=None, time_steps=4)
    digits_batch = real_batch("digits", batch_size=32, time_steps=4, seed=0)
    closed_form, _ = _compare("spaces/digits_hybrid.yaml", digits, digits_batch, args.n)

    space = SearchSpace.from_yaml("spaces/hybrid_tiny.yaml")
    start = time.perf_counter()
    macs, params, best = exact_flops_optimum(space, CIFAR, Constraints(11, 12), keep=1)[0]
    exact = {"wall_s": time.perf_counter() - start, "best_macs": macs, "best_params": params,
             "best_arch": best.to_dict()["RETRAIN"]}

    path = write_result("hybrid", {"spikformer_4_384_cifar": per_type, "digits_hybrid_closed_form": closed_form,
                                   "exact_hybrid_tiny": exact})
    for name, row in per_type.items():
        print(f"{name}: {row['params']:,} params, {row['macs'] / 1e9:.3f} GMACs, {row['energy_mj']:.4f} mJ at init "
              f"(masks and sums {row['mask_and_sum_share']:.2%})")
    e = closed_form["relative_error"]
    print(f"digits hybrid closed form: error mean {e['mean']:.2%}, max {e['max']:.2%}")
    print(f"exact on hybrid tiny: {exact['wall_s']:.1f} s, {macs / 1e9:.4f} GMACs at {params / 1e6:.3f} M "
          f"-> {path}")


if __name__ == "__main__":
    main()
