"""AutoST's evolution (after AutoFormer's): each generation keeps the top ``select`` legal
candidates and breeds the next from their mutants and crossover children, in the shared loop of
``autost.search.generational``."""
from __future__ import annotations

from autost.search.algorithms import ALGORITHMS, Algorithm, top_select, uniform_pick

ALGORITHMS.register(Algorithm("evolution", "AutoST's evolution: mutants and crossover children of the best",
                              parents=top_select, pick=uniform_pick))
