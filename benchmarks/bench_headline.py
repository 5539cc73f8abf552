"""Does the search beat hand design? Energy-matched arms trained to a plateau, against random controls.

    .venv/bin/python -m benchmarks.bench_headline --plan           # searches, then the cost in CPU-hours
    .venv/bin/python -m benchmarks.bench_headline --workers 2      # the CPU study (resumes where it stopped)
    .venv/bin/python -m benchmarks.bench_headline --profile gpu    # full Fashion-MNIST and nfashion, one H200
    .venv/bin/python -m benchmarks.bench_headline --table          # the README's table of the committed JSON

Arms, per dataset (``ARMS``):
  * baseline: Spikformer-4-384's arrangement at the profile's scale (SSA, the spike shortcut, MLP
    ratio 4, head width 32, T 4, tau 2, threshold 1);
  * searched, per space: AutoST's flow (the evolutionary search, score FLOPs) constrained to the
    baseline's params and closed-form energy (``search --match-baseline``), its best architecture;
  * searched by the best accuracy signal, on the tiny space: once the converged Fashion-MNIST
    correlation study (``SIGNAL_STUDY``) is complete, the same search maximizing its best score by
    size-controlled Kendall (``best_signal``), unless that is FLOPs; and that signal as a
    tie-breaker, which is how the studies advise using it: of that search's candidates with the
    baseline's own MACs, the best by the signal (``at_baseline_size``);
  * random control, per space: per seed one architecture drawn from the same constrained set: the
    space's sampler (uniform per gene) filtered by the same limits, as a random search of the same
    space sees them (``--algorithm random``), then one of its legal candidates picked by a seeded
    uniform draw that ignores their scores.
Every arm trains with the same recipe and, per seed, the same data order and split; the stopping
rule is ``STOPPING_RULE``. Test accuracy and trained energy (``autost.train``: the best-validation
checkpoint, energy over the whole test split) are compared with the baseline by paired differences
over seeds with Student t 95% intervals, and judged by ``autost.report.comparison.verdict``.

Writes benchmarks/results/headline_<profile>.json and headline_<profile>_<dataset>.png. Each
training run lives in its own folder under --work and resumes from its last epoch, so an interrupted
study (or one continued days later) goes on to the same result.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field, replace
from multiprocessing import get_context
from pathlib import Path

from tqdm import tqdm

from autost.arch import Arch
from autost.cost import analytic_cost
from autost.geometry import Geometry, resolve_geometry
from autost.report.comparison import VERDICT_RULE, verdict
from autost.search.generational import EvolutionSettings
from autost.search.runner import SearchConfig, run_search
from autost.stats import mean, paired_differences, t_interval
from autost.train import METRICS, TrainConfig
from benchmarks.common import RESULTS, train_step_seconds, write_result

SPACES = {"tiny": "spaces/headline_cpu.yaml", "hybrid": "spaces/headline_cpu_hybrid.yaml"}
# The converged accuracy-signal study on the tiny space (benchmarks/bench_correlate_converged.py):
# once complete, its best score by size-controlled Kendall is searched as one more arm of that space.
SIGNAL_STUDY = RESULTS / "correlate_converged_fashion-mnist"
SIGNAL_SPACE = "tiny"
COLUMN_SCORES = {"macs": "flops"}  # a study's cost column whose search score has another name
STOPPING_RULE = ("AdamW with a warm-up and a cosine schedule over at most `epochs_max` epochs; stop once validation "
                 "accuracy (the whole validation split) has not improved for `patience` epochs; test accuracy and "
                 "energy are the best-validation checkpoint's")


@dataclass(frozen=True)
class Profile:
    """The study's size: data, networks, training budget, seeds and processes."""

    name: str
    datasets: tuple[str, ...]
    baseline: Arch
    limit: int | None  # the first N samples of each split; None: all (train 54,000, val 6,000, test 10,000)
    epochs_max: int
    patience: int
    batch_size: int
    lr: float
    device: str
    workers: int
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    search: EvolutionSettings = field(default_factory=EvolutionSettings)
    # random search's draws for the control: the constrained set's sample the control picks from
    control_draws: EvolutionSettings = field(default_factory=lambda: EvolutionSettings(population=50, generations=6))


