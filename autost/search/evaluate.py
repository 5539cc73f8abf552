"""Scoring one candidate architecture without training.

Params and MACs come from the closed form (tens of thousands per second). With a real
batch, every candidate's init-time energy is obtained too (the closed form, or one forward
pass), and the score's own measurements (``autost.scores``) when it needs the network. The
weights of each candidate are seeded from the run seed and the architecture alone, so a
candidate's numbers do not depend on the order in which a search meets it (which makes resumed
runs identical to uninterrupted ones).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Sequence

import torch

from autost.arch import Arch
from autost.cost import analytic_cost
from autost.geometry import Geometry
from autost.options import check_fields, finite
from autost.scores import Context, Score, get_score
from autost.tables.common import PARAM_LIMITS
from autost.tables.search import ENERGY_LIMIT
from energy.method import EnergyMethod, MeasuredEnergy
from energy.models import DEFAULT_MODEL, get_model


def check_score(score: str) -> None:
    """One-line error for an unknown or removed score name (``autost.scores.SCORES``)."""
    get_score(score)


@dataclass(frozen=True)
class Constraints:
    param_min: float | None = None  # millions
    param_max: float | None = None
    energy_max_mj: float | None = None

    def __post_init__(self) -> None:
        """The checks of ``--param-limits`` and ``--energy-limit`` (``autost.tables``)."""
        if self.param_min is not None and self.param_max is not None:
            check_fields(SimpleNamespace(param_limits=[self.param_min, self.param_max]), (PARAM_LIMITS,))
        for value in (self.param_min, self.param_max):
            finite(PARAM_LIMITS.flag, value)
        check_fields(SimpleNamespace(energy_limit=self.energy_max_mj), (ENERGY_LIMIT,))

    def params_ok(self, params: int) -> bool:
        millions = params / 1e6
        return (self.param_min is None or millions >= self.param_min) and (
            self.param_max is None or millions <= self.param_max)

    def energy_ok(self, energy_mj: float | None) -> bool:
        return self.energy_max_mj is None or (energy_mj is not None and energy_mj <= self.energy_max_mj)


@dataclass
class Evaluator:
    """Scores candidates under ``score``; ``batch`` (a real data batch, with its ``targets``)
    enables energy, obtained by the method ``energy`` (``energy.method``: a forward pass under the
    default model unless the search chose otherwise), and the scores that need data, measured on
    the batch's device (a CUDA batch runs each candidate on that GPU). An ensemble score needs
    ``reference`` (``set_reference``)."""

    score: str
    geometry: Geometry
    batch: torch.Tensor | None = None
    targets: torch.Tensor | None = None
    lam: float = 0.0
    seed: int = 0
    energy: EnergyMethod = field(default_factory=lambda: MeasuredEnergy(get_model(DEFAULT_MODEL)))
    # event frames binned at each T of a TIME_STEPS gene (an event batch holds one T): an
    # architecture runs on the frames of its own T when they are here, else on ``batch``
    step_batches: dict[int, torch.Tensor] | None = None
    reference: dict[str, list[float]] | None = None  # an ensemble's member values over its reference set
    supernet: str | None = None  # the folder of a trained supernet (--score supernet)

    def batch_for(self, arch: Arch) -> torch.Tensor | None:
        """The real batch ``arch`` runs on (``step_batches`` by its T, else ``batch``)."""
        if self.step_batches:
            return self.step_batches.get(arch.steps(self.geometry.time_steps), self.batch)
        return self.batch

    def __post_init__(self) -> None:
        if self.scorer.needs_data(self.lam) and self.batch is None:
            raise ValueError(f"--score {self.score} needs real data: give --dataset")

    def context(self, arch: Arch) -> Context:
        """What the scores read about ``arch`` (``autost.scores.Context``)."""
        return Context(arch, self.geometry, seed=self.seed, lam=self.lam, batch=self.batch_for(arch),
                       targets=self.targets, backward=self.scorer.backward, reference=self.reference,
                       supernet=self.supernet)

    def set_reference(self, archs: Sequence[Arch]) -> None:
        """Score the reference set ``archs`` of an ensemble score (``autost.scores.ensemble``)."""
        from autost.scores.ensemble import reference_values

        self.reference = reference_values(self.score, (self.context(a) for a in archs))

    @property
    def scorer(self) -> Score:
        return get_score(self.score)

    def cost(self, arch: Arch) -> tuple[int, int]:
        c = analytic_cost(arch, **self.geometry.model_kwargs())
        return c.params, c.macs

    def evaluate(self, arch: Arch) -> dict:
        """A candidate record: arch, params, macs, energy_mj (None without data; by the method
        ``energy``, with its memory part as energy_memory_mj when the model charges memory),
        the value of every score computed on the way under its name (NASWOT for ``autost``, the
        members of an ensemble), and score."""
        ctx = self.context(arch)
        record = {"arch": arch.to_dict()["RETRAIN"], "params": ctx.cost.params, "macs": ctx.cost.macs,
                  "energy_mj": None}
        if ctx.batch is not None:
            energy = self.energy.record(arch, self.geometry, lambda: ctx.network, ctx.batch)
            record["energy_mj"] = energy.total_mj
            if energy.model.has_memory:
                record["energy_memory_mj"] = energy.memory_mj
        score = ctx.score(self.score)
        record.update(ctx.values)
        record["score"] = score
        return record
