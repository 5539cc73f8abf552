"""The search and training configs built from a mapping: a pipeline YAML section or the parsed
arguments of ``run.py search`` / ``run.py train`` (``autost.options`` has the reading rules).

``search_config(mapping, where)`` returns a ``SearchConfig``, ``train_config(mapping, where)`` a
``TrainConfig``; ``where`` is the YAML section the mapping came from (``None``: the command line),
so that an error names the key the user wrote. The tables also carry what is not part of the
config proper (``RUN`` options: where the work runs, which candidates to train).
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Mapping

from autost.arch import Arch
from autost.errors import BadInput
from autost.geometry import resolve_geometry
from autost.options import read
from autost.rungs import Halving
from autost.search.evaluate import Constraints
from autost.search.generational import EvolutionSettings
from autost.search.runner import SearchConfig
from autost.tables.search import EVOLUTION, SEARCH, SEARCH_RUN
from autost.tables.train import HALVING, TRAIN, TRAIN_RUN
from autost.train import TrainConfig


def read_search(mapping: Mapping[str, Any], where: str | None = None) -> dict[str, Any]:
    """The search options and its run options (``workers``, ``ray_address``), checked."""
    return read(SEARCH + SEARCH_RUN, mapping, where, "run.py search")


def read_train(mapping: Mapping[str, Any], where: str | None = None) -> dict[str, Any]:
    """The training options and its run options (``top_k``, ``workers``, ``ray_address``, halving), checked."""
    return read(TRAIN + TRAIN_RUN + HALVING, mapping, where, "run.py train")


def halving_from(values: Mapping[str, Any], where: str | None = None) -> Halving | None:
    """The ``Halving`` that ``read_train``'s values ask for, or ``None``; options of it without
    ``halving``, or beside what it cannot go with, are one line naming the key."""
    given = [key for key in ("rung_epochs", "eta", "survivors") if values[key] is not None]
    if not values["halving"]:
        if given:
            raise BadInput(f"{_key(given[0], where)} goes with {_key('halving', where)}")
        return None
    if values["rung_epochs"] is None:
        raise BadInput(f"{_key('halving', where)} needs {_key('rung_epochs', where)} (the first rung's epochs)")
    if values["workers"] is not None:
        raise BadInput(f"{_key('halving', where)} trains in-process, or on Ray with {_key('ray_address', where)}; "
                       f"remove {_key('workers', where)}")
    if values["ray_address"] and values["survivors"] is not None:
        raise BadInput(f"{_key('survivors', where)} is the in-process scheduler's; ASHA (with "
                       f"{_key('ray_address', where)}) keeps the best 1/eta at every rung: remove it")
    return Halving(values["rung_epochs"], values["eta"] or 2, values["survivors"] or 1)


def search_config(mapping: Mapping[str, Any], where: str | None = None) -> SearchConfig:
    """The ``SearchConfig`` that ``mapping`` describes (run options allowed and ignored)."""
    v = read_search(mapping, where)
    geometry = resolve_geometry(dataset=v["dataset"], input_shape=v["input_shape"], num_classes=v["num_classes"],
                                patch_size=v["patch_size"], time_steps=v["time_steps"])
    limits = v["param_limits"] or (None, None)
    config = SearchConfig(
        space=v["space"], geometry=geometry, dataset=v["dataset"], data_root=v["data_root"],
        algorithm=v["algorithm"], score=v["score"], lam=v["lam"],
        settings=EvolutionSettings(**{o.name: v[o.name] for o in EVOLUTION}),
        constraints=Constraints(limits[0], limits[1], v["energy_limit"]),
        top_k=v["top_k"], seed=v["seed"], batch_size=v["batch_size"], objectives=tuple(v["objectives"].split(",")),
        energy_model=v["energy_model"], energy=v["energy"], supernet=v["supernet"])
    return with_baseline(config, _baseline_file(v["match_baseline"]), where) if v["match_baseline"] else config


def _key(key: str, where: str | None) -> str:
    return f"{where}.{key}" if where else "--" + key.replace("_", "-")


def with_baseline(config: SearchConfig, arch: Arch, where: str | None = None) -> SearchConfig:
    """``config`` searching within ``arch``'s params and energy (``SearchConfig.match_baseline``;
    the runner fills the limits). A limit given beside it is refused rather than silently replaced."""
    c = config.constraints
    given = [key for key, value in (("param_limits", c.param_max), ("energy_limit", c.energy_max_mj))
             if value is not None]
    if given:
        raise BadInput(f"{_key('match_baseline', where)} fills {_key('param_limits', where)} MAX and "
                       f"{_key('energy_limit', where)} from the baseline; remove {_key(given[0], where)}")
    return replace(config, match_baseline=arch.to_dict()["RETRAIN"])


def _baseline_file(path: str) -> Arch:
    try:
        return Arch.from_yaml(path)
    except ValueError as err:
        raise BadInput(f"--match-baseline: {err}") from None


def train_config(mapping: Mapping[str, Any], where: str | None = None) -> TrainConfig:
    """The ``TrainConfig`` that ``mapping`` describes, the dataset's recipe filled in (run options
    allowed and ignored). With ``resume``, a given ``lr`` replaces the checkpoint's."""
    v = read_train(mapping, where)
    settings = {o.name: v[o.name] for o in TRAIN if o.name != "dataset"}
    settings["aug"] = settings["aug"] or {}
    return TrainConfig.for_dataset(v["dataset"], **settings, change_lr=v["resume"] and v["lr"] is not None)
