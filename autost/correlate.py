"""Does a training-free proxy predict accuracy? Sample architectures, score them at
initialization with every proxy, train each one, and rank-correlate the two.

Files in the output folder:
  correlate.json    settings, the per-architecture table (every proxy and the test accuracy)
                    and, once all are trained, Kendall's tau and Spearman's rho of each proxy
                    against test accuracy with bootstrap intervals (atomic; rewritten after
                    every architecture, so a killed study loses at most the one in training)
  runs/NNN/         the training run of architecture NNN (checkpoints and metrics.json)
  correlate_scatter.png, correlate_tau.png   the plots

A study is resumable per architecture: with ``resume`` the saved scores are reused, an
architecture whose ``metrics.json`` exists is skipped, and the one that was in training
continues from its ``last.pt``.
"""
from __future__ import annotations

import json
import random
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from scipy import stats
from tqdm import tqdm

from autost.arch import Arch
from autost.batches import labeled_batch, step_batches
from autost.cost import analytic_cost
from autost.errors import UsageError
from autost.fingerprint import refuse_changes
from autost.geometry import Geometry, resolve_geometry
from autost.io import atomic_write_json
from autost.memory import check_space
from autost.model import NETWORK
from autost.options import check_fields, default
from autost.rundir import claim
from autost.scores import SCORES, Context
from autost.scores.ensemble import members, rank_sum
from autost.search.evaluate import Constraints
from autost.size_control import METHOD as SIZE_CONTROL, describe_bins, interval, size_controlled
from autost.space import SearchSpace
from autost.tables.study import STUDY
from autost.train import METRICS, TrainConfig, train
from autost.validate import load_json
from energy.closed_form import (CALIBRATION_ARCHS, RateTable, calibrate, calibration_archs, closed_form_energy,
                                stem_archs)
from energy.counters import has_closed_form
from energy.measure import measure_network
from energy.models import DEFAULT_MODEL, get_model

RESULT = "correlate.json"
SUPERNET = "supernet"  # the score of a trained supernet (autost.scores.supernet)
# What only the scoring uses: a rescored study may add or change them without training again.
SCORING_ONLY = ("ensembles", "supernet")
RUNS = "runs"
TARGET = "test_acc"
# The second target: the trained network's energy per sample (a test batch, running statistics,
# the study's energy model), as train() records it in metrics.json.
ENERGY_TARGET = "trained_energy_mj"
# The columns a study records besides the registered scores: the MACs (which rank as the "flops"
# score) and the init-time energy, measured and in closed form (energy.closed_form, its rate table
# calibrated once per study as a search calibrates it).
COST_COLUMNS = ("macs", "energy_mj", "closed_form_mj")
MISSES_PER_CELL = 50  # consecutive duplicates / out-of-limit draws before a cell counts as exhausted


@dataclass(frozen=True)
class StudyConfig:
    space: str
    dataset: str
    n: int = default(STUDY, "n")
    epochs: int = default(STUDY, "epochs")
    seed: int = default(STUDY, "seed")
    param_limits: tuple[float, float] | None = None  # millions of parameters
    time_steps: int = default(STUDY, "time_steps")
    batch_size: int = default(STUDY, "batch_size")  # the scoring batch
    # Small batches: a short run needs enough optimizer steps (about 100) for BatchNorm's running
    # statistics to forget their initial values, or eval-mode accuracy stays at chance.
    train_batch_size: int | None = default(STUDY, "train_batch_size")  # None: the dataset's recipe
    limit: int | None = None  # training on the first N samples of each split
    lam: float = default(STUDY, "lam")  # lambda of the "autost" proxy
    resamples: int = default(STUDY, "resamples")  # bootstrap resamples of the architectures
    energy_model: str = DEFAULT_MODEL  # the model of the energy_mj proxy (energy.models)
    ensembles: tuple[str, ...] = ()  # rank ensembles recorded too ("ensemble:flops+zico")
    supernet: str | None = None  # a trained supernet's folder: its score is recorded too
    patience: int | None = None  # stop a network's training at a plateau (TrainConfig.patience)
    data_root: str | None = None

    def __post_init__(self) -> None:
        check_fields(self, STUDY)  # each setting's check, from its option

    def to_dict(self) -> dict[str, Any]:
        """What identifies a study (a resumed one must match it); the data root and the supernet's
        folder may move (the study's settings hold the supernet's own), and a study without
        ensembles or patience matches one written before they existed."""
        data = asdict(self)
        for key in ("data_root", "supernet"):
            data.pop(key)
        for key in ("ensembles", "patience"):
            if not data[key]:
                data.pop(key)
        return json.loads(json.dumps(data))  # tuples as lists, as read back from the file


