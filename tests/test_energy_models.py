"""Energy models against SpikingJelly's own counters, at every geometry a config or dataset uses."""
from dataclasses import replace

import pytest
import torch
from spikingjelly.activation_based import neuron
from spikingjelly.activation_based.op_counter import (LemaireEnergyConfig, SimpleEnergyConfig, SimpleEnergyCostConfig,
                                                      SimpleEnergyProfiler, estimate_lemaire_energy)
from torch import nn

from autost.arch import Arch
from autost.batches import real_batch
from autost.batchnorm import batchnorm_mode
from autost.errors import UsageError
from autost.model import build_model
from energy.counters.synaptic import SYNAPTIC_OPS
from energy.measure import measure_network
from energy.models import DEFAULT_MODEL, MODELS, get_model
from energy.record import PJ_PER_MJ

TINY = [Arch(1, 16, (1,), (1,)), Arch(2, 32, (2, 2), (2, 4))]
T = 2
# (channels, image side, patch, event data): digits, ndigits, CIFAR, DVS (Gesture, CIFAR10-DVS), N-MNIST
GEOMETRIES = {"digits": (1, 16, 4, False), "ndigits": (2, 32, 4, True), "cifar": (3, 32, 4, False),
              "dvs": (2, 128, 16, True), "nmnist": (2, 32, 4, True)}
NOT_SYNAPTIC = [nn.BatchNorm1d, nn.BatchNorm2d, neuron.LIFNode, nn.MaxPool2d]


def _model(arch, geometry):
    channels, side, patch, _ = GEOMETRIES[geometry]
    torch.manual_seed(0)
    return build_model(arch, in_channels=channels, img_size=side, patch_size=patch, time_steps=T, num_classes=10)


def _random_input(geometry, batch=2):
    channels, side, _, events = GEOMETRIES[geometry]
    torch.manual_seed(1)
    if events:
        return (torch.rand(batch, T, channels, side, side) < 0.2).float()
    return torch.rand(batch, channels, side, side)


def _spikingjelly_mac_ac_mj(model, x, cost=SimpleEnergyCostConfig()):
    """SpikingJelly's MAC and AC energy per sample (its SimpleEnergyProfiler, BatchNorm, LIF and
    pooling ignored) over its synaptic rules, and the op names of what else it counted."""
    profiler = SimpleEnergyProfiler(config=SimpleEnergyConfig(extra_ignore_modules=NOT_SYNAPTIC, cost_config=cost))
    profiler.bind_model(model)
    with batchnorm_mode(model, use_batch_stats=True), profiler, torch.no_grad():
        model(x)
    mac = profiler.mac_counter.get_counts()["Global"]
    ac = profiler.ac_counter.get_counts()["Global"]
    synaptic_pj = (sum(v for op, v in mac.items() if op in SYNAPTIC_OPS) * cost.e_mac_pj
                   + sum(v for op, v in ac.items() if op in SYNAPTIC_OPS) * cost.e_ac_pj)
    others = {str(op) for counts in (mac, ac) for op, v in counts.items() if op not in SYNAPTIC_OPS and v}
    return synaptic_pj / x.shape[0] / PJ_PER_MJ, others


@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("arch", TINY, ids=Arch.short)
def test_synaptic_model_equals_spikingjelly_mac_ac_energy(arch, geometry):
    model, x = _model(arch, geometry), _random_input(geometry)
    ours = measure_network(model, x, "synaptic-45nm")
    theirs, others = _spikingjelly_mac_ac_mj(model, x)
    assert ours.total_mj == pytest.approx(theirs, rel=0.01)
    assert ours.memory_mj == 0 and ours.ac_mj > 0
    # What SpikingJelly counts beyond the synaptic rules, and the model leaves out: the residual
    # additions, the token and time means, and the sum SpikingJelly runs to count a conv's fan-out.
    assert others <= {"aten.add.Tensor", "aten.mean.dim", "aten.sum.default"}
    # rate x MACs is an upper bound of the real fan-out (padding, q AND k), with the first layer
    # charged every step as SpikingJelly executes it
    every_step = replace(MODELS["spikformer-45nm"], static_input_once=False)
    assert measure_network(model, x, every_step).total_mj >= ours.total_mj


