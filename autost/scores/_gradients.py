"""What the gradient scores share: their weight layers, and running them without a trace.

A LIF neuron's spike is a step function; its backward pass uses SpikingJelly's surrogate
derivative (a sigmoid's, by default), which is what lets gradients, and so these scores, reach
layers behind spiking neurons.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

from torch import nn

WEIGHT_LAYERS = (nn.Conv2d, nn.Linear)


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The convolutions and linears of ``model``, by name: the layers the gradient scores sum over."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, WEIGHT_LAYERS)]


@contextlib.contextmanager
def restored(model: nn.Module) -> Iterator[None]:
    """Put back the model's parameters and buffers (values and dtypes), modes and gradients."""
    params = {name: p.detach().clone() for name, p in model.named_parameters()}
    buffers = {name: b.detach().clone() for name, b in model.named_buffers()}
    grads = {p: p.grad for p in model.parameters()}
    modes = {m: m.training for m in model.modules()}
    try:
        yield
    finally:
        # Looked up again by name: a dtype change (model.double()) replaces buffer objects.
        for name, value in params.items():
            model.get_parameter(name).data = value
        for name, value in buffers.items():
            model.get_buffer(name).data = value
        for p, grad in grads.items():
            p.grad = grad
        for m, training in modes.items():
            m.training = training
