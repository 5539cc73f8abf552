"""The whole AutoST flow from one YAML config: search, train the top-k, measure energy, report.

The config has the sections ``search``, ``baseline``, ``train``, ``energy`` and ``report``; the keys of
``search`` and ``train`` are the options of the matching subcommand (``param_limits`` or
``param-limits`` for ``--param-limits``, ``true`` for a flag), read by the same tables
(``autost.configs``) into the same ``SearchConfig`` and ``TrainConfig``; an error names the key
as ``section.key``. ``energy.model`` names the energy model (``energy.models``) of every stage:
the search's limit and objectives, the trained and the init-time energies. ``train.dataset``
may list several datasets: the same top architectures are then trained on each, and
``train.per_dataset`` maps a dataset to options that differ for it (e.g. fewer epochs on the
slower event data).

``baseline`` names a hand-designed network (``autost.baseline``: an architecture file, an inline
``RETRAIN`` mapping or ``reference: spikformer``), trained beside the top-k with the same
settings and seeds; ``search.match_baseline: true`` searches within its params and energy
(``SearchConfig.match_baseline``). ``train.seeds: [0, 1, 2]`` trains every architecture once per
seed (paired: a seed sets the initialization and the data order, the split is the dataset's);
a plain ``train.seed`` trains once, as ``run.py train --seed`` does.

Layout of the output folder (``[seedS/]``: only with ``train.seeds``)::

    OUT/search/            search.json, history.csv, top/NN.yaml
    OUT/train/DATASET/[seedS/]NN/        metrics.json, best.pt, last.pt
    OUT/train/DATASET/[seedS/]baseline/  the same for the baseline
    OUT/energy/DATASET/NN.json   init-time energy of each trained architecture on DATASET (and
                                 baseline.json; the trained energy is in each metrics.json)
    OUT/report/            report.html (opening with the comparison to the baseline), report.md, plots

A rerun with ``--resume`` skips a finished search and continues every training run from
its last checkpoint.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Mapping

from autost.arch import Arch
from autost.baseline import Baseline, read_baseline
from autost.batches import real_batch
from autost.configs import halving_from, read_search, read_train, search_config, train_config, with_baseline
from autost.errors import UsageError
from autost.fingerprint import refuse_changes
from autost.geometry import resolve_geometry
from autost.io import atomic_write_json
from autost.options import Option, at_least, read
from autost.rundir import claim, out_exists
from autost.rungs import Halving
from autost.search.runner import SearchConfig
from autost.space import SearchSpace
from autost.train import TrainConfig
from autost.validate import load_json, load_yaml, parse_yaml
from energy.models import DEFAULT_MODEL, get_model

SECTIONS = ("search", "baseline", "train", "energy", "report")
BASELINE = "baseline"  # the baseline's folder name beside the top-k's NN
FINGERPRINT = "pipeline.json"
# Keys of the subcommands that the pipeline sets itself (output folders, the one energy model, resuming).
SET_BY_PIPELINE = ("out", "from_search", "energy_model", "resume")
ENERGY = (
    Option("batch_size", int, 64, check=at_least(1)),
    Option("seed", int),  # default: the search's seed
    Option("model", str, DEFAULT_MODEL),
)
REPORT = (Option("out", Path),)


@dataclass(frozen=True)
class EnergyStage:
    """The ``energy`` section: the init-time energy of each trained architecture, and the model of every stage."""

    batch_size: int = 64
    seed: int | None = None
    model: str = DEFAULT_MODEL


@dataclass(frozen=True)
class TrainStage:
    config: TrainConfig
    top_k: int | None = None  # the search's best K (default: all it wrote)
    workers: int | None = None
    ray_address: str | None = None
    seeds: tuple[int, ...] | None = None  # train.seeds: one run per seed, in OUT/train/DATASET/seedS/
    halving: Halving | None = None  # train.halving: the top-k by successive halving (the baseline trains in full)


@dataclass(frozen=True)
class Stages:
    """The configs of every stage, read from the pipeline YAML (``stages``)."""

    search: SearchConfig
    search_workers: int | None
    search_ray_address: str | None
    train: dict[str, TrainStage]  # by dataset, in the config's order
    energy: EnergyStage
    report_out: str | None
    baseline: Baseline | None = None


def load_config(path: str | Path, overrides: list[str] = ()) -> dict[str, dict]:
    """Read the pipeline YAML and apply ``section.key=value`` overrides (values parsed as YAML)."""
    path = Path(path)
    config = load_yaml(path, "pipeline config") or {}
    if not isinstance(config, dict):
        raise UsageError(f"{path}: expected a mapping with the sections {', '.join(SECTIONS)}")
    unknown = [str(k) for k in config if k not in SECTIONS]
    if unknown:
        raise UsageError(f"{path}: unknown section {unknown[0]!r}; the sections are {', '.join(SECTIONS)}")
    for name in SECTIONS:
        if not isinstance(config.get(name) or {}, dict):
            raise UsageError(f"{path}: section {name} must be a mapping of its options, got {config[name]!r}")
    config = {name: dict(config.get(name) or {}) for name in SECTIONS}
    for item in overrides:
        key, sep, value = item.partition("=")
        section, dot, option = key.partition(".")
        if not sep or not dot or section not in SECTIONS:
            raise UsageError(f"--set takes SECTION.KEY=VALUE with SECTION one of {', '.join(SECTIONS)}, got {item!r}")
        if "." in option:
            raise UsageError(f"--set {key}: nested keys cannot be set, only a section's own keys; edit "
                             f"{section}.{option.split('.')[0]} in {path}")
        config[section][option.replace("-", "_")] = parse_yaml(value, f"--set {item}")
    if not config["search"].get("space"):
        raise UsageError(f"{path}: search.space is required")
    energy = read(ENERGY, config["energy"], "energy", "the pipeline's energy section")
    get_model(energy["model"])
    return config


def _own_keys(section: str, mapping: Mapping[str, Any]) -> None:
    """Keys of a subcommand that a pipeline section may not set."""
    keys = {str(k).replace("-", "_") for k in mapping}
    for key in ("threads", "max_memory"):  # options of the process, not of a stage
        if key in keys:
            flag = "--" + key.replace("_", "-")
            raise UsageError(f"{section}.{key} is not a config key; pass {flag} to run.py pipeline")
    clash = sorted(keys & set(SET_BY_PIPELINE))
    if clash:
        raise UsageError(f"{section}.{clash[0]} is set by the pipeline; remove it from the config")


def stages(config: dict, data_root: str | None = None) -> Stages:
    """Every stage's config from the pipeline config's sections (after ``load_config``), checked
    before any work: an unknown key, a bad value or a bad --aug key is one line naming the key."""
    root = {"data_root": data_root} if data_root else {}
    energy = EnergyStage(**read(ENERGY, config["energy"], "energy", "the pipeline's energy section"))
    model = {"energy_model": energy.model}  # one energy model for every stage
    _own_keys("search", config["search"])
    search = {**config["search"], **root, **model}
    match = search.pop("match_baseline", False)
    search_run = read_search(search, "search")
    search_cfg = search_config(search, "search")
    baseline = read_baseline(config["baseline"], config["search"]["space"], _train_datasets(config))
    search_cfg = _match(search_cfg, match, baseline)
    train_section = {k: v for k, v in config["train"].items() if k not in ("dataset", "per_dataset")}
    per_dataset = config["train"].get("per_dataset") or {}
    if not isinstance(per_dataset, dict) or not all(isinstance(v, dict) for v in per_dataset.values()):
        raise UsageError("train.per_dataset must map a dataset name to its own train options")
    train = {}
    for dataset in _train_datasets(config):
        options = {**train_section, **per_dataset.get(dataset, {})}
        _own_keys("train", options)
        seeds = _seeds(options)
        # a rerun continues every candidate from its last checkpoint
        options = {**options, **root, **model, "dataset": dataset, "resume": True}
        run = read_train(options, "train")
        train[dataset] = TrainStage(train_config(options, "train"), run["top_k"], run["workers"], run["ray_address"],
                                    seeds, halving_from(run, "train"))
    report = read(REPORT, config["report"], "report", "the pipeline's report section")
    return Stages(search=search_cfg, search_workers=search_run["workers"],
                  search_ray_address=search_run["ray_address"], train=train, energy=energy, report_out=report["out"],
                  baseline=baseline)


def _match(search: SearchConfig, match: Any, baseline: Baseline | None) -> SearchConfig:
    """``search.match_baseline: true``: the search within the baseline's params and energy."""
    if not isinstance(match, bool):
        raise UsageError(f"search.match_baseline must be true or false in a pipeline (the baseline is the baseline "
                         f"section's), got {match!r}")
    if not match:
        return search
    if baseline is None:
        raise UsageError("search.match_baseline needs a baseline section naming the baseline (baseline.arch, "
                         "baseline.RETRAIN or baseline.reference)")
    return with_baseline(search, baseline.arch, "search")


