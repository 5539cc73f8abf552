import random

import pytest
from scipy import stats as scipy_stats

from autost.stats import mean, paired_differences, t_interval, t_quantile
from autost.report.comparison import verdict


@pytest.mark.parametrize("df, critical", [(1, 12.706), (2, 4.303), (4, 2.776), (9, 2.262), (29, 2.045)])
def test_t_quantile_is_the_tables(df, critical):
    """Student's t table, two-sided 95% (e.g. Abramowitz and Stegun, Table 26.10)."""
    assert t_quantile(0.95, df) == pytest.approx(critical, abs=1e-3)


@pytest.mark.parametrize("n", [2, 3, 5, 8, 20])
def test_t_interval_matches_scipy(n):
    rng = random.Random(n)
    values = [rng.gauss(90, 3) for _ in range(n)]
    expected = scipy_stats.ttest_1samp(values, 0.0).confidence_interval(0.95)
    assert t_interval(values) == pytest.approx((expected.low, expected.high), rel=1e-9)


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