@pytest.mark.parametrize("dataset", ["digits", "ndigits"])
def test_synaptic_model_on_real_data(dataset):
    model = _model(TINY[1], dataset)
    x = real_batch(dataset, batch_size=4, time_steps=T, seed=0)
    ours = measure_network(model, x, "synaptic-45nm")
    theirs, _ = _spikingjelly_mac_ac_mj(model, x)
    assert ours.total_mj == pytest.approx(theirs, rel=0.01)
    fp16 = measure_network(model, x, "synaptic-45nm-fp16")
    theirs_fp16, _ = _spikingjelly_mac_ac_mj(model, x, SimpleEnergyCostConfig.fp16())
    assert fp16.total_mj == pytest.approx(theirs_fp16, rel=0.01)


@pytest.mark.parametrize("geometry", ["digits", "ndigits", "dvs"])
def test_lemaire_model_equals_spikingjelly_lemaire_estimate(geometry):
    model, x = _model(TINY[1], geometry), _random_input(geometry)
    ours = measure_network(model, x, "lemaire")
    with batchnorm_mode(model, use_batch_stats=True), pytest.warns(RuntimeWarning):
        theirs = estimate_lemaire_energy(model, x, config=LemaireEnergyConfig(strict=False))
    per_sample = x.shape[0] * PJ_PER_MJ
    assert ours.total_mj == pytest.approx(theirs.total_pj / per_sample, rel=0.01)
    assert ours.memory_mj == pytest.approx(theirs.breakdown_pj["memory_pj"] / per_sample, rel=0.01)
    assert 0 < ours.compute_mj < ours.memory_mj  # memory traffic dominates, as Lemaire et al. find
    assert {layer.kind for layer in ours.layers} == {"MAC", "AC", "neuron"}
    assert any("AttentionProduct" in note for note in ours.notes)  # what SpikingJelly's Lemaire omits
    assert ours.to_dict()["memory_mj"] == ours.memory_mj and ours.model.has_memory


def test_lemaire_on_real_digits_and_its_ann_twin():
    model = _model(TINY[0], "digits")
    x = real_batch("digits", batch_size=4, time_steps=T, seed=0)
    ours = measure_network(model, x, "lemaire")
    with batchnorm_mode(model, use_batch_stats=True), pytest.warns(RuntimeWarning):
        theirs = estimate_lemaire_energy(model, x, config=LemaireEnergyConfig(strict=False))
    assert ours.total_mj == pytest.approx(theirs.total_pj / 4 / PJ_PER_MJ, rel=0.01)
    assert ours.ann_mj > 0 and ours.ann_mj != pytest.approx(ours.total_mj)
    assert any(isinstance(m, neuron.LIFNode) for m in model.modules())  # the twin's ReLUs are gone again


def test_default_model_is_todays_estimate_and_precision_variants_reprice_it():
    model, x = _model(TINY[1], "cifar"), _random_input("cifar")
    today = measure_network(model, x)
    default = measure_network(model, x)
    assert default.model.name == DEFAULT_MODEL == "spikformer-45nm"
    assert default.total_mj == today.total_mj and default.ann_mj == pytest.approx(today.ann_mj)
    # Horowitz 2014's per-precision costs: SpikingJelly's fp16 preset; INT8 with a 32-bit accumulator (an 8-bit
    # multiply 0.2 pJ plus a 32-bit add 0.1 pJ; Horowitz's table, not SpikingJelly's int8 preset, which adds in 8 bits)
    int8 = SimpleEnergyCostConfig(e_mac_pj=0.2 + 0.1, e_ac_pj=0.1)
    for precision, preset in (("fp16", SimpleEnergyCostConfig.fp16()), ("int8", int8)):
        m = get_model(f"spikformer-45nm-{precision}")
        assert (m.e_mac_pj, m.e_ac_pj) == pytest.approx((preset.e_mac_pj, preset.e_ac_pj))
        priced = measure_network(model, x, m.name)
        expected = today.mac_mj * preset.e_mac_pj / 4.6 + today.ac_mj * preset.e_ac_pj / 0.9
        assert priced.total_mj == pytest.approx(expected)