def _seeds(options: dict) -> tuple[int, ...] | None:
    """``train.seeds`` (taken out of ``options``): distinct integers, not beside ``train.seed``."""
    seeds = options.pop("seeds", None)
    if seeds is None:
        return None
    if "seed" in options:
        raise UsageError("train.seed and train.seeds are both given; keep one (seeds: a list, one run per seed)")
    if (not isinstance(seeds, list) or not seeds or len(set(seeds)) != len(seeds)
            or any(isinstance(x, bool) or not isinstance(x, int) for x in seeds)):
        raise UsageError(f"train.seeds must be a list of distinct integers, e.g. [0, 1, 2], got {seeds!r}")
    return tuple(seeds)


def _train_datasets(config: dict) -> list[str]:
    datasets = config["train"].get("dataset") or config["search"].get("dataset")
    if not datasets:
        raise UsageError("train.dataset (or search.dataset) is required: training needs data")
    return datasets if isinstance(datasets, list) else [datasets]


def check_data(config: dict, data_root: str | None) -> None:
    """Fail at once, before any search, when a dataset the config needs is missing."""
    from datasets import check_available

    root = data_root or config["search"].get("data_root") or config["train"].get("data_root")
    for name in {config["search"].get("dataset"), *_train_datasets(config)} - {None}:
        check_available(name, root)


