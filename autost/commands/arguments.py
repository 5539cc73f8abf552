"""argparse arguments from the option tables of ``autost.tables`` (``autost.options.Option``), and
the mapping a parsed command line gives back to the same tables' readers: every command's parser
is built here, so each argument helper is written once."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Sequence

from autost.errors import BadInput
from autost.options import Option, folder


def add_options(parser: argparse.ArgumentParser, options: Sequence[Option]) -> None:
    """One argument per option: its flag, type, default, choices, help, and its mutually exclusive
    group (required when one of its options is)."""
    groups: dict[str, Any] = {}
    for option in options:
        if option.group is None:
            target: Any = parser
        else:
            if option.group not in groups:
                required = any(o.required for o in options if o.group == option.group)
                groups[option.group] = parser.add_mutually_exclusive_group(required=required)
            target = groups[option.group]
        target.add_argument(option.flag, **_argument(option))


def _argument(option: Option) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"dest": option.name, "default": option.default, "help": _now(option.help)}
    if option.required and option.group is None:
        kwargs["required"] = True
    if option.type is bool:
        kwargs["action"] = "store_true"
        return kwargs
    if option.type in (int, float, Path):
        kwargs["type"] = option.type
    elif option.type is folder:
        kwargs["type"] = out_folder
    if option.repeat:
        kwargs["action"] = "append"
    for attr in ("nargs", "metavar"):
        if getattr(option, attr) is not None:
            kwargs[attr] = _now(getattr(option, attr))
    if option.choices is not None:
        kwargs["choices"] = tuple(option.choices())
    return kwargs


def out_folder(text: str) -> Path:
    """``--out``: ``autost.options.folder``'s check, as argparse's own one-line usage error."""
    try:
        return Path(folder("", text))
    except BadInput:
        raise argparse.ArgumentTypeError("must be a non-empty path (a folder for the results)") from None


def _now(value: Any) -> Any:
    return value() if callable(value) else value


def mapping(args: argparse.Namespace, options: Sequence[Option]) -> dict[str, Any]:
    """The parsed values of ``options``, keyed as in YAML, for ``autost.configs``' readers."""
    return {option.key: getattr(args, option.name) for option in options if hasattr(args, option.name)}