def test_a_model_can_charge_a_static_first_layer_once():
    """The default charges the first conv on a static image once (the papers' E_MAC x FL_Conv^1);
    the same model with the flag off charges it every step, like SpikingJelly's counters."""
    once = MODELS["spikformer-45nm"]
    assert once.static_input_once and not MODELS["synaptic-45nm"].static_input_once
    every_step = replace(once, static_input_once=False)
    model = _model(TINY[0], "cifar")
    x = _random_input("cifar")
    per_step, single = measure_network(model, x, every_step), measure_network(model, x, once)
    assert single.layers[0].compute_mj == pytest.approx(per_step.layers[0].compute_mj / T)
    assert [l.compute_mj for l in single.layers[1:]] == [l.compute_mj for l in per_step.layers[1:]]
    events = _random_input("ndigits")  # frames differ per step: nothing to save
    event_model = _model(TINY[0], "ndigits")
    assert measure_network(event_model, events, once).total_mj == pytest.approx(
        measure_network(event_model, events, every_step).total_mj)


def test_unknown_model_is_one_line_listing_the_names():
    with pytest.raises(UsageError) as err:
        get_model("horowitz")
    message = str(err.value)
    assert "\n" not in message and "'horowitz'" in message
    assert all(name in message for name in MODELS)


def test_fast_binary_check_agrees_with_the_elementwise_definition():
    from energy.probe import is_binary

    torch.manual_seed(0)
    spikes = (torch.rand(3, 4, 5) < 0.3).float()
    for x in (spikes, torch.zeros(7), torch.ones(7), spikes * 0.5, spikes - 1, spikes * 2, torch.rand(9)):
        assert is_binary(x) == bool(((x == 0) | (x == 1)).all())
    nearly = spikes.clone()
    nearly[0, 0, 0] = 1e-30  # one tiny non-spike value among spikes
    assert not is_binary(nearly)
    nearly[0, 0, 0] = 1 - 1e-7
    assert not is_binary(nearly)


@pytest.mark.parametrize("name", ["spikformer-45nm", "synaptic-45nm", "lemaire"])
def test_the_int8_ann_twin_under_each_model(name):
    """The same network as an INT8 ANN (8-bit weights and activations, 32-bit accumulation), counted
    as each model counts: compute-only models price its MACs of one step at 0.2 + 0.1 pJ; under
    lemaire it is SpikingJelly's Lemaire profiler on the ANN (LIFs as ReLUs) with an 8-bit multiply
    (0.2 pJ) and its memory in 1-byte words: a buffer of c bytes of 32-bit words holds c / 4 bytes of
    8-bit ones, so its per-byte price is the curve's at c / 4 and each access a quarter of the bytes,
    which is SpikingJelly's own curve with breakpoints (4x, y / 4)."""
    from spikingjelly.activation_based.op_counter import LemaireEnergyCostConfig

    from energy.counters.lemaire import ann_twin

    model, x = _model(TINY[1], "digits"), real_batch("digits", batch_size=4, time_steps=T, seed=0)
    result = measure_network(model, x, name)
    ann_macs_one_step = sum(layer.macs for layer in result.layers) / T
    if name != "lemaire":
        assert result.ann_int8_mj == pytest.approx(ann_macs_one_step * 0.3 / PJ_PER_MJ)
        return
    fp32 = LemaireEnergyCostConfig()
    int8 = LemaireEnergyCostConfig(e_mul_pj=0.2, memory_breakpoints=tuple((4 * bx, by / 4)
                                                                          for bx, by in fp32.memory_breakpoints))
    with ann_twin(model), batchnorm_mode(model, use_batch_stats=True), pytest.warns(RuntimeWarning):
        theirs = estimate_lemaire_energy(model, x, config=LemaireEnergyConfig(strict=False, cost_config=int8))
    assert result.ann_int8_mj == pytest.approx(theirs.total_pj / 4 / T / PJ_PER_MJ, rel=1e-9)
    assert result.ann_int8_mj < result.ann_mj