def run_pipeline(config: dict, out: Path, *, resume: bool = False, data_root: str | None = None,
                 log: Callable[[str], None] = print) -> Path:
    """Run every stage; returns the report's HTML path. ``out`` is held for the run
    (``autost.rundir.claim``); with ``resume`` the config must match the first session's."""
    check_data(config, data_root)
    plan = stages(config, data_root)  # bad options fail here, before the output folder is touched
    out = Path(out)
    if out_exists(out) and out.is_dir() and any(out.iterdir()) and not resume:
        raise UsageError(f"{out} already holds a pipeline run; pass --resume to continue it or choose another --out")
    with claim(out) as out:
        return _run(config, plan, out, resume, log)


def fingerprint(config: dict) -> dict:
    """What a resumed pipeline must share with the first session: the whole config (overrides
    applied), with the search space's content in place of its path; data roots may move."""
    sections = {name: {k: v for k, v in section.items() if k != "data_root"} for name, section in config.items()}
    space = SearchSpace.from_yaml(config["search"]["space"])
    sections["search"]["space"] = space.to_dict()["SEARCH_SPACE"]
    baseline = read_baseline(config["baseline"], config["search"]["space"], _train_datasets(config))
    if baseline is None:
        del sections["baseline"]  # a run from before the baseline section resumes
    else:  # the architecture itself: an edited file or a changed space's reference is a change
        sections["baseline"] = {"arch": baseline.arch.to_dict()["RETRAIN"], "datasets": list(baseline.datasets)}
    return sections


