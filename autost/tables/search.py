"""``run.py search`` and the pipeline's ``search`` section: the search's options (``SEARCH``), where
it runs (``SEARCH_RUN``) and the command's own (``SEARCH_COMMAND``). ``EvolutionSettings``,
``Constraints`` and ``SearchConfig`` take their defaults and checks from here."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from autost.errors import BadInput
from autost.options import Option, at_least, finite, fraction, positive
from autost.search.algorithms.nsga2 import OBJECTIVES
from autost.tables.catalog import score_help, score_metavar
from autost.tables.common import ENERGY_MODEL, GEOMETRY, OUT, PARAM_LIMITS, SPACE
from energy.method import METHODS as ENERGY_METHODS


def algorithms() -> Any:
    from autost.search.algorithms import ALGORITHMS

    return ALGORITHMS


def objectives(name: str, value: Any) -> str:
    """``score,energy`` on the command line; a string or a list in YAML; two or three distinct
    of ``OBJECTIVES``."""
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        value = ",".join(value)
    if not isinstance(value, str):
        raise BadInput(f"{name} must be a comma-separated string or a list of {', '.join(OBJECTIVES)}, got {value!r}")
    names = value.split(",")
    if len(set(names)) < 2 or any(n not in OBJECTIVES for n in names):
        raise BadInput(f"{name} needs two or three of {', '.join(OBJECTIVES)}, got {value}")
    return value


# The generational loop's settings (``autost.search.generational.EvolutionSettings``).
EVOLUTION = (
    Option("population", int, 50, "population per generation (default 50)", check=at_least(1)),
    Option("generations", int, 20, "generations (default 20)", check=at_least(1)),
    Option("select", int, 10, "top-k parents kept each generation (default 10)", check=at_least(1)),
    Option("mutation", int, 25, "mutants per generation (default 25)", check=at_least(0)),
    Option("crossover", int, 25, "crossover children per generation (default 25)", check=at_least(0)),
    Option("m_prob", float, 0.2, "per-block mutation probability (default 0.2)", check=fraction()),
    Option("s_prob", float, 0.4, "depth/width mutation probability (default 0.4)", check=fraction()),
)
# The limits (``autost.search.evaluate.Constraints``).
ENERGY_LIMIT = Option("energy_limit", float, metavar="MJ", check=positive,
                      help="keep architectures whose init-time energy per sample (under --energy-model) is at most MJ "
                           "(needs --dataset)")

SEARCH = (
    SPACE,
    *GEOMETRY,
    Option("algorithm", str, "evolution", choices=lambda: algorithms().names(),
           help=lambda: "search algorithm: " + algorithms().help("evolution")),
    Option("objectives", objectives, "score,energy",
           help="NSGA-II objectives, comma-separated from score (maximized), energy and params (minimized); also "
                "the objectives of the front reported in search.json (default score,energy)"),
    # no choices: a removed score gets its own one-line message (autost.scores.get_score)
    Option("score", str, "flops", metavar=score_metavar,
           help=lambda: "the training-free score the search maximizes: " + score_help("flops")),
    Option("lambda", float, 0.0, "lambda of --score autost (default 0)", dest="lam", check=finite),
    Option("supernet", Path, metavar="DIR", help="the supernet of --score supernet (run.py supernet train --out DIR)"),
    *EVOLUTION,
    PARAM_LIMITS,
    ENERGY_LIMIT,
    Option("match_baseline", Path, metavar="ARCH.yaml",
           help="search within this architecture's params and energy: --param-limits MAX and --energy-limit are "
                "filled from it, each obtained as a candidate's is (needs --dataset; giving either limit too is an "
                "error); search.json records both"),
    ENERGY_MODEL,
    Option("energy", str, "auto", choices=lambda: ENERGY_METHODS,
           help="how each candidate's energy (--energy-limit, the NSGA-II objective, search.json) is obtained with "
                "--dataset. auto (default): closed-form under an --energy-model that has one (the rate-based ones, "
                "lemaire), else measure; "
                "closed-form: init-time firing rates per layer position calibrated once on a few architectures of "
                "the space (cached in $AUTOST_CACHE or ~/.cache/autost), then no forward pass; measure: a forward "
                "pass per candidate"),
    Option("top_k", int, 5, "best architectures of distinct cost (params, MACs) written to OUT/top (default 5)",
           check=at_least(1)),
    Option("batch_size", int, 32, "real batch size for energy and scores (default 32)", check=at_least(1)),
    Option("seed", int, 0, "random seed (default 0)"),
)
SEARCH_RUN = (
    Option("workers", int, metavar="N", check=at_least(1),
           help="with --dataset: score each generation on N local processes (one torch thread each); same "
                "result as a serial search"),
    Option("ray_address", metavar="ADDR",
           help="with --dataset: score each generation as Ray tasks on the cluster at ADDR ('local' starts one); "
                "same result as a serial search"),
)
SEARCH_COMMAND = (
    *SEARCH, *SEARCH_RUN, OUT,
    Option("resume", bool, False, "continue the search checkpointed in OUT"),
)
