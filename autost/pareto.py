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


def knee_point(items: Sequence[T], objectives: Sequence[Callable[[T], float]]) -> T:
    """The knee of a two-objective front (both MINIMIZED): after scaling each objective to
    [0, 1] over ``items``, the item farthest from the straight line between the front's two
    extreme items (the "maximum distance to the chord" knee; Das 1999, "On characterizing the
    knee of the Pareto curve based on normal-boundary intersection"; also Kneedle's, Satopaa et
    al. 2011). With one or two items, the first; ties go to the earlier item."""
    if len(objectives) != 2:
        raise ValueError(f"a knee needs exactly two objectives, got {len(objectives)}")
    if not items:
        raise ValueError("a knee needs a non-empty front")
    f = objective_matrix(items, objectives)
    span = f.max(axis=0) - f.min(axis=0)
    f = (f - f.min(axis=0)) / np.where(span > 0, span, 1.0)
    a, b = f[np.argmin(f[:, 0])], f[np.argmin(f[:, 1])]  # the best item for each objective
    chord = b - a
    length = float(np.hypot(*chord))
    if length == 0:
        return items[0]
    distance = np.abs(chord[0] * (f[:, 1] - a[1]) - chord[1] * (f[:, 0] - a[0])) / length
    return items[int(np.argmax(distance))]