# Spikformer-4-384 at CPU scale: depth halved to 2 (the space's depths are the tiny space's halved),
# width 32 with one head of width 32 (Spikformer's head width), MLP ratio 4, T 4. 41.5 k params,
# 16 MMACs a sample on Fashion-MNIST; about 70 s an epoch of 10,000 images on one idle core.
CPU_BASELINE = Arch(2, 32, (4, 4), (1, 1))
# limit 10,000: train on 10,000 images, validate on all 6,000 of the val split, test on all 10,000.
CPU = Profile(name="cpu", datasets=("fashion-mnist",), baseline=CPU_BASELINE, limit=10_000, epochs_max=10,
              patience=3, batch_size=64, lr=2e-3, device="cpu", workers=2)
# The same arms on all of Fashion-MNIST and on nfashion, for one H200 (16 cores): 16 processes share
# the GPU; a tiny network's step is launch-bound, so larger batches cost little more per step.
GPU = Profile(name="gpu", datasets=("fashion-mnist", "nfashion"), baseline=CPU_BASELINE, limit=None, epochs_max=12,
              patience=3, batch_size=256, lr=4e-3, device="cuda", workers=16)
PROFILES = {p.name: p for p in (CPU, GPU)}


def train_config(profile: Profile, dataset: str, seed: int) -> TrainConfig:
    return TrainConfig.for_dataset(dataset, epochs=profile.epochs_max, patience=profile.patience, limit=profile.limit,
                                   batch_size=profile.batch_size, lr=profile.lr, warmup_epochs=1, seed=seed,
                                   device=profile.device, resume=True)


def _search(profile: Profile, dataset: str, space: str, algorithm: str, settings: EvolutionSettings,
            out: Path, score: str = "flops", supernet: str | None = None) -> dict:
    """A search of ``space`` within the baseline's params and closed-form energy (resumed or reused)."""
    if (out / "search.json").exists():
        return json.loads((out / "search.json").read_text())
    geometry = resolve_geometry(dataset=dataset, input_shape=None, num_classes=None, patch_size=None,
                                time_steps=profile.baseline.steps(4))
    config = SearchConfig(space=space, geometry=geometry, dataset=dataset, algorithm=algorithm, score=score,
                          settings=settings, top_k=1, seed=0, match_baseline=profile.baseline.to_dict()["RETRAIN"],
                          supernet=supernet)
    return run_search(config, out, resume=True, progress=False)


def limits(searched: dict) -> dict:
    """The params and closed-form energy limits a search kept to (search.json's content): the
    baseline's, each search pricing the baseline with its own calibrated rate table."""
    return {"params_max": round(searched["match_baseline"]["param_max"] * 1e6),
            "energy_max_mj": searched["match_baseline"]["energy_max_mj"]}


def best_signal(study: dict) -> dict | None:
    """The search score with the highest size-controlled Kendall (within bins of equal MACs) in a
    complete converged study (correlate.json's content), with its tau and interval; ``None`` while
    the study is incomplete or when its best is FLOPs, which the searched arm already maximizes.
    Columns that are no search score (the energies: a constraint here) are passed over."""
    if not study.get("complete") or not study.get("size_controlled_ranking"):
        return None
    from autost.scores import ENSEMBLE, SCORES

    for column in study["size_controlled_ranking"]:
        score = COLUMN_SCORES.get(column, column)
        if score in SCORES or score.startswith(ENSEMBLE):
            if score == "flops":
                return None
            controlled = study["stats"][column]["size_controlled"]
            return {"score": score, "column": column, "binned_kendall": controlled["binned_kendall"],
                    "binned_kendall_ci": controlled["binned_kendall_ci"], "study": str(SIGNAL_STUDY)}
    return None


