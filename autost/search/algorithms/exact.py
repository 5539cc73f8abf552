"""``--algorithm exact``: the certified MACs optimum under the parameter limits
(``autost.search.exact_solver``), and the runner-ups up to the population size, scored as one
generation."""
from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from autost.errors import UsageError
from autost.search.algorithms import ALGORITHMS, Algorithm

if TYPE_CHECKING:
    from autost.search.generational import SearchState
    from autost.search.pool import Scorer
    from autost.space import SearchSpace


def check(config: Any) -> None:
    if config.score != "flops" or config.constraints.energy_max_mj is not None:
        raise UsageError("--algorithm exact maximizes MACs (--score flops) under --param-limits; "
                         "it takes no other score and no --energy-limit")


def run(config: Any, space: SearchSpace, score: Scorer, progress: bool) -> SearchState:
    from tqdm import tqdm

    from autost.search.exact_solver import exact_flops_optimum
    from autost.search.generational import SearchState

    start = time.perf_counter()
    keep = max(config.top_k, config.settings.population)
    archs = [arch for _, _, arch in exact_flops_optimum(space, config.geometry, config.constraints, keep=keep)]
    state = SearchState()
    with tqdm(total=len(archs), desc="exact: evaluating the best", unit="cand", disable=not progress) as bar:
        records = score(archs, lambda: bar.update(1))
    for arch, record in zip(archs, records):
        record.update(generation=0, legal=True)
        state.seen[arch.short()] = record
    state.elapsed_s = time.perf_counter() - start
    scores = [r["score"] for r in state.legal_records()]
    state.history = [{"generation": 0, "best": max(scores), "mean": sum(scores) / len(scores),
                      "worst": min(scores), "evaluated": len(scores), "elapsed_s": round(state.elapsed_s, 3)}]
    return state


ALGORITHMS.register(Algorithm("exact", "certified MACs optimum under --param-limits (--score flops only)",
                              run=run, check=check))
