"""`run.py search`: training-free architecture search under constraints."""
from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from autost.commands.arguments import add_options, mapping
from autost.tables.search import SEARCH, SEARCH_COMMAND, SEARCH_RUN

if TYPE_CHECKING:
    from autost.search.runner import SearchConfig

OPTIONS = SEARCH_COMMAND


def config_from_args(args: argparse.Namespace) -> SearchConfig:
    """The SearchConfig that `run.py search`'s options describe (``autost.configs.search_config``)."""
    from autost.configs import search_config

    return search_config(mapping(args, SEARCH + SEARCH_RUN))


def run(args: argparse.Namespace) -> int:
    from autost.arch import Arch
    from autost.configs import read_search
    from autost.memory import label
    from autost.search.runner import run_search

    run_options = read_search(mapping(args, SEARCH + SEARCH_RUN))
    result = run_search(config_from_args(args), args.out, resume=args.resume, workers=run_options["workers"],
                        ray_address=run_options["ray_address"])
    best = result["best"]
    energy = "" if best["energy_mj"] is None else f", {best['energy_mj']:.4g} mJ"
    print(f"best: {label(Arch.from_dict(best['arch']))} score {best['score']:.6g} ({best['params'] / 1e6:.3f} M params, "
          f"{best['macs'] / 1e9:.4g} GMACs{energy})")
    written = len(list((args.out / "top").glob("*.yaml")))
    print(f"{len(result['candidates'])} candidates in {args.out / 'search.json'}; the best {written} of distinct cost "
          f"in {args.out / 'top'}" + (f" (fewer than --top-k {args.top_k}: no more distinct costs)"
                                      if written < args.top_k else ""))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="search a space without training, under params/energy limits",
                       description="Training-free search (AutoST). Scores that need no data (flops) run from "
                                   "--input-shape alone; with --dataset a real batch feeds the init-time energy of "
                                   "every candidate and the activation-code scores. Writes OUT/search.json, "
                                   "OUT/history.csv and OUT/top/NN.yaml; a killed run continues with --resume.")
    add_options(p, OPTIONS)
    p.set_defaults(func=run, options=OPTIONS)
