"""Energy of a network on a batch under one registered energy model (``energy.models``).

Three counters, one per kind of model:

- ``rate``: our hook-based estimate (``energy.estimate``), one plain forward pass; its MAC and
  AC energies are repriced with the model's per-operation costs.
- ``synaptic``: SpikingJelly's ``MACCounter`` and ``ACCounter`` (dispatch-level), restricted to
  their synaptic rules (convolution, mm, addmm, bmm, baddbmm). BatchNorm, LIF updates, pooling,
  the residual additions and the token/time means are left out, as Spikformer's convention
  leaves them out. A spike-input layer is charged each spike's real fan-out (fewer taps next to
  the zero padding) and ``q k^T`` only where q and k both spike.
- ``lemaire``: SpikingJelly's ``LemaireEnergyProfiler`` (Lemaire et al. 2022): operations,
  addressing, and SRAM reads/writes of inputs, weights and membrane potentials. Its formulas
  cover Conv/Linear and LIF; SpikingJelly omits the attention products, BatchNorm and pooling
  (listed in the result's ``notes``).

Every result lists each weight layer (dense MACs, input firing rate, compute and memory energy)
and, for ``lemaire``, each LIF layer; energies are per sample.
"""
from __future__ import annotations

import contextlib
import warnings
from dataclasses import dataclass, field
from typing import Iterator

import torch
from spikingjelly.activation_based import neuron
from spikingjelly.activation_based.op_counter import (ACCounter, DispatchCounterMode, LemaireEnergyConfig,
                                                      LemaireEnergyProfiler, MACCounter)
from torch import nn

from autost.cost import module_macs
from autost.layers import AttentionProduct
from energy.estimate import (E_AC_PJ, E_MAC_PJ, PJ_PER_MJ, WEIGHT_LAYERS, _binary_operand, batchnorm_mode,
                             estimate_energy, is_binary, is_fresh)
from energy.models import (DEFAULT_MODEL, INT8_MAC_PJ, INT8_MULT_PJ, LEMAIRE, RATE, SYNAPTIC, EnergyModel,
                           get_model)

aten = torch.ops.aten
# SpikingJelly's rules that count synaptic operations (the MAC and AC counters' matrix products
# and convolutions); their element-wise and reduction rules (BatchNorm, additions, means) are not.
SYNAPTIC_OPS = (aten.mm.default, aten.addmm.default, aten.bmm.default, aten.baddbmm.default,
                aten.convolution.default)


@dataclass
class LayerCost:
    name: str
    kind: str  # "MAC" (real-valued input), "AC" (spike input) or "neuron" (LIF updates, lemaire only)
    macs: int  # dense MACs per sample, all time steps (0 for neurons)
    ops: float  # operations charged per sample: MACs, synaptic ACs, or the model's own count
    firing_rate: float  # fraction of non-zero inputs (1.0 for real-valued input); a neuron: of its outputs
    compute_mj: float
    memory_mj: float = 0.0

    @property
    def energy_mj(self) -> float:
        return self.compute_mj + self.memory_mj

    def to_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "macs": self.macs, "ops": self.ops,
                "firing_rate": self.firing_rate, "compute_mj": self.compute_mj, "memory_mj": self.memory_mj,
                "energy_mj": self.energy_mj}


@dataclass
class ModelEnergy:
    """Energy per sample of one network on one batch under ``model``."""

    model: EnergyModel
    layers: list[LayerCost]
    ann_mj: float  # the same network as a non-spiking ANN, under the same model
    # the same ANN with 8-bit weights and activations and a 32-bit accumulator, counted the same way
    ann_int8_mj: float = 0.0
    notes: list[str] = field(default_factory=list)  # what the model leaves out

    @property
    def total_mj(self) -> float:
        return sum(layer.energy_mj for layer in self.layers)

    @property
    def compute_mj(self) -> float:
        return sum(layer.compute_mj for layer in self.layers)

    @property
    def memory_mj(self) -> float:
        return sum(layer.memory_mj for layer in self.layers)

    @property
    def mac_mj(self) -> float:
        return sum(layer.compute_mj for layer in self.layers if layer.kind == "MAC")

    @property
    def ac_mj(self) -> float:
        return sum(layer.compute_mj for layer in self.layers if layer.kind == "AC")

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    def to_dict(self) -> dict:
        return {
            "energy_model": self.model.name, "energy_source": self.model.source,
            "energy_charges": self.model.charges, "energy_mj": self.total_mj, "compute_mj": self.compute_mj,
            "memory_mj": self.memory_mj, "mac_mj": self.mac_mj, "ac_mj": self.ac_mj, "ann_mj": self.ann_mj,
            "ann_int8_mj": self.ann_int8_mj,
            "energy_notes": self.notes, "layers": [layer.to_dict() for layer in self.layers],
        }


@dataclass
class _Probe:
    name: str
    kind: str
    macs: int
    firing_rate: float


