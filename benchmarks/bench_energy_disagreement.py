"""Do the compute-only and the memory-aware energy models pick different networks?

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_energy_disagreement [--n 2000]

For AutoST's tiny space and the hybrid tiny space (attention types, T, tau, threshold, shortcut),
on a real Fashion-MNIST batch (28x28, patch 4: 49 tokens; CIFAR-10 is not on this machine): one
rate table calibrated as a search calibrates it (seed 0, a training batch of 32), then ``--n``
random architectures (seed 1) priced in closed form under spikformer-45nm (compute only) and
lemaire (memory-aware). Reported per space:

* Kendall's tau between the two energy rankings, and between each and MACs;
* the Pareto front of MACs (the FLOPs proxy, maximised) against energy (minimised) under each
  model, and how many architectures the two fronts share;
* the pick an energy-limited FLOPs search makes (the most MACs within the budget) under each
  model, at three budgets (the 10th, 25th and 50th percentile of that model's energies), and
  whether the two picks are the same network;
* what moves memory-aware energy more than compute energy: the mean ratio of lemaire to
  spikformer-45nm energy by depth, by T and by shortcut.

Writes benchmarks/results/energy_disagreement.json and energy_disagreement_<space>.png (the two
fronts side by side).
"""
from __future__ import annotations

import argparse
import random
import statistics
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from scipy.stats import kendalltau  # noqa: E402

from autost.batches import real_batch, step_batches  # noqa: E402
from autost.cost import analytic_cost  # noqa: E402
from autost.geometry import resolve_geometry  # noqa: E402
from autost.pareto import non_dominated  # noqa: E402
from autost.space import SearchSpace  # noqa: E402
from benchmarks.common import RESULTS, write_result  # noqa: E402
from energy.closed_form import (CALIBRATION_ARCHS, calibrate, calibration_archs, closed_form_energy,  # noqa: E402
                                 stem_archs)

SPACES = {"tiny": "spaces/spikformer_tiny.yaml", "hybrid_tiny": "spaces/hybrid_tiny.yaml"}
DATASET = "fashion-mnist"
MODELS = ("spikformer-45nm", "lemaire")
BUDGETS = (0.10, 0.25, 0.50)


def _front(rows: list[dict], model: str) -> list[dict]:
    return non_dominated(rows, [lambda r: -r["macs"], lambda r: r[model]])


def study(space_path: str, n: int) -> tuple[dict, list[dict]]:
    space = SearchSpace.from_yaml(space_path)
    geometry = resolve_geometry(dataset=DATASET, input_shape=None, num_classes=None, patch_size=None, time_steps=4)
    batch = real_batch(DATASET, batch_size=32, time_steps=4, seed=0, split="train")
    per_step = step_batches(DATASET, space.time_steps, time_steps=4, batch_size=32, seed=0, split="train")
    archs = calibration_archs(space, CALIBRATION_ARCHS, 0)
    table = calibrate(archs, geometry, batch, seed=0, step_batches=per_step, stems=stem_archs(space))
    rng = random.Random(1)
    rows = []
    for _ in range(n):
        arch = space.sample(rng)
        cost = analytic_cost(arch, **geometry.model_kwargs())
        rows.append({"arch": arch, "label": arch.short(), "macs": cost.macs, "params": cost.params,
                     **{model: closed_form_energy(arch, geometry, table, model) for model in MODELS}})
    compute, memory = ([r[m] for r in rows] for m in MODELS)
    macs = [r["macs"] for r in rows]
    fronts = {model: _front(rows, model) for model in MODELS}
    shared = {r["label"] for r in fronts[MODELS[0]]} & {r["label"] for r in fronts[MODELS[1]]}
    picks = {}
    for q in BUDGETS:
        chosen = {}
        for model in MODELS:
            budget = sorted(r[model] for r in rows)[int(q * (n - 1))]
            best = max((r for r in rows if r[model] <= budget), key=lambda r: (r["macs"], -r[model]))
            chosen[model] = {"budget_mj": budget, "arch": best["label"], "macs": best["macs"],
                             **{f"{m}_mj": best[m] for m in MODELS}}
        chosen["same"] = chosen[MODELS[0]]["arch"] == chosen[MODELS[1]]["arch"]
        picks[f"p{int(q * 100)}"] = chosen
    ratio_by = {}
    for gene, key in (("depth", lambda a: a.depth), ("time_steps", lambda a: a.steps(4)),
                      ("shortcut", lambda a: a.shortcut), ("embed_dim", lambda a: a.embed_dim)):
        groups = defaultdict(list)
        for r in rows:
            groups[key(r["arch"])].append(r["lemaire"] / r["spikformer-45nm"])
        if len(groups) > 1:
            ratio_by[gene] = {str(k): statistics.mean(v) for k, v in sorted(groups.items())}
    result = {
        "space": space_path, "dataset": DATASET, "geometry": geometry.model_kwargs(), "architectures": n,
        "calibration": {"architectures": len(table.calibrated_on), "batch": "fashion-mnist train split, 32, seed 0"},
        "kendall": {"compute_vs_memory": kendalltau(compute, memory)[0], "macs_vs_compute": kendalltau(macs, compute)[0],
                    "macs_vs_memory": kendalltau(macs, memory)[0]},
        "fronts": {model: [{"arch": r["label"], "macs": r["macs"], "energy_mj": r[model]} for r in front]
                   for model, front in fronts.items()},
        "fronts_shared": len(shared), "picks": picks, "memory_over_compute_by": ratio_by,
    }
    return result, rows


def _plot(name: str, result: dict) -> None:
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, model in zip(axes, MODELS):
        front = result["fronts"][model]
        ax.plot([p["energy_mj"] for p in front], [p["macs"] / 1e9 for p in front], "o-", ms=3)
        ax.set_xlabel(f"init energy under {model} (mJ / sample)")
        ax.set_ylabel("GMACs (the FLOPs proxy)")
        ax.set_title(f"{name}: front under {model}", fontsize=9)
    fig.suptitle(f"{result['architectures']} random architectures, closed form on a real Fashion-MNIST batch",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(RESULTS / f"energy_disagreement_{name}.png", dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="random architectures per space (default 2000)")
    args = parser.parse_args()
    results = {}
    for name, path in SPACES.items():
        results[name], _ = study(path, args.n)
        _plot(name, results[name])
        k = results[name]["kendall"]
        same = [p["same"] for p in results[name]["picks"].values()]
        print(f"{name}: Kendall compute vs memory {k['compute_vs_memory']:.3f} (MACs vs compute "
              f"{k['macs_vs_compute']:.3f}, vs memory {k['macs_vs_memory']:.3f}); fronts share "
              f"{results[name]['fronts_shared']}; same pick at {sum(same)} of {len(same)} budgets", flush=True)
    path = write_result("energy_disagreement", {"models": list(MODELS), "spaces": results,
                                                "command": f"python -m benchmarks.bench_energy_disagreement --n {args.n}"})
    print(f"-> {path}")


if __name__ == "__main__":
    main()
