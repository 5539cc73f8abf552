"""Closed-form init-time energy: per-layer MACs in closed form, firing rates from a calibration."""
import json
import random

import pytest
import torch

from autost.arch import Arch
from autost.batches import real_batch
from autost.cli import main
from autost.cost import analytic_cost, layer_macs
from autost.geometry import resolve_geometry
from autost.model import build_model
from energy.closed_form import CALIBRATION_ARCHS
from autost.seeding import arch_seed
from autost.space import SearchSpace
from conftest import ROOT
from energy.closed_form import LayerRate, RateTable, calibrate, calibration_archs, closed_form_energy
from energy.estimate import estimate_energy

DIGITS_SPACE = str(ROOT / "spaces" / "digits.yaml")


def _setting(dataset: str):
    geometry = resolve_geometry(dataset=dataset, input_shape=None, num_classes=None, patch_size=None, time_steps=2)
    return geometry, real_batch(dataset, batch_size=8, time_steps=2, seed=0)


def _measured(arch: Arch, geometry, batch, seed: int = 0) -> float:
    torch.manual_seed(arch_seed(seed, arch))
    return estimate_energy(build_model(arch, **geometry.model_kwargs()), batch).total_mj


@pytest.mark.parametrize("dataset", ["digits", "ndigits"])
def test_layer_macs_name_and_count_the_layers_the_estimate_records(dataset):
    arch = Arch(2, 32, (2, 3), (2, 4))
    geometry, batch = _setting(dataset)
    closed = layer_macs(arch, **geometry.model_kwargs())
    model = build_model(arch, **geometry.model_kwargs())
    assert closed == {layer.name: layer.macs for layer in estimate_energy(model, batch).layers}
    assert sum(closed.values()) == analytic_cost(arch, **geometry.model_kwargs()).macs


@pytest.mark.parametrize("dataset", ["digits", "ndigits"])
def test_calibrated_on_one_architecture_the_closed_form_is_its_measured_energy(dataset):
    """Static input (first conv charged once) and event frames (charged every step)."""
    arch = Arch(2, 32, (2, 3), (2, 4))
    geometry, batch = _setting(dataset)
    table = calibrate([arch], geometry, batch, seed=0)
    assert closed_form_energy(arch, geometry, table, "spikformer-45nm") == pytest.approx(
        _measured(arch, geometry, batch), rel=1e-9)
    fp16 = closed_form_energy(arch, geometry, table, "spikformer-45nm-fp16")
    assert 0 < fp16 < closed_form_energy(arch, geometry, table, "spikformer-45nm")


def test_deeper_blocks_take_the_deepest_calibrated_rates():
    geometry, batch = _setting("digits")
    table = calibrate([Arch(1, 32, (2,), (2,))], geometry, batch, seed=0)
    deep = Arch(3, 32, (2, 2, 2), (2, 2, 2))
    assert table.lookup("blocks.2.mlp.fc1.linear") == table.lookup("blocks.0.mlp.fc1.linear")
    assert closed_form_energy(deep, geometry, table, "spikformer-45nm") > 0


def test_error_against_the_measured_energy_over_random_architectures():
    """The default calibration on the digits space against architectures, weights and images it
    never saw (the test split, other weight seeds): within a few percent of the forward pass
    (benchmarks/bench_closed_form.py: 0.36% mean, 1.85% worst over 100 at T 4, batch 32)."""
    space = SearchSpace.from_yaml(DIGITS_SPACE)
    geometry, batch = _setting("digits")
    table = calibrate(calibration_archs(space, CALIBRATION_ARCHS, 0), geometry, batch, seed=0)
    test_batch = real_batch("digits", batch_size=8, time_steps=2, seed=1, split="test")
    calibrated = set(table.calibrated_on)
    deepest = max(space.depth)
    assert len(table.calibrated_on) == CALIBRATION_ARCHS
    assert ("mlp.fc2.linear", deepest - 1) in table.layers  # every block position was measured
    rng = random.Random(5)
    errors = []
    while len(errors) < 12:
        arch = space.sample(rng)
        if arch.short() in calibrated:
            continue
        measured = _measured(arch, geometry, test_batch, seed=1)
        errors.append(abs(closed_form_energy(arch, geometry, table, "spikformer-45nm") - measured) / measured)
    assert sum(errors) / len(errors) < 0.03 and max(errors) < 0.1


def test_search_with_closed_form_energy_records_the_table_and_its_energies(tmp_path, capsys):
    out = tmp_path / "s"
    args = ["search", "--space", DIGITS_SPACE, "--dataset", "digits", "--time-steps", "2", "--population", "8",
            "--select", "3", "--mutation", "3", "--crossover", "3", "--generations", "2", "--batch-size", "8",
            "--energy", "closed-form", "--energy-limit", "0.01", "--out", str(out)]
    assert main(args) == 0
    result = json.loads((out / "search.json").read_text())
    rates = result["energy_rates"]
    assert len(rates["calibrated_on"]) == CALIBRATION_ARCHS
    table = RateTable({(key.split("@")[0], int(key.split("@")[1])): LayerRate(**value)
                       for key, value in rates["rates"].items()}, tuple(rates["calibrated_on"]))
    geometry, _ = _setting("digits")
    for candidate in result["candidates"]:
        arch = Arch.from_dict({"RETRAIN": candidate["arch"]})
        assert candidate["energy_mj"] == pytest.approx(closed_form_energy(arch, geometry, table, "spikformer-45nm"))
        assert candidate["energy_mj"] <= 0.01
    assert main(args[:-2] + ["--energy-model", "lemaire", "--out", str(tmp_path / "l")]) == 2
    assert "needs a rate-based energy model" in capsys.readouterr().err
    assert main(["search", "--space", DIGITS_SPACE, "--input-shape", "1x16x16", "--num-classes", "10",
                 "--patch-size", "4", "--energy", "closed-form", "--out", str(tmp_path / "n")]) == 2
    assert "give --dataset" in capsys.readouterr().err

