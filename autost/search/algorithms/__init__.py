"""The search algorithms, by name (``--algorithm``): one module of this package each.

A generational algorithm runs in the shared loop of ``autost.search.generational`` (evaluate a
population, keep parents, breed the next one; checkpointed per generation) and declares only
what differs: how it picks the parents (``parents``), how it draws one for variation (``pick``)
and whether it breeds at all (``breeds``; random search does not). An algorithm with a search of
its own (the exact solver) gives ``run`` instead. A new one is a file in this package that calls
``ALGORITHMS.register(Algorithm(...))``: the registry scans the package, as ``autost.scores``'.
The modules import no torch at the top (what they run is imported when it runs), so the CLI lists
the algorithms in ``--help`` without loading torch.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable

from autost.registry import Registry

# parents(legal records best first, settings, objectives) -> the pool the next generation is bred from
Parents = Callable[[list[dict], Any, tuple[str, ...]], list[dict]]


def _no_check(config: Any) -> None:
    return None


@dataclass(frozen=True)
class Algorithm:
    name: str
    help: str
    parents: Parents | None = None
    pick: Callable[[list[dict], random.Random], dict] | None = None
    breeds: bool = True  # mutants and crossover children of the parents
    # run(config, space, score, progress) -> SearchState: a whole search that is not generational
    run: Callable[..., Any] | None = None
    check: Callable[[Any], None] = _no_check  # extra checks of a SearchConfig, before any work
    front_first: bool = False  # the top-k written hand on the Pareto front first (multi-objective)


# the built-ins in this order (AutoST's evolution, the default, first), then any other module here
ALGORITHMS: Registry[Algorithm] = Registry("search algorithm", modules=tuple(
    f"autost.search.algorithms.{m}" for m in ("evolution", "random_search", "exact", "nsga2")),
    package="autost.search.algorithms")


def top_select(legal: list[dict], settings: Any, objectives: tuple[str, ...]) -> list[dict]:
    """AutoST's parents: the ``select`` best by score."""
    return legal[: settings.select]


def uniform_pick(pool: list[dict], rng: random.Random) -> dict:
    return rng.choice(pool)
