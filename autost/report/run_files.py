"""What the report reads from a run folder, checked against every field it uses.

A run's files come from disk and may be damaged, hand-edited or from an older version, so each
one is checked before the report touches it: a field that is missing or of the wrong kind
(``"firing_rates": [1]``, ``"energy_mj": null``, ``"test_acc": "high"``) is one line naming the
file and the field, not a traceback halfway through the plots.

A spec is a leaf (a function returning what the value should have been, or ``None`` when it is
fine), a ``Record`` (a mapping with required and optional keys), a ``ListOf``, a ``MapOf`` or an
``OrNone`` (the spec, or null).
"""
from __future__ import annotations

import csv
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Union

from autost.arch import Arch
from autost.errors import UsageError
from autost.validate import load_json
from energy.models import MODELS

Leaf = Callable[[Any], "str | None"]


@dataclass(frozen=True)
class Record:
    required: dict[str, "Spec"]
    optional: dict[str, "Spec"] = field(default_factory=dict)


@dataclass(frozen=True)
class ListOf:
    item: "Spec"


@dataclass(frozen=True)
class MapOf:
    item: "Spec"


@dataclass(frozen=True)
class OrNone:
    spec: "Spec"


Spec = Union[Leaf, Record, ListOf, MapOf, OrNone]


class _Wrong(Exception):
    """``where`` (a field path such as ``epochs[2].val_acc``) should be ``should``."""

    def __init__(self, where: str, should: str, value: Any = None, missing: bool = False):
        super().__init__(where)
        self.where, self.should, self.value, self.missing = where, should, value, missing


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def number(value: Any) -> str | None:
    return None if _is_number(value) else "a finite number"


def count(value: Any) -> str | None:
    return None if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else "a whole number >= 0"


def integer(value: Any) -> str | None:
    return None if isinstance(value, int) and not isinstance(value, bool) else "an integer"


def energy(value: Any) -> str | None:
    return None if _is_number(value) and value >= 0 else "a finite number of mJ >= 0"


def seconds(value: Any) -> str | None:
    return None if _is_number(value) and value >= 0 else "a finite number of seconds >= 0"


def fraction(value: Any) -> str | None:
    return None if _is_number(value) and 0 <= value <= 1 else "a fraction in [0, 1]"


def text(value: Any) -> str | None:
    return None if isinstance(value, str) else "a string"


def boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "true or false"


def one_of(*choices: str) -> Leaf:
    def check(value: Any) -> str | None:
        return None if value in choices else f"one of {', '.join(choices)}"
    return check


def arch(value: Any) -> str | None:
    try:
        Arch.from_dict(value)
    except ValueError as err:
        return f"a valid architecture ({err})"
    return None


def model(value: Any) -> str | None:
    return None if isinstance(value, str) and value in MODELS else f"an energy model ({', '.join(MODELS)})"


def _check(value: Any, spec: Spec, where: str) -> None:
    if isinstance(spec, OrNone):
        if value is not None:
            _check(value, spec.spec, where)
    elif isinstance(spec, Record):
        if not isinstance(value, dict):
            raise _Wrong(where, "a mapping", value)
        for key, item in {**spec.required, **spec.optional}.items():
            inner = f"{where}.{key}" if where else key
            if key in value:
                _check(value[key], item, inner)
            elif key in spec.required:
                raise _Wrong(inner, "present", missing=True)
    elif isinstance(spec, ListOf):
        if not isinstance(value, list):
            raise _Wrong(where, "a list", value)
        for i, item in enumerate(value):
            _check(item, spec.item, f"{where}[{i}]")
    elif isinstance(spec, MapOf):
        if not isinstance(value, dict):
            raise _Wrong(where, "a mapping", value)
        for key, item in value.items():
            _check(item, spec.item, f"{where}[{key!r}]")
    else:
        should = spec(value)
        if should:
            raise _Wrong(where, should, value)


def _shown(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def checked(path: Path, what: str, spec: Record, rerun: str) -> dict:
    """The JSON object in ``path`` (a ``what``) if it meets ``spec``; else one line naming the file
    and the first field that does not, ending with how to get a good file (``rerun``)."""
    data = load_json(path, what, spec.required)  # every missing top-level key at once
    try:
        _check(data, spec, "")
    except _Wrong as wrong:
        problem = "is missing" if wrong.missing else f"must be {wrong.should}, got {_shown(wrong.value)}"
        raise UsageError(f"{path}: {wrong.where} {problem}; {rerun}") from None
    return data


EPOCH = Record({"epoch": count, "train_loss": number, "val_acc": fraction})
LAYER = Record({"name": text, "kind": text, "firing_rate": fraction, "energy_mj": energy},
               {"compute_mj": energy, "memory_mj": energy})
METRICS = Record({"arch": arch, "dataset": text, "params": count, "macs": count, "epochs": ListOf(EPOCH),
                  "test_acc": fraction, "energy_mj": energy},
                 {"memory_mj": OrNone(energy), "ann_mj": OrNone(energy), "ann_int8_mj": OrNone(energy),
                  "firing_rates": MapOf(fraction), "energy_layers": ListOf(LAYER), "energy_model": model,
                  "settings": Record({}, {"seed": integer})})  # the seed pairs runs against a baseline
CANDIDATE = Record({"arch": arch, "params": count, "macs": count, "energy_mj": OrNone(energy), "score": number})
SEARCH = Record({"space": text, "algorithm": text, "score": text, "seed": number,
                 "settings": Record({}, {"top_k": count}), "candidates": ListOf(CANDIDATE), "elapsed_s": seconds},
                {"energy_model": Record({}, {"name": model}), "pareto": OrNone(ListOf(CANDIDATE))})
RUNG = Record({"rung": count, "epochs": count,
               "candidates": ListOf(Record({"name": text, "arch": text, "val_acc": fraction, "kept": boolean}))})
RUNGS = Record({"rungs": ListOf(RUNG), "scheduler": one_of("in-process", "asha")}, {"eta": count})
INIT_ENERGY = Record({"init": Record({"energy_mj": energy})})


def read_search(path: Path) -> dict:
    """search.json, checked for every field the report and ``--compare`` read."""
    return checked(path, "search result", SEARCH, "rerun the search")


def read_metrics(path: Path) -> dict:
    """A training run's metrics.json, checked for every field the report reads."""
    return checked(path, "training metrics", METRICS, "rerun the training")


def read_init_energy(path: Path) -> float:
    """The init-time energy in mJ of the pipeline's ``energy/DATASET/NN.json``."""
    return checked(path, "init-time energy", INIT_ENERGY, "rerun the pipeline's energy step")["init"]["energy_mj"]


def read_rungs(path: Path) -> dict:
    """The train stage's rungs.json (successive halving: per rung its epochs and each candidate's
    validation accuracy and whether it was kept), checked."""
    return checked(path, "successive-halving record", RUNGS, "rerun the training")


def read_history(path: Path) -> list[dict]:
    """history.csv: per generation its number and the best and mean scores (empty while no
    candidate was legal), checked."""
    try:
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise UsageError(f"{path}: cannot read the search history ({type(err).__name__}); rerun the search") from None
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        for key, kind in (("generation", int), ("best", float), ("mean", float)):
            value = row.get(key)
            if not (value == "" and kind is float or value is not None and _parses(value, kind)):
                raise UsageError(f"{path}: line {line} has no valid {key} (got {value!r}); rerun the search")
    return rows


def _parses(value: str, kind: type) -> bool:
    try:
        return math.isfinite(kind(value))
    except ValueError:
        return False