def at_baseline_size(candidates: list[dict], macs: int, constraints: dict) -> tuple[dict | None, int]:
    """The best-scored of a search's candidate records that have exactly ``macs`` (the baseline's)
    and keep to ``constraints``, and how many such candidates there were: the signal as a
    tie-breaker between networks of equal size, where the converged studies find it informative
    (docs/search.md, "Which signal when")."""
    equal = [c for c in candidates if c["macs"] == macs and c["params"] <= constraints["params_max"]
             and c["energy_mj"] <= constraints["energy_max_mj"]]
    return max(equal, key=lambda c: c["score"], default=None), len(equal)


def _signal_arms(profile: Profile, dataset: str, space_name: str, work: Path) -> list[dict]:
    """The searched arms of the converged study's best size-controlled signal, on the space and
    dataset it was measured on: its search's best, and its best at the baseline's MACs; none while
    that study is not complete (the study then runs without them)."""
    path = SIGNAL_STUDY / "correlate.json"
    if space_name != SIGNAL_SPACE or not path.exists():
        return []
    study = json.loads(path.read_text())
    signal = best_signal(study)
    if signal is None or study["settings"]["dataset"] != dataset:
        return []
    needs_supernet = "supernet" in signal["score"]
    searched = _search(profile, dataset, SPACES[space_name], "evolution", profile.search,
                       work / dataset / f"search_{space_name}_{signal['score']}", score=signal["score"],
                       supernet=str(SIGNAL_STUDY / "supernet") if needs_supernet else None)
    own = limits(searched)
    found = [{"name": f"searched {space_name} ({signal['score']})", "role": "searched", "space": SPACES[space_name],
              "archs": {s: searched["best"]["arch"] for s in profile.seeds},
              "closed_form": {s: searched["best"]["energy_mj"] for s in profile.seeds},
              "constraints": own, "signal": signal}]
    geometry = Geometry(**searched["settings"]["geometry"])
    macs = analytic_cost(profile.baseline, **geometry.model_kwargs()).macs
    pick, pool = at_baseline_size(searched["candidates"], macs, own)
    if pick is not None:
        found.append({"name": f"searched {space_name} ({signal['score']} at the baseline's MACs)", "role": "searched",
                      "space": SPACES[space_name], "archs": {s: pick["arch"] for s in profile.seeds},
                      "closed_form": {s: pick["energy_mj"] for s in profile.seeds}, "pool": pool,
                      "constraints": own, "signal": signal})
    return found


def arms(profile: Profile, dataset: str, work: Path) -> tuple[list[dict], dict]:
    """The dataset's arms (name, role, space, one architecture per seed) and the constraints."""
    found = [{"name": "baseline", "role": "baseline", "space": None,
              "archs": {s: profile.baseline.to_dict()["RETRAIN"] for s in profile.seeds}}]
    constraints = {}
    for space_name, space in SPACES.items():
        searched = _search(profile, dataset, space, "evolution", profile.search, work / dataset / f"search_{space_name}")
        constraints[space_name] = limits(searched)
        found.append({"name": f"searched {space_name}", "role": "searched", "space": space,
                      "archs": {s: searched["best"]["arch"] for s in profile.seeds},
                      "closed_form": {s: searched["best"]["energy_mj"] for s in profile.seeds},
                      "constraints": constraints[space_name]})
        found.extend(_signal_arms(profile, dataset, space_name, work))
        drawn = _search(profile, dataset, space, "random", profile.control_draws, work / dataset / f"draws_{space_name}")
        pool = sorted(drawn["candidates"], key=lambda r: Arch.from_dict(r["arch"]).short())  # score-blind order
        picks = {s: random.Random(f"control {space_name} {s}").choice(pool) for s in profile.seeds}
        found.append({"name": f"random control {space_name}", "role": "random-control", "space": space,
                      "archs": {s: r["arch"] for s, r in picks.items()},
                      "closed_form": {s: r["energy_mj"] for s, r in picks.items()}, "pool": len(pool),
                      "constraints": constraints[space_name]})
    first = next(iter(constraints))
    found[0]["closed_form"] = {s: constraints[first]["energy_max_mj"] for s in profile.seeds}
    return found, constraints


