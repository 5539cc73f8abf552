"""The rate counter: Spikformer's and AutoST's convention (docs/conventions.md), with our hooks.

One plain forward pass records, for every weight layer (conv, linear, attention product), its
MACs per sample and the firing rate of its input (``energy.probe``). A layer whose input is
binary spikes costs ``E_AC x MACs x firing_rate``; a layer with real-valued input costs
``E_MAC x MACs``; ``E_MAC`` and ``E_AC`` are the model's (FP32 45 nm, Horowitz 2014, by default).

The spike-only attention operations of SDSA and Q-K attention (``SpikeMask``, ``SpikeSum``:
no MACs) are charged by the operand that really triggers them: ``E_AC x ops x rate``, a mask by
its mask's spikes (one accumulate per element it lets through), a sum by the spikes it adds (one
addition each). That charge is ours (no paper we know prices them on their own).

A real-valued layer whose input is the same at every time step (the first conv on a static
image, which direct encoding repeats T times) is charged once, not T times, under a model with
``static_input_once``: Spikformer (Zhou et al., ICLR 2023, appendix) and Spike-driven Transformer
(Yao et al., NeurIPS 2023, appendix) charge ``E_MAC x FL_Conv^1`` with the first layer's FLOPs of
one pass and put T only in the spiking layers' ``SOP = rate x T x FLOPs``. On event frames the
first conv's input changes every step, so it is charged every step. The ANN for comparison is the
same network run once (MACs of one time step, all at ``E_MAC``; its INT8 twin at INT8's MAC).

Its closed form is ``energy.closed_form.rate_energy``: the same sum with MACs in closed form and
rates from a calibrated table.
"""
from __future__ import annotations

import torch
from torch import nn

from energy.closed_form import rate_energy
from energy.counters import COUNTERS, Counter
from energy.models import INT8_MAC_PJ, EnergyModel
from energy.probe import Probe, probe_layers
from energy.record import PJ_PER_MJ, EnergyRecord, LayerEnergy


def _priced(probe: Probe, model: EnergyModel, steps: int) -> LayerEnergy:
    if probe.kind == "MAC":
        ops = probe.macs / steps if probe.once else probe.macs
        return LayerEnergy(probe.name, "MAC", probe.macs, ops, 1.0, ops * model.e_mac_pj / PJ_PER_MJ,
                           once=probe.once)
    ops = (probe.macs + probe.spike_ops) * probe.firing_rate
    return LayerEnergy(probe.name, "AC", probe.macs, ops, probe.firing_rate, ops * model.e_ac_pj / PJ_PER_MJ,
                       spike_ops=probe.spike_ops)


def measure(network: nn.Module, inputs: torch.Tensor, model: EnergyModel, use_batch_stats: bool) -> EnergyRecord:
    probes = probe_layers(network, inputs, static_once=model.static_input_once, use_batch_stats=use_batch_stats)
    steps = int(getattr(network, "time_steps", 1))
    ann_macs = sum(probe.macs / steps for probe in probes)  # the ANN runs once
    return EnergyRecord.of_layers(model, (_priced(probe, model, steps) for probe in probes),
                                  ann_macs * model.e_mac_pj / PJ_PER_MJ, ann_macs * INT8_MAC_PJ / PJ_PER_MJ)


COUNTERS.register(Counter("rate", "MACs x input firing rate (Spikformer's convention), one plain forward pass",
                          measure, rate_energy))
