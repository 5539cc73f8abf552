"""Random search: the evolutionary loop with no mutants and no crossover children, so every
generation is fresh random architectures of the space (the same budget as the evolution)."""
from __future__ import annotations

from autost.search.algorithms import ALGORITHMS, Algorithm, top_select, uniform_pick

ALGORITHMS.register(Algorithm(
    "random", "random architectures of the space, the evolution's budget", parents=top_select, pick=uniform_pick,
    breeds=False))
