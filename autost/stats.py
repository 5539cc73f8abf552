"""Small statistics for comparing trained runs over seeds: means, Student t intervals and paired
differences. Plain functions on lists of numbers, with no dependency beyond ``math``.

The t quantile comes from Student's t distribution function in closed form for an integer number
of degrees of freedom (Abramowitz and Stegun, Handbook of Mathematical Functions, 26.7.3 and
26.7.4), inverted by bisection; the tests check it against ``scipy.stats.t``.
"""
from __future__ import annotations

import math
from typing import Sequence

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


def t_within(t: float, df: int) -> float:
    """P(|T| <= t) for Student's t with ``df`` (a positive integer) degrees of freedom: A(t|df) of
    Abramowitz and Stegun 26.7.3 (odd df) and 26.7.4 (even df)."""
    if df < 1 or int(df) != df:
        raise ValueError(f"degrees of freedom must be a positive integer, got {df!r}")
    if t <= 0:
        return 0.0
    theta = math.atan(t / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    if df % 2:  # odd: (2/pi) (theta + sin cos (1 + 2/3 cos^2 + 2*4/(3*5) cos^4 + ...)), df - 2 terms of cos
        term = total = 1.0
        for k in range(1, (df - 1) // 2):
            term *= 2 * k / (2 * k + 1) * c2
            total += term
        series = math.sin(theta) * math.cos(theta) * total if df > 1 else 0.0
        return 2 / math.pi * (theta + series)
    term = total = 1.0  # even: sin (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 + ...)
    for k in range(1, df // 2):
        term *= (2 * k - 1) / (2 * k) * c2
        total += term
    return math.sin(theta) * total


def t_quantile(level: float, df: int) -> float:
    """The two-sided critical value: the t with P(|T| <= t) = ``level`` (0.95: the 97.5% quantile)."""
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level!r}")
    low, high = 0.0, 1.0
    while t_within(high, df) < level:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        if t_within(mid, df) < level:
            low = mid
        else:
            high = mid
        if high - low <= 1e-12 * high:
            break
    return (low + high) / 2


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
