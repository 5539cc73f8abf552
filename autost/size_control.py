"""Correlations that hold network size fixed: does a score rank two networks of about the same
MACs by accuracy, which MACs cannot do by construction?

Two estimates, both rank-based:

* ``partial_spearman``: the partial rank correlation of score and accuracy given log MACs: the
  Pearson correlation of the residuals of rank(score) and rank(accuracy) after a least-squares
  line on rank(log MACs) (average ranks for ties). It is what ``pingouin.partial_corr(...,
  method="spearman")`` computes, and equals Yule's first-order partial-correlation formula
  ``(r_xy - r_xz r_yz) / sqrt((1 - r_xz^2)(1 - r_yz^2))`` applied to Spearman's coefficients
  (the tests check both derivations against each other).
* ``binned_kendall``: Kendall's tau-b within bins of near-equal MACs: the architectures sorted
  by MACs and cut into ``len // BIN_SIZE`` bins of (almost) equal count (quantile bins of log
  MACs), tau-b in each, averaged with each bin weighted by its pairs ``k (k - 1) / 2``. Bins
  whose tau is undefined (a constant score or accuracy within the bin) are left out.

MACs rank the same as log MACs, so the ranks are those of MACs. Intervals are percentile
bootstraps over architectures, as for the overall correlations; each resample is binned anew.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import stats

BIN_SIZE = 6  # architectures per MACs bin: 5 bins of 15 pairs each in a study of 30
METHOD = {
    "partial_spearman": "partial rank correlation given log MACs: Pearson correlation of the residuals of "
                        "rank(score) and rank(accuracy) after least squares on rank(log MACs) (average ranks; as "
                        "pingouin.partial_corr(method='spearman'); equal to Yule's first-order partial-correlation "
                        "formula on Spearman's coefficients)",
    "binned_kendall": f"Kendall's tau-b within quantile bins of log MACs ({BIN_SIZE} architectures a bin, the "
                      "remainder spread over the first bins), averaged weighted by each bin's pairs k(k-1)/2; bins "
                      "with an undefined tau are left out",
}


def _residual(values: np.ndarray, covariate: np.ndarray) -> np.ndarray:
    """``values`` less their least-squares line on ``covariate``."""
    design = np.column_stack([np.ones_like(covariate), covariate])
    coef, *_ = np.linalg.lstsq(design, values, rcond=None)
    return values - design @ coef


def partial_spearman(x: np.ndarray, y: np.ndarray, macs: np.ndarray) -> float | None:
    """The partial rank correlation of ``x`` and ``y`` given ``macs``; ``None`` when undefined (a
    residual is constant: ``x`` or ``y`` is a monotone function of MACs, or constant)."""
    rx, ry, rz = (stats.rankdata(v) for v in (x, y, macs))
    ex, ey = _residual(rx, rz), _residual(ry, rz)
    # a residual of rounding size, relative to the ranks' own spread, is no residual
    if min(ex @ ex, ey @ ey) <= 1e-12 * len(rx) ** 3:
        return None
    return float(np.clip((ex @ ey) / np.sqrt((ex @ ex) * (ey @ ey)), -1.0, 1.0))


def macs_bins(macs: np.ndarray, size: int = BIN_SIZE) -> list[np.ndarray]:
    """Indices of ``macs`` in ``len // size`` bins of consecutive MACs (ties broken by position),
    their counts differing by at most one; one bin when there are fewer than ``2 * size``."""
    order = np.argsort(macs, kind="stable")
    return np.array_split(order, max(1, len(macs) // size))


def binned_kendall(x: np.ndarray, y: np.ndarray, macs: np.ndarray, size: int = BIN_SIZE) -> float | None:
    """Kendall's tau-b within the bins of ``macs_bins``, averaged weighted by pairs; ``None`` when
    no bin has a defined tau."""
    total, weight = 0.0, 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", stats.ConstantInputWarning)
        for part in macs_bins(macs, size):
            tau = stats.kendalltau(x[part], y[part]).statistic
            if np.isfinite(tau):
                pairs = len(part) * (len(part) - 1) / 2
                total, weight = total + pairs * tau, weight + pairs
    return total / weight if weight else None


def size_controlled(x: np.ndarray, y: np.ndarray, macs: np.ndarray, draws: np.ndarray,
                    level: float = 0.95) -> dict[str, Any]:
    """Both estimates of score ``x`` against accuracy ``y`` given ``macs``, with percentile
    bootstrap intervals over the resamples ``draws`` (rows of indices); resamples where an
    estimate is undefined are left out. A score missing for some architecture (``nan``) has none."""
    if not np.isfinite(x).all():
        return dict.fromkeys(("partial_spearman", "partial_spearman_ci", "binned_kendall", "binned_kendall_ci"))
    boot = np.array([(_nan(partial_spearman(x[i], y[i], macs[i])), _nan(binned_kendall(x[i], y[i], macs[i])))
                     for i in draws])
    return {"partial_spearman": partial_spearman(x, y, macs), "partial_spearman_ci": interval(boot[:, 0], level),
            "binned_kendall": binned_kendall(x, y, macs), "binned_kendall_ci": interval(boot[:, 1], level)}


def describe_bins(macs: np.ndarray) -> list[dict[str, float]]:
    """Each bin's size and MACs range: how near-equal "near-equal MACs" is in this study."""
    return [{"n": len(part), "macs_min": float(macs[part].min()), "macs_max": float(macs[part].max())}
            for part in macs_bins(macs)]


def _nan(value: float | None) -> float:
    return np.nan if value is None else value


def interval(values: np.ndarray, level: float) -> list[float] | None:
    """The percentile interval at ``level`` of the finite ``values``; ``None`` when there are none."""
    values = values[np.isfinite(values)]
    if not len(values):
        return None
    tail = 50 * (1 - level)
    return [float(np.percentile(values, tail)), float(np.percentile(values, 100 - tail))]
