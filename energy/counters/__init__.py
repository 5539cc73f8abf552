"""The energy counters: how a model's operations are counted, one file each, registered by name.

An energy model (``energy.models``) names its counter; the counter runs the network on a batch
(``measure``) and, where the count can be written without a network, gives the closed form of
an architecture from a calibrated rate table (``closed_form``; ``energy.closed_form``). Every
counter returns an ``energy.record.EnergyRecord``. A new counter is one file in this package that
calls ``COUNTERS.register(Counter(...))``; a model under it is one ``MODELS.register``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from autost.errors import UsageError
from autost.registry import Registry
from energy.models import MODELS, EnergyModel, get_model
from energy.record import EnergyRecord


@dataclass(frozen=True)
class Counter:
    name: str
    summary: str  # one line for docs and errors
    # (network, batch, model, use_batch_stats) -> the record of one forward pass, per sample
    measure: Callable[..., EnergyRecord]
    # (arch, geometry, rate table, model) -> the record without a network; None: no closed form
    closed_form: Callable[..., EnergyRecord] | None = None


COUNTERS: Registry[Counter] = Registry("energy counter", modules=(
    "energy.counters.rate", "energy.counters.synaptic", "energy.counters.lemaire"), package="energy.counters")


def counter_of(energy_model: str | EnergyModel) -> Counter:
    """The counter of a registered energy model (or of ``energy_model`` itself)."""
    return COUNTERS.get(get_model(energy_model).counter)


def has_closed_form(energy_model: str | EnergyModel) -> bool:
    return counter_of(energy_model).closed_form is not None


def closed_form_of(energy_model: str | EnergyModel) -> Callable[..., EnergyRecord]:
    """The closed form of the model's counter; a model whose counter has none is a one-line
    ``UsageError`` naming the models that have one."""
    model = get_model(energy_model)
    closed_form = counter_of(model).closed_form
    if closed_form is None:
        names = ", ".join(name for name in MODELS if has_closed_form(name))
        raise UsageError(f"--energy closed-form needs an energy model with a closed form ({names}), not "
                         f"{model.name!r}; use --energy measure")
    return closed_form
