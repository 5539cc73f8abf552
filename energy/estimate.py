"""Spike-activity energy of a spiking transformer (Spikformer / AutoST model, docs/conventions.md).

One forward pass of a real batch records, for every weight layer (conv, linear, attention
product), its MACs per sample and the firing rate of its input. A layer whose input is
binary spikes costs ``E_AC x MACs x firing_rate``; a layer with real-valued input costs
``E_MAC x MACs``. Costs: 45 nm, Horowitz 2014 (ISSCC), as used by Spikformer and AutoST.

The spike-only attention operations of SDSA and Q-K attention (``SpikeMask``, ``SpikeSum``:
no MACs) are recorded too, each charged by the operand that really triggers it:
``E_AC x ops x rate``, a mask by its mask's spikes (one accumulate per element it lets through),
a sum by the spikes it adds (one addition each). That charge is ours (no paper we know prices
them on their own); see docs/conventions.md.

A real-valued layer whose input is the same at every time step (the first conv on a static
image, which direct encoding repeats T times) is charged once, not T times: Spikformer
(Zhou et al., ICLR 2023, appendix) and Spike-driven Transformer (Yao et al., NeurIPS 2023,
appendix) charge ``E_MAC x FL_Conv^1`` with the first layer's FLOPs of one pass and put T
only in the spiking layers' ``SOP = rate x T x FLOPs``. On event frames the first conv's
input changes every step, so it is charged every step. The ANN for comparison is the same
network run once (MACs of one time step, all at ``E_MAC``).

BatchNorm during the pass: a freshly initialized network (no BatchNorm has seen a batch)
normalizes with the batch's own statistics, since its running statistics (mean 0, var 1)
say nothing about the data; a trained network uses its running statistics, as at
inference. Neither changes the model: running statistics are never updated here.
"""
from __future__ import annotations

import contextlib
from dataclasses import asdict, dataclass, field
from typing import Iterator

import torch
from torch import nn

from autost.cost import module_macs
from autost.layers import SPIKE_OPS, spike_op_count, spike_op_gate
from autost.layers import AttentionProduct

E_MAC_PJ = 4.6
E_AC_PJ = 0.9
PJ_PER_MJ = 1e9

WEIGHT_LAYERS = (nn.Conv2d, nn.Linear, AttentionProduct)


@dataclass
class LayerEnergy:
    name: str
    kind: str  # "MAC" (real-valued input) or "AC" (binary spike input)
    macs: int  # per sample, all time steps
    firing_rate: float  # fraction of non-zero input elements (1.0 for real-valued input)
    energy_mj: float  # per sample
    time_steps: int = 1  # T of the pass; MACs / T is one step's share
    once: bool = False  # real-valued input identical at every step: computed (and charged) once
    spike_ops: int = 0  # a spike-only attention operation (mask or sum, macs 0): its operations per sample


@dataclass
class EnergyReport:
    layers: list[LayerEnergy] = field(default_factory=list)

    @property
    def mac_mj(self) -> float:
        return sum(layer.energy_mj for layer in self.layers if layer.kind == "MAC")

    @property
    def ac_mj(self) -> float:
        return sum(layer.energy_mj for layer in self.layers if layer.kind == "AC")

    @property
    def total_mj(self) -> float:
        return sum(layer.energy_mj for layer in self.layers)

    @property
    def ann_mj(self) -> float:
        """The same network as a non-spiking ANN, run once: one time step's MACs, all at E_MAC."""
        return sum(layer.macs / layer.time_steps for layer in self.layers) * E_MAC_PJ / PJ_PER_MJ

    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    def to_dict(self) -> dict:
        return {
            "energy_mj": self.total_mj,
            "mac_mj": self.mac_mj,
            "ac_mj": self.ac_mj,
            "ann_mj": self.ann_mj,
            "layers": [asdict(layer) for layer in self.layers],
        }


def is_binary(x: torch.Tensor) -> bool:
    """All elements 0 or 1. One min/max pass and one dot product, both vectorized: on [0, 1]
    every term x (1 - x) is >= 0 and zero only at 0 and 1. ``((x == 0) | (x == 1)).all()`` and
    ``count_nonzero`` cost several times more on large activations (benchmarks/bench_energy_models.py)."""
    if x.numel() == 0:
        return True
    low, high = torch.aminmax(x)
    if low < 0 or high > 1:
        return False
    flat = x.reshape(-1)
    return bool(torch.dot(flat, 1 - flat) == 0)


