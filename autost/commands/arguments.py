"""argparse options from the option tables of ``autost.configs`` (``autost.options.Option``), and
the mapping a parsed command line gives back to the same tables' readers."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

from autost.options import Option


def add_options(parser: argparse.ArgumentParser, options: Sequence[Option]) -> None:
    """One argument per option whose ``cli`` is set: its flag, type, default, choices and help."""
    for option in options:
        if not option.cli:
            continue
        kwargs: dict[str, Any] = {"dest": option.name, "default": option.default, "help": _now(option.help)}
        if option.type is bool:
            kwargs["action"] = "store_true"
        else:
            if option.type in (int, float, Path):
                kwargs["type"] = option.type
            for attr in ("nargs", "metavar"):
                if getattr(option, attr) is not None:
                    kwargs[attr] = _now(getattr(option, attr))
            if option.choices is not None:
                kwargs["choices"] = tuple(option.choices())
        parser.add_argument(option.flag, **kwargs)


def out_folder(text: str) -> Path:
    """``--out``: a non-empty path (``Path("")`` is the current folder, where a run would silently
    scatter its files)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must be a non-empty path (a folder for the results)")
    return Path(text)


def _now(value: Any) -> Any:
    return value() if callable(value) else value


def mapping(args: argparse.Namespace, options: Sequence[Option]) -> dict[str, Any]:
    """The parsed values of ``options``, keyed as in YAML, for ``autost.configs``' readers."""
    return {option.key: getattr(args, option.name) for option in options if hasattr(args, option.name)}
