"""The whole AutoST flow from one YAML config: search, train the top-k, measure energy, report.

The config has the sections ``search``, ``train``, ``energy`` and ``report``; their keys are
the options of the matching subcommand (``param_limits`` or ``param-limits`` for
``--param-limits``, ``true`` for a flag). ``energy.model`` names the energy model (``energy.models``)
of every stage: the search's limit and objectives, the trained and the init-time energies. ``train.dataset`` may list several datasets:
the same top architectures are then trained on each, and ``train.per_dataset`` maps a
dataset to options that differ for it (e.g. fewer epochs on the slower event data).
Layout of the output folder::

    OUT/search/            search.json, history.csv, top/NN.yaml
    OUT/train/DATASET/NN/  metrics.json, best.pt, last.pt
    OUT/energy/DATASET/NN.json   init-time energy of each trained architecture on DATASET
                                 (the trained energy is in its metrics.json)
    OUT/report/            report.html, report.md, plots

A rerun with ``--resume`` skips a finished search and continues every training run from
its last checkpoint.
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

from autost.arch import Arch
from autost.batches import real_batch
from autost.errors import UsageError
from autost.fingerprint import refuse_changes
from autost.geometry import resolve_geometry
from autost.io import atomic_write_json
from autost.rundir import claim
from autost.space import SearchSpace
from autost.validate import load_json, load_yaml, parse_yaml
from energy.models import DEFAULT_MODEL, get_model

SECTIONS = ("search", "train", "energy", "report")
ENERGY_KEYS = {"batch_size", "seed", "model"}
FINGERPRINT = "pipeline.json"


def load_config(path: str | Path, overrides: list[str] = ()) -> dict[str, dict]:
    """Read the pipeline YAML and apply ``section.key=value`` overrides (values parsed as YAML)."""
    path = Path(path)
    config = load_yaml(path, "pipeline config") or {}
    if not isinstance(config, dict) or any(k not in SECTIONS for k in config):
        raise UsageError(f"{path}: expected a mapping with the sections {', '.join(SECTIONS)}")
    config = {name: dict(config.get(name) or {}) for name in SECTIONS}
    for item in overrides:
        key, sep, value = item.partition("=")
        section, dot, option = key.partition(".")
        if not sep or not dot or section not in SECTIONS:
            raise UsageError(f"--set takes SECTION.KEY=VALUE with SECTION one of {', '.join(SECTIONS)}, got {item!r}")
        config[section][option.replace("-", "_")] = parse_yaml(value, f"--set {item}")
    if not config["search"].get("space"):
        raise UsageError(f"{path}: search.space is required")
    unknown = set(config["energy"]) - ENERGY_KEYS
    if unknown:
        raise UsageError(f"{path}: energy.{sorted(unknown)[0]} is not an energy option ({', '.join(sorted(ENERGY_KEYS))})")
    get_model(config["energy"].get("model", DEFAULT_MODEL))
    return config


def _argv(section: dict[str, Any]) -> list[str]:
    argv: list[str] = []
    for key, value in section.items():
        flag = "--" + key.replace("_", "-")
        if value is True:
            argv.append(flag)
        elif value is False or value is None:
            continue
        elif isinstance(value, list):
            argv += [flag, *map(str, value)]
        elif isinstance(value, dict):  # train.aug: {mixup: 0} -> --aug mixup=0
            argv += [flag, *(f"{k}={v}" for k, v in value.items())] if value else []
        else:
            argv += [flag, str(value)]
    return argv


def parse_section(command: str, section: dict[str, Any], fixed: dict[str, Any]) -> argparse.Namespace:
    """The section's options parsed by ``run.py COMMAND``'s own parser, with ``fixed`` options
    (output folders) set by the pipeline; an unknown key is a one-line error."""
    from autost.cli import build_parser

    if "threads" in section:
        raise UsageError(f"{command}.threads is not a config key; pass --threads to run.py pipeline")
    clash = sorted(set(section) & set(fixed))
    if clash:
        raise UsageError(f"{command}.{clash[0]} is set by the pipeline; remove it from the config")
    args, unknown = build_parser().parse_known_args([command, *_argv(section), *_argv(fixed)])
    if unknown:
        raise UsageError(f"{command}: {unknown[0]} is not an option of run.py {command} (see run.py {command} --help)")
    return args


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
    out = Path(out)
    if out.exists() and out.is_dir() and any(out.iterdir()) and not resume:
        raise UsageError(f"{out} already holds a pipeline run; pass --resume to continue it or choose another --out")
    with claim(out) as out:
        return _run(config, out, resume, data_root, log)


def fingerprint(config: dict) -> dict:
    """What a resumed pipeline must share with the first session: the whole config (overrides
    applied), with the search space's content in place of its path; data roots may move."""
    sections = {name: {k: v for k, v in section.items() if k != "data_root"} for name, section in config.items()}
    space = SearchSpace.from_yaml(config["search"]["space"])
    sections["search"]["space"] = space.to_dict()["SEARCH_SPACE"]
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


