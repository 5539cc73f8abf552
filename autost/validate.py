"""Input checks shared by every command: numbers, YAML files and their keys.

Each check raises ``BadInput`` (a ``UsageError``) with one line that names the option (or file) and what it needs,
so the CLI reports it and exits 2 before any work.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from autost.errors import BadInput


def at_least(flag: str, value: int | None, minimum: int = 1) -> None:
    """``value`` (an option that may be absent) is an integer ``>= minimum``."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < minimum):
        raise BadInput(f"{flag} must be an integer of at least {minimum}, got {value!r}")


def positive(flag: str, value: float | None) -> None:
    """``value`` (an option that may be absent) is a finite number above zero."""
    if value is not None and not (_is_number(value) and math.isfinite(value) and value > 0):
        raise BadInput(f"{flag} must be a finite number above 0, got {value!r}")


def finite(flag: str, value: float | None) -> None:
    """``value`` (an option that may be absent) is a finite number."""
    if value is not None and not (_is_number(value) and math.isfinite(value)):
        raise BadInput(f"{flag} must be a finite number, got {value!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def yaml_problem(err: yaml.YAMLError) -> str:
    """A YAML error as "line L, column C: problem" (the position PyYAML marks, 1-based)."""
    mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
    problem = getattr(err, "problem", None) or getattr(err, "context", None) or type(err).__name__
    where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
    return f"{where}{problem}"


def parse_yaml(text: str, source: str) -> Any:
    """``yaml.safe_load(text)``; a syntax error or an unsafe tag (``!!python/...``) is one line
    naming ``source`` and the position."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise BadInput(f"{source}: not valid YAML ({yaml_problem(err)})") from None


def load_yaml(path: str | Path, what: str) -> Any:
    """Read a YAML file; a missing file or bad YAML is one line naming ``path`` (``what`` says
    which kind of file was expected, e.g. "architecture file")."""
    path = Path(path)
    if not path.is_file():
        raise BadInput(f"{path}: {what} not found")
    return parse_yaml(path.read_text(), str(path))


def load_json(path: str | Path, what: str, required: Iterable[str] = ()) -> Any:
    """Read a JSON object written by a run; invalid JSON or a missing ``required`` key is one line
    naming ``path``."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise BadInput(f"{path}: not valid JSON (line {err.lineno}, column {err.colno}: {err.msg}); "
                         f"the {what} is damaged, rerun the step that wrote it") from None
    except (OSError, UnicodeDecodeError) as err:
        raise BadInput(f"{path}: cannot read the {what} ({type(err).__name__})") from None
    if not isinstance(data, dict):
        raise BadInput(f"{path}: the {what} must be a JSON object, got {type(data).__name__}")
    missing = [key for key in required if key not in data]
    if missing:
        raise BadInput(f"{path}: the {what} lacks {', '.join(missing)}; rerun the step that wrote it")
    return data


def check_keys(mapping: Mapping[str, Any], known: Iterable[str], where: str, optional: Iterable[str] = ()) -> None:
    """Refuse a key of ``mapping`` outside ``known`` and ``optional`` (a typo or a newer version's key
    would otherwise be dropped silently), naming the key and the known ones."""
    known, optional = tuple(known), tuple(optional)
    unknown = [str(key) for key in mapping if key not in known + optional]
    if unknown:
        also = f"; optional keys: {', '.join(optional)}" if optional else ""
        raise BadInput(f"{where}: unknown key {unknown[0]!r} (known keys: {', '.join(known)}){also}")
