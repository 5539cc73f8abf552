"""AutoST's headline claim on real data: do searched spiking transformers beat a hand-designed one?

    .venv/bin/python -m benchmarks.bench_headline [--datasets fashion-mnist nfashion] [--work runs/headline]
    .venv/bin/python -m benchmarks.bench_headline --full      # the full recipe, for a GPU machine

For each dataset:
  * baseline: Spikformer-4-384's design at the profile's scale (CPU: d2-D32-m4-h1 in
    spaces/headline_cpu.yaml; --full: Spikformer-4-384 itself, d4-D384-m4-h12);
  * AutoST's flow: the evolutionary search with --score flops under the baseline's parameter
    count, its top 3 architectures (of distinct cost);
  * the NSGA-II front of (FLOPs score, init-time energy) under the same parameter cap, its knee
    point (``autost.pareto.knee_point``);
each trained with the same recipe for every seed, with test accuracy and trained energy
(mJ/sample, ``autost.train``'s measurement on the first test batch) as mean and std over the
seeds. A searched architecture "dominates" the baseline when its mean test accuracy is higher
and its mean energy no larger.

Writes benchmarks/results/headline_<profile>.json and headline_<profile>_<dataset>.png; training
runs live in --work and are reused (finished) or resumed (interrupted) on a rerun.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from autost.arch import Arch
from autost.cost import analytic_cost
from autost.geometry import resolve_geometry
from autost.pareto import knee_point
from autost.search.evaluate import Constraints
from autost.search.evolution import EvolutionSettings
from autost.search.nsga2 import objective_functions
from autost.search.runner import SearchConfig, run_search
from autost.train import METRICS, SCHEDULE, TrainConfig, train
from datasets import dataset_info
from benchmarks.common import RESULTS, write_result

SEEDS = (0, 1, 2)
TOP_K = 3
FRONT_OBJECTIVES = ("score", "energy")


@dataclass(frozen=True)
class Profile:
    """How big the comparison is: the space, the baseline, the data and the training budget."""

    name: str
    space: str
    baseline: Arch
    limit: int | None  # samples of each split (train, val and test) used; None: all
    epochs: int | None  # None: the dataset's recipe
    batch_size: int | None  # None: the recipe's
    short_recipe: bool  # the embedded data's short recipe (batch 64, lr 2e-3) instead of AutoST's
    search: EvolutionSettings
    nsga2: EvolutionSettings
    energy_batch: int
    device: str
    seeds: tuple[int, ...] = SEEDS


# Batch 32 rather than the short recipe's 64: with 2000 images an epoch is then 63 steps, enough for
# BatchNorm's running statistics (momentum 0.1, starting from variance 1 while the stem's outputs have
# variance ~0.01) to settle; with 16 steps an epoch the eval-mode network did not spike at all.
CPU = Profile(name="cpu", space="spaces/headline_cpu.yaml", baseline=Arch(2, 32, (4, 4), (1, 1)), limit=2000,
              epochs=2, batch_size=32, short_recipe=True,
              search=EvolutionSettings(population=20, select=5, mutation=8, crossover=8, generations=5),
              nsga2=EvolutionSettings(population=16, select=4, mutation=6, crossover=6, generations=4),
              energy_batch=16, device="cpu")
FULL = Profile(name="full", space="spaces/spikformer_tiny.yaml", baseline=Arch(4, 384, (4,) * 4, (12,) * 4),
               limit=None, epochs=None, batch_size=None, short_recipe=False, search=EvolutionSettings(), nsga2=EvolutionSettings(),
               energy_batch=32, device="auto")


def train_config(profile: Profile, dataset: str, seed: int) -> TrainConfig:
    overrides = {name: getattr(dataset_info("digits").training, name) for name in SCHEDULE} if profile.short_recipe \
        else {}
    overrides.update(epochs=profile.epochs, limit=profile.limit, seed=seed, device=profile.device, resume=True)
    if profile.batch_size is not None:
        overrides["batch_size"] = profile.batch_size
    if profile.short_recipe and profile.epochs is not None:
        overrides["warmup_epochs"] = min(overrides["warmup_epochs"], profile.epochs // 2)
    return TrainConfig.for_dataset(dataset, **overrides)


def searches(profile: Profile, dataset: str, work: Path) -> dict:
    """The FLOPs search's top 3 and the NSGA-II front's knee, both under the baseline's params."""
    geometry = resolve_geometry(dataset=dataset, input_shape=None, num_classes=None, patch_size=None,
                                time_steps=train_config(profile, dataset, 0).time_steps)
    cap = analytic_cost(profile.baseline, **geometry.model_kwargs()).params / 1e6
    common = dict(space=profile.space, geometry=geometry, constraints=Constraints(param_max=cap), seed=0)
    flops_config = SearchConfig(**common, algorithm="evolution", score="flops", top_k=TOP_K,
                                settings=profile.search)
    nsga_config = SearchConfig(**common, dataset=dataset, algorithm="nsga2", score="flops", top_k=TOP_K,
                               settings=profile.nsga2, batch_size=profile.energy_batch, objectives=FRONT_OBJECTIVES)
    results = {}
    for name, config in (("flops", flops_config), ("nsga2", nsga_config)):
        out = work / dataset / f"search_{name}"
        done = out / "search.json"
        start = time.perf_counter()
        results[name] = json.loads(done.read_text()) if done.exists() else run_search(config, out, resume=True,
                                                                                      progress=False)
        print(f"{dataset}: {name} search, {len(results[name]['candidates'])} legal candidates "
              f"({time.perf_counter() - start:.0f} s)", flush=True)
    seen, top = set(), []
    for record in results["flops"]["candidates"]:  # distinct costs, as the search's top/NN.yaml
        if (record["params"], record["macs"]) not in seen and len(top) < TOP_K:
            seen.add((record["params"], record["macs"]))
            top.append(record)
    front = results["nsga2"]["pareto"]
    knee = knee_point(front, objective_functions(FRONT_OBJECTIVES))
    return {"param_cap_m": cap, "geometry": geometry.model_kwargs(), "top": top, "front": front, "knee": knee,
            "search_s": {k: v["elapsed_s"] for k, v in results.items()}}


