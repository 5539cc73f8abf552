"""What a resumed run must share with the run it continues, and a refusal that names each change.

A fingerprint is plain JSON data: every setting that shapes the result (seeds and population
sizes included) and the *content* of the input files (the parsed search space, the
architecture), never their paths, so moving a file is fine and editing one is caught.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from autost.errors import UsageError


def as_json(data: Any) -> Any:
    """``data`` as it reads back from a JSON file (tuples become lists)."""
    return json.loads(json.dumps(data))


def differences(saved: Mapping[str, Any], current: Mapping[str, Any], prefix: str = "") -> list[str]:
    """One "KEY changed from A to B" per differing key; nested mappings are compared key by key
    (``settings.population``) so the message names the innermost change."""
    saved, current = as_json(saved), as_json(current)
    changes = []
    for key in sorted(set(saved) | set(current)):
        name = f"{prefix}{key}"
        old, new = saved.get(key, "(absent)"), current.get(key, "(absent)")
        if isinstance(old, dict) and isinstance(new, dict):
            changes += differences(old, new, f"{name}.")
        elif old != new:
            changes.append(f"{name} changed from {_show(old)} to {_show(new)}")
    return changes


def _show(value: Any, limit: int = 60) -> str:
    text = value if value == "(absent)" else json.dumps(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def refuse_changes(saved: Mapping[str, Any], current: Mapping[str, Any], source: str | Path) -> None:
    """Raise a one-line ``UsageError`` naming every change between ``saved`` (read from
    ``source``) and ``current``; nothing when they agree."""
    changes = differences(saved, current)
    if changes:
        raise UsageError(f"--resume: {'; '.join(changes)} (since {source} was written); resume with the "
                         "original inputs, or start a fresh run in another --out")
