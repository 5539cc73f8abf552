"""How a search obtains each candidate's energy (``--energy``), resolved once into an object.

``auto`` is the closed form (``energy.closed_form``: no forward pass) under an energy model whose
counter has one, else a forward pass (``measure``); ``closed-form`` under a model without one is
a one-line error. ``resolve_method`` is the only place that decides; the search builds the
chosen ``ClosedFormEnergy`` or ``MeasuredEnergy`` once and its evaluator calls ``record``.
Importing this module imports no torch (the option tables read ``METHODS`` for ``--help``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, ClassVar, Protocol

from energy.counters import closed_form_of, has_closed_form
from energy.models import EnergyModel
from energy.record import EnergyRecord

if TYPE_CHECKING:
    import torch
    from torch import nn

    from autost.arch import Arch
    from autost.geometry import Geometry
    from energy.closed_form import RateTable

METHODS = ("auto", "closed-form", "measure")  # the --energy choices (autost.tables.search checks them)


def resolve_method(method: str, energy_model: str | EnergyModel) -> str:
    """``"closed-form"`` or ``"measure"``: ``method`` (one of ``METHODS``) with ``auto`` resolved for
    ``energy_model``; an unknown model, or the closed form under a model without one, is a one-line
    ``UsageError``."""
    if method == "auto":
        return "closed-form" if has_closed_form(energy_model) else "measure"
    if method == "closed-form":
        closed_form_of(energy_model)  # a model without one is an error
    return method


class EnergyMethod(Protocol):
    name: ClassVar[str]
    model: EnergyModel
    table: RateTable | None  # the rate table it prices with (None: it measures)

    def record(self, arch: Arch, geometry: Geometry, network: Callable[[], nn.Module],
               batch: torch.Tensor) -> EnergyRecord:
        """``arch``'s energy per sample; ``network()`` builds (or returns) its initialized network,
        which runs on ``batch``."""

    def describe(self) -> dict:
        """What search.json records about the method (``energy_method``)."""


@dataclass
class ClosedFormEnergy:
    """The closed form of ``model``'s counter, on a rate table calibrated once (no network built);
    the counter is looked up once, here, not per candidate."""

    model: EnergyModel
    table: RateTable
    cache: str | None = None  # how the table was obtained: "hit", "miss" or "recomputed" (closed_form.cached_table)
    name: ClassVar[str] = "closed-form"
    _closed_form: Callable[..., EnergyRecord] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._closed_form = closed_form_of(self.model)

    def record(self, arch: Arch, geometry: Geometry, network: Callable[[], nn.Module],
               batch: torch.Tensor) -> EnergyRecord:
        return self._closed_form(arch, geometry, self.table, self.model)

    def describe(self) -> dict:
        return {"method": self.name, "rate_table_cache": self.cache}


@dataclass(frozen=True)
class MeasuredEnergy:
    """One forward pass of each candidate's network, counted by ``model``'s counter."""

    model: EnergyModel
    name: ClassVar[str] = "measure"
    table: ClassVar[None] = None

    def record(self, arch: Arch, geometry: Geometry, network: Callable[[], nn.Module],
               batch: torch.Tensor) -> EnergyRecord:
        from energy.measure import measure_network  # torch: imported where a network is measured

        return measure_network(network(), batch, self.model)

    def describe(self) -> dict:
        return {"method": self.name}
