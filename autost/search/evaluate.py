"""Scoring one candidate architecture without training.

Params and MACs come from the closed form (tens of thousands per second). With a real
batch, every candidate's init-time energy is measured too (one forward pass), and NASWOT
and SAHD when the score needs them. The weights of each candidate are seeded from the run
seed and the architecture alone, so a candidate's numbers do not depend on the order in
which a search meets it (which makes resumed runs identical to uninterrupted ones).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from autost.arch import Arch
from autost.cost import analytic_cost
from autost.geometry import Geometry
from autost.memory import check_fits
from autost.model import build_model
from autost.scores import Score, activation_scores, get_score
from autost.seeding import arch_seed
from energy.closed_form import RateTable, closed_form_parts
from energy.estimators import estimate
from energy.models import DEFAULT_MODEL, get_model


def check_score(score: str) -> None:
    """One-line error for an unknown or removed score name (``autost.scores.SCORES``)."""
    get_score(score)


@dataclass(frozen=True)
class Constraints:
    param_min: float | None = None  # millions
    param_max: float | None = None
    energy_max_mj: float | None = None

    def params_ok(self, params: int) -> bool:
        millions = params / 1e6
        return (self.param_min is None or millions >= self.param_min) and (
            self.param_max is None or millions <= self.param_max)

    def energy_ok(self, energy_mj: float | None) -> bool:
        return self.energy_max_mj is None or (energy_mj is not None and energy_mj <= self.energy_max_mj)


@dataclass
class Evaluator:
    """Scores candidates under ``score``; ``batch`` (a real data batch) enables energy and codes,
    measured on the batch's device (a CUDA batch runs each candidate on that GPU)."""

    score: str
    geometry: Geometry
    batch: torch.Tensor | None = None
    lam: float = 0.0
    seed: int = 0
    energy_model: str = DEFAULT_MODEL  # a name in energy.models
    rates: RateTable | None = None  # with a table, energy comes from the closed form: no forward pass
    # event frames binned at each T of a TIME_STEPS gene (an event batch holds one T): an
    # architecture runs on the frames of its own T when they are here, else on ``batch``
    step_batches: dict[int, torch.Tensor] | None = None

    def batch_for(self, arch: Arch) -> torch.Tensor | None:
        """The real batch ``arch`` runs on (``step_batches`` by its T, else ``batch``)."""
        if self.step_batches:
            return self.step_batches.get(arch.steps(self.geometry.time_steps), self.batch)
        return self.batch

    def __post_init__(self) -> None:
        get_model(self.energy_model)
        if self.scorer.needs_data(self.lam) and self.batch is None:
            raise ValueError(f"--score {self.score} needs real data: give --dataset")

    @property
    def scorer(self) -> Score:
        return get_score(self.score)

    def cost(self, arch: Arch) -> tuple[int, int]:
        c = analytic_cost(arch, **self.geometry.model_kwargs())
        return c.params, c.macs

    def evaluate(self, arch: Arch) -> dict:
        """A candidate record: arch, params, macs, energy_mj (None without data; under
        ``energy_model``, with its memory part as energy_memory_mj when the model charges memory),
        score, and naswot/sahd when computed."""
        params, macs = self.cost(arch)
        record = {"arch": arch.to_dict()["RETRAIN"], "params": params, "macs": macs, "energy_mj": None}
        needs_codes = self.scorer.needs_codes(self.lam)
        if self.rates is not None:
            energy = closed_form_parts(arch, self.geometry, self.rates, self.energy_model)
            record["energy_mj"] = energy.total_mj
            if get_model(self.energy_model).has_memory:
                record["energy_memory_mj"] = energy.memory_mj
        batch = self.batch_for(arch)
        if batch is not None and (self.rates is None or needs_codes):
            device = batch.device
            check_fits(arch, self.geometry, len(batch), training=False, device=device)
            torch.manual_seed(arch_seed(self.seed, arch))
            # built on the CPU from the seed, then moved: the same weights on any device
            model = build_model(arch, **self.geometry.model_kwargs()).to(device)
            if self.rates is None:
                energy = estimate(model, batch, self.energy_model)
                record["energy_mj"] = energy.total_mj
                if energy.model.has_memory:
                    record["energy_memory_mj"] = energy.memory_mj
            if needs_codes:
                codes = activation_scores(model, batch)
                record.update(naswot=codes.naswot, sahd=codes.sahd)
        record["score"] = self.scorer.value(record, self.lam)
        return record
