"""The hybrid spaces (issue 15): cost and init-time energy per attention type, the closed-form
energy's error on a hybrid space, and the exact solver's time on the hybrid tiny space.

1. Spikformer-4-384 at CIFAR shape (T 4) with each attention type in every block: params and
   MACs (closed form), init-time energy on a seeded random CIFAR-shaped batch (8), and the
   share of that energy spent in the masks and sums of SDSA and Q-K attention.
2. ``spaces/digits_hybrid.yaml`` on a real digits batch: the closed-form energy against the
   measured estimate over random architectures (as bench_closed_form does for AutoST's spaces).
3. ``--algorithm exact`` on ``spaces/hybrid_tiny.yaml`` at CIFAR shape under 11-12 M params.
4. The rate table and T (``time_steps_rates``): on ``spaces/digits_hybrid.yaml`` (digits batch)
   and ``spaces/hybrid_tiny.yaml`` (the random CIFAR-shaped batch of 8: CIFAR-10 is not on this
   machine), the closed form's error against the measured estimate over ``--n-t`` random
   architectures (mean, median, max, and the mean per T), side by side for four tables:
   ``before`` (positions without T, the calibration of commit db6cf43); ``after`` (T in every
   position, the calibration of ``energy.closed_form``: each (attention, tau, threshold) at one
   T, each (T, attention) at one neuron setting, each (T, tau, threshold) with the first
   sample's attention types, the rest factored); ``t_apart_from_neurons`` (``after`` without its
   (T, tau, threshold) variants: T factored apart from the neurons, as if they did not
   interact); ``full_product`` (every (T, attention, tau, threshold) measured on every block:
   what the factoring approximates). Each table averages the
   per-architecture calibrations of its architectures (as ``calibrate`` does); its
   ``calibration_s`` sums their forward passes. Every table is looked up by the current code
   (``before`` with T dropped from the positions), so ``before``'s candidates/s is not the old
   code's.

``python -m benchmarks.bench_hybrid`` -> ``benchmarks/results/hybrid.json`` (one thread).
"""
from __future__ import annotations

import argparse
import dataclasses
import statistics
import time

import torch

from autost.arch import Arch
from autost.batches import real_batch
from autost.cost import analytic_cost
from autost.geometry import Geometry, resolve_geometry
from autost.model import build_model
from autost.search.evaluate import Constraints
from autost.search.exact import exact_flops_optimum
from autost.space import SearchSpace
from benchmarks.bench_closed_form import CIFAR, MODEL, _compare, measured_energies
from benchmarks.common import write_result
from energy.closed_form import (CALIBRATION_ARCHS, LayerRate, RateTable, calibrate, calibration_archs,
                                closed_form_energy)
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


class _WithoutSteps(RateTable):
    """The table as it was before T became part of a position: every T looks up the same rates."""

    def lookup(self, name: str, arch: Arch | None = None) -> LayerRate:
        return super().lookup(name, None if arch is None else dataclasses.replace(arch, time_steps=None))


def _archs_before(space: SearchSpace, n: int, seed: int) -> list[Arch]:
    """``calibration_archs`` as of commit db6cf43: each (attention, tau, threshold) at any T."""
    samples = calibration_archs(space, n, seed)[:n]  # the same seeded samples
    covered = {(a, arch.tau, arch.threshold) for arch in samples for a in arch.attention}
    first = samples[0]
    return samples + [dataclasses.replace(first, attention=(a,) * first.depth, tau=tau, threshold=th)
                      for a in space.attention for tau in space.tau for th in space.threshold
                      if (a, tau, th) not in covered]


def _archs_t_apart(space: SearchSpace, n: int, seed: int) -> list[Arch]:
    """The default calibration without its (T, tau, threshold) variants: T factored apart from
    the neurons too, as if their rates did not interact."""
    samples = calibration_archs(space, n, seed)[:n]
    first = samples[0]
    measured = {(a, arch.time_steps, arch.tau, arch.threshold) for arch in samples for a in arch.attention}
    wanted = [(a, first.time_steps, tau, th) for a in space.attention for tau in space.tau for th in space.threshold]
    wanted += [(a, t, first.tau, first.threshold) for t in space.time_steps for a in space.attention]
    archs = list(samples)
    for a, t, tau, th in wanted:
        if (a, t, tau, th) not in measured:
            measured.add((a, t, tau, th))
            archs.append(dataclasses.replace(first, attention=(a,) * first.depth, time_steps=t, tau=tau, threshold=th))
    return archs


def _archs_full(space: SearchSpace, n: int, seed: int) -> list[Arch]:
    """The default samples plus the first one at every (T, attention, tau, threshold)."""
    samples = calibration_archs(space, n, seed)[:n]
    first = samples[0]
    return samples + [dataclasses.replace(first, attention=(a,) * first.depth, time_steps=t, tau=tau, threshold=th)
                      for t in space.time_steps for a in space.attention for tau in space.tau
                      for th in space.threshold]