def network(arch: dict, time_steps: int) -> str:
    """The label of the network an architecture builds: TIME_STEPS equal to the run's T is the same
    network as no TIME_STEPS, so two arms that pick it share its runs."""
    parsed = Arch.from_dict({"RETRAIN": arch})
    return (replace(parsed, time_steps=None) if parsed.time_steps == time_steps else parsed).short()


def run_dir(work: Path, dataset: str, label: str, seed: int) -> Path:
    return work / dataset / "train" / label / f"seed{seed}"


def _train_one(job: tuple[dict, dict, str]) -> dict:
    """One training run in a worker process with one torch thread (resumed if it has a last.pt)."""
    import torch

    from autost.train import train

    torch.set_num_threads(1)
    # the job carries the run's settings (TrainConfig.to_dict, which leaves out how a session starts):
    # every job resumes its folder, so an interrupted study goes on where it stopped
    arch, config, out = Arch.from_dict({"RETRAIN": job[0]}), TrainConfig(**job[1], resume=True), job[2]
    start = time.perf_counter()
    metrics = train(arch, config, out)
    return {**metrics, "session_s": time.perf_counter() - start}


def distinct_runs(profile: Profile, found: dict[str, list[dict]]) -> dict[tuple[str, str, int], dict]:
    """(dataset, network label, seed) -> architecture, seed by seed, each network once."""
    runs: dict[tuple[str, str, int], dict] = {}
    for seed in profile.seeds:
        for dataset, dataset_arms in found.items():
            steps = train_config(profile, dataset, seed).time_steps
            for arm in dataset_arms:
                runs.setdefault((dataset, network(arm["archs"][seed], steps), seed), arm["archs"][seed])
    return runs


def train_all(profile: Profile, found: dict[str, list[dict]], work: Path) -> dict[tuple[str, str, int], dict]:
    """Every (dataset, arm, seed) run, seed by seed so that a cut study has whole pairs first; arms
    that pick the same network for a seed share one run."""
    runs = {key: (str(run_dir(work, *key)), arch) for key, arch in distinct_runs(profile, found).items()}
    done = {key: json.loads((Path(out) / METRICS).read_text()) for key, (out, _) in runs.items()
            if (Path(out) / METRICS).exists()}
    jobs = [(key, (arch, train_config(profile, key[0], key[2]).to_dict(), out))
            for key, (out, arch) in runs.items() if key not in done]
    if jobs:
        with ProcessPoolExecutor(max_workers=profile.workers, mp_context=get_context("spawn")) as pool, \
                tqdm(total=len(runs), initial=len(done), desc="headline runs", unit="run") as bar:
            futures = {pool.submit(_train_one, job): key for key, job in jobs}
            for future in as_completed(futures):
                key = futures[future]
                metrics = done[key] = future.result()
                bar.update(1)
                bar.write(f"{key[0]} {key[1]} seed {key[2]}: test {metrics['test_acc']:.2%} after "
                          f"{len(metrics['epochs'])} epochs, {metrics['energy_mj']:.4g} mJ "
                          f"({metrics['session_s'] / 60:.1f} min)")
    return {(dataset, arm["name"], seed): done[(dataset, network(arm["archs"][seed], train_config(
        profile, dataset, seed).time_steps), seed)] for dataset, dataset_arms in found.items()
        for arm in dataset_arms for seed in profile.seeds}


