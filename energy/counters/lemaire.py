"""The Lemaire counter: SpikingJelly 2.0's ``LemaireEnergyProfiler`` (Lemaire et al. 2022):
operations, addressing, and SRAM reads/writes of inputs, weights and membrane potentials.

Its formulas cover Conv/Linear and LIF; SpikingJelly omits the attention products, BatchNorm and
pooling (listed in the record's ``notes``). Every weight layer and every LIF is a row; the
profiler's counts are attributed to the module whose rule produced them. Its closed form is
``energy.closed_form.lemaire_energy``.
"""
from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass
from typing import Iterator

import torch
from spikingjelly.activation_based import neuron
from spikingjelly.activation_based.op_counter import LemaireEnergyConfig, LemaireEnergyProfiler
from torch import nn

from autost.batchnorm import batchnorm_mode
from autost.layers import AttentionProduct
from energy.closed_form import lemaire_energy
from energy.counters import COUNTERS, Counter
from energy.models import INT8_MULT_PJ, EnergyModel
from energy.probe import Probe, binary_operand, is_binary, watch_layers
from energy.record import PJ_PER_MJ, EnergyRecord, LayerEnergy


@dataclass
class _LemaireCounts:
    """What SpikingJelly's Lemaire profiler counted for one module: operations, addressing, and its
    memory accesses ``(kind, bytes, buffer bytes)``."""

    name: str
    kind: str
    ac: int
    mac: int
    acc_addr: int
    mac_addr: int
    accesses: list[tuple[str, int, int]]

    def priced(self, cost, *, int8: bool = False) -> tuple[float, float]:
        """(compute, memory) in pJ under Lemaire's costs (32-bit integer operations and accesses);
        ``int8``: 8-bit weights and activations with a 32-bit accumulator (an 8-bit multiply and a
        32-bit add per MAC; a quarter of the bytes, in buffers a quarter the size, for inputs, weights
        and outputs; accumulators and addresses stay 32-bit)."""
        mul = INT8_MULT_PJ if int8 else cost.e_mul_pj
        compute = (self.ac + self.acc_addr) * cost.e_add_pj + self.mac * (mul + cost.e_add_pj) \
            + self.mac_addr * (cost.e_mul_pj + cost.e_add_pj)
        scale = {kind: 4 if int8 and "potential" not in kind else 1 for kind, _, _ in self.accesses}
        memory = sum(size / scale[kind] * cost.memory_cost_pj(capacity / scale[kind])
                     for kind, size, capacity in self.accesses)
        return compute, memory
def _lemaire_pass(model: nn.Module, inputs: torch.Tensor, use_batch_stats: bool
                  ) -> tuple[list[_LemaireCounts], list[Probe], list[str], object]:
    """One pass of SpikingJelly's Lemaire profiler, its counts attributed to the module whose rule
    produced them (for the whole batch), the weight layers' probes (and the neurons' output spike
    rates), SpikingJelly's warnings (what it omits) and its cost configuration."""
    profiler = LemaireEnergyProfiler(config=LemaireEnergyConfig(strict=False))
    profiler.bind_model(model)
    counter = profiler.lemaire_counter
    names = {module: name for name, module in model.named_modules()}
    spent: list[_LemaireCounts] = []
    rates: dict[str, float] = {}

    def attributed(rule):
        def run(module, args, kwargs, out):
            before = (counter.paper_ac, counter.paper_mac, counter.paper_acc_addr, counter.paper_mac_addr,
                      len(counter._accesses))
            value = rule(module, args, kwargs, out)
            kind = "neuron" if isinstance(module, neuron.BaseNode) else ("AC" if is_binary(args[0]) else "MAC")
            if kind == "neuron":  # its output spike rate
                rates[names[module]] = float(out.sum()) / out.numel()
            spent.append(_LemaireCounts(names[module], kind, counter.paper_ac - before[0], counter.paper_mac - before[1],
                                        counter.paper_acc_addr - before[2], counter.paper_mac_addr - before[3],
                                        list(counter._accesses[before[4]:])))
            return value
        return run

    def omitted(module, args, out):  # listed in execution order, at zero energy
        kind = "AC" if binary_operand(module, args) is not None else "MAC"
        spent.append(_LemaireCounts(names[module], kind, 0, 0, 0, 0, []))

    counter.rules = {key: attributed(rule) for key, rule in counter.rules.items()}
    handles = [m.register_forward_hook(omitted) for m in model.modules() if isinstance(m, AttentionProduct)]
    try:
        with watch_layers(model, inputs.shape[0]) as probes, batchnorm_mode(model, use_batch_stats), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the omissions come back in the report's warnings
            with profiler, torch.no_grad():
                model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    probes += [Probe(name, "neuron", 0, rate) for name, rate in rates.items()]
    return spent, probes, list(profiler.get_report().warnings), profiler.config.cost_config


@contextlib.contextmanager
def ann_twin(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` with every LIF neuron replaced by a ReLU (the same network as an ANN); restored on exit."""
    swapped = [(name, m) for name, m in model.named_modules() if isinstance(m, neuron.BaseNode)]
    for name, _ in swapped:
        parent, _, attr = name.rpartition(".")
        setattr(model.get_submodule(parent), attr, nn.ReLU())
    try:
        yield model
    finally:
        for name, m in swapped:
            parent, _, attr = name.rpartition(".")
            setattr(model.get_submodule(parent), attr, m)


def measure(network: nn.Module, inputs: torch.Tensor, model: EnergyModel, use_batch_stats: bool) -> EnergyRecord:
    batch = inputs.shape[0]
    spent, probes, notes, cost = _lemaire_pass(network, inputs, use_batch_stats)
    probe_of = {p.name: p for p in probes}
    layers = []
    for counts in spent:
        p = probe_of.get(counts.name)
        compute, memory = counts.priced(cost)
        layers.append(LayerEnergy(counts.name, counts.kind, p.macs if p else 0, (counts.ac + counts.mac) / batch,
                                  p.firing_rate if p else 1.0, compute / batch / PJ_PER_MJ, memory / batch / PJ_PER_MJ))
    with ann_twin(network):
        twin, _, _, _ = _lemaire_pass(network, inputs, use_batch_stats)
    # the twin ran the T steps of the spiking network; an ANN runs once
    once = batch * PJ_PER_MJ * getattr(network, "time_steps", 1)
    ann_mj = sum(sum(c.priced(cost)) for c in twin) / once
    ann_int8_mj = sum(sum(c.priced(cost, int8=True)) for c in twin) / once
    return EnergyRecord.of_layers(model, layers, ann_mj, ann_int8_mj, notes)


COUNTERS.register(Counter("lemaire", "operations, addressing and SRAM accesses (SpikingJelly's Lemaire profiler), "
                                     "one forward pass", measure, lemaire_energy))
