"""A whole search run: validate inputs, search (resumably), write the results.

Files in the output folder:
  checkpoint.json  the search state after the last finished generation (atomic)
  search.json      candidates best first, the best one, settings and timing
  history.csv      best / mean / worst score of the top-k per generation
  top/NN.yaml      the best K architectures of distinct cost, in AutoST's RETRAIN format

With ``match_baseline`` (a RETRAIN mapping), the search keeps the architectures with at most the
baseline's parameters and at most its energy, both obtained as every candidate's are (params in
closed form; energy by the search's own energy method, on the search's batch), and search.json
records them under ``match_baseline``.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import torch
from tqdm import tqdm

from autost.arch import Arch
from autost.batches import labeled_batch, step_batches
from autost.cost import analytic_cost
from autost.errors import UsageError
from autost.fingerprint import refuse_changes
from autost.geometry import Geometry
from autost.io import atomic_write_json, atomic_write_text
from autost.memory import check_space, scoring_use
from autost.model import NETWORK
from autost.pareto import non_dominated
from autost.rundir import claim
from autost.scores import ENSEMBLE, get_score
from autost.scores.ensemble import members as ensemble_members
from autost.scores.ensemble import reference_archs
from autost.search.algorithms import ALGORITHMS
from autost.search.evaluate import Constraints, Evaluator, check_score
from autost.search.generational import Evolution, EvolutionSettings, SearchState, ranked
from autost.search.exact_solver import NotAdditive, exact_flops_optimum, param_span
from autost.search.algorithms.nsga2 import objective_functions
from autost.search.pool import Scorer, scoring_pool
from autost.space import SearchSpace
from autost.threads import current_threads
from autost.options import check_fields, default
from autost.tables.search import SEARCH
from energy.closed_form import (CALIBRATION_ARCHS, RateTable, cached_table, calibrate, calibration_archs,
                                expected_positions, stem_archs, table_key)
from energy.method import ClosedFormEnergy, EnergyMethod, MeasuredEnergy, resolve_method
from energy.models import DEFAULT_MODEL, get_model

CHECKPOINT = "checkpoint.json"


@dataclass(frozen=True)
class SearchConfig:
    space: str
    geometry: Geometry
    dataset: str | None = None
    data_root: str | None = None
    algorithm: str = default(SEARCH, "algorithm")
    score: str = default(SEARCH, "score")
    lam: float = default(SEARCH, "lam")
    settings: EvolutionSettings = field(default_factory=EvolutionSettings)
    constraints: Constraints = field(default_factory=Constraints)
    top_k: int = default(SEARCH, "top_k")
    seed: int = default(SEARCH, "seed")
    batch_size: int = default(SEARCH, "batch_size")
    # NSGA-II's; also those of the reported front
    objectives: tuple[str, ...] = tuple(default(SEARCH, "objectives").split(","))
    energy_model: str = DEFAULT_MODEL  # the model of every candidate's energy (limit and objective)
    # how a candidate's energy is obtained (energy.method.METHODS; energy_method resolves "auto")
    energy: str = default(SEARCH, "energy")
    supernet: str | None = None  # the folder of a trained supernet (--score supernet)
    # the baseline's RETRAIN mapping: its params and energy become the limits (``match_baseline``)
    match_baseline: dict | None = None

    def __post_init__(self) -> None:
        # each setting's check from its option (the baseline here is the architecture, not its file)
        check_fields(self, [o for o in SEARCH if o.name != "match_baseline"])

    def to_dict(self) -> dict:
        """What identifies a run (a resumed run must match it); the data root may move. Without a
        baseline, ``match_baseline`` is left out, so a checkpoint from before it existed resumes."""
        data = asdict(self)
        data.pop("data_root")
        if data["match_baseline"] is None:
            data.pop("match_baseline")
        return data

    def fingerprint(self, space: SearchSpace) -> dict:
        """What a resumed search must share with the checkpoint: every setting, and the space's
        content in place of its path (an edited space would mix two spaces' candidates), and a
        supernet's settings in place of its folder (one trained on, or rated otherwise, would
        mix two supernets' ratings)."""
        data = {**self.to_dict(), "space": space.to_dict()["SEARCH_SPACE"], "network": NETWORK}
        if self.supernet is not None:
            from autost.supernet import fingerprint_of, read_summary

            data["supernet"] = fingerprint_of(read_summary(self.supernet))
        return data


def energy_method(config: SearchConfig) -> str | None:
    """How the search obtains each candidate's energy: ``None`` without data (no energy), else
    ``config.energy`` resolved for its energy model (``energy.method.resolve_method``: "auto" is the
    closed form when the model's counter has one, a forward pass otherwise)."""
    return resolve_method(config.energy, config.energy_model) if config.dataset else None


def model_use(config: SearchConfig) -> str | None:
    """What the search's networks are checked for (``autost.memory.USES``): ``None`` without data,
    where it only counts; what each candidate's network is checked for where one is built (a score
    that reads it, or energy measured by a forward pass: ``autost.memory.scoring_use``); else a
    forward pass, the closed form's calibration."""
    if not config.dataset:
        return None
    score = get_score(config.score)
    if score.backward or score.needs_data(config.lam) or energy_method(config) == "measure":
        return scoring_use(score.backward)
    return "forward"


def validate(config: SearchConfig) -> SearchSpace:
    """Every check that needs no search, so bad input fails before any work."""
    algorithm = ALGORITHMS.get(config.algorithm)
    check_score(config.score)
    if config.energy == "closed-form" and not config.dataset:
        raise UsageError(f"--energy {config.energy} calibrates firing rates on real data: give --dataset")
    resolve_method(config.energy, config.energy_model)  # an unknown model, or one without a closed form
    c = config.constraints
    space = SearchSpace.from_yaml(config.space)
    check_space(space, config.geometry, config.batch_size, use=model_use(config))
    try:
        feasible = exact_flops_optimum(space, config.geometry, Constraints(c.param_min, c.param_max), keep=1)
    except NotAdditive:
        if config.algorithm == "exact":
            raise
        feasible = [True]  # no certified check of the limits for such a space; the search finds out
    if not feasible:
        low, high = param_span(space, config.geometry)
        raise UsageError(f"no architecture in {config.space} has {c.param_min}-{c.param_max} M params "
                         f"(the space spans {low / 1e6:.3f}-{high / 1e6:.3f} M); widen --param-limits")
    algorithm.check(config)
    if "supernet" in (ensemble_members(config.score) if config.score.startswith(ENSEMBLE) else (config.score,)):
        from autost.supernet import load

        if not config.supernet:
            raise UsageError(f"--score {config.score} rates candidates with a trained supernet: give --supernet DIR")
        load(config.supernet)
    if c.energy_max_mj is not None and not config.dataset:
        raise UsageError("--energy-limit needs --dataset: energy is measured on real data")
    if config.match_baseline is not None and not config.dataset:
        raise UsageError("--match-baseline needs --dataset: the baseline's energy is measured on real data")
    if config.dataset:
        from datasets import check_available

        check_available(config.dataset, config.data_root)
    return space


def rate_table(config: SearchConfig, space: SearchSpace, batch: torch.Tensor,
               step_batches: dict[int, torch.Tensor] | None = None) -> tuple[RateTable, str]:
    """The closed form's rate table of this search, from the on-disk cache when an earlier search
    calibrated the same one; with "hit", "miss" or "recomputed" (``energy.closed_form.cached_table``)."""
    key = table_key(space, config.geometry, config.dataset, config.seed, config.batch_size)
    archs = calibration_archs(space, CALIBRATION_ARCHS, config.seed)
    stems = stem_archs(space)
    return cached_table(key, lambda: calibrate(archs, config.geometry, batch, seed=config.seed,
                                               step_batches=step_batches, stems=stems),
                        expected_positions(archs, config.geometry, stems))


def _energy(config: SearchConfig, space: SearchSpace, batch: torch.Tensor | None,
            per_step: dict[int, torch.Tensor] | None) -> EnergyMethod:
    """The search's energy method (``energy_method``) as the object its evaluator calls, with the
    closed form's rate table calibrated or read from the cache. Without data it is a forward pass
    that no candidate runs (none has a batch)."""
    model = get_model(config.energy_model)
    if energy_method(config) == ClosedFormEnergy.name:
        table, cache = rate_table(config, space, batch, per_step)
        return ClosedFormEnergy(model, table, cache)
    return MeasuredEnergy(model)


def _evaluator(config: SearchConfig, space: SearchSpace) -> Evaluator:
    """The evaluator, its energy method built once; an ensemble score's reference set scored."""
    batch = targets = None
    if config.dataset:
        batch, targets = labeled_batch(config.dataset, batch_size=config.batch_size,
                                       time_steps=config.geometry.time_steps, seed=config.seed,
                                       data_root=config.data_root, img_size=config.geometry.img_size)
    per_step = step_batches(config.dataset, space.time_steps, time_steps=config.geometry.time_steps,
                            batch_size=config.batch_size, seed=config.seed, data_root=config.data_root,
                            img_size=config.geometry.img_size)
    evaluator = Evaluator(config.score, config.geometry, batch=batch, targets=targets, lam=config.lam,
                          seed=config.seed, energy=_energy(config, space, batch, per_step), step_batches=per_step,
                          supernet=config.supernet)
    if config.score.startswith(ENSEMBLE):
        evaluator.set_reference(reference_archs(space, config.seed,
                                                lambda arch: config.constraints.params_ok(evaluator.cost(arch)[0])))
    return evaluator


def baseline_params(config: SearchConfig) -> SearchConfig:
    """``config`` with its baseline's closed-form params as the params max (unchanged without a
    baseline); set before the evaluator is built, so an ensemble score's reference set keeps to it."""
    if config.match_baseline is None:
        return config
    params = analytic_cost(Arch.from_dict(config.match_baseline), **config.geometry.model_kwargs()).params
    return replace(config, constraints=Constraints(None, params / 1e6, None))


def match_baseline(config: SearchConfig, evaluator: Evaluator, space: SearchSpace) -> tuple[SearchConfig, dict | None]:
    """``config`` (after ``baseline_params``) with its baseline's energy as the energy max too, and
    what search.json records about both; unchanged, with ``None``, without a baseline. The baseline
    is evaluated as any candidate is, so a candidate that costs what it costs is within the limits.
    A baseline without TIME_STEPS in a space where T is a gene is the same network at the run's T,
    and is priced as that candidate (the space's rate table knows T only as a gene)."""
    if config.match_baseline is None:
        return config, None
    baseline = Arch.from_dict(config.match_baseline)
    if space.time_steps and baseline.time_steps is None:
        baseline = replace(baseline, time_steps=config.geometry.time_steps)
    record = evaluator.evaluate(baseline)
    limits = Constraints(None, config.constraints.param_max, record["energy_mj"])
    matched = {key: record[key] for key in ("arch", "params", "macs", "energy_mj")}
    matched.update(param_max=limits.param_max, energy_max_mj=limits.energy_max_mj)
    return replace(config, constraints=limits), matched


def _refuse_without_resume(out: Path, resume: bool) -> None:
    if (out / CHECKPOINT).exists() and not resume:
        raise UsageError(f"{out} already holds a search; pass --resume to continue it or choose another --out")


def _load_checkpoint(out: Path, config: SearchConfig, space: SearchSpace) -> SearchState:
    path = out / CHECKPOINT
    if not path.exists():
        return SearchState()
    try:
        data = json.loads(path.read_text())
        saved, state = data["config"], SearchState.from_dict(data["state"])
    except (ValueError, KeyError, TypeError) as err:
        raise UsageError(f"{path} is not a readable search checkpoint ({err}); delete it to start over") from err
    refuse_changes(saved, config.fingerprint(space), path)
    return state


def _history_csv(history: list[dict]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=["generation", "best", "mean", "worst", "evaluated", "elapsed_s"],
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return buf.getvalue()


def pareto_front(config: SearchConfig, candidates: list[dict]) -> list[dict] | None:
    """The candidates that no other dominates under ``config.objectives``, best score first;
    ``None`` when an objective was not measured (energy without data)."""
    if "energy" in config.objectives and any(c["energy_mj"] is None for c in candidates):
        return None
    return non_dominated(candidates, objective_functions(config.objectives))


def distinct_costs(records: list[dict]) -> list[dict]:
    """The records in order, keeping the first of each (params, MACs): candidates that differ
    only in head counts cost the same and score the same under FLOPs, and training K copies
    of one cost would waste the top-k."""
    seen: set[tuple[int, int]] = set()
    kept = []
    for r in records:
        if (r["params"], r["macs"]) not in seen:
            seen.add((r["params"], r["macs"]))
            kept.append(r)
    return kept


def _write_results(out: Path, config: SearchConfig, candidates: list[dict], history: list[dict],
                   elapsed_s: float, energy: EnergyMethod, matched: dict | None) -> dict:
    pareto = pareto_front(config, candidates)
    if ALGORITHMS.get(config.algorithm).front_first:
        # a multi-objective search hands on its front first, then the rest by score
        on_front = {id(c) for c in pareto}
        chosen = pareto + [c for c in candidates if id(c) not in on_front]
    else:
        chosen = candidates
    chosen = distinct_costs(chosen)
    result = {
        "space": config.space,
        "dataset": config.dataset,
        "algorithm": config.algorithm,
        "score": config.score,
        "seed": config.seed,
        "energy_model": get_model(config.energy_model).describe(),
        "energy_method": energy.describe() if config.dataset else {"method": None},
        "energy_rates": None if energy.table is None else energy.table.to_dict(),
        "match_baseline": matched,
        "settings": config.to_dict(),
        "threads": current_threads(),
        "candidates": candidates,
        "best": candidates[0] if candidates else None,
        "pareto": pareto,
        "elapsed_s": round(elapsed_s, 3),
    }
    atomic_write_json(out / "search.json", result)
    atomic_write_text(out / "history.csv", _history_csv(history))
    for old in (out / "top").glob("*.yaml"):
        old.unlink()
    for i, record in enumerate(chosen[: config.top_k], start=1):
        Arch.from_dict(record["arch"]).to_yaml(out / "top" / f"{i:02d}.yaml")
    return result


def run_search(config: SearchConfig, out: Path, *, resume: bool = False, progress: bool = True,
               workers: int | None = None, ray_address: str | None = None) -> dict:
    """Search as configured, writing into ``out``; returns the content of search.json.
    ``workers`` local processes or the Ray cluster at ``ray_address`` score each generation
    (``autost.search.pool``) to the same result; neither is part of what a resume must match."""
    space = validate(config)
    with claim(out) as out:
        return _run_in(out, config, space, resume, progress, workers, ray_address)


def _run_in(out: Path, config: SearchConfig, space: SearchSpace, resume: bool, progress: bool,
            workers: int | None, ray_address: str | None) -> dict:
    _refuse_without_resume(out, resume)
    # the limits before the checkpoint is read: a resumed search computes the same ones
    config = baseline_params(config)
    evaluator = _evaluator(config, space)
    config, matched = match_baseline(config, evaluator, space)
    state = _load_checkpoint(out, config, space)
    with scoring_pool(evaluator, workers=workers, ray_address=ray_address) as score:
        state = _search(config, space, evaluator, state, out, score, progress)
    candidates = [{k: v for k, v in r.items() if k != "legal"} for r in ranked(state.legal_records())]
    if not candidates:
        if matched:
            raise UsageError("no evaluated architecture has at most the baseline's params and energy; choose a larger "
                             "baseline or a space with smaller architectures")
        raise UsageError("no evaluated architecture met the constraints; loosen --param-limits or --energy-limit")
    return _write_results(out, config, candidates, state.history, state.elapsed_s, evaluator.energy, matched)


def _search(config: SearchConfig, space: SearchSpace, evaluator: Evaluator, state: SearchState, out: Path,
            score: Scorer, progress: bool) -> SearchState:
    algorithm = ALGORITHMS.get(config.algorithm)
    if algorithm.run is not None:
        state = algorithm.run(config, space, score, progress)
    else:
        settings = config.settings
        evolution = Evolution(space, evaluator, config.constraints, settings, config.seed,
                              algorithm=config.algorithm, objectives=config.objectives)
        total = settings.population * settings.generations
        with tqdm(total=total, initial=settings.population * state.generation, unit="cand",
                  desc=f"{config.algorithm} search", disable=not progress) as bar:
            def after_generation(s: SearchState) -> None:
                atomic_write_json(out / CHECKPOINT, {"config": config.fingerprint(space), "state": s.to_dict()})
                best = s.history[-1]["best"]
                bar.set_postfix(generation=f"{s.generation}/{settings.generations}",
                                best="-" if best is None else f"{best:.4g}")

            state = evolution.run(state, after_generation, on_candidate=lambda: bar.update(1), score=score)
    return state
