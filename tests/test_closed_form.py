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
from energy.measure import measure_network

DIGITS_SPACE = str(ROOT / "spaces" / "digits.yaml")


def _setting(dataset: str):
    geometry = resolve_geometry(dataset=dataset, input_shape=None, num_classes=None, patch_size=None, time_steps=2)
    return geometry, real_batch(dataset, batch_size=8, time_steps=2, seed=0)


def _measured(arch: Arch, geometry, batch, seed: int = 0) -> float:
    torch.manual_seed(arch_seed(seed, arch))
    return measure_network(build_model(arch, **geometry.model_kwargs()), batch).total_mj


@pytest.mark.parametrize("dataset", ["digits", "ndigits"])
def test_layer_macs_name_and_count_the_layers_the_estimate_records(dataset):
    arch = Arch(2, 32, (2, 3), (2, 4))
    geometry, batch = _setting(dataset)
    closed = layer_macs(arch, **geometry.model_kwargs())
    model = build_model(arch, **geometry.model_kwargs())
    assert closed == {layer.name: layer.macs for layer in measure_network(model, batch).layers}
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
    table = RateTable.from_dict(rates)
    assert table.batch == 8
    geometry, _ = _setting("digits")
    for candidate in result["candidates"]:
        arch = Arch.from_dict({"RETRAIN": candidate["arch"]})
        assert candidate["energy_mj"] == pytest.approx(closed_form_energy(arch, geometry, table, "spikformer-45nm"))
        assert candidate["energy_mj"] <= 0.01
    # the memory-aware model has a closed form too (its own energy limit: memory dominates it)
    lemaire = args[:-4] + ["--energy-limit", "1.0", "--energy-model", "lemaire", "--out", str(tmp_path / "l")]
    assert main(lemaire) == 0
    result = json.loads((tmp_path / "l" / "search.json").read_text())
    assert result["energy_method"]["method"] == "closed-form"
    for candidate in result["candidates"]:
        arch = Arch.from_dict({"RETRAIN": candidate["arch"]})
        assert candidate["energy_mj"] == pytest.approx(closed_form_energy(arch, geometry, table, "lemaire"))
        assert 0.5 * candidate["energy_mj"] < candidate["energy_memory_mj"] < candidate["energy_mj"]
    assert main(args[:-2] + ["--energy-model", "synaptic-45nm", "--out", str(tmp_path / "y")]) == 2
    assert "needs an energy model with a closed form" in capsys.readouterr().err
    assert main(["search", "--space", DIGITS_SPACE, "--input-shape", "1x16x16", "--num-classes", "10",
                 "--patch-size", "4", "--energy", "closed-form", "--out", str(tmp_path / "n")]) == 2
    assert "give --dataset" in capsys.readouterr().err



@pytest.mark.parametrize("arch", [Arch(2, 32, (2, 3), (2, 4)),
                                  Arch(3, 32, (2, 3, 4), (2, 4, 1), ("qk", "sdsa", "ssa"), shortcut="membrane"),
                                  Arch(2, 48, (4, 2), (4, 2), ("sdsa", "qk"), time_steps=3, tau=1.5)],
                         ids=Arch.short)
@pytest.mark.parametrize("dataset", ["digits", "ndigits"])
def test_the_memory_aware_closed_form_is_spikingjellys_lemaire_estimate_on_its_calibration(arch, dataset):
    """Calibrated on the architecture itself (its rates measured on the same pass), the closed form of
    Lemaire's model equals SpikingJelly's LemaireEnergyProfiler (``energy.counters.lemaire``): its
    every count is an exact function of the shapes and the spikes. Every layer type, attention type,
    shortcut and a TIME_STEPS gene; static and event input."""
    from energy.closed_form import lemaire_energy
    from energy.measure import measure_network

    geometry = resolve_geometry(dataset=dataset, input_shape=None, num_classes=None, patch_size=None,
                                time_steps=2).for_arch(arch)
    batch = real_batch(dataset, batch_size=4, time_steps=geometry.time_steps, seed=0)
    table = calibrate([arch], geometry, batch, seed=0)
    torch.manual_seed(arch_seed(0, arch))
    measured = measure_network(build_model(arch, **geometry.model_kwargs()), batch, "lemaire")
    closed = lemaire_energy(arch, geometry, table)
    assert closed.total_mj == pytest.approx(measured.total_mj, rel=1e-9)
    assert closed.memory_mj == pytest.approx(measured.memory_mj, rel=1e-9)


def test_the_memory_aware_closed_form_out_of_sample():
    """Against architectures, weights and images it was not calibrated on: within a few percent
    (benchmarks/bench_closed_form.py measures it over 100 per setting)."""
    from energy.measure import measure_network

    space = SearchSpace.from_yaml(DIGITS_SPACE)
    geometry, batch = _setting("digits")
    table = calibrate(calibration_archs(space, CALIBRATION_ARCHS, 0), geometry, batch, seed=0)
    test_batch = real_batch("digits", batch_size=8, time_steps=2, seed=1, split="test")
    rng = random.Random(7)
    errors = []
    for _ in range(6):
        arch = space.sample(rng)
        torch.manual_seed(arch_seed(1, arch))
        measured = measure_network(build_model(arch, **geometry.model_kwargs()), test_batch, "lemaire").total_mj
        errors.append(abs(closed_form_energy(arch, geometry, table, "lemaire") - measured) / measured)
    assert sum(errors) / len(errors) < 0.05 and max(errors) < 0.15