def _run(config: dict, out: Path, resume: bool, data_root: str | None, log: Callable[[str], None]) -> Path:
    from autost.commands.search import config_from_args
    from autost.commands.train import config_from_args as train_config_from_args
    from autost.search.runner import run_search
    from autost.train import train_top
    from energy.measure import measure_energy
    from energy.report import load_run, write_report

    root = {"data_root": data_root} if data_root else {}
    search_dir = out / "search"
    energy = config["energy"]
    model = {"energy_model": energy.get("model", DEFAULT_MODEL)}  # one energy model for every stage
    search_args = parse_section("search", {**config["search"], **root}, {"out": search_dir, **model})
    train_section = {k: v for k, v in config["train"].items() if k not in ("dataset", "per_dataset")}
    per_dataset = config["train"].get("per_dataset") or {}
    train_args = {}
    for dataset in _train_datasets(config):  # bad train options (an unknown --aug key) fail before the search
        options = {**train_section, **per_dataset.get(dataset, {}), **root, "dataset": dataset}
        fixed = {"from_search": search_dir, "out": out / "train" / dataset, **model}
        train_args[dataset] = parse_section("train", options, fixed)
        train_config_from_args(train_args[dataset])
    _check_fingerprint(config, out, resume)  # after the checks: a refused config leaves no trace
    if (search_dir / "search.json").exists():
        log(f"search: done before, reusing {search_dir / 'search.json'}")
    else:
        log("search: scoring candidates without training")
        run_search(config_from_args(search_args), search_dir, resume=resume, workers=search_args.workers,
                   ray_address=search_args.ray_address)

    for dataset, args in train_args.items():
        train_dir = out / "train" / dataset
        args.resume = True  # a rerun continues every candidate from its last checkpoint
        train_config = train_config_from_args(args)
        log(f"train: top {args.top_k or 'all'} on {dataset}")
        trained = train_top(search_dir, args.top_k, train_config, train_dir, log=log, workers=args.workers,
                            ray_address=args.ray_address)

        geometry = resolve_geometry(dataset=dataset, input_shape=None, num_classes=None, patch_size=None,
                                    time_steps=train_config.time_steps)
        seed = energy.get("seed", search_args.seed)
        batches: dict = {}  # one test batch per T (an architecture's TIME_STEPS gene sets its T)
        for name, metrics in trained.items():
            arch = Arch.from_dict(metrics["arch"])
            arch_geometry = geometry.for_arch(arch)
            t = arch_geometry.time_steps
            if t not in batches:
                batches[t] = real_batch(dataset, batch_size=energy.get("batch_size", 64), time_steps=t, seed=seed,
                                        data_root=args.data_root, split="test")
            batch = batches[t]
            init = measure_energy(arch, arch_geometry, batch, seed=seed, energy_model=model["energy_model"])
            atomic_write_json(out / "energy" / dataset / f"{name}.json", {
                "arch": metrics["arch"], "dataset": dataset, "batch_size": len(batch), "init": init.to_dict()})
            log(f"energy {dataset}/{name}: at init {init.total_mj:.4g} mJ, trained {metrics['energy_mj']:.4g} mJ "
                "per sample")

    report_dir = Path(config["report"].get("out") or out / "report")
    page = write_report(load_run(out), report_dir)
    log(f"report: {page}")
    return page
