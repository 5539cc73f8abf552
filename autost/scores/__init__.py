"""Training-free scores: each one a measure of a candidate, registered by name.

A score is one module of this package that registers a ``Score`` with ``SCORES`` (the form of
NASLib's ``@measure``). Its ``compute(ctx)`` reads a ``Context`` (the architecture, its
closed-form cost, the scoring batch and its targets, and the network) and returns a number the
search maximizes. The network is built only when a score asks for it, once per context, with the
weights the search gives the candidate (seeded from the run seed and the architecture alone,
``autost.seeding.arch_seed``), so a score does not depend on the order of scoring; every score
that uses it leaves it as it found it. ``ctx.score(name)`` is another score's value, computed
once per context (AutoST's score reads NASWOT's; an ensemble its members').

``ensemble:A+B[+C...]`` names the rank ensemble of registered scores (``autost.scores.ensemble``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Mapping, Sequence, TypeVar

import torch
from torch import nn

from autost.arch import Arch
from autost.cost import Cost, analytic_cost
from autost.errors import BadInput
from autost.geometry import Geometry
from autost.registry import Registry

V = TypeVar("V")
ENSEMBLE = "ensemble:"
ENSEMBLE_HELP = ("A+B[+C...]: the sum of each named score's rank (among a seeded reference sample of the space in a "
                 "search; ours)")


@dataclass
class Context:
    """What a score may read about one candidate. ``batch`` and ``targets``: the scoring batch
    (``None`` without ``--dataset``); ``backward``: some score will run a backward pass through
    the network (its memory check counts the gradients); ``reference``: each ensemble member's
    values over the reference set its ranks are taken against (``autost.scores.ensemble``);
    ``supernet``: the folder of a trained supernet (``autost.scores.supernet``)."""

    arch: Arch
    geometry: Geometry
    seed: int = 0
    lam: float = 0.0
    batch: torch.Tensor | None = None
    targets: torch.Tensor | None = None
    backward: bool = False
    reference: Mapping[str, Sequence[float]] | None = None
    supernet: str | None = None
    values: dict[str, float] = field(default_factory=dict, init=False)  # the scores computed so far, by name
    _network: nn.Module | None = field(default=None, init=False, repr=False)
    _shared: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    @cached_property
    def cost(self) -> Cost:
        return analytic_cost(self.arch, **self.geometry.model_kwargs())

    @property
    def network(self) -> nn.Module:
        """The candidate's untrained network, built on first use (on the CPU from its seed, then
        moved to the batch's device: the same weights on any device)."""
        if self._network is None:
            from autost.memory import check_fits, scoring_use
            from autost.model import build_model
            from autost.seeding import arch_seed

            device = self.batch.device if self.batch is not None else torch.device("cpu")
            if self.batch is not None:
                check_fits(self.arch, self.geometry, len(self.batch), use=scoring_use(self.backward), device=device)
            torch.manual_seed(arch_seed(self.seed, self.arch))
            self._network = build_model(self.arch, **self.geometry.model_kwargs()).to(device)
        return self._network

    def example(self) -> torch.Tensor:
        """One input sample: the batch's first, or zeros of the geometry's image shape without data."""
        if self.batch is not None:
            return self.batch[:1]
        g = self.geometry
        return torch.zeros(1, g.in_channels, g.img_size, g.img_size)

    def inputs(self, score: str) -> torch.Tensor:
        """The scoring batch; a one-line error naming ``score`` without it."""
        if self.batch is None:
            raise BadInput(f"--score {score} needs real data: give --dataset")
        return self.batch

    def labeled(self, score: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The scoring batch and its targets; a one-line error naming ``score`` without them."""
        if self.batch is None or self.targets is None:
            raise BadInput(f"--score {score} needs a labeled batch: give --dataset")
        return self.batch, self.targets

    def shared(self, key: str, compute: Callable[[], V]) -> V:
        """``compute()``, run once per context: work two scores share (NASWOT's and SAHD's codes)."""
        if key not in self._shared:
            self._shared[key] = compute()
        return self._shared[key]

    def score(self, name: str) -> float:
        """The score ``name`` of this candidate, computed once."""
        if name not in self.values:
            self.values[name] = get_score(name).compute(self)
        return self.values[name]


@dataclass(frozen=True)
class Score:
    """A training-free score that the search maximizes. ``data``: it needs the scoring batch
    (a bool, or a function of lambda); ``backward``: it runs a backward pass through the network;
    ``study``: ``run.py correlate`` records it (False for one that ranks exactly as a column the
    study has already, or that needs what a study does not have)."""

    name: str
    help: str
    compute: Callable[[Context], float]
    data: bool | Callable[[float], bool] = False
    backward: bool = False
    study: bool = True

    def needs_data(self, lam: float) -> bool:
        return self.data(lam) if callable(self.data) else self.data


# Every score, by name (``--score``): the built-ins in the order listed, then every other module of
# this package (a new score is one file here that calls ``SCORES.register(Score(...))``).
SCORES: Registry[Score] = Registry("score", modules=tuple(f"autost.scores.{m}" for m in (
    "size", "combined", "codes", "synflow", "grad_norm", "zico", "supernet")), package="autost.scores")
# Scores that existed once, with what to use instead.
REMOVED_SCORES = {
    "energy-aware": "--score energy-aware (GMACs per mJ) was removed: no paper defines it and it ranked by "
                    "depth; limit energy with --energy-limit MJ, or search --algorithm nsga2 with "
                    "--objectives score,energy",
}


# Scores named by a prefix and parameters (``ensemble:A+B``): prefix -> the function that makes the
# score of a full name; filled by the modules of this package (``autost.scores.ensemble``).
FAMILIES: dict[str, Callable[[str], Score]] = {}


def get_score(name: str) -> Score:
    """The registered score ``name``, or the score of a family (``ensemble:A+B``); a removed or
    unknown one is a one-line ``BadInput``."""
    if name in REMOVED_SCORES:
        raise BadInput(REMOVED_SCORES[name])
    SCORES.names()  # imports every module of the package, which fills FAMILIES
    for prefix, make in FAMILIES.items():
        if name.startswith(prefix):
            return make(name)
    return SCORES.get(name)
