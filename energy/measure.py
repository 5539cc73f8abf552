"""Energy of one architecture, freshly initialized or from a training checkpoint."""
from __future__ import annotations

from pathlib import Path

import torch

from autost.arch import Arch
from autost.checkpoint import CheckpointError, describe, load_weights
from autost.geometry import Geometry
from autost.memory import check_fits
from autost.model import build_model
from autost.seeding import arch_seed
from energy.estimators import ModelEnergy, estimate
from energy.models import DEFAULT_MODEL


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
                   seed: int = 0, energy_model: str = DEFAULT_MODEL) -> ModelEnergy:
    """Init-time energy (weights seeded as the search seeds them) or, with ``checkpoint``,
    the trained network's energy, on ``batch``, under ``energy_model``."""
    check_fits(arch, geometry, len(batch), use="forward")
    if checkpoint is not None:
        model = load_trained(arch, geometry, checkpoint)
    else:
        torch.manual_seed(arch_seed(seed, arch))
        model = build_model(arch, **geometry.model_kwargs())
    return estimate(model, batch, energy_model)
