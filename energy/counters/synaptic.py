"""The synaptic counter: SpikingJelly 2.0's ``MACCounter`` and ``ACCounter`` (dispatch-level),
restricted to their synaptic rules (convolution, mm, addmm, bmm, baddbmm).

BatchNorm, LIF updates, pooling, the residual additions and the token/time means are left out,
as Spikformer's convention leaves them out. A spike-input layer is charged each spike's real
fan-out (fewer taps next to the zero padding) and ``q k^T`` only where q and k both spike. It
charges what the network executes (a static image T times); no closed form: what each spike
reaches depends on where the spikes are.
"""
from __future__ import annotations

import torch
from spikingjelly.activation_based.op_counter import ACCounter, DispatchCounterMode, MACCounter
from torch import nn

from autost.batchnorm import batchnorm_mode
from energy.counters import COUNTERS, Counter
from energy.models import INT8_MAC_PJ, EnergyModel
from energy.probe import watch_layers
from energy.record import PJ_PER_MJ, EnergyRecord, LayerEnergy

aten = torch.ops.aten
# SpikingJelly's rules that count synaptic operations (the MAC and AC counters' matrix products
# and convolutions); their element-wise and reduction rules (BatchNorm, additions, means) are not.
SYNAPTIC_OPS = (aten.mm.default, aten.addmm.default, aten.bmm.default, aten.baddbmm.default,
                aten.convolution.default)


def measure(network: nn.Module, inputs: torch.Tensor, model: EnergyModel, use_batch_stats: bool) -> EnergyRecord:
    counters = MACCounter(), ACCounter()
    for counter in counters:
        counter.rules = {op: counter.rules[op] for op in SYNAPTIC_OPS}
    batch = inputs.shape[0]
    with watch_layers(network, batch) as probes, batchnorm_mode(network, use_batch_stats), \
            DispatchCounterMode(list(counters)), torch.no_grad():
        network(inputs)
    mac_counts, ac_counts = (counter.get_counts() for counter in counters)
    root = type(network).__name__
    layers = []
    for probe in probes:
        scope = f"{root}.{probe.name}"
        macs = sum(mac_counts.get(scope, {}).values()) / batch
        acs = sum(ac_counts.get(scope, {}).values()) / batch
        compute = (macs * model.e_mac_pj + acs * model.e_ac_pj) / PJ_PER_MJ
        layers.append(LayerEnergy(probe.name, probe.kind, probe.macs, macs + acs, probe.firing_rate, compute))
    ann_macs = sum(p.macs for p in probes) / getattr(network, "time_steps", 1)  # the ANN runs once
    return EnergyRecord.of_layers(model, layers, ann_macs * model.e_mac_pj / PJ_PER_MJ,
                                  ann_macs * INT8_MAC_PJ / PJ_PER_MJ)


COUNTERS.register(Counter("synaptic", "each spike's real fan-out, q AND k coincidences (SpikingJelly's MAC and "
                                      "AC counters), one forward pass", measure))
