"""`run.py search`: training-free architecture search under constraints."""
from __future__ import annotations

import argparse
from pathlib import Path

from autost.arch import Arch
from autost.commands.arguments import add_options, mapping, out_folder
from autost.commands.energy import add_energy_model_argument
from autost.commands.profile import add_geometry_arguments
from autost.configs import SEARCH, SEARCH_RUN, read_search, search_config
from autost.memory import label
from autost.search.runner import SearchConfig, run_search


def config_from_args(args: argparse.Namespace) -> SearchConfig:
    """The SearchConfig that `run.py search`'s options describe (``autost.configs.search_config``)."""
    return search_config(mapping(args, SEARCH + SEARCH_RUN))


def run(args: argparse.Namespace) -> int:
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


def add_search_arguments(p: argparse.ArgumentParser) -> None:
    """The search options (``autost.configs.SEARCH``), their choices and help from the registries."""
    add_options(p, SEARCH + SEARCH_RUN)
    add_energy_model_argument(p)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("search", help="search a space without training, under params/energy limits",
                       description="Training-free search (AutoST). Scores that need no data (flops) run from "
                                   "--input-shape alone; with --dataset a real batch feeds the init-time energy of "
                                   "every candidate and the activation-code scores. Writes OUT/search.json, "
                                   "OUT/history.csv and OUT/top/NN.yaml; a killed run continues with --resume.")
    p.add_argument("--space", type=Path, required=True, help="search space YAML (AutoST SEARCH_SPACE format)")
    add_geometry_arguments(p)
    p.add_argument("--out", type=out_folder, required=True, help="output folder")
    add_search_arguments(p)
    p.add_argument("--resume", action="store_true", help="continue the search checkpointed in OUT")
    p.set_defaults(func=run)
