"""Non-dominated subsets (Pareto fronts) of plain records, with pymoo's non-dominated sorting."""
from __future__ import annotations

from typing import Callable, Sequence, TypeVar

import numpy as np
from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

T = TypeVar("T")


def objective_matrix(items: Sequence[T], objectives: Sequence[Callable[[T], float]]) -> np.ndarray:
    return np.array([[float(f(item)) for f in objectives] for item in items], dtype=float).reshape(len(items), -1)


def non_dominated(items: Sequence[T], objectives: Sequence[Callable[[T], float]]) -> list[T]:
    """The items no other item dominates, every objective to be MINIMIZED (negate one to
    maximize it). An item dominates another when it is no worse in every objective and
    better in at least one. Keeps the input order."""
    if not items:
        return []
    front = NonDominatedSorting().do(objective_matrix(items, objectives), only_non_dominated_front=True)
    return [items[i] for i in sorted(front)]