def trained(profile: Profile, dataset: str, arch: Arch, seed: int, work: Path) -> dict:
    out = work / dataset / "train" / arch.short() / f"seed{seed}"
    if (out / METRICS).exists():
        return json.loads((out / METRICS).read_text())
    start = time.perf_counter()
    metrics = train(arch, train_config(profile, dataset, seed), out)
    print(f"{dataset}: {arch.short()} seed {seed}: test {metrics['test_acc']:.1%}, "
          f"{metrics['energy_mj']:.4g} mJ ({time.perf_counter() - start:.0f} s)", flush=True)
    return metrics


def summarize(entries: list[dict]) -> dict:
    """Mean and std (sample, over seeds) of test accuracy and trained energy, per architecture;
    whether each searched architecture dominates the baseline."""
    def stats(values: list[float]) -> dict:
        return {"mean": statistics.fmean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                "values": values}

    entries = [{**{k: v for k, v in e.items() if k not in ("runs", "energy_values")},
                "test_acc": stats([m["test_acc"] for m in e["runs"]]), "energy_mj": stats(e["energy_values"])}
               for e in entries]
    base = next(e for e in entries if "baseline" in e["roles"])
    for entry in entries:
        entry["acc_minus_baseline"] = entry["test_acc"]["mean"] - base["test_acc"]["mean"]
        entry["energy_over_baseline"] = entry["energy_mj"]["mean"] / base["energy_mj"]["mean"]
        entry["dominates_baseline"] = (entry["arch_short"] != base["arch_short"]
                                       and entry["test_acc"]["mean"] > base["test_acc"]["mean"]
                                       and entry["energy_mj"]["mean"] <= base["energy_mj"]["mean"])
    return {"architectures": entries, "any_searched_dominates": any(e["dominates_baseline"] for e in entries)}


def run_dataset(profile: Profile, dataset: str, work: Path) -> dict:
    found = searches(profile, dataset, work)
    roles: dict[str, tuple[Arch, list[str]]] = {profile.baseline.short(): (profile.baseline, ["baseline"])}
    picks = [(f"flops top {i}", r) for i, r in enumerate(found["top"], 1)] + [("NSGA-II knee", found["knee"])]
    for role, record in picks:
        arch = Arch.from_dict(record["arch"])
        roles.setdefault(arch.short(), (arch, []))[1].append(role)
    entries = []
    for short, (arch, arch_roles) in roles.items():
        runs = [trained(profile, dataset, arch, seed, work) for seed in profile.seeds]
        entries.append({"arch_short": short, "arch": arch.to_dict()["RETRAIN"], "roles": arch_roles,
                        "params": runs[0]["params"], "macs": runs[0]["macs"], "runs": runs,
                        "energy_values": [m["energy_mj"] for m in runs],
                        "epoch_s": statistics.median(e["time_s"] for m in runs for e in m["epochs"]),
                        "best_epochs": [m["best_epoch"] for m in runs],
                        "train_acc_last": [m["epochs"][-1]["train_acc"] for m in runs],
                        "val_acc_by_epoch": [[e["val_acc"] for e in m["epochs"]] for m in runs]})
    result = summarize(entries)
    result.update(param_cap_m=found["param_cap_m"], geometry=found["geometry"], search_s=found["search_s"],
                  front=[{"arch": r["arch"], "score": r["score"], "energy_mj": r["energy_mj"], "params": r["params"]}
                         for r in found["front"]],
                  knee=found["knee"]["arch"])
    return result


