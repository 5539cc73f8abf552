"""A predictor of the TRAINED network's energy: the closed-form init-time energy times a learned
trained/init ratio.

    log E_trained(arch) ~ log E_closed_form(arch) + w . z(arch) + b

``z`` is the architecture's encoding (``features``: plain functions of the Arch and the input
geometry, standardized with the fit's means and scales), so ``predict`` returns mJ per sample
and ``--energy-limit`` keeps its meaning. Two fits of ``w`` and ``b`` (``fit``):

* ``"ridge"`` (shipped): least squares of log(trained / closed form) on ``z``, a small L2
  penalty on ``w``, ``b`` unpenalized.
* ``"pairwise"``: in the manner of ReNAS (Xu et al., "ReNAS: Relativistic Evaluation of
  Neural Architecture Search", CVPR 2021): on every pair of trained architectures, a logistic
  pairwise ranking loss on the scores ``log E_closed_form + w . z``, L2-regularized; ``b`` is
  then the median residual log ratio. Unlike ReNAS's network on a feature tensor, the model is
  linear (the committed studies hold 90 trained architectures) and corrects the closed form.
  A ranking loss is blind to scale: it rewards stretching the closed form's own spread (the
  weight of ``log_macs`` grows until the penalty stops it), so its outputs rank but are no
  energies; ``benchmarks/bench_energy_predictor.py`` compares both
  (``benchmarks/results/energy_predictor.json``), and the ridge fit ranks as well and is
  calibrated, so it is what ``--energy predicted`` loads.

The residual-on-closed-form construction is ours. The fitted predictor is data (``FITTED``,
written by ``benchmarks/bench_energy_predictor.py`` from the committed trained-energy studies,
which it names); ``load_predictor`` reads it.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
from scipy import optimize

from autost.arch import Arch
from autost.blocks import DEFAULT_ATTENTION
from autost.cost import analytic_cost
from autost.errors import UsageError
from autost.geometry import Geometry
from autost.layers import SPIKFORMER_TAU, SPIKFORMER_THRESHOLD
from autost.space import SearchSpace

FITTED = Path(__file__).resolve().parent / "trained_energy_predictor.json"


def _tokens(geometry: Geometry) -> int:
    return (geometry.img_size // geometry.patch_size) ** 2


# The architecture encoding: name -> function of (arch, geometry). New genes add entries here;
# a fitted predictor names the features it uses, so an old fit keeps working.
FEATURES: dict[str, Callable[[Arch, Geometry], float]] = {
    "depth": lambda a, g: float(a.depth),
    "log2_embed_dim": lambda a, g: math.log2(a.embed_dim),
    "mean_mlp_ratio": lambda a, g: float(np.mean(a.mlp_ratio)),
    "log2_mean_heads": lambda a, g: float(np.mean(np.log2(a.num_heads))),
    "log2_tokens": lambda a, g: math.log2(_tokens(g)),
    "time_steps": lambda a, g: float(a.steps(g.time_steps)),  # an arch's TIME_STEPS gene overrides the run's
    "log_macs": lambda a, g: math.log(analytic_cost(a, **g.model_kwargs()).macs),
}


def features(arch: Arch, geometry: Geometry, names: tuple[str, ...] = tuple(FEATURES)) -> np.ndarray:
    """The encoding of ``arch`` at ``geometry``: one float per feature in ``names``."""
    return np.array([FEATURES[name](arch, geometry) for name in names], dtype=float)


def pairwise_loss(w: np.ndarray, z: np.ndarray, base: np.ndarray, target: np.ndarray,
                  l2: float) -> tuple[float, np.ndarray]:
    """Mean logistic loss over every ordered pair (i burns more than j after training) of
    ``s = base + z w``: log(1 + exp(-(s_i - s_j))), plus ``l2 |w|^2``; and its gradient."""
    i, j = np.nonzero(target[:, None] > target[None, :])
    margin = (base[i] - base[j]) + (z[i] - z[j]) @ w
    loss = np.logaddexp(0.0, -margin).mean() + l2 * w @ w
    weight = -0.5 * (1 - np.tanh(margin / 2))  # d/dm log(1 + e^-m) = -sigmoid(-m), written stably
    grad = ((z[i] - z[j]) * weight[:, None]).mean(axis=0) + 2 * l2 * w
    return float(loss), grad


@dataclass(frozen=True)
class TrainedEnergyPredictor:
    feature_names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    intercept: float
    fitted_on: dict  # provenance: studies, architectures, loss, regularization

    def log_ratio(self, arch: Arch, geometry: Geometry) -> float:
        """Predicted log(trained energy / closed-form init energy)."""
        z = (features(arch, geometry, self.feature_names) - np.array(self.mean)) / np.array(self.scale)
        return float(z @ np.array(self.weights) + self.intercept)

    def predict(self, arch: Arch, geometry: Geometry, closed_form_mj: float) -> float:
        """Predicted trained energy in mJ per sample, from the closed-form init-time energy."""
        return closed_form_mj * math.exp(self.log_ratio(arch, geometry))

    def provenance(self) -> dict:
        return {"model": "closed-form init energy x exp(linear model of log(trained / init) on the encoding)",
                "features": list(self.feature_names), "fitted_on": self.fitted_on}

    def to_dict(self) -> dict:
        return {"feature_names": list(self.feature_names), "mean": list(self.mean), "scale": list(self.scale),
                "weights": list(self.weights), "intercept": self.intercept, "fitted_on": self.fitted_on}

    @classmethod
    def from_dict(cls, data: dict) -> "TrainedEnergyPredictor":
        names = tuple(data["feature_names"])
        unknown = [name for name in names if name not in FEATURES]
        if unknown:
            raise ValueError(f"unknown feature {unknown[0]!r}")
        vectors = [tuple(float(v) for v in data[key]) for key in ("mean", "scale", "weights")]
        if any(len(v) != len(names) for v in vectors):
            raise ValueError("feature_names, mean, scale and weights differ in length")
        return cls(names, *vectors, float(data["intercept"]), dict(data["fitted_on"]))


def fit(x: np.ndarray, closed_form_mj: np.ndarray, trained_mj: np.ndarray, *, names: tuple[str, ...],
        method: str = "ridge", l2: float = 0.01, fitted_on: dict | None = None) -> TrainedEnergyPredictor:
    """Fit on architectures with features ``x`` (rows), closed-form energies and trained energies,
    by ``method`` "ridge" or "pairwise" (module docstring). A constant feature (e.g. the time
    steps of studies that share them) gets scale 1 and, being constant, no effect."""
    mean = x.mean(axis=0)
    scale = np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
    z = (x - mean) / scale
    base, target = np.log(closed_form_mj), np.log(trained_mj)
    if method == "ridge":
        design = np.c_[z, np.ones(len(z))]
        penalty = l2 * len(z) * np.diag([1.0] * z.shape[1] + [0.0])
        coef = np.linalg.solve(design.T @ design + penalty, design.T @ (target - base))
        w, intercept = coef[:-1], float(coef[-1])
        loss = "least squares on log(trained / closed form)"
    elif method == "pairwise":
        w = optimize.minimize(pairwise_loss, np.zeros(x.shape[1]), args=(z, base, target, l2), jac=True,
                              method="L-BFGS-B").x
        intercept = float(np.median(target - base - z @ w))
        loss = "logistic pairwise ranking (ReNAS-style), median-calibrated"
    else:
        raise ValueError(f"method must be 'ridge' or 'pairwise', got {method!r}")
    return TrainedEnergyPredictor(names, tuple(float(v) for v in mean), tuple(float(v) for v in scale),
                                  tuple(float(v) for v in w), intercept,
                                  {"architectures": len(x), "method": method, "loss": loss, "l2": l2,
                                   **(fitted_on or {})})


def check_domain(space: SearchSpace) -> None:
    """One-line ``UsageError`` for a space with genes the committed studies never varied: every
    trained architecture behind the fit is Spikformer's (SSA blocks, tau 2, threshold 1), so its
    trained/init ratio says nothing about another attention type or neuron setting."""
    beyond = [key for key, choices, default in (("ATTENTION", space.attention, DEFAULT_ATTENTION),
                                                ("TAU", space.tau, SPIKFORMER_TAU),
                                                ("THRESHOLD", space.threshold, SPIKFORMER_THRESHOLD))
              if tuple(choices) != (default,)]
    if beyond:
        raise UsageError(f"--energy predicted was fitted on Spikformer blocks only (ssa, tau {SPIKFORMER_TAU:g}, "
                         f"threshold {SPIKFORMER_THRESHOLD:g}); {space.name} has other {' and '.join(beyond)} "
                         "choices: use --energy closed-form for it")


def load_predictor(path: Path = FITTED) -> TrainedEnergyPredictor:
    """The fitted predictor at ``path``; a missing or malformed file is a one-line ``UsageError``."""
    try:
        return TrainedEnergyPredictor.from_dict(json.loads(Path(path).read_text()))
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UsageError(f"{path} is not a fitted trained-energy predictor ({err}); regenerate it with "
                         "python -m benchmarks.bench_energy_predictor, or use --energy closed-form") from None
