"""The registered scores' names and help as ``--help`` shows them: the registry's own where the
scores are loaded already (a process that has imported torch), else ``scores.json`` beside this
file, so that ``run.py --help`` need not import the score modules, which import torch.

``python -m autost.tables.catalog`` writes the file from ``autost.scores.SCORES``;
``tests/test_help.py`` fails, naming that command, when a score was added or changed without it.
A score missing from the file still runs (``--score`` has no fixed choices); only its help line waits.
"""
from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path

FILE = Path(__file__).with_name("scores.json")


def catalog() -> dict:
    """``scores``: score name -> its one-line help, in the registry's order; ``ensemble``: the
    prefix of a rank ensemble's name and its help."""
    return current() if "autost.scores" in sys.modules else stored()


@lru_cache(maxsize=None)
def stored() -> dict:
    """``scores.json``: what ``current()`` gave when it was last written."""
    return json.loads(FILE.read_text())


def current() -> dict:
    """What ``scores.json`` should hold: the registry's now (imports every score)."""
    from autost.scores import ENSEMBLE, ENSEMBLE_HELP, SCORES

    return {"scores": {name: score.help for name, score in SCORES.items()},
            "ensemble": {"prefix": ENSEMBLE, "help": ENSEMBLE_HELP}}


def score_metavar() -> str:
    return "{" + ",".join(catalog()["scores"]) + f",{catalog()['ensemble']['prefix']}A+B}}"


def score_help(default: str) -> str:
    """The ``--score`` help: every score, marking the default, and the ensemble form."""
    parts = [f"{name}{' (default)' if name == default else ''}: {text}" for name, text in catalog()["scores"].items()]
    ensemble = catalog()["ensemble"]
    return "; ".join(parts) + f"; {ensemble['prefix']}{ensemble['help']}"


if __name__ == "__main__":
    FILE.write_text(json.dumps(current(), indent=1) + "\n")
    print(f"wrote {FILE}")