@contextlib.contextmanager
def _probe_weight_layers(model: nn.Module, batch: int) -> Iterator[list[_Probe]]:
    """Record each weight layer's dense MACs and input firing rate while ``model`` runs."""
    probes: list[_Probe] = []

    def hook(module, args, out, name):
        spikes = _binary_operand(module, args)
        rate = 1.0 if spikes is None else float(spikes.sum()) / spikes.numel()
        probes.append(_Probe(name, "MAC" if spikes is None else "AC", module_macs(module, args, out) // batch, rate))

    handles = [m.register_forward_hook(lambda mod, a, o, n=n: hook(mod, a, o, n))
               for n, m in model.named_modules() if isinstance(m, WEIGHT_LAYERS)]
    try:
        yield probes
    finally:
        for handle in handles:
            handle.remove()


def _rate(model: nn.Module, inputs: torch.Tensor, em: EnergyModel, use_batch_stats: bool) -> ModelEnergy:
    base = estimate_energy(model, inputs, use_batch_stats=use_batch_stats, static_once=em.static_input_once)
    scale = {"MAC": em.e_mac_pj / E_MAC_PJ, "AC": em.e_ac_pj / E_AC_PJ}

    def ops(layer) -> float:
        if layer.kind == "AC":
            return (layer.macs + layer.spike_ops) * layer.firing_rate
        return layer.macs / layer.time_steps if layer.once else layer.macs

    layers = [LayerCost(layer.name, layer.kind, layer.macs, ops(layer), layer.firing_rate,
                        layer.energy_mj * scale[layer.kind]) for layer in base.layers]
    return ModelEnergy(em, layers, base.ann_mj * scale["MAC"], base.ann_mj * INT8_MAC_PJ / E_MAC_PJ)


def _synaptic(model: nn.Module, inputs: torch.Tensor, em: EnergyModel, use_batch_stats: bool) -> ModelEnergy:
    counters = MACCounter(), ACCounter()
    for counter in counters:
        counter.rules = {op: counter.rules[op] for op in SYNAPTIC_OPS}
    batch = inputs.shape[0]
    with _probe_weight_layers(model, batch) as probes, batchnorm_mode(model, use_batch_stats), \
            DispatchCounterMode(list(counters)), torch.no_grad():
        model(inputs)
    mac_counts, ac_counts = (counter.get_counts() for counter in counters)
    root = type(model).__name__
    layers = []
    for probe in probes:
        scope = f"{root}.{probe.name}"
        macs = sum(mac_counts.get(scope, {}).values()) / batch
        acs = sum(ac_counts.get(scope, {}).values()) / batch
        compute = (macs * em.e_mac_pj + acs * em.e_ac_pj) / PJ_PER_MJ
        layers.append(LayerCost(probe.name, probe.kind, probe.macs, macs + acs, probe.firing_rate, compute))
    ann_macs = sum(p.macs for p in probes) / getattr(model, "time_steps", 1)  # the ANN runs once
    return ModelEnergy(em, layers, ann_macs * em.e_mac_pj / PJ_PER_MJ, ann_macs * INT8_MAC_PJ / PJ_PER_MJ)


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
                  ) -> tuple[list[_LemaireCounts], list[_Probe], list[str], object]:
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
        kind = "AC" if _binary_operand(module, args) is not None else "MAC"
        spent.append(_LemaireCounts(names[module], kind, 0, 0, 0, 0, []))

    counter.rules = {key: attributed(rule) for key, rule in counter.rules.items()}
    handles = [m.register_forward_hook(omitted) for m in model.modules() if isinstance(m, AttentionProduct)]
    try:
        with _probe_weight_layers(model, inputs.shape[0]) as probes, batchnorm_mode(model, use_batch_stats), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the omissions come back in the report's warnings
            with profiler, torch.no_grad():
                model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    probes += [_Probe(name, "neuron", 0, rate) for name, rate in rates.items()]
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


def _lemaire(model: nn.Module, inputs: torch.Tensor, em: EnergyModel, use_batch_stats: bool) -> ModelEnergy:
    batch = inputs.shape[0]
    spent, probes, notes, cost = _lemaire_pass(model, inputs, use_batch_stats)
    probe_of = {p.name: p for p in probes}
    layers = []
    for counts in spent:
        p = probe_of.get(counts.name)
        compute, memory = counts.priced(cost)
        layers.append(LayerCost(counts.name, counts.kind, p.macs if p else 0, (counts.ac + counts.mac) / batch,
                                p.firing_rate if p else 1.0, compute / batch / PJ_PER_MJ, memory / batch / PJ_PER_MJ))
    with ann_twin(model):
        twin, _, _, _ = _lemaire_pass(model, inputs, use_batch_stats)
    # the twin ran the T steps of the spiking network; an ANN runs once
    once = batch * PJ_PER_MJ * getattr(model, "time_steps", 1)
    ann_mj = sum(sum(c.priced(cost)) for c in twin) / once
    ann_int8_mj = sum(sum(c.priced(cost, int8=True)) for c in twin) / once
    return ModelEnergy(em, layers, ann_mj, ann_int8_mj, notes)


_COUNTERS = {RATE: _rate, SYNAPTIC: _synaptic, LEMAIRE: _lemaire}


@torch.no_grad()
def estimate(model: nn.Module, inputs: torch.Tensor, energy_model: str | EnergyModel = DEFAULT_MODEL, *,
             use_batch_stats: bool | None = None) -> ModelEnergy:
    """Energy per sample of ``model`` on the batch ``inputs`` under ``energy_model`` (a registered
    name). ``use_batch_stats`` as in ``energy.estimate.estimate_energy`` (None: batch statistics
    for a fresh network, running statistics for a trained one)."""
    em = get_model(energy_model)
    if use_batch_stats is None:
        use_batch_stats = is_fresh(model)
    return _COUNTERS[em.counter](model, inputs, em, use_batch_stats)
