"""Options as data: one table per command or config (``autost.tables``) says each key's type,
default, check and help; ``read`` turns a mapping (a YAML section, or ``vars()`` of parsed
arguments) into checked values, and ``check_fields`` runs the same checks on a config built in
code (its dataclass calls it), so each check is written once, in its option.

The CLI builds every command's parser from the tables (``autost.commands.arguments``), so a key
means the same in a config file and on the command line, and no argparse runs below the CLI.
Errors name the key as the user wrote it: ``train.epochs`` when it came from YAML section
``train``, ``--epochs`` when it came from the command line or from code.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from autost import validate
from autost.errors import BadInput

# check(name, value): raise ``BadInput`` naming ``name`` when ``value`` is out of range
Check = Callable[[str, Any], None]


@dataclass(frozen=True)
class Option:
    """One key. ``type`` is int, float, str, bool (a flag), Path (kept as a string) or a
    ``parse(name, value)`` function of its own; ``nargs`` a count of values (a list in YAML)."""

    key: str
    type: Any = str
    default: Any = None
    help: str | Callable[[], str] = ""  # a function: read when the parser is built (a registry's entries)
    dest: str | None = None  # the field it fills, when not ``key`` (``lambda`` -> ``lam``)
    check: Check | None = None
    nargs: int | str | None = None
    metavar: str | tuple[str, ...] | Callable[[], str] | None = None
    choices: Callable[[], Sequence[str]] | None = None  # the allowed values, read when first needed
    required: bool = False  # on the command line, and in a YAML section read with ``read``
    group: str | None = None  # options of one group are mutually exclusive (one required if any is)
    repeat: bool = False  # on the command line, given once per value (a list)

    @property
    def name(self) -> str:
        return self.dest or self.key

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")


def key_name(option: Option, where: str | None) -> str:
    """How the user wrote the key: ``section.key`` from YAML, ``--flag`` from the command line."""
    return f"{where}.{option.key}" if where else option.flag


def folder(name: str, value: Any) -> str:
    """An output folder: a non-empty path (``Path("")`` is the current folder, where a run would
    silently scatter its files). The CLI gives it as argparse's type (``autost.commands.arguments``)."""
    if not isinstance(value, (str, Path)) or not str(value).strip():
        raise BadInput(f"{name} must be a non-empty path (a folder for the results), got {value!r}")
    return str(value)


def _scalar(kind: Any, name: str, value: Any) -> Any:
    if kind is bool:
        if not isinstance(value, bool):
            raise BadInput(f"{name} must be true or false, got {value!r}")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadInput(f"{name} must be an integer, got {value!r}")
        return value
    if kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise BadInput(f"{name} must be a number, got {value!r}")
        return float(value)
    if kind is Path:
        if not isinstance(value, (str, Path)):
            raise BadInput(f"{name} must be a path, got {value!r}")
        return str(value)
    if kind is str:
        if not isinstance(value, str):
            raise BadInput(f"{name} must be a string, got {value!r}")
        return value
    return kind(name, value)


def convert(option: Option, value: Any, where: str | None) -> Any:
    """``value`` checked and converted as ``option`` says; ``None`` stays ``None`` (not given)."""
    if value is None:
        return None
    name = key_name(option, where)
    if isinstance(option.nargs, int):
        if not isinstance(value, (list, tuple)) or len(value) != option.nargs:
            raise BadInput(f"{name} takes {option.nargs} values, got {value!r}")
        value = [_scalar(option.type, name, v) for v in value]
    elif option.repeat:
        if not isinstance(value, (list, tuple)):
            raise BadInput(f"{name} takes a list, got {value!r}")
        value = [_scalar(option.type, name, v) for v in value]
    else:
        value = _scalar(option.type, name, value)
    if option.choices is not None and value not in option.choices():
        raise BadInput(f"{name} must be one of {', '.join(option.choices())}, got {value!r}")
    if option.check is not None:
        option.check(name, value)
    return value


def read(options: Sequence[Option], mapping: Mapping[str, Any], where: str | None, what: str) -> dict[str, Any]:
    """Every option's value from ``mapping`` (keys with ``_`` or ``-``), converted and checked, the
    default where absent; keyed by ``Option.name``. A key no option has is a one-line error naming
    it and ``what`` it is not an option of."""
    by_key = {o.key: o for o in options}
    given = {str(k).replace("-", "_"): v for k, v in mapping.items()}
    for key in given:
        if key not in by_key:
            shown = f"{where}.{key}" if where else "--" + key.replace("_", "-")
            raise BadInput(f"{shown} is not an option of {what}")
    values = {}
    for option in options:
        value = convert(option, given.get(option.key), where)
        values[option.name] = option.default if value is None else value
    for option in options:
        if option.required:
            one_of = [o for o in options if o.group is not None and o.group == option.group] or [option]
            if all(given.get(o.key) is None for o in one_of):
                raise BadInput(f"{' or '.join(key_name(o, where) for o in one_of)} is required")
    return values


def check_fields(config: Any, options: Sequence[Option]) -> None:
    """Each option's type, choices and check on the field of ``config`` it fills (those it has),
    named by its flag: a config built in code is refused as one read from the command line."""
    for option in options:
        if hasattr(config, option.name):
            convert(option, getattr(config, option.name), None)


def default(options: Sequence[Option], name: str) -> Any:
    """The default of the option filling ``name``: a config dataclass's field default, written once."""
    return next(o.default for o in options if o.name == name)


# Checks: ``autost.validate``'s, in the ``check(name, value)`` form of ``Option.check``.

def at_least(minimum: int) -> Check:
    return lambda name, value: validate.at_least(name, value, minimum)


positive: Check = validate.positive
finite: Check = validate.finite


def non_negative(name: str, value: float) -> None:
    if not (math.isfinite(value) and value >= 0):
        raise BadInput(f"{name} must be a finite number >= 0, got {value!r}")


def fraction(upper_open: bool = False) -> Check:
    """A value in [0, 1] (or [0, 1) with ``upper_open``)."""
    def check(name: str, value: float) -> None:
        if not (0 <= value < 1 if upper_open else 0 <= value <= 1):
            raise BadInput(f"{name} must be in [0, {'1)' if upper_open else '1]'}, got {value!r}")
    return check


_UNITS = {"": 1, "k": 10 ** 3, "m": 10 ** 6, "g": 10 ** 9, "t": 10 ** 12,
          "ki": 2 ** 10, "mi": 2 ** 20, "gi": 2 ** 30, "ti": 2 ** 40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?)\s*([kmgt]i?)?b?\s*$", re.IGNORECASE)


def parse_size(name: str, value: Any) -> int:
    """A memory size as written for ``--max-memory``: bytes, or a number with K, M, G or T (powers
    of 1000) or KiB, MiB, GiB or TiB (of 1024); a ``BadInput`` naming ``name`` otherwise."""
    text = str(value) if isinstance(value, (int, str)) and not isinstance(value, bool) else ""
    match = _SIZE.match(text)
    size = int(float(match.group(1)) * _UNITS[(match.group(2) or "").lower()]) if match else 0
    if size <= 0:
        raise BadInput(f"{name} must be a memory size above 0 such as 4G, 512M or 2GiB, got {value!r}")
    return size