def _summary(values: list[float]) -> dict:
    interval = t_interval(values)
    return {"mean": mean(values), "values": values, "ci95": list(interval) if interval else None}


def _paired(values: list[float], reference: list[float]) -> dict:
    diffs = paired_differences(values, reference)
    interval = t_interval(diffs)
    return {"mean": mean(diffs), "ci95": list(interval) if interval else None, "values": diffs}


def summarize(dataset_arms: list[dict], runs: dict[tuple[str, int], dict], seeds: list[int]) -> dict:
    """Per arm: architectures, sizes, closed-form and trained energy, test accuracy over ``seeds``,
    and for the other arms the paired difference to the baseline (and to the space's random control
    for a searched arm) with a verdict. ``runs`` maps (arm, seed) to metrics.json."""
    def values(arm: str, key: str) -> list[float]:
        return [runs[(arm, s)][key] for s in seeds]

    out = []
    for arm in dataset_arms:
        name = arm["name"]
        record = {"name": name, "role": arm["role"], "space": arm["space"],
                  "arch": [arm["archs"][s] for s in seeds],
                  "arch_short": [Arch.from_dict({"RETRAIN": arm["archs"][s]}).short() for s in seeds],
                  "params": values(name, "params"), "macs": values(name, "macs"),
                  "closed_form_energy_mj": [arm["closed_form"][s] for s in seeds],
                  "energy_mj": _summary(values(name, "energy_mj")),
                  "test_acc": _summary(values(name, "test_acc")),
                  "runs": [{"seed": s, "epochs_run": len(runs[(name, s)]["epochs"]),
                            "best_epoch": runs[(name, s)]["best_epoch"],
                            "stopped_early": runs[(name, s)].get("stopped_early"),
                            "val_acc_by_epoch": [e["val_acc"] for e in runs[(name, s)]["epochs"]],
                            "train_s": sum(e["time_s"] for e in runs[(name, s)]["epochs"])} for s in seeds]}
        if arm.get("pool") is not None:
            record["chosen_from"] = arm["pool"]
        for key in ("constraints", "signal"):
            if arm.get(key) is not None:
                record[key] = arm[key]
        out.append(record)
    base = out[0]
    for record in out[1:]:
        diff = _paired(record["test_acc"]["values"], base["test_acc"]["values"])
        record["paired_diff_vs_baseline"] = diff
        record["energy_over_baseline"] = record["energy_mj"]["mean"] / base["energy_mj"]["mean"]
        record["verdict"] = verdict(diff["ci95"] and tuple(diff["ci95"]), record["energy_mj"]["mean"],
                                    base["energy_mj"]["mean"])
        if record["role"] == "searched":
            control = next(r for r in out if r["role"] == "random-control" and r["space"] == record["space"])
            record["paired_diff_vs_random_control"] = _paired(record["test_acc"]["values"],
                                                              control["test_acc"]["values"])
    return {"arms": out, "seeds": seeds}


def _error_bar(summary: dict, scale: float) -> list[list[float]] | None:
    """Matplotlib's asymmetric error bar of a summary's 95% interval (``None``: one seed)."""
    if summary["ci95"] is None:
        return None
    return [[scale * (summary["mean"] - summary["ci95"][0])], [scale * (summary["ci95"][1] - summary["mean"])]]


