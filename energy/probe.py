"""What every counter needs to know about a network's layers during one forward pass: each weight
layer's dense MACs and whether its input is binary spikes (and at what rate), and each spike-only
attention operation's operations and gate rate (docs/conventions.md).

A layer whose input is binary spikes is spike-driven (``AC``); one with real-valued input is
``MAC``. ``q @ k^T``: both operands are spikes and each spike of q adds a row of k, so q's rate
counts; ``attn @ v``: attn holds real values (scaled spike counts), so v's spikes gate it. A
real-valued input that is the same at every time step (the first conv on a static image, which
direct encoding repeats T times) is marked ``once``.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

import torch
from torch import nn

from autost.batchnorm import batchnorm_mode, is_fresh
from autost.cost import module_macs
from autost.layers import SPIKE_OPS, AttentionProduct, spike_op_count, spike_op_gate

WEIGHT_LAYERS = (nn.Conv2d, nn.Linear, AttentionProduct)


@dataclass(frozen=True)
class Probe:
    """One layer as a pass saw it, per sample over all time steps."""

    name: str
    kind: str  # "MAC" (real-valued input) or "AC" (binary spike input)
    macs: int
    firing_rate: float  # fraction of non-zero input elements (1.0 for real-valued input)
    once: bool = False  # a real-valued input identical at every step
    spike_ops: int = 0  # a spike-only operation (macs 0): its dense operations, gated at ``firing_rate``


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


def binary_operand(module: nn.Module, inputs: tuple) -> torch.Tensor | None:
    """The spike input that gates a weight layer's accumulations, if any (``q`` of ``q @ k^T``,
    ``v`` of ``attn @ v``; the input of a conv or linear)."""
    if isinstance(module, AttentionProduct):
        return next((x for x in inputs if is_binary(x)), None)
    return inputs[0] if is_binary(inputs[0]) else None


def same_every_step(x: torch.Tensor, time_steps: int) -> bool:
    """True when the time-first ``x`` (``[T, B, ...]``, or ``[T * B, ...]`` folded) holds the same
    values at every step."""
    if time_steps <= 1:
        return False
    steps = x.reshape(time_steps, -1)
    return bool((steps == steps[:1]).all())


def _rate(spikes: torch.Tensor) -> float:
    return float(spikes.sum()) / spikes.numel()  # binary: the sum counts the spikes


@contextlib.contextmanager
def watch_layers(model: nn.Module, batch: int, *, spike_ops: bool = False,
                 static_once: bool = False) -> Iterator[list[Probe]]:
    """Record every weight layer (and with ``spike_ops`` every spike-only operation) of ``model``,
    in execution order, while it runs on batches of ``batch`` inside the ``with``; ``static_once``:
    mark a real-valued input that repeats at every one of ``model.time_steps`` steps."""
    probes: list[Probe] = []
    steps = int(getattr(model, "time_steps", 1))

    def weight_hook(module, args, out, name):
        spikes = binary_operand(module, args)
        macs = module_macs(module, args, out) // batch
        if spikes is None:
            probes.append(Probe(name, "MAC", macs, 1.0, static_once and same_every_step(args[0], steps)))
        else:
            probes.append(Probe(name, "AC", macs, _rate(spikes)))

    def spike_hook(module, args, out, name):
        probes.append(Probe(name, "AC", 0, _rate(spike_op_gate(module, args)),
                            spike_ops=spike_op_count(module, args, out) // batch))

    handles = []
    for name, module in model.named_modules():
        if isinstance(module, WEIGHT_LAYERS):
            handles.append(module.register_forward_hook(lambda m, a, o, n=name: weight_hook(m, a, o, n)))
        elif spike_ops and isinstance(module, SPIKE_OPS):
            handles.append(module.register_forward_hook(lambda m, a, o, n=name: spike_hook(m, a, o, n)))
    try:
        yield probes
    finally:
        for handle in handles:
            handle.remove()


@torch.no_grad()
def probe_layers(model: nn.Module, inputs: torch.Tensor, *, static_once: bool = True,
                 use_batch_stats: bool | None = None) -> list[Probe]:
    """One forward pass of ``model`` on ``inputs``: every weight layer and spike-only operation.

    BatchNorm (``autost.batchnorm.batchnorm_mode``): ``use_batch_stats=None`` picks the batch's
    statistics for a fresh network (its running statistics, mean 0 and var 1, say nothing about
    the data) and the running statistics for a trained one, as at inference; neither changes the
    model."""
    if use_batch_stats is None:
        use_batch_stats = is_fresh(model)
    with watch_layers(model, inputs.shape[0], spike_ops=True, static_once=static_once) as probes, \
            batchnorm_mode(model, use_batch_stats):
        model(inputs)
    return probes
