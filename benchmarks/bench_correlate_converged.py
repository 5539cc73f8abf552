"""Proxies against accuracy at convergence: the correlation studies whose networks are trained to
their plateau, with every score, the supernet's and the ensembles', overall and size-controlled.

    .venv/bin/python -m benchmarks.bench_correlate_converged --dataset digits --workers 2
    .venv/bin/python -m benchmarks.bench_correlate_converged --dataset fashion-mnist --plan
    .venv/bin/python -m benchmarks.bench_correlate_converged --dataset fashion-mnist --workers 2
    .venv/bin/python -m benchmarks.bench_correlate_converged --table benchmarks/results/X/correlate.json

Each profile (``PROFILES``) first trains the space's weight-sharing supernet on the dataset's train
split into OUT/supernet, then runs ``autost.correlate``'s study into OUT
(benchmarks/results/correlate_converged_<dataset>/) with that supernet. Both resume: rerun the same
command after a stop and it continues where it was (finished architectures are in correlate.json as
soon as they finish; one in training continues from its last epoch while OUT/runs/ is there). A
study whose table lacks a column the profile records (written before the supernet was trained) is
scored again without retraining (``--rescore``). ``--plan`` prints the study's cost in CPU-hours
before anything trains: each sampled network's training step timed on one thread (process time),
scaled to every epoch it may train (an upper bound when training stops at a plateau). ``--table``
prints the markdown table of any study's file, overall and size-controlled, its statistics
computed again from its table (so a study written before the size-controlled ones gets them).
"""
from __future__ import annotations

import argparse
import json
import os
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from autost.correlate import (RESULT, SUPERNET, StudyConfig, correlation_stats, geometry_of, proxies, ranking,
                              run_study, sample_architectures, validate)
from autost.search.evaluate import Constraints
from autost.supernet import SUMMARY, SupernetConfig, fingerprint_of, train_supernet
from benchmarks.common import RESULTS, train_step_seconds

ENSEMBLES = ("ensemble:flops+naswot", "ensemble:flops+zico")


@dataclass(frozen=True)
class Converged:
    """A converged study: the study's settings and its supernet's."""

    study: StudyConfig
    supernet: SupernetConfig
    workers: int = 2  # one-thread training processes the plan is sized for


# digits: all of it (1,294 training images), every network 20 epochs: the digits recipe (batch 64,
# lr 2e-3, 2 warm-up epochs), which reaches the plateau on this set. The supernet's 200 steps of 4
# candidates on 32 images are as many image passes as one network's 20 epochs (25,600 and 25,880).
DIGITS = Converged(
    StudyConfig(space="spaces/digits.yaml", dataset="digits", n=30, epochs=20, train_batch_size=None,
                ensembles=ENSEMBLES),
    SupernetConfig(space="spaces/digits.yaml", dataset="digits", steps=200))
# Fashion-MNIST: 5,000 images of each split, each network trained until validation accuracy has not
# improved for 3 epochs (at most 10, as in the headline study), the 28x28 sets' recipe otherwise
# (batch 64, lr 2e-3, 3 warm-up epochs), on the headline study's CPU space up to 50,000 parameters:
# the plan of the whole space was at most 9.4 CPU-hours at 12 epochs, this one's at most 5.1, about 4
# with the plateau's early stops (benchmarks/README.md gives the plans' figures). The supernet: 400 steps (51,200 image passes, about
# one network's 10 epochs).
FASHION = Converged(
    StudyConfig(space="spaces/headline_cpu.yaml", dataset="fashion-mnist", n=30, epochs=10, patience=3, limit=5000,
                param_limits=(0.0, 0.05), train_batch_size=None, ensembles=ENSEMBLES),
    SupernetConfig(space="spaces/headline_cpu.yaml", dataset="fashion-mnist", steps=400, limit=5000))
PROFILES = {p.study.dataset: p for p in (DIGITS, FASHION)}


def out_dir(profile: Converged) -> Path:
    return RESULTS / f"correlate_converged_{profile.study.dataset}"


def study_config(profile: Converged) -> StudyConfig:
    return replace(profile.study, supernet=str(out_dir(profile) / "supernet"))


def needs_rescore(out: Path, config: StudyConfig) -> bool:
    """Whether the study in ``out`` lacks a column ``config`` records (scored before it had it), or
    rated its supernet column with other settings than its supernet's now (its validation images)."""
    if not (out / RESULT).exists():
        return False
    saved = json.loads((out / RESULT).read_text())
    columns = proxies(config.ensembles, supernet=config.supernet is not None)
    if any(column not in row for row in saved["table"] for column in columns):
        return True
    if config.supernet is None:
        return False
    summary = Path(config.supernet) / SUMMARY
    return summary.exists() and saved["settings"].get(SUPERNET) != fingerprint_of(json.loads(summary.read_text()))


def run(profile: Converged, workers: int) -> dict[str, Any]:
    """Train the supernet, then the study (each resumed); returns correlate.json's content."""
    out = out_dir(profile)
    train_supernet(profile.supernet, out / "supernet", resume=True)
    config = study_config(profile)
    return run_study(config, out, resume=True, workers=workers, rescore=needs_rescore(out, config),
                     log=lambda message: print(message, flush=True))