def plot(dataset: str, result: dict, path: Path, profile: Profile) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # one colour per arm, marker by role; arms that picked the same networks say so in the legend,
    # since their points coincide
    palette = itertools.cycle(["tab:blue", "tab:orange", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive",
                    "tab:cyan", "tab:grey"])
    fig, ax = plt.subplots(figsize=(9.5, 4.6))
    first_with: dict[tuple[str, ...], str] = {}
    steps = train_config(profile, dataset, 0).time_steps
    for arm in result["arms"]:
        acc, energy = arm["test_acc"], arm["energy_mj"]
        colour = "tab:red" if arm["role"] == "baseline" else next(palette)
        same = first_with.setdefault(tuple(network(a, steps) for a in arm["arch"]), arm["name"])
        label = arm["name"] if same == arm["name"] else f"{arm['name']} (= {same})"
        ax.scatter(energy["values"], [100 * v for v in acc["values"]], s=12, alpha=0.35, color=colour)
        ax.errorbar(energy["mean"], 100 * acc["mean"], xerr=_error_bar(energy, 1), yerr=_error_bar(acc, 100),
                    fmt={"baseline": "*", "searched": "o"}.get(arm["role"], "s"),
                    markersize=12 if arm["role"] == "baseline" else 7, capsize=3, color=colour, label=label)
    ax.set_xlabel("trained energy (mJ / sample, whole test set), mean and 95% interval")
    ax.set_ylabel("test accuracy (%), mean and 95% interval")
    images = "all" if profile.limit is None else f"{profile.limit:,}"
    ax.set_title(f"{dataset} (real data, {images} training images), seeds {', '.join(map(str, result['seeds']))}; "
                 "small points: single seeds", fontsize=8)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plan(profile: Profile, found: dict[str, list[dict]]) -> dict:
    """The study's cost before it runs: each distinct network's training step timed on one thread,
    scaled to the profile's images and epochs (all of ``epochs_max``: an upper bound), evaluation
    counted as a third of a training step per image."""
    import torch

    from autost.model import build_model

    torch.set_num_threads(1)
    seconds, per_arch = 0.0, {}
    n = {"train": 54_000, "val": 6_000, "test": 10_000}
    n = {k: v if profile.limit is None else min(profile.limit, v) for k, v in n.items()}
    images = n["train"] * profile.epochs_max + (n["val"] * profile.epochs_max + 2 * n["test"]) / 3
    for (dataset, label, _), arch_dict in distinct_runs(profile, found).items():
        if (dataset, label) not in per_arch:
            config = train_config(profile, dataset, 0)
            arch = Arch.from_dict({"RETRAIN": arch_dict})
            geometry = resolve_geometry(dataset=dataset, input_shape=None, num_classes=None, patch_size=None,
                                        time_steps=arch.steps(config.time_steps))
            per_arch[(dataset, label)] = train_step_seconds(build_model(arch, **geometry.model_kwargs()), geometry,
                                                            config.batch_size) / config.batch_size
        seconds += per_arch[(dataset, label)] * images
    return {"runs": len(distinct_runs(profile, found)), "load_average_1min": os.getloadavg()[0],
            "cpu_hours_upper_bound": seconds / 3600, "wall_hours_upper_bound": seconds / 3600 / profile.workers,
            "seconds_per_image": {f"{d} {a}": s for (d, a), s in per_arch.items()}}


def verdict_line(dataset: str, result: dict) -> str:
    parts = []
    for arm in result["arms"][1:]:
        diff = arm["paired_diff_vs_baseline"]
        ci = "" if diff["ci95"] is None else f" [{100 * diff['ci95'][0]:+.1f}, {100 * diff['ci95'][1]:+.1f}]"
        parts.append(f"{arm['name']}: {100 * diff['mean']:+.1f} pts{ci}, energy x{arm['energy_over_baseline']:.2f}, "
                     f"{arm['verdict']}")
    return f"{dataset}: " + "; ".join(parts)