def _check_fingerprint(config: dict, out: Path, resume: bool) -> None:
    """Refuse a resume whose config differs from the first session's (naming each change), so a
    finished search is never reused for another seed or population; record it on a fresh start."""
    path = out / FINGERPRINT
    current = fingerprint(config)
    if resume and path.exists():
        refuse_changes(load_json(path, "pipeline fingerprint"), current, path)
    else:
        atomic_write_json(path, current)


def _run(config: dict, plan: Stages, out: Path, resume: bool, log: Callable[[str], None]) -> Path:
    from autost.search.runner import run_search
    from autost.report.run import load_run, write_report

    search_dir = out / "search"
    _check_fingerprint(config, out, resume)  # after the checks: a refused config leaves no trace
    if (search_dir / "search.json").exists():
        log(f"search: done before, reusing {search_dir / 'search.json'}")
    else:
        log("search: scoring candidates without training")
        run_search(plan.search, search_dir, resume=resume, workers=plan.search_workers,
                   ray_address=plan.search_ray_address)

    for dataset, stage in plan.train.items():
        archs = _train_stage(dataset, stage, plan.baseline, search_dir, out / "train" / dataset, log)
        _init_energy(dataset, archs, stage.config, plan, out / "energy" / dataset, log)

    report_dir = Path(plan.report_out or out / "report")
    page = write_report(load_run(out), report_dir)
    log(f"report: {page}")
    return page


def _train_stage(dataset: str, stage: TrainStage, baseline: Baseline | None, search_dir: Path, train_dir: Path,
                 log: Callable[[str], None]) -> list[tuple[str, Arch]]:
    """Train the top-k (and the baseline, first) on ``dataset``, once per seed; returns them. With
    ``train.halving`` the top-k go through successive halving and the baseline trains in full."""
    from autost.halving import successive_halving
    from autost.parallel import top_architectures, train_archs

    top = top_architectures(search_dir, stage.top_k)
    archs = top
    if baseline is not None and dataset in baseline.datasets:
        archs = [(BASELINE, baseline.arch), *archs]
    for seed in stage.seeds or (None,):
        config, folder = stage.config, train_dir
        if seed is not None:
            config, folder = replace(stage.config, seed=seed), train_dir / f"seed{seed}"
        log(f"train: {', '.join(name for name, _ in archs)} on {dataset}" + ("" if seed is None else f", seed {seed}")
            + (" (the top-k by successive halving)" if stage.halving else ""))
        if stage.halving:
            train_archs(archs[:len(archs) - len(top)], config, folder, log=log, ray_address=stage.ray_address)
            successive_halving(top, config, folder, stage.halving, log=log, ray_address=stage.ray_address)
        else:
            train_archs(archs, config, folder, log=log, workers=stage.workers, ray_address=stage.ray_address)
    return archs


def _init_energy(dataset: str, archs: list[tuple[str, Arch]], train_config: TrainConfig, plan: Stages,
                 energy_dir: Path, log: Callable[[str], None]) -> None:
    """The init-time energy of each trained architecture on a test batch of ``dataset`` (one per
    architecture: it does not depend on the training seed)."""
    from energy.measure import measure_energy

    energy = plan.energy
    geometry = resolve_geometry(dataset=dataset, input_shape=None, num_classes=None, patch_size=None,
                                time_steps=train_config.time_steps)
    seed = plan.search.seed if energy.seed is None else energy.seed
    batches: dict = {}  # one test batch per T (an architecture's TIME_STEPS gene sets its T)
    for name, arch in archs:
        arch_geometry = geometry.for_arch(arch)
        t = arch_geometry.time_steps
        if t not in batches:
            batches[t] = real_batch(dataset, batch_size=energy.batch_size, time_steps=t, seed=seed,
                                    data_root=train_config.data_root, split="test")
        batch = batches[t]
        init = measure_energy(arch, arch_geometry, batch, seed=seed, energy_model=energy.model)
        atomic_write_json(energy_dir / f"{name}.json", {
            "arch": arch.to_dict()["RETRAIN"], "dataset": dataset, "batch_size": len(batch), "init": init.to_dict()})
        log(f"energy {dataset}/{name}: at init {init.total_mj:.4g} mJ per sample")