def plan(profile: Converged) -> dict[str, Any]:
    """The study's cost before it trains: each of its architectures' training step timed in process
    time on one thread, scaled to every image of every epoch it may train; evaluation counted as a
    third of a training step per image (validation every epoch, the test split twice: accuracy
    and energy)."""
    import torch

    from autost.model import build_model
    from autost.train import TrainConfig
    from datasets import get_dataset

    torch.set_num_threads(1)
    config = profile.study
    space = validate(config)
    geometry = geometry_of(config)
    recipe = TrainConfig.for_dataset(config.dataset)
    batch = config.train_batch_size or recipe.batch_size
    sizes = {}
    for split in ("train", "val", "test"):
        n = len(get_dataset(config.dataset, split, data_root=config.data_root, time_steps=config.time_steps,
                            img_size=geometry.img_size, seed=config.seed))
        sizes[split] = n if config.limit is None else min(config.limit, n)
    images = sizes["train"] * config.epochs + (sizes["val"] * config.epochs + 2 * sizes["test"]) / 3
    per_image = {}
    limits = config.param_limits or (None, None)
    for arch in sample_architectures(space, config.n, random.Random(config.seed), geometry,
                                     Constraints(limits[0], limits[1])):
        torch.manual_seed(0)
        model = build_model(arch, **geometry.model_kwargs())
        per_image[arch.short()] = train_step_seconds(model, geometry, batch, clock=time.process_time) / batch
    seconds = sum(per_image.values()) * images
    return {"dataset": config.dataset, "architectures": len(per_image), "images": sizes, "epochs_max": config.epochs,
            "patience": config.patience, "load_average_1min": os.getloadavg()[0],
            "cpu_hours_upper_bound": seconds / 3600, "wall_hours_upper_bound": seconds / 3600 / profile.workers,
            "workers": profile.workers, "cpu_seconds_per_image": per_image}


def cost_line(result: dict[str, Any], out: Path) -> str:
    """The study's time in minutes of one-thread processes (wall time, so a loaded machine
    inflates it): scoring, training (the sum of every run's epochs) and the supernet's training."""
    supernet = json.loads((out / "supernet" / SUMMARY).read_text())["elapsed_s"]
    timing = result["timing"]
    total = timing["scoring_s"] + timing["training_s"] + supernet
    return (f"{result['trained']}/{len(result['table'])} trained; scoring {timing['scoring_s'] / 60:.1f} min, training "
            f"{timing['training_s'] / 60:.1f} min, supernet {supernet / 60:.1f} min: {total / 60:.1f} minutes of "
            "one-thread processes (wall time)")


def _cell(value: float | None, interval: list[float] | None) -> str:
    if value is None:
        return "undefined"
    return f"{value:+.2f}" + (f" [{interval[0]:+.2f}, {interval[1]:+.2f}]" if interval else "")


def markdown_table(path: Path) -> str:
    """The study in ``path``: each proxy's Kendall tau overall, within MACs bins and its partial
    Spearman given log MACs (95% bootstrap intervals), ranked by the tau within bins."""
    data = json.loads(path.read_text())
    settings = data["settings"]
    stats = correlation_stats(data["table"], data["proxies"], resamples=settings["resamples"], seed=settings["seed"])
    lines = ["| proxy | Kendall tau overall | tau within MACs bins | partial Spearman given log MACs |",
             "| --- | --- | --- | --- |"]
    for proxy in ranking(stats, size_controlled=True):
        s, c = stats[proxy], stats[proxy]["size_controlled"]
        lines.append(f"| {proxy} | {_cell(s['kendall_tau'], s['kendall_ci'])} | "
                     f"{_cell(c['binned_kendall'], c['binned_kendall_ci'])} | "
                     f"{_cell(c['partial_spearman'], c['partial_spearman_ci'])} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", choices=sorted(PROFILES))
    parser.add_argument("--table", type=Path, metavar="CORRELATE_JSON",
                        help="print the overall and size-controlled table of a study's file and stop")
    parser.add_argument("--workers", type=int, default=2, help="one-thread training processes (default 2)")
    parser.add_argument("--plan", action="store_true", help="print the study's cost in CPU-hours and stop")
    args = parser.parse_args()
    if args.table:
        print(markdown_table(args.table))
        return
    if not args.dataset:
        parser.error("give --dataset (or --table)")
    profile = PROFILES[args.dataset]
    if args.plan:
        cost = plan(profile)
        print(json.dumps(cost, indent=1))
        print(f"{cost['architectures']} architectures, at most {cost['epochs_max']} epochs: at most "
              f"{cost['cpu_hours_upper_bound']:.1f} CPU-hours ({cost['wall_hours_upper_bound']:.1f} h with "
              f"{profile.workers} one-thread processes)")
        return
    result = run(profile, args.workers)
    print(cost_line(result, out_dir(profile)))


if __name__ == "__main__":
    main()
