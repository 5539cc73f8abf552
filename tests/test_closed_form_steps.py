"""The closed form's rate table and the TIME_STEPS gene: T is part of a position."""
import dataclasses
import random

import pytest
import torch

from autost.arch import Arch
from autost.geometry import Geometry
from autost.model import build_model
from autost.seeding import arch_seed
from autost.space import SearchSpace
from conftest import ROOT
from energy.closed_form import (CALIBRATION_ARCHS, LayerRate, RateTable, calibrate, calibration_archs,
                                closed_form_energy, position)
from energy.measure import measure_network

DIGITS = Geometry(in_channels=1, img_size=16, patch_size=4, num_classes=10, time_steps=2)
# A tiny hybrid space: two T's, two attention types, two thresholds.
SPACE = SearchSpace(mlp_ratio=(2,), num_heads=(2,), depth=(1, 2), embed_dim=(32,), attention=("ssa", "qk"),
                    time_steps=(1, 3), threshold=(0.5, 1.0))
MODEL = "spikformer-45nm"


def _batch() -> torch.Tensor:
    return torch.rand(8, 1, 16, 16, generator=torch.Generator().manual_seed(0))


def _measured(arch: Arch, batch: torch.Tensor) -> float:
    torch.manual_seed(arch_seed(0, arch))  # the weights calibrate() measures
    return measure_network(build_model(arch, **DIGITS.model_kwargs()), batch).total_mj


def test_the_calibration_measures_each_t_of_the_space_on_every_block():
    archs = calibration_archs(SPACE, 2, 0)
    table = calibrate(archs, DIGITS, _batch(), seed=0)
    first = archs[0]
    for steps in SPACE.time_steps:
        for attention in SPACE.attention:  # every attention type at this T, on both block positions
            probe = Arch(2, 32, (2, 2), (2, 2), (attention,) * 2, time_steps=steps, threshold=first.threshold)
            part = position("blocks.0.attn.q.linear", probe)[0]
            assert {block for key, block in table.layers if key == part} == {0, 1}
            for threshold in SPACE.threshold:  # every combination has rates, measured or factored
                probe = dataclasses.replace(probe, threshold=threshold)
                assert closed_form_energy(probe, DIGITS, table, MODEL) > 0


def test_a_plain_space_pays_no_extra_calibration_and_keeps_its_positions():
    space = SearchSpace.from_yaml(ROOT / "spaces" / "digits.yaml")
    archs = calibration_archs(space, CALIBRATION_ARCHS, 0)
    assert len(archs) == CALIBRATION_ARCHS and all(arch.time_steps is None for arch in archs)
    assert position("blocks.1.mlp.fc1.linear", archs[0]) == ("mlp.fc1.linear", 1)


def test_an_architecture_looks_up_the_rates_of_its_own_t():
    """Calibrated on the same network at T 1 and T 3, each T gets its own rates (a rate averages
    over T steps, and LIF membranes charge up over the first ones), and the closed form is each
    one's measured energy, which averaging over the T's could not give."""
    batch = _batch()
    one = Arch(2, 32, (2, 2), (2, 2), ("ssa", "qk"), time_steps=1)
    three = dataclasses.replace(one, time_steps=3)
    table = calibrate([one, three], DIGITS, batch, seed=0)
    name = "blocks.0.mlp.fc2.linear"  # fed by spikes (fc1 reads the stream of spike counts: MACs)
    assert table.lookup(name, one) == table.layers[("T1/mlp.fc2.linear", 0)]
    assert table.lookup(name, three) == table.layers[("T3/mlp.fc2.linear", 0)]
    assert table.lookup(name, one).rate != pytest.approx(table.lookup(name, three).rate, rel=0.01)
    for arch in (one, three):
        assert closed_form_energy(arch, DIGITS, table, MODEL) == pytest.approx(_measured(arch, batch), rel=1e-9)


def test_an_unmeasured_t_and_setting_is_factored_from_a_measured_reference():
    """qk at T 3 was not measured: its T 1 rate plus the SSA rate's change from T 1 to T 3,
    kept at most 1."""
    layers = {("qk/T1/attn.q.linear", 0): LayerRate("AC", 0.2, False),
              ("T1/attn.q.linear", 0): LayerRate("AC", 0.1, False),
              ("T3/attn.q.linear", 0): LayerRate("AC", 0.15, False)}
    table = RateTable(layers, ())
    arch = Arch(1, 32, (2,), (2,), ("qk",), time_steps=3)
    assert table.lookup("blocks.0.attn.q.linear", arch).rate == pytest.approx(0.2 + 0.15 - 0.1)
    layers[("qk/T1/attn.q.linear", 0)] = LayerRate("AC", 0.98, False)
    assert RateTable(layers, ()).lookup("blocks.0.attn.q.linear", arch).rate == 1.0
    with pytest.raises(ValueError, match="no calibration for qk/T2/attn.q.linear"):
        table.lookup("blocks.0.attn.q.linear", dataclasses.replace(arch, time_steps=2))


@pytest.mark.parametrize("steps", [1, 3])
def test_closed_form_is_near_the_measured_energy_at_each_t(steps):
    """A consistency check (both sides are ours): the default calibration of the tiny hybrid
    space against the forward pass, on random architectures at one T."""
    batch = _batch()
    table = calibrate(calibration_archs(SPACE, CALIBRATION_ARCHS, 0), DIGITS, batch, seed=0)
    rng = random.Random(3)
    errors = []
    for _ in range(6):
        arch = dataclasses.replace(SPACE.sample(rng), time_steps=steps)
        measured = _measured(arch, batch)
        errors.append(abs(closed_form_energy(arch, DIGITS, table, MODEL) - measured) / measured)
    assert max(errors) < 0.1
