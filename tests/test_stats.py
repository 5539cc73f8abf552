import random

import pytest
from scipy import stats as scipy_stats

from autost.stats import mean, paired_differences, t_interval, t_quantile, t_within
from energy.comparison import verdict


@pytest.mark.parametrize("df", [1, 2, 3, 4, 5, 6, 7, 10, 19, 30, 99])
def test_t_distribution_matches_scipy(df):
    for t in (0.1, 0.7, 1.3, 2.5, 6.0, 40.0):
        assert t_within(t, df) == pytest.approx(1 - 2 * scipy_stats.t.sf(t, df), abs=1e-12)
    for level in (0.5, 0.9, 0.95, 0.99):
        assert t_quantile(level, df) == pytest.approx(scipy_stats.t.ppf((1 + level) / 2, df), rel=1e-9)


@pytest.mark.parametrize("n", [2, 3, 5, 8, 20])
def test_t_interval_matches_scipy(n):
    rng = random.Random(n)
    values = [rng.gauss(90, 3) for _ in range(n)]
    expected = scipy_stats.t.interval(0.95, n - 1, loc=mean(values), scale=scipy_stats.sem(values))
    assert t_interval(values) == pytest.approx(expected, rel=1e-9)


def test_one_value_has_no_interval_and_equal_values_a_point():
    assert t_interval([0.9]) is None
    assert t_interval([2.0, 2.0, 2.0]) == pytest.approx((2.0, 2.0))
    with pytest.raises(ValueError):
        mean([])


def test_paired_differences_are_per_pair():
    assert paired_differences([3.0, 5.0, 4.0], [1.0, 6.0, 4.0]) == [2.0, -1.0, 0.0]
    with pytest.raises(ValueError, match="same count"):
        paired_differences([1.0], [1.0, 2.0])


@pytest.mark.parametrize("interval, energy, base, expected", [
    ((0.5, 2.0), 1.0, 1.0, "dominates"),  # better at equal energy
    ((0.5, 2.0), 0.8, 1.0, "dominates"),
    ((0.5, 2.0), 1.2, 1.0, "loses"),  # better but dearer
    ((-0.5, 2.0), 0.8, 1.0, "trades accuracy for energy"),  # cheaper, not surely better
    ((-3.0, -1.0), 0.8, 1.0, "trades accuracy for energy"),  # cheaper and worse
    (None, 0.8, 1.0, "trades accuracy for energy"),  # one seed: no interval
    (None, 1.0, 1.0, "loses"),
    ((0.0, 2.0), 1.0, 1.0, "loses"),  # the interval touches 0
])
def test_verdict_rule(interval, energy, base, expected):
    assert verdict(interval, energy, base) == expected
