"""The energy counters as registered objects: every counter (and a toy one registered here) measures
a network into one energy record, its closed form (where it has one) equals its measurement on the
architecture it was calibrated on, and the search resolves ``--energy`` through the registry."""
import ast
import json

import pytest
import torch

from autost.arch import Arch
from autost.cli import main
from autost.cost import analytic_cost, layer_macs
from autost.errors import UsageError
from autost.geometry import Geometry
from autost.model import build_model
from autost.seeding import arch_seed
from conftest import ROOT
from energy.closed_form import calibrate, closed_form_record
from energy.counters import COUNTERS, Counter, counter_of, has_closed_form
from energy.measure import measure_network
from energy.method import resolve_method
from energy.models import MODELS, EnergyModel
from energy.probe import probe_layers
from energy.record import PJ_PER_MJ, EnergyRecord, LayerEnergy

DIGITS_SPACE = str(ROOT / "spaces" / "digits.yaml")
DIGITS = Geometry(in_channels=1, img_size=16, patch_size=4, num_classes=10, time_steps=2)
ARCH = Arch(2, 32, (2, 3), (2, 4), ("sdsa", "ssa"))
SMALL_ARGS = ["--population", "6", "--select", "2", "--mutation", "2", "--crossover", "2", "--generations", "2"]


# --- a toy counter: every weight layer's dense MACs at E_MAC, spikes or not (an ANN run T times) ---

def _dense_measure(network, inputs, model, use_batch_stats):
    layers = [LayerEnergy(p.name, p.kind, p.macs, p.macs, p.firing_rate, p.macs * model.e_mac_pj / PJ_PER_MJ)
              for p in probe_layers(network, inputs, static_once=False, use_batch_stats=use_batch_stats)]
    ann_macs = sum(layer.macs for layer in layers) / network.time_steps
    return EnergyRecord.of_layers(model, layers, ann_macs * model.e_mac_pj / PJ_PER_MJ, 0.0)


def _dense_closed_form(arch, geometry, table, model):
    return EnergyRecord.of_totals(model, sum(layer_macs(arch, **geometry.model_kwargs()).values())
                                  * model.e_mac_pj / PJ_PER_MJ)


DENSE = Counter("dense", "a test's toy: every MAC at E_MAC", _dense_measure, _dense_closed_form)
DENSE_MODEL = EnergyModel("toy-dense", "dense", 4.6, 0.9, "compute", False, "this test", "every MAC at 4.6 pJ")
MEASURED_ONLY = Counter("dense-measured", "a test's toy without a closed form", _dense_measure)
MEASURED_ONLY_MODEL = EnergyModel("toy-dense-measured", "dense-measured", 4.6, 0.9, "compute", False, "this test",
                                  "every MAC at 4.6 pJ, measured only")


def _a_model_of(counter: str) -> str:
    return next(name for name, model in MODELS.items() if model.counter == counter)


@pytest.mark.parametrize("counter", COUNTERS.names())
def test_every_counter_fills_one_record_and_its_closed_form_is_its_measurement_on_its_calibration(counter):
    """Whatever the counter, the record's totals are its rows' sums, its dense MACs are the closed
    form's (``autost.cost``), and a closed form calibrated on the architecture itself (rates from the
    same weights and batch) gives the measured energy: each count is a function of shapes and spikes."""
    assert any(model.counter == counter for model in MODELS.values()), f"no energy model uses {counter}"
    name = _a_model_of(counter)
    torch.manual_seed(0)
    batch = torch.rand(4, 1, 16, 16)
    torch.manual_seed(arch_seed(0, ARCH))
    record = measure_network(build_model(ARCH, **DIGITS.model_kwargs()), batch, name)
    assert record.model.name == name and record.layers
    assert record.total_mj == pytest.approx(sum(layer.energy_mj for layer in record.layers), rel=1e-12)
    assert record.total_mj == pytest.approx(record.compute_mj + record.memory_mj, rel=1e-12)
    assert record.mac_mj + record.ac_mj == pytest.approx(
        sum(layer.compute_mj for layer in record.layers if layer.kind in ("MAC", "AC")), rel=1e-12)
    assert record.macs == analytic_cost(ARCH, **DIGITS.model_kwargs()).macs
    assert 0 < record.total_mj and 0 < record.ann_mj and 0 < record.ann_int8_mj < record.ann_mj
    assert set(record.to_dict()) >= {"energy_model", "energy_mj", "compute_mj", "memory_mj", "mac_mj", "ac_mj",
                                     "ann_mj", "ann_int8_mj", "layers"}
    if COUNTERS.get(counter).closed_form is None:
        assert resolve_method("auto", name) == "measure"
        return
    assert resolve_method("auto", name) == "closed-form"
    closed = closed_form_record(ARCH, DIGITS, calibrate([ARCH], DIGITS, batch, seed=0), name)
    assert closed.total_mj == pytest.approx(record.total_mj, rel=1e-9)
    assert closed.memory_mj == pytest.approx(record.memory_mj, rel=1e-9, abs=1e-18)


