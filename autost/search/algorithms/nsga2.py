"""NSGA-II (Deb et al., 2002) selection for the architecture search.

Survival (non-dominated sorting, then crowding distance within the last front) uses
pymoo's implementations; variation stays AutoST's mutation and crossover over the search
space, so every child is a valid member of the space, and the generation loop, legality
rules, checkpoints and resume are those of the evolutionary search.
"""
from __future__ import annotations

import math
import random
from typing import Any, Callable, Sequence

from autost.errors import UsageError
from autost.search.algorithms import ALGORITHMS, Algorithm

OBJECTIVES = ("score", "energy", "params")

# Each objective as a quantity to MINIMIZE.
_TO_MINIMIZE: dict[str, Callable[[dict], float]] = {
    "score": lambda r: -r["score"],
    "energy": lambda r: r["energy_mj"],
    "params": lambda r: r["params"],
}


def objective_functions(names: Sequence[str]) -> list[Callable[[dict], float]]:
    unknown = [n for n in names if n not in _TO_MINIMIZE]
    if unknown:
        raise ValueError(f"unknown objective {', '.join(unknown)}; choose from {', '.join(OBJECTIVES)}")
    return [_TO_MINIMIZE[n] for n in names]


def survivors(records: list[dict], objectives: Sequence[str], n: int) -> list[dict]:
    """The ``n`` best records by (front rank, then larger crowding distance); each returned
    record carries ``_rank`` and ``_crowding`` for tournament selection."""
    if not records:
        return []
    # pymoo takes a third of a second to import: here, not when the registry lists the algorithms
    from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    from autost.pareto import objective_matrix

    f = objective_matrix(records, objective_functions(objectives))
    fronts = NonDominatedSorting().do(f)
    chosen: list[dict] = []
    for rank, front in enumerate(fronts):
        crowding = calc_crowding_distance(f[front])
        # ties in crowding are broken by position, which `records` fixes deterministically
        order = sorted(range(len(front)), key=lambda i: (-crowding[i], int(front[i])))
        for i in order:
            if len(chosen) == n:
                return chosen
            chosen.append({**records[int(front[i])], "_rank": rank, "_crowding": float(crowding[i])})
    return chosen


def tournament(pool: list[dict], rng: random.Random) -> dict:
    """Binary tournament: lower front rank wins, then larger crowding distance."""
    a, b = rng.choice(pool), rng.choice(pool)
    key = lambda r: (r["_rank"], -r["_crowding"] if math.isfinite(r["_crowding"]) else -math.inf)  # noqa: E731
    return a if key(a) <= key(b) else b


def _parents(legal: list[dict], settings: Any, objectives: tuple[str, ...]) -> list[dict]:
    """NSGA-II's parents: ``settings.population`` survivors (an ``EvolutionSettings``)."""
    return survivors(legal, objectives, settings.population)


def _check(config: Any) -> None:
    """A ``SearchConfig`` whose objectives include energy needs data to measure it."""
    if "energy" in config.objectives and not config.dataset:
        raise UsageError("--algorithm nsga2 minimizes init-time energy, which needs --dataset "
                         "(or drop energy from --objectives)")


ALGORITHMS.register(Algorithm("nsga2", "multi-objective: the Pareto front of --objectives (NSGA-II)",
                              parents=_parents, pick=tournament, check=_check, front_first=True))
