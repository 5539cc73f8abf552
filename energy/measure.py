"""Measured energy: a network on a batch under one energy model, and one architecture's energy
at initialization or from a training checkpoint."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from autost.arch import Arch
from autost.batchnorm import is_fresh
from autost.checkpoint import CheckpointError, describe, load_weights
from autost.geometry import Geometry
from autost.memory import check_fits
from autost.model import build_model
from autost.seeding import arch_seed
from energy.counters import counter_of
from energy.models import DEFAULT_MODEL, EnergyModel, get_model
from energy.record import EnergyRecord


@torch.no_grad()
def measure_network(network: nn.Module, inputs: torch.Tensor, energy_model: str | EnergyModel = DEFAULT_MODEL, *,
                    use_batch_stats: bool | None = None) -> EnergyRecord:
    """Energy per sample of ``network`` on the batch ``inputs`` under ``energy_model`` (a registered
    name), counted by its counter (``energy.counters``) in one forward pass (two for ``lemaire``:
    the ANN twin). ``use_batch_stats=None``: BatchNorm normalizes with the batch's statistics in a
    fresh network, with its running statistics in a trained one (``energy.probe.probe_layers``)."""
    model = get_model(energy_model)
    if use_batch_stats is None:
        use_batch_stats = is_fresh(network)
    return counter_of(model).measure(network, inputs, model, use_batch_stats)


def load_trained(arch: Arch, geometry: Geometry, checkpoint: str | Path) -> torch.nn.Module:
    """``arch``'s model with the weights of a training checkpoint (which must be for ``arch``)."""
    weights = load_weights(checkpoint, arch)
    model = build_model(arch, **geometry.model_kwargs())
    try:
        model.load_state_dict(weights)
    except RuntimeError as err:
        raise CheckpointError(f"{checkpoint}: weights do not fit {arch.short()} for this dataset "
                              f"({describe(err)})") from None
    return model


def measure_energy(arch: Arch, geometry: Geometry, batch: torch.Tensor, *, checkpoint: str | Path | None = None,
                   seed: int = 0, energy_model: str = DEFAULT_MODEL) -> EnergyRecord:
    """Init-time energy (weights seeded as the search seeds them) or, with ``checkpoint``,
    the trained network's energy, on ``batch``, under ``energy_model``."""
    check_fits(arch, geometry, len(batch), use="forward")
    if checkpoint is not None:
        model = load_trained(arch, geometry, checkpoint)
    else:
        torch.manual_seed(arch_seed(seed, arch))
        model = build_model(arch, **geometry.model_kwargs())
    return measure_network(model, batch, energy_model)