def proxies(ensembles: Sequence[str] = (), supernet: bool = False) -> tuple[str, ...]:
    """A study's proxy columns: the cost columns, every registered score a study records (in the
    registry's order), the supernet's when it has one, then ``ensembles``."""
    return (*COST_COLUMNS, *(name for name, score in SCORES.items() if score.study),
            *((SUPERNET,) if supernet else ()), *ensembles)


def validate(config: StudyConfig) -> SearchSpace:
    """Every check that needs no work, so bad input fails at once."""
    get_model(config.energy_model)
    training = train_config(config, resume=False)  # TrainConfig checks the training settings
    from datasets import check_available

    check_available(config.dataset, config.data_root)
    space = SearchSpace.from_yaml(config.space)
    if config.supernet is not None:
        supernet_summary(config, space)
    # every architecture runs a backward pass twice: grad-norm and synflow, then its training
    check_space(space, geometry_of(config), max(config.batch_size, training.batch_size), use="train")
    return space


def supernet_summary(config: StudyConfig, space: SearchSpace) -> dict[str, Any]:
    """The summary (supernet.json) of the supernet in ``config.supernet``; a one-line error
    unless it was trained on this study's space, dataset and T."""
    from autost.supernet import SUMMARY, WEIGHTS

    folder = Path(config.supernet)
    if not (folder / WEIGHTS).exists() or not (folder / SUMMARY).exists():
        raise UsageError(f"--supernet {folder} holds no trained supernet; train one with run.py supernet train "
                         f"--space {config.space} --dataset {config.dataset} --out {folder}")
    summary = load_json(folder / SUMMARY, "supernet summary", ("settings", "steps_done", "elapsed_s"))
    settings = summary["settings"]
    if (settings.get("space") != space.to_dict()["SEARCH_SPACE"] or settings.get("dataset") != config.dataset
            or settings.get("time_steps") != config.time_steps):
        raise UsageError(f"--supernet {folder} was trained on {settings.get('dataset')} at T "
                         f"{settings.get('time_steps')} with another space, dataset or T than this study's; train "
                         f"one with run.py supernet train --space {config.space} --dataset {config.dataset} "
                         f"--time-steps {config.time_steps}")
    return summary


def geometry_of(config: StudyConfig) -> Geometry:
    return resolve_geometry(dataset=config.dataset, input_shape=None, num_classes=None, patch_size=None,
                            time_steps=config.time_steps)