def _merged(tables: list[RateTable], without_steps: bool) -> RateTable:
    """Per-architecture tables averaged by position, as ``calibrate`` averages architectures;
    ``without_steps``: with the T dropped from the positions, as before."""
    sums: dict[tuple[str, int], list] = {}
    for table in tables:
        for (part, block), rate in table.layers.items():
            if without_steps:
                part = "/".join(p for p in part.split("/") if not (p[:1] == "T" and p[1:].isdigit()))
            entry = sums.setdefault((part, block), [rate.kind, 0.0, 0, rate.once])
            entry[1] += rate.rate
            entry[2] += 1
    layers = {key: LayerRate(kind, total / count, once) for key, (kind, total, count, once) in sums.items()}
    names = tuple(name for table in tables for name in table.calibrated_on)
    return (_WithoutSteps if without_steps else RateTable)(layers, names)


def _steps_rates(space_path: str, geometry: Geometry, batch: torch.Tensor, n: int) -> dict:
    """The closed form's error before and after T entered the positions, and with every combination measured."""
    space = SearchSpace.from_yaml(space_path)
    plans = {"before": (_archs_before(space, CALIBRATION_ARCHS, 0), True),
             "after": (calibration_archs(space, CALIBRATION_ARCHS, 0), False),
             "t_apart_from_neurons": (_archs_t_apart(space, CALIBRATION_ARCHS, 0), False),
             "full_product": (_archs_full(space, CALIBRATION_ARCHS, 0), False)}
    per_arch: dict[Arch, tuple[RateTable, float]] = {}
    for archs, _ in plans.values():
        for arch in archs:
            if arch not in per_arch:
                start = time.perf_counter()
                per_arch[arch] = (calibrate([arch], geometry, batch, seed=0), time.perf_counter() - start)
    archs, measured, measure_s = measured_energies(space, geometry, batch, n)
    result = {"space": space_path, "geometry": geometry.model_kwargs(), "batch": len(batch), "architectures": n,
              "measured_candidates_per_s": n / measure_s}
    for name, (calibration, without_steps) in plans.items():
        table = _merged([per_arch[arch][0] for arch in calibration], without_steps)
        start = time.perf_counter()
        closed = [closed_form_energy(arch, geometry, table, MODEL) for arch in archs]
        closed_s = time.perf_counter() - start
        errors = [abs(c - m) / m for c, m in zip(closed, measured)]
        by_steps = {t: statistics.mean(e for e, a in zip(errors, archs) if a.time_steps == t)
                    for t in sorted({a.time_steps for a in archs})}
        result[name] = {"calibration_archs": len(calibration),
                        "calibration_s": sum(per_arch[arch][1] for arch in calibration),
                        "relative_error": {"mean": statistics.mean(errors), "median": statistics.median(errors),
                                           "max": max(errors)},
                        "mean_error_by_time_steps": {str(t): e for t, e in by_steps.items()},
                        "closed_form_candidates_per_s": n / closed_s, "speedup": measure_s / closed_s}
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="random architectures of the digits hybrid space")
    parser.add_argument("--n-t", type=int, default=100, help="random architectures per space for the T comparison")
    args = parser.parse_args()
    cifar_batch = torch.randn(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    per_type = _per_type(cifar_batch)

    digits = resolve_geometry(dataset="digits", input_shape=None, num_classes=None, patch_size=None, time_steps=4)
    digits_batch = real_batch("digits", batch_size=32, time_steps=4, seed=0)
    closed_form, _ = _compare("spaces/digits_hybrid.yaml", digits, digits_batch, args.n)
    steps_rates = {"digits_hybrid": _steps_rates("spaces/digits_hybrid.yaml", digits, digits_batch, args.n_t),
                   "hybrid_tiny_cifar": _steps_rates("spaces/hybrid_tiny.yaml", CIFAR, cifar_batch, args.n_t)}

    space = SearchSpace.from_yaml("spaces/hybrid_tiny.yaml")
    start = time.perf_counter()
    macs, params, best = exact_flops_optimum(space, CIFAR, Constraints(11, 12), keep=1)[0]
    exact = {"wall_s": time.perf_counter() - start, "best_macs": macs, "best_params": params,
             "best_arch": best.to_dict()["RETRAIN"]}

    path = write_result("hybrid", {"spikformer_4_384_cifar": per_type, "digits_hybrid_closed_form": closed_form,
                                   "exact_hybrid_tiny": exact, "time_steps_rates": steps_rates})
    for name, row in per_type.items():
        print(f"{name}: {row['params']:,} params, {row['macs'] / 1e9:.3f} GMACs, {row['energy_mj']:.4f} mJ at init "
              f"(masks and sums {row['mask_and_sum_share']:.2%})")
    e = closed_form["relative_error"]
    print(f"digits hybrid closed form: error mean {e['mean']:.2%}, max {e['max']:.2%}")
    for name, row in steps_rates.items():
        print(name + ": " + "; ".join(
            f"{plan} ({row[plan]['calibration_archs']} archs, {row[plan]['calibration_s']:.1f} s) error mean "
            f"{row[plan]['relative_error']['mean']:.2%}, median {row[plan]['relative_error']['median']:.2%}, max "
            f"{row[plan]['relative_error']['max']:.2%}" for plan in ("before", "after", "t_apart_from_neurons", "full_product")))
    print(f"exact on hybrid tiny: {exact['wall_s']:.1f} s, {macs / 1e9:.4f} GMACs at {params / 1e6:.3f} M "
          f"-> {path}")


if __name__ == "__main__":
    main()
