"""Non-dominated subsets (Pareto fronts) of plain records."""
from __future__ import annotations

from typing import Callable, Sequence, TypeVar

T = TypeVar("T")


def non_dominated(items: Sequence[T], objectives: Sequence[Callable[[T], float]]) -> list[T]:
    """The items no other item dominates, every objective to be MINIMIZED (negate one to
    maximize it). An item dominates another when it is no worse in every objective and
    better in at least one. Keeps the input order."""
    values = [tuple(f(item) for f in objectives) for item in items]
    front = []
    for i, vi in enumerate(values):
        dominated = any(
            all(a <= b for a, b in zip(vj, vi)) and any(a < b for a, b in zip(vj, vi))
            for j, vj in enumerate(values) if j != i
        )
        if not dominated:
            front.append(items[i])
    return front