def train_config(config: StudyConfig, *, resume: bool) -> TrainConfig:
    """The dataset's recipe for ``config.epochs`` epochs. Its warm-up is cut to at most a third
    of a short run, so that most steps see the peak learning rate and the cosine decay."""
    recipe = TrainConfig.for_dataset(config.dataset)
    return TrainConfig.for_dataset(
        config.dataset, epochs=config.epochs, warmup_epochs=min(recipe.warmup_epochs, config.epochs // 3),
        batch_size=config.train_batch_size, time_steps=config.time_steps, limit=config.limit, seed=config.seed,
        data_root=config.data_root, energy_model=config.energy_model, patience=config.patience, resume=resume)


def sample_architectures(space: SearchSpace, n: int, rng: random.Random, geometry: Geometry,
                         constraints: Constraints = Constraints()) -> list[Arch]:
    """``n`` distinct architectures within ``constraints``, stratified over depth and width: the
    (depth, embed_dim) cells are visited in a shuffled order, round after round, and each visit
    draws the per-block MLP ratios and head counts at random. A cell that yields nothing new
    for ``MISSES_PER_CELL`` draws in a row is dropped."""
    cells = [(depth, dim) for depth in space.depth for dim in space.embed_dim]
    rng.shuffle(cells)
    chosen: list[Arch] = []
    seen: set[Arch] = set()
    while cells and len(chosen) < n:
        for cell in list(cells):
            arch = _draw(space, *cell, rng, geometry, constraints, seen)
            if arch is None:
                cells.remove(cell)
                continue
            seen.add(arch)
            chosen.append(arch)
            if len(chosen) == n:
                break
    if len(chosen) < n:
        raise UsageError(f"{space.name} holds only {len(chosen)} distinct architectures within the parameter "
                         f"limits; lower --n or widen --param-limits")
    return chosen


def _draw(space: SearchSpace, depth: int, dim: int, rng: random.Random, geometry: Geometry,
          constraints: Constraints, seen: set[Arch]) -> Arch | None:
    for _ in range(MISSES_PER_CELL):
        arch = space.sample_at(depth, dim, rng)
        if arch not in seen and constraints.params_ok(analytic_cost(arch, **geometry.model_kwargs()).params):
            return arch
    return None


def study_rates(space: SearchSpace, geometry: Geometry, inputs: torch.Tensor, seed: int,
                step_inputs: dict[int, torch.Tensor] | None = None) -> RateTable:
    """The closed form's rate table of a study: calibrated on the scoring batch (and its frames at
    each T of a TIME_STEPS gene), as a search would."""
    archs = calibration_archs(space, CALIBRATION_ARCHS, seed)
    return calibrate(archs, geometry, inputs, seed=seed, step_batches=step_inputs, stems=stem_archs(space))


def score_architecture(arch: Arch, geometry: Geometry, inputs: torch.Tensor, targets: torch.Tensor, *,
                       seed: int, lam: float, energy_model: str = DEFAULT_MODEL,
                       rates: RateTable | None = None, extra: Sequence[str] = (), supernet: str | None = None,
                       seconds: dict[str, float] | None = None) -> dict[str, float | None]:
    """The cost columns and every score a study records of ``arch`` at initialization, the
    supernet's score with ``supernet`` (a trained supernet's folder), and the scores named in
    ``extra`` (an ensemble's members). The weights are seeded from ``seed`` and the architecture
    alone (as the search does), so a score does not depend on the order of scoring.
    ``closed_form_mj`` needs ``rates`` and an ``energy_model`` with a closed form; else it is ``None``.
    ``seconds``, when given, accumulates each score's time by name (a score that reads another
    is charged for it only when computed first)."""
    # backward: grad-norm, synflow and ZiCo run a backward pass (the memory check counts it)
    ctx = Context(arch, geometry, seed=seed, lam=lam, batch=inputs, targets=targets, backward=True, supernet=supernet)
    row: dict[str, float | None] = {
        "macs": ctx.cost.macs,
        "energy_mj": measure_network(ctx.network, inputs, energy_model).total_mj,
        "closed_form_mj": (closed_form_energy(arch, geometry, rates, energy_model)
                           if rates is not None and has_closed_form(energy_model) else None),
    }
    for name in (*proxies(supernet=supernet is not None)[len(COST_COLUMNS):], *extra):
        start = time.perf_counter()
        row[name] = ctx.score(name)
        if seconds is not None:
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - start
    return row


def add_ensembles(table: list[dict[str, Any]], ensembles: Sequence[str]) -> None:
    """Each ensemble's column: its rank sum within the study (the reference set is the table)."""
    for name in ensembles:
        reference = {m: sorted(row[m] for row in table) for m in members(name)}
        for row in table:
            row[name] = rank_sum({m: row[m] for m in reference}, reference)


def _finite(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None


def correlation_stats(table: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None, target: str = TARGET,
                      *, resamples: int = 1000, seed: int = 0, level: float = 0.95) -> dict[str, dict[str, Any]]:
    """Kendall's tau-b and Spearman's rho of each proxy against ``target`` over the rows of
    ``table`` that have a target, with percentile bootstrap intervals at ``level``: the
    architectures are resampled with replacement ``resamples`` times (seeded). A statistic that
    is undefined (a constant column) is ``None``; so are resamples where it is undefined, which
    are left out of the interval. ``columns``: the proxies (default: ``proxies()``). Each proxy's
    ``size_controlled`` entry holds the same correlation with the MACs held fixed
    (``autost.size_control``: partial rank correlation given log MACs, and Kendall's tau within
    bins of near-equal MACs), with intervals from the same resamples."""
    rows = [row for row in table if row.get(target) is not None]
    y = np.array([row[target] for row in rows], dtype=float)
    macs = np.array([row["macs"] for row in rows], dtype=float)
    draws = np.random.default_rng(seed).integers(0, len(rows), size=(resamples, len(rows)))
    result = {}
    for proxy in columns or proxies():
        x = np.array([row.get(proxy) for row in rows], dtype=float)  # None (or absent: an older study) is nan
        with warnings.catch_warnings():
            # A constant column, or a resample that drew one architecture only, is expected: it gives nan.
            warnings.simplefilter("ignore", stats.ConstantInputWarning)
            tau = stats.kendalltau(x, y)
            rho = stats.spearmanr(x, y)
            boot = np.array([(stats.kendalltau(x[i], y[i]).statistic, stats.spearmanr(x[i], y[i]).statistic)
                             for i in draws])
        result[proxy] = {
            "n": len(rows),
            "kendall_tau": _finite(tau.statistic),
            "kendall_p": _finite(tau.pvalue),
            "kendall_ci": interval(boot[:, 0], level),
            "spearman_rho": _finite(rho.statistic),
            "spearman_p": _finite(rho.pvalue),
            "spearman_ci": interval(boot[:, 1], level),
            "size_controlled": size_controlled(x, y, macs, draws, level),
        }
    return result


def ranking(proxy_stats: Mapping[str, Mapping[str, Any]], size_controlled: bool = False) -> list[str]:
    """Proxies by Kendall's tau, highest first (undefined ones last); with ``size_controlled``, by
    the tau within bins of near-equal MACs. Signed: every score is used by maximizing it, so a
    proxy that ranks accuracy backwards is a bad one."""
    def tau(proxy: str) -> float | None:
        s = proxy_stats[proxy]
        return s["size_controlled"]["binned_kendall"] if size_controlled else s["kendall_tau"]

    return sorted(proxy_stats, key=lambda p: -np.inf if tau(p) is None else tau(p), reverse=True)


class _Study:
    """The study's state: config, table and timings, and how to write them."""

    def __init__(self, config: StudyConfig, out: Path, space: SearchSpace):
        self.config, self.out, self.space = config, out, space
        self.table: list[dict[str, Any]] = []
        self.timing = {"scoring_s": 0.0, "training_s": 0.0}

    @property
    def path(self) -> Path:
        return self.out / RESULT

    def load(self, rescore: bool = False) -> None:
        """Read the study back; it must have the same settings, except, with ``rescore``, those only
        the scoring uses (``SCORING_ONLY``)."""
        try:
            data = json.loads(self.path.read_text())
            saved, table, timing = data["settings"], data["table"], data["timing"]
        except (ValueError, KeyError, TypeError) as err:
            raise UsageError(f"{self.path} is not a readable study ({err}); delete the folder to start over") from err
        current = self.settings()
        if rescore:
            saved, current = ({k: v for k, v in d.items() if k not in SCORING_ONLY} for d in (saved, current))
        refuse_changes(saved, current, self.path)
        self.table, self.timing = table, timing

    def settings(self) -> dict[str, Any]:
        """The study's fingerprint: its settings, with the space's content in place of its path
        and a supernet's own settings in place of its folder."""
        data = {**self.config.to_dict(), "space": self.space.to_dict()["SEARCH_SPACE"], "network": NETWORK}
        if self.config.supernet is not None:
            from autost.supernet import fingerprint_of

            data[SUPERNET] = fingerprint_of(self.supernet)
        return data

    @cached_property
    def supernet(self) -> dict[str, Any]:
        """The supernet's summary (supernet.json)."""
        return supernet_summary(self.config, self.space)

    @property
    def columns(self) -> tuple[str, ...]:
        return proxies(self.config.ensembles, supernet=self.config.supernet is not None)

    def run_dir(self, index: int) -> Path:
        return self.out / RUNS / f"{index:03d}"

    def write(self, proxy_stats: dict | None = None, energy_stats: dict | None = None) -> None:
        trained = sum(row[TARGET] is not None for row in self.table)
        data = {
            "settings": self.settings(),
            "target": TARGET,
            "proxies": list(self.columns),
            "notes": {
                "autost": f"AutoST's score GMACs + lambda / NASWOT with lambda = {self.config.lam:g} "
                          "(lambda = 0 makes it MACs)",
                "synflow": "Tanaka et al. 2020, through the LIF surrogate gradient; absolute weights, "
                           "BatchNorm on running statistics, all-ones input, float64",
                "grad_norm": "Abdelfattah et al. 2021: sum of per-layer L2 norms of the cross-entropy "
                             "gradient on the scoring batch, BatchNorm on batch statistics",
                "zico": "Li et al. 2023: sum over layers of log(sum of mean/std of |gradient|) over the two "
                        "halves of the scoring batch, BatchNorm on batch statistics",
                "ensembles": "the sum of each member's midrank among the study's architectures",
                "intervals": f"percentile bootstrap over architectures, {self.config.resamples} resamples",
            },
            "complete": trained == len(self.table) and proxy_stats is not None,
            "trained": trained,
            "stats": proxy_stats,
            "ranking": ranking(proxy_stats) if proxy_stats else None,
            "size_control": {"method": SIZE_CONTROL, "bins": describe_bins(np.array([row["macs"] for row in self.table],
                                                                                      dtype=float))},
            "size_controlled_ranking": ranking(proxy_stats, size_controlled=True) if proxy_stats else None,
            "supernet_cost": self.supernet_cost(),
            "energy_target": ENERGY_TARGET,
            "energy_stats": energy_stats,
            "energy_ranking": ranking(energy_stats) if energy_stats else None,
            "timing": self.timing,
            "table": self.table,
        }
        atomic_write_json(self.path, data)

    def record(self, row: dict[str, Any], metrics: Mapping[str, Any]) -> None:
        """Record a training run finished by a worker (once), and write the file."""
        if row[TARGET] is not None:
            return
        self.timing["training_s"] += sum(epoch["time_s"] for epoch in metrics["epochs"])
        row.update(_trained(metrics))
        self.write()

    def supernet_cost(self) -> dict[str, Any] | None:
        """What the supernet's score cost: its training, against the mean training of one of the
        study's networks, and rating the study's architectures with it."""
        if self.config.supernet is None:
            return None
        trained = sum(row[TARGET] is not None for row in self.table)
        per_network = self.timing["training_s"] / trained if trained else None
        return {"training_s": self.supernet["elapsed_s"], "steps": self.supernet["steps_done"],
                "per_network_training_s": per_network,
                "relative_to_one_network": self.supernet["elapsed_s"] / per_network if per_network else None,
                "rating_s": self.timing.get("per_score_s", {}).get(SUPERNET)}


def _trained(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """A row's training results, from its run's metrics."""
    return {TARGET: metrics["test_acc"], "best_val_acc": metrics["best_val_acc"], ENERGY_TARGET: metrics.get("energy_mj")}


def _read_metrics(path: Path, arch: Arch) -> dict[str, Any]:
    metrics = load_json(path, "training metrics", ("arch", "test_acc", "best_val_acc", "epochs"))
    if Arch.from_dict(metrics["arch"]) != arch:
        raise UsageError(f"{path} belongs to {Arch.from_dict(metrics['arch']).short()}, not to {arch.short()}; "
                         "the study folder is inconsistent, start it over")
    return metrics


def run_study(config: StudyConfig, out: str | Path, *, resume: bool = False, progress: bool = True,
              on_trained: Callable[[int, dict[str, Any]], None] | None = None,
              log: Callable[[str], None] | None = None, workers: int | None = None,
              ray_address: str | None = None, rescore: bool = False) -> dict[str, Any]:
    """Run (or, with ``resume``, continue) a study into ``out``; returns correlate.json's content.

    ``on_trained(index, row)`` is called after each architecture is trained and recorded (a
    test stops a study there to resume it). ``log`` receives the training's per-epoch lines.
    With ``workers`` or ``ray_address`` the untrained architectures are trained one per
    worker first (``autost.parallel``); the rows are then recorded in order as usual.
    ``rescore`` (with ``resume``) scores the study's architectures again with the current
    proxies and keeps their recorded training results: after a proxy's definition changes, a
    study need not be trained again. A row trained in an earlier session whose run folder is
    gone keeps its recorded accuracy.
    """
    space = validate(config)
    with claim(out) as out:
        return _run_study(config, space, out, resume, progress, on_trained, log, workers, ray_address, rescore)


def _run_study(config: StudyConfig, space: SearchSpace, out: Path, resume: bool, progress: bool,
               on_trained: Callable[[int, dict[str, Any]], None] | None, log: Callable[[str], None] | None,
               workers: int | None, ray_address: str | None, rescore: bool) -> dict[str, Any]:
    study = _Study(config, out, space)
    if study.path.exists():
        if not resume:
            raise UsageError(f"{out} already holds a study; pass --resume to continue it or choose another --out")
        study.load(rescore)
    elif (out / RUNS).exists():
        raise UsageError(f"{out / RUNS} exists but {RESULT} does not; delete it or choose another --out")
    if rescore and not study.table:
        raise UsageError(f"--rescore needs a study in {out} (and --resume)")
    if not study.table or rescore:
        _score_all(study, space, progress)
        study.write()
    if workers is not None or ray_address:
        from autost.parallel import make_jobs, run_jobs

        rows = {study.run_dir(row["index"]).name: row for row in study.table}
        for name, row in rows.items():  # trained while this study's process was stopped
            if (out / RUNS / name / METRICS).exists():
                study.record(row, _read_metrics(out / RUNS / name / METRICS, Arch.from_dict(row["arch"])))
        untrained = [(name, Arch.from_dict(row["arch"])) for name, row in rows.items()
                     if not (out / RUNS / name / METRICS).exists()]
        # each architecture is recorded as its job finishes: a study stopped early keeps them in its file
        run_jobs(make_jobs(untrained, train_config(config, resume=True), out / RUNS), workers=workers or 1,
                 ray_address=ray_address, log=log or (lambda message: None),
                 on_result=lambda name, metrics: study.record(rows[name], metrics))
    bar = tqdm(study.table, desc="training", unit="arch", disable=not progress, file=sys.stderr)
    recorded_s, training_s = study.timing["training_s"], 0.0
    for row in bar:
        index, arch = row["index"], Arch.from_dict(row["arch"])
        metrics_path = study.run_dir(index) / METRICS
        if metrics_path.exists():
            metrics = _read_metrics(metrics_path, arch)
        elif row[TARGET] is not None:
            training_s = None  # trained in a session whose runs are gone: keep the recorded total
            continue
        else:
            metrics = train(arch, train_config(config, resume=True), study.run_dir(index), log=log)
        if training_s is not None:  # summed from every run's epochs, whichever session trained them
            training_s += sum(epoch["time_s"] for epoch in metrics["epochs"])
        study.timing["training_s"] = recorded_s if training_s is None else training_s
        row.update(_trained(metrics))
        study.write()
        bar.set_postfix(acc=f"{row[TARGET]:.3f}", refresh=False)
        if on_trained:
            on_trained(index, row)
    proxy_stats = correlation_stats(study.table, study.columns, resamples=config.resamples, seed=config.seed)
    energy_stats = None
    if any(row.get(ENERGY_TARGET) is not None for row in study.table):  # studies trained before it have none
        energy_stats = correlation_stats(study.table, study.columns, target=ENERGY_TARGET,
                                         resamples=config.resamples, seed=config.seed)
    study.write(proxy_stats, energy_stats)
    _plot(study, proxy_stats)
    return json.loads(study.path.read_text())


def _score_all(study: _Study, space: SearchSpace, progress: bool) -> None:
    """Sample the study's architectures and score each; rows already in the table (a rescore)
    keep their training results, and must be the architectures sampled again."""
    config = study.config
    geometry = geometry_of(config)
    limits = config.param_limits or (None, None)
    archs = sample_architectures(space, config.n, random.Random(config.seed), geometry,
                                 Constraints(limits[0], limits[1]))
    draw = dict(batch_size=config.batch_size, seed=config.seed, data_root=config.data_root, img_size=geometry.img_size)
    inputs, targets = labeled_batch(config.dataset, time_steps=config.time_steps, **draw)
    # event frames binned at each T of a TIME_STEPS gene (the same draw, so the same targets)
    per_step = step_batches(config.dataset, space.time_steps, time_steps=config.time_steps, **draw) or {}
    old = study.table
    if old and [row["arch"] for row in old] != [arch.to_dict()["RETRAIN"] for arch in archs]:
        raise UsageError(f"{study.path}: its architectures are not the ones this space and seed sample; "
                         "rescore a study with the space file it was made with")
    study.table = []
    start = time.perf_counter()
    rates = study_rates(space, geometry, inputs, config.seed, per_step)
    extra = sorted({m for name in config.ensembles for m in members(name)} - set(study.columns))
    seconds: dict[str, float] = {}
    for index, arch in enumerate(tqdm(archs, desc="scoring", unit="arch", disable=not progress, file=sys.stderr)):
        scores = score_architecture(arch, geometry, per_step.get(arch.steps(config.time_steps), inputs), targets,
                                    seed=config.seed, lam=config.lam, energy_model=config.energy_model, rates=rates,
                                    extra=extra, supernet=config.supernet, seconds=seconds)
        kept = (TARGET, "best_val_acc", ENERGY_TARGET)
        trained = {k: old[index].get(k) for k in kept} if old else dict.fromkeys(kept)
        study.table.append({"index": index, "arch": arch.to_dict()["RETRAIN"], "label": arch.short(), **scores,
                            **trained})
    add_ensembles(study.table, config.ensembles)
    study.timing["scoring_s"] = time.perf_counter() - start
    study.timing["per_score_s"] = seconds


def _plot(study: _Study, proxy_stats: dict[str, dict[str, Any]]) -> None:
    from autost.report.correlate_plots import proxy_scatter, tau_bars

    config = study.config
    title = f"{config.dataset}: {len(study.table)} architectures, trained {config.epochs} epoch(s)"
    proxy_scatter(study.table, study.columns, proxy_stats, study.out / "correlate_scatter.png", title=title)
    tau_bars(proxy_stats, study.out / "correlate_tau.png", title=title)
