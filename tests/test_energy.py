import pytest
import torch
import torch.nn.functional as F
from spikingjelly.activation_based import neuron
from spikingjelly.activation_based.op_counter import SimpleEnergyConfig, SimpleEnergyProfiler
from torch import nn

from autost.arch import Arch
from autost.batchnorm import batchnorm_mode
from autost.model import build_model
from energy.measure import measure_network
from energy.models import E_AC_PJ, E_MAC_PJ
from energy.record import PJ_PER_MJ

ARCHS = [Arch(2, 64, (4, 4), (4, 4)), Arch(4, 384, (4,) * 4, (12,) * 4), Arch(3, 128, (2, 3, 4), (2, 4, 8))]
DVS = dict(in_channels=2, img_size=128, patch_size=16, time_steps=4, num_classes=10)
CIFAR = dict(in_channels=3, img_size=32, patch_size=4, time_steps=4, num_classes=10)
# SpikingJelly's counter also counts BatchNorm arithmetic and the LIF updates; our model
# (Spikformer's) counts synaptic operations only, so those modules are left out of its count.
NOT_SYNAPTIC = [nn.BatchNorm1d, nn.BatchNorm2d, neuron.LIFNode, nn.MaxPool2d]


def _spikingjelly_counts(model, x):
    profiler = SimpleEnergyProfiler(config=SimpleEnergyConfig(extra_ignore_modules=NOT_SYNAPTIC))
    profiler.bind_model(model)
    inputs = {}

    def keep_inputs(name):
        def hook(module, args, out):
            inputs[name] = args
        return hook

    hooks = [m.register_forward_hook(keep_inputs(n)) for n, m in model.named_modules()]
    with batchnorm_mode(model, use_batch_stats=True), profiler, torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return profiler, inputs


@pytest.mark.parametrize("arch", ARCHS, ids=Arch.short)
def test_compute_energy_agrees_with_spikingjelly(arch):
    """Same network, same DVS-shaped input: totals within 5%."""
    torch.manual_seed(0)
    model = build_model(arch, **DVS)
    x = (torch.rand(4, 4, 2, 128, 128) < 0.05).float()
    ours = measure_network(model, x)
    profiler, _ = _spikingjelly_counts(model, x)
    report = profiler.get_report()
    theirs_mj = (report.energy_mac_pj + report.energy_ac_pj) / x.shape[0] / PJ_PER_MJ
    assert abs(ours.total_mj - theirs_mj) <= 0.05 * theirs_mj


@pytest.mark.parametrize("arch", ARCHS, ids=Arch.short)
def test_per_layer_counts_match_spikingjelly_exactly_or_by_named_difference(arch):
    torch.manual_seed(1)
    model = build_model(arch, **CIFAR)
    x = torch.randn(4, 3, 32, 32)
    ours = measure_network(model, x)
    profiler, inputs = _spikingjelly_counts(model, x)
    mac_counts, ac_counts = profiler.mac_counter.get_counts(), profiler.ac_counter.get_counts()
    scope = type(model).__name__ + "."
    batch = x.shape[0]
    for layer in ours.layers:
        theirs_mac = sum(mac_counts.get(scope + layer.name, {}).values()) / batch
        theirs_ac = sum(ac_counts.get(scope + layer.name, {}).values()) / batch
        if layer.kind == "MAC":
            assert theirs_mac == layer.macs and theirs_ac == 0, layer.name
            continue
        assert theirs_mac == 0, layer.name
        ours_ac = layer.macs * layer.firing_rate
        args = inputs[layer.name]
        if layer.name.endswith(".qk"):
            # Difference 1: q @ k^T with both operands binary. We charge one AC per spike of q
            # (rate x MACs); SpikingJelly charges only the products where q AND k are 1.
            expected = float((args[0] @ args[1].transpose(-2, -1)).sum()) / batch
        elif layer.name.endswith(".conv"):
            # Difference 2: padded 3x3 convs. rate x MACs charges taps that fall on the zero
            # padding too; SpikingJelly counts each spike's actual fan-out.
            spikes = args[0]
            ones = torch.ones(1, spikes.shape[1], 3, 3)
            out_channels = model.get_submodule(layer.name).out_channels
            expected = float(F.conv2d(spikes, ones, padding=1).sum()) * out_channels / batch
            assert theirs_ac <= ours_ac + 1e-6 * ours_ac
        else:
            expected = ours_ac  # linear layers and attn @ v: identical definitions
        assert theirs_ac == pytest.approx(expected, rel=1e-9, abs=1e-6), layer.name


def test_layers_sum_to_total_and_first_conv_is_mac():
    """The first conv on a static image is charged once (its input repeats at every step), as
    Spikformer's and Spike-driven Transformer's E_MAC x FL_Conv^1; the head, also real-valued,
    sees other values at every step and is charged T times."""
    torch.manual_seed(0)
    model = build_model(ARCHS[0], **CIFAR)
    report = measure_network(model, torch.randn(4, 3, 32, 32))
    t = CIFAR["time_steps"]
    first, head = report.layers[0], report.layers[-1]
    assert first.name == "stem.stages.0.conv" and first.kind == "MAC" and first.once
    assert first.energy_mj == pytest.approx(first.macs / t * E_MAC_PJ / PJ_PER_MJ)
    assert head.name == "head" and head.kind == "MAC" and not head.once
    assert head.energy_mj == pytest.approx(head.macs * E_MAC_PJ / PJ_PER_MJ)
    assert report.ann_mj == pytest.approx(report.macs / t * E_MAC_PJ / PJ_PER_MJ)
    assert sum(layer.energy_mj for layer in report.layers) == pytest.approx(report.total_mj)
    assert report.mac_mj + report.ac_mj == pytest.approx(report.total_mj)
    for layer in report.layers:
        if layer.kind == "AC":
            assert layer.energy_mj == pytest.approx(layer.macs * layer.firing_rate * E_AC_PJ / PJ_PER_MJ)
    assert report.total_mj < report.ann_mj


def test_first_conv_on_event_frames_is_charged_every_step():
    torch.manual_seed(0)
    model = build_model(ARCHS[0], in_channels=2, img_size=32, patch_size=4, time_steps=3, num_classes=10)
    frames = torch.rand(2, 3, 2, 32, 32) * 3  # event counts, different at every step
    first = measure_network(model, frames).layers[0]
    assert first.kind == "MAC" and not first.once
    assert first.energy_mj == pytest.approx(first.macs * E_MAC_PJ / PJ_PER_MJ)


def test_silent_layer_costs_zero():
    model = build_model(ARCHS[0], **CIFAR)
    for m in model.modules():
        if isinstance(m, neuron.LIFNode):
            m.v_threshold = 1e9  # no neuron ever fires
    report = measure_network(model, torch.randn(2, 3, 32, 32))
    ac = [layer for layer in report.layers if layer.kind == "AC"]
    assert ac and all(layer.firing_rate == 0 and layer.energy_mj == 0 for layer in ac)


def test_estimate_leaves_model_unchanged_and_uses_running_stats_once_trained():
    torch.manual_seed(0)
    model = build_model(ARCHS[0], **CIFAR).train()
    x = torch.randn(4, 3, 32, 32)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    fresh = measure_network(model, x)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert model.training
    model(x)  # one training-mode pass updates the running statistics: now "trained"
    trained = measure_network(model, x)
    forced = measure_network(model, x, use_batch_stats=True)
    assert forced.total_mj == pytest.approx(fresh.total_mj)
    assert trained.total_mj != pytest.approx(fresh.total_mj)
