"""Small statistics for comparing trained runs over seeds: means, Student t intervals and paired
differences. Plain functions on lists of numbers; the t quantile is SciPy's.
"""
from __future__ import annotations

import math
from typing import Sequence

from scipy import stats

LEVEL = 0.95


def mean(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("the mean of no values is undefined")
    return math.fsum(values) / len(values)


def sample_std(values: Sequence[float]) -> float:
    """The standard deviation with n - 1 in the denominator (needs two values)."""
    if len(values) < 2:
        raise ValueError("a sample standard deviation needs at least two values")
    m = mean(values)
    return math.sqrt(math.fsum((v - m) ** 2 for v in values) / (len(values) - 1))


def t_quantile(level: float, df: int) -> float:
    """The two-sided critical value: the t with P(|T| <= t) = ``level`` (0.95: the 97.5% quantile)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    return float(stats.t.ppf((1 + level) / 2, df))


def t_interval(values: Sequence[float], level: float = LEVEL) -> tuple[float, float] | None:
    """The Student t interval of the mean of ``values`` (mean +- t * s / sqrt(n)); ``None`` for a
    single value, which has no spread to estimate."""
    if len(values) < 2:
        return None
    half = t_quantile(level, len(values) - 1) * sample_std(values) / math.sqrt(len(values))
    m = mean(values)
    return m - half, m + half


def paired_differences(values: Sequence[float], reference: Sequence[float]) -> list[float]:
    """``values[i] - reference[i]`` for each pair (the same seed on both sides)."""
    if len(values) != len(reference):
        raise ValueError(f"paired values need the same count on both sides, got {len(values)} and {len(reference)}")
    return [v - r for v, r in zip(values, reference)]