def markdown_table(result: dict) -> str:
    """The README's table of one JSON result: one row per dataset and arm."""
    rows = ["| dataset | arm | architecture(s) | params (k) | test accuracy % (95% CI) | vs baseline, paired (pts) | "
            "trained energy uJ | verdict |", "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for dataset, res in result["datasets"].items():
        for arm in res["arms"]:
            shorts = sorted(set(arm["arch_short"]))
            acc = arm["test_acc"]
            ci = f" [{100 * acc['ci95'][0]:.1f}, {100 * acc['ci95'][1]:.1f}]" if acc["ci95"] else ""
            diff = arm.get("paired_diff_vs_baseline")
            versus = "" if diff is None else (f"{100 * diff['mean']:+.1f} [{100 * diff['ci95'][0]:+.1f}, "
                                              f"{100 * diff['ci95'][1]:+.1f}]")
            rows.append(f"| {dataset} | {arm['name']} | {'`' + shorts[0] + '`' if len(shorts) == 1 else f'{len(shorts)} drawn'} "
                        f"| {mean(arm['params']) / 1e3:.1f} | {100 * acc['mean']:.1f}{ci} | {versus} | "
                        f"{1e3 * arm['energy_mj']['mean']:.2f} | {arm.get('verdict', '')} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="cpu")
    parser.add_argument("--workers", type=int, help="training processes of one thread each (default: the profile's)")
    parser.add_argument("--work", type=Path, help="searches and training runs (default runs/headline_<profile>)")
    parser.add_argument("--plan", action="store_true", help="run the searches, print the cost in CPU-hours, stop")
    parser.add_argument("--table", action="store_true", help="print the README table of the profile's JSON and stop")
    args = parser.parse_args(argv)
    profile = PROFILES[args.profile]
    if args.workers:
        profile = replace(profile, workers=args.workers)
    if args.table:
        print(markdown_table(json.loads((RESULTS / f"headline_{profile.name}.json").read_text())))
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    work = args.work or Path("runs") / f"headline_{profile.name}"
    start = time.perf_counter()
    found, constraints = {}, {}
    for dataset in profile.datasets:
        found[dataset], constraints[dataset] = arms(profile, dataset, work)
    search_s = time.perf_counter() - start
    cost = plan(profile, found)
    print(f"study: {cost['runs']} training runs; at most "
          f"{cost['cpu_hours_upper_bound']:.1f} CPU-hours ({cost['wall_hours_upper_bound']:.1f} h with "
          f"{profile.workers} workers), by a timed training step per network (load average "
          f"{cost['load_average_1min']:.1f})", flush=True)
    if args.plan:
        return 0
    runs = train_all(profile, found, work)
    head = profile.datasets[0]
    settings = {"profile": profile.name, "command": "python -m benchmarks.bench_headline " + " ".join(
                    argv if argv is not None else sys.argv[1:]),
                "train_images": profile.limit or 54_000, "val_images": min(profile.limit or 6_000, 6_000),
                "test_images": min(profile.limit or 10_000, 10_000), "seeds": list(profile.seeds),
                # the tiny space's limits on the first dataset; every dataset's and space's under constraints_by
                "constraints": next(iter(constraints[head].values())), "constraints_by": constraints,
                "baseline": profile.baseline.to_dict()["RETRAIN"], "spaces": SPACES,
                "epochs_max": profile.epochs_max, "patience": profile.patience, "stopping_rule": STOPPING_RULE,
                "verdict_rule": VERDICT_RULE, "train": train_config(profile, head, 0).to_dict(),
                "search": asdict(profile.search), "control_draws": asdict(profile.control_draws),
                "plan": cost, "search_s": search_s,
                # arms that share a network share its runs: each run counted once
                "cpu_hours_measured": sum(sum(e["time_s"] for e in m["epochs"])
                                          for m in {id(m): m for m in runs.values()}.values()) / 3600}
    results = {}
    for dataset in profile.datasets:
        results[dataset] = summarize(found[dataset], {(a, s): m for (d, a, s), m in runs.items() if d == dataset},
                                     list(profile.seeds))
        plot(dataset, results[dataset], RESULTS / f"headline_{profile.name}_{dataset}.png", profile)
        print(verdict_line(dataset, results[dataset]))
    path = write_result(f"headline_{profile.name}", {"settings": settings, "datasets": results})
    print(f"-> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