def test_a_counter_is_one_registration_used_by_measurement_the_closed_form_and_the_search(tmp_path):
    torch.manual_seed(0)
    x = torch.rand(4, 1, 16, 16)
    with COUNTERS.registered(DENSE), MODELS.registered(DENSE_MODEL):
        assert counter_of("toy-dense") is DENSE and has_closed_form("toy-dense")
        dense = measure_network(build_model(ARCH, **DIGITS.model_kwargs()), x, "toy-dense")
        assert dense.total_mj == pytest.approx(dense.macs * 4.6 / PJ_PER_MJ)
        assert closed_form_record(ARCH, DIGITS, None, "toy-dense").total_mj == pytest.approx(dense.total_mj)
        runs = {}
        for method in ("auto", "measure"):
            out = tmp_path / method
            assert main(["search", "--space", DIGITS_SPACE, "--dataset", "digits", "--time-steps", "2", *SMALL_ARGS,
                         "--batch-size", "4", "--energy-model", "toy-dense", "--energy", method,
                         "--out", str(out)]) == 0
            runs[method] = json.loads((out / "search.json").read_text())
        assert runs["auto"]["energy_method"]["method"] == "closed-form"
        assert runs["measure"]["energy_method"] == {"method": "measure"}
        for run in runs.values():
            assert run["energy_model"]["counter"] == "dense"
            for candidate in run["candidates"]:
                assert candidate["energy_mj"] == pytest.approx(candidate["macs"] * 4.6 / PJ_PER_MJ)
    assert "dense" not in COUNTERS and "toy-dense" not in MODELS


def test_a_counter_without_a_closed_form_is_measured_and_refused_the_closed_form():
    with COUNTERS.registered(MEASURED_ONLY), MODELS.registered(MEASURED_ONLY_MODEL):
        assert resolve_method("auto", "toy-dense-measured") == "measure"
        with pytest.raises(UsageError, match=r"needs an energy model with a closed form \(.+\), not "
                                             r"'toy-dense-measured'; use --energy measure"):
            resolve_method("closed-form", "toy-dense-measured")


def test_an_energy_model_naming_no_registered_counter_is_one_line():
    with MODELS.registered(EnergyModel("toy-orphan", "abacus", 1.0, 1.0, "compute", False, "this test", "none")):
        with pytest.raises(UsageError, match="unknown energy counter 'abacus'; choose one of "):
            counter_of("toy-orphan")


def test_only_the_counters_compare_counter_names():
    """Which counter a model has is asked through the registry (``energy.counters``): no module
    outside energy/counters/ compares a model's ``counter`` with a name (``counter == "rate"``)."""
    found = []
    for package in ("autost", "energy", "datasets", "benchmarks"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.parent == ROOT / "energy" / "counters":
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Compare) and any(
                        isinstance(side, ast.Attribute) and side.attr == "counter" or
                        isinstance(side, ast.Name) and side.id == "counter" for side in (node.left, *node.comparators)):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert found == []