def plot(dataset: str, result: dict, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for i, entry in enumerate(result["architectures"]):
        base = "baseline" in entry["roles"]
        ax.errorbar(entry["energy_mj"]["mean"], 100 * entry["test_acc"]["mean"],
                    xerr=entry["energy_mj"]["std"], yerr=100 * entry["test_acc"]["std"],
                    fmt="*" if base else "o", markersize=14 if base else 7, capsize=3,
                    color="tab:red" if base else "tab:blue")
        ax.annotate(f"{entry['arch_short']}\n({', '.join(entry['roles'])})",
                    (entry["energy_mj"]["mean"], 100 * entry["test_acc"]["mean"]),
                    textcoords="offset points", fontsize=7, ha="right" if base else "left",
                    xytext=(-8, 6) if base else (6, 4 if i % 2 else -18))  # baseline left, neighbours alternate
    ax.set_xlabel("trained energy (mJ / sample), mean ± std over seeds")
    ax.set_ylabel("test accuracy (%), mean ± std over seeds")
    verdict = "a searched architecture dominates" if result["any_searched_dominates"] else "none dominates"
    ax.set_title(f"{dataset}: searched (o) vs baseline (*): {verdict}", fontsize=10)
    ax.grid(alpha=0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def markdown_table(result: dict) -> str:
    """The README's table of one JSON result: one row per dataset and architecture."""
    rows = ["| dataset | architecture | role | params | MMACs | test accuracy % | trained energy uJ/sample | "
            "vs baseline |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for dataset, res in result["datasets"].items():
        for e in res["architectures"]:
            base = "baseline" in e["roles"]
            versus = "" if base else (f"{100 * e['acc_minus_baseline']:+.1f} pts, energy x{e['energy_over_baseline']:.2f}"
                                      f"{', dominates' if e['dominates_baseline'] else ''}")
            rows.append(f"| {dataset} | `{e['arch_short']}` | {', '.join(e['roles'])} | {e['params'] / 1e3:.1f} k | "
                        f"{e['macs'] / 1e6:.1f} | {100 * e['test_acc']['mean']:.1f} ± {100 * e['test_acc']['std']:.1f} | "
                        f"{1e3 * e['energy_mj']['mean']:.2f} ± {1e3 * e['energy_mj']['std']:.2f} | {versus} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["fashion-mnist", "nfashion"])
    parser.add_argument("--full", action="store_true", help="the full recipe (AutoST's, all data; for a GPU)")
    parser.add_argument("--work", type=Path, help="training runs (default runs/headline_<profile>)")
    parser.add_argument("--limit", type=int, help="override the profile's samples per split")
    parser.add_argument("--epochs", type=int, help="override the profile's epochs")
    parser.add_argument("--seeds", type=int, nargs="+", help="override the seeds (default 0 1 2)")
    parser.add_argument("--table", action="store_true", help="print the README table of the profile's JSON and stop")
    args = parser.parse_args(argv)
    profile = FULL if args.full else CPU
    if args.limit is not None or args.epochs is not None or args.seeds:
        # another budget is another result: its own name, JSON, plots and work folder
        profile = replace(profile, limit=args.limit or profile.limit, epochs=args.epochs or profile.epochs,
                          seeds=tuple(args.seeds or profile.seeds))
        profile = replace(profile, name=f"{profile.name}_e{profile.epochs}_n{profile.limit}_s{len(profile.seeds)}")
    if args.table:
        print(markdown_table(json.loads((RESULTS / f"headline_{profile.name}.json").read_text())))
        return 0
    work = args.work or Path("runs") / f"headline_{profile.name}"
    start = time.perf_counter()
    settings = {"profile": profile.name, "space": profile.space, "baseline": profile.baseline.to_dict()["RETRAIN"],
                "limit_per_split": profile.limit, "seeds": list(profile.seeds), "top_k": TOP_K,
                "train": {d: train_config(profile, d, 0).to_dict() for d in args.datasets},
                "search": asdict(profile.search), "nsga2": asdict(profile.nsga2), "energy_batch": profile.energy_batch,
                "command": " ".join(["python -m benchmarks.bench_headline", *(argv if argv is not None else sys.argv[1:])])}
    results = {}
    for dataset in args.datasets:  # the JSON is rewritten after each dataset, so a cut run keeps its part
        results[dataset] = run_dataset(profile, dataset, work)
        plot(dataset, results[dataset], RESULTS / f"headline_{profile.name}_{dataset}.png")
        path = write_result(f"headline_{profile.name}", {"settings": settings, "wall_s": time.perf_counter() - start,
                                                         "datasets": results})
    for dataset, result in results.items():
        for e in result["architectures"]:
            print(f"{dataset:14s} {e['arch_short']:34s} {', '.join(e['roles']):28s} "
                  f"acc {100 * e['test_acc']['mean']:.1f} ± {100 * e['test_acc']['std']:.1f}  "
                  f"energy {e['energy_mj']['mean']:.4g} ± {e['energy_mj']['std']:.2g} mJ"
                  f"{'  DOMINATES' if e['dominates_baseline'] else ''}")
    print(f"-> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