def layer_energy(name: str, macs: int, spikes: torch.Tensor | None, *, time_steps: int = 1,
                 once: bool = False) -> LayerEnergy:
    """Energy of one layer given its MACs over ``time_steps`` steps and its binary input (``None``
    for real-valued input); ``once``: a real-valued input that is the same at every step."""
    if spikes is None:
        charged = macs / time_steps if once else macs
        return LayerEnergy(name, "MAC", macs, 1.0, charged * E_MAC_PJ / PJ_PER_MJ, time_steps, once)
    rate = float(spikes.sum()) / spikes.numel()  # binary: the sum counts the spikes
    return LayerEnergy(name, "AC", macs, rate, macs * rate * E_AC_PJ / PJ_PER_MJ, time_steps)


def spike_op_energy(name: str, ops: int, gate: torch.Tensor, *, time_steps: int = 1) -> LayerEnergy:
    """Energy of a spike-only operation (``SpikeMask`` / ``SpikeSum``): ``ops`` dense operations
    gated by the binary ``gate``, one accumulate per operation that a spike triggers."""
    rate = float(gate.sum()) / gate.numel()
    return LayerEnergy(name, "AC", 0, rate, ops * rate * E_AC_PJ / PJ_PER_MJ, time_steps, spike_ops=ops)


def same_every_step(x: torch.Tensor, time_steps: int) -> bool:
    """True when the time-first ``x`` (``[T, B, ...]``, or ``[T * B, ...]`` folded) holds the same
    values at every step."""
    if time_steps <= 1:
        return False
    steps = x.reshape(time_steps, -1)
    return bool((steps == steps[:1]).all())


def _binary_operand(module: nn.Module, inputs: tuple) -> torch.Tensor | None:
    """The spike input that gates a layer's accumulations, if any.

    ``q @ k^T``: both are spikes and each spike of q adds a row of k, so q's rate counts;
    ``attn @ v``: attn holds real values (scaled spike counts), so v's spikes gate it.
    """
    if isinstance(module, AttentionProduct):
        return next((x for x in inputs if is_binary(x)), None)
    return inputs[0] if is_binary(inputs[0]) else None


@contextlib.contextmanager
def batchnorm_mode(model: nn.Module, use_batch_stats: bool) -> Iterator[None]:
    """Eval mode throughout; with ``use_batch_stats`` BatchNorm normalizes with the batch's
    statistics without touching its running statistics. Restores everything on exit."""
    modes = {m: (m.training, getattr(m, "track_running_stats", None)) for m in model.modules()}
    model.eval()
    if use_batch_stats:
        for m in modes:
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.train()
                m.track_running_stats = False
    try:
        yield
    finally:
        for m, (training, track) in modes.items():
            m.training = training
            if track is not None:
                m.track_running_stats = track


def is_fresh(model: nn.Module) -> bool:
    """True when no BatchNorm of ``model`` has ever been updated (an untrained network)."""
    return all(int(m.num_batches_tracked) == 0 for m in model.modules()
               if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.num_batches_tracked is not None)


@torch.no_grad()
def estimate_energy(model: nn.Module, inputs: torch.Tensor, *, use_batch_stats: bool | None = None,
                    static_once: bool = True) -> EnergyReport:
    """Energy per sample of ``model`` on the batch ``inputs`` (one forward pass).

    ``use_batch_stats=None`` picks batch statistics for a fresh network and running
    statistics for a trained one (see the module docstring). ``static_once``: charge a
    real-valued layer whose input repeats at every step once (the papers' convention, above).
    """
    if use_batch_stats is None:
        use_batch_stats = is_fresh(model)
    batch = inputs.shape[0]
    steps = int(getattr(model, "time_steps", 1))
    layers: list[LayerEnergy] = []
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, WEIGHT_LAYERS):
            def hook(mod, args, out, name=name):
                macs = module_macs(mod, args, out) // batch
                spikes = _binary_operand(mod, args)
                once = static_once and spikes is None and same_every_step(args[0], steps)
                layers.append(layer_energy(name, macs, spikes, time_steps=steps, once=once))
            handles.append(module.register_forward_hook(hook))
        elif isinstance(module, SPIKE_OPS):
            def spike_hook(mod, args, out, name=name):
                layers.append(spike_op_energy(name, spike_op_count(mod, args, out) // batch, spike_op_gate(mod, args),
                                              time_steps=steps))
            handles.append(module.register_forward_hook(spike_hook))
    try:
        with batchnorm_mode(model, use_batch_stats):
            model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return EnergyReport(layers)
