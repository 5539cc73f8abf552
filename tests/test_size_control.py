"""The size-controlled correlations (autost.size_control), each against an independent derivation."""
import math

import numpy as np
import pytest
from scipy import stats

from autost.size_control import binned_kendall, macs_bins, partial_spearman, size_controlled


def _yule(x, y, z) -> float:
    """Yule's first-order partial-correlation formula on Spearman's coefficients: a second
    derivation of the partial rank correlation, sharing no code with the residual method."""
    r_xy, r_xz, r_yz = (stats.spearmanr(a, b).statistic for a, b in ((x, y), (x, z), (y, z)))
    return (r_xy - r_xz * r_yz) / math.sqrt((1 - r_xz ** 2) * (1 - r_yz ** 2))


def test_partial_spearman_by_hand():
    """Five architectures whose ranks are x (1, 2, 3, 4, 5), y (2, 1, 4, 3, 5), z (1, 2, 3, 5, 4).
    Spearman: r_xy = 1 - 6*4/120 = 0.8, r_xz = 1 - 6*2/120 = 0.9, r_yz = 1 - 6*8/120 = 0.6, so the
    partial correlation is (0.8 - 0.54) / sqrt(0.19 * 0.64) = 0.26 / sqrt(0.1216)."""
    x = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    y = np.array([0.2, 0.1, 0.4, 0.3, 0.5])
    macs = np.array([1e6, 2e6, 3e6, 5e6, 4e6])
    assert partial_spearman(x, y, macs) == pytest.approx(0.26 / math.sqrt(0.1216), abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_partial_spearman_equals_yules_formula_on_random_data(seed):
    rng = np.random.default_rng(seed)
    macs = rng.lognormal(15, 1, size=30)
    x = np.log(macs) + rng.normal(size=30)
    y = 0.5 * np.log(macs) + 0.3 * x + rng.normal(size=30)
    x[3] = x[7]  # a tie: average ranks in both derivations
    assert partial_spearman(x, y, macs) == pytest.approx(_yule(x, y, macs), abs=1e-12)


def test_a_function_of_macs_alone_has_no_size_controlled_correlation():
    rng = np.random.default_rng(0)
    macs = rng.lognormal(15, 1, size=20)
    y = rng.uniform(size=20)
    assert partial_spearman(2 * np.log(macs), y, macs) is None  # x is MACs' rank: nothing left
    assert partial_spearman(np.full(20, 3.0), y, macs) is None  # constant
    # accuracy driven by MACs and a hidden factor: the score that knows the factor wins given MACs
    hidden = rng.normal(size=20)
    acc = np.log(macs) + 3 * hidden
    assert partial_spearman(hidden, acc, macs) > 0.8
    assert partial_spearman(-hidden, acc, macs) < -0.8


def test_bins_hold_consecutive_macs_and_sizes_differing_by_at_most_one():
    macs = np.array([9.0, 1, 8, 2, 7, 3, 6, 4, 5, 10, 11, 12, 13])
    bins = macs_bins(macs, size=6)
    assert [len(b) for b in bins] == [7, 6]
    assert sorted(macs[bins[0]]) == [1, 2, 3, 4, 5, 6, 7] and sorted(macs[bins[1]]) == [8, 9, 10, 11, 12, 13]
    assert len(macs_bins(macs[:5], size=6)) == 1


def test_binned_kendall_by_hand():
    """Two bins of three: in the small one x and y agree on all 3 pairs (tau 1), in the large one
    on 2 of 3 (tau (2 - 1) / 3); equal weights, so the average is (1 + 1/3) / 2 = 2/3. Across
    bins x is reversed, which the overall tau sees and the binned one does not."""
    macs = np.array([1.0, 2, 3, 10, 11, 12])
    x = np.array([4.0, 5, 6, 1, 3, 2])
    y = np.array([0.1, 0.2, 0.3, 0.7, 0.8, 0.9])
    assert binned_kendall(x, y, macs, size=3) == pytest.approx(2 / 3)
    assert stats.kendalltau(x, y).statistic < 0
    assert binned_kendall(np.full(6, 1.0), y, macs, size=3) is None


def test_binned_kendall_weights_bins_by_pairs():
    """Bins of 4 (6 pairs, tau 1) and 3 (3 pairs, tau -1): (6 - 3) / 9."""
    macs = np.arange(7.0)
    x = np.array([1.0, 2, 3, 4, 7, 6, 5])
    y = np.arange(7.0)
    assert binned_kendall(x, y, macs, size=3) == pytest.approx(3 / 9)


def test_size_controlled_intervals_hold_the_estimates_and_a_missing_score_has_none():
    rng = np.random.default_rng(1)
    macs = rng.lognormal(15, 1, size=30)
    x = rng.normal(size=30)
    y = np.log(macs) + x + rng.normal(size=30)
    draws = rng.integers(0, 30, size=(200, 30))
    result = size_controlled(x, y, macs, draws)
    assert result["partial_spearman_ci"][0] <= result["partial_spearman"] <= result["partial_spearman_ci"][1]
    assert result["binned_kendall_ci"][0] <= result["binned_kendall"] <= result["binned_kendall_ci"][1]
    assert result["partial_spearman"] > 0.3
    x[4] = np.nan
    assert set(size_controlled(x, y, macs, draws).values()) == {None}
