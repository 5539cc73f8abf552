"""Gradient-based zero-cost proxies, adapted to spiking networks through the surrogate gradient.

synflow (Tanaka et al., "Pruning neural networks without any data by iteratively conserving
synaptic flow", NeurIPS 2020) and grad-norm, in the form Abdelfattah et al. use as NAS proxies
("Zero-Cost Proxies for Lightweight NAS", ICLR 2021): both sum a per-layer quantity over the
weight layers (convolutions and linears). A LIF neuron's spike is a step function; its backward
pass uses SpikingJelly's surrogate derivative (a sigmoid's, by default), which is what lets
gradients, and so these scores, reach layers behind spiking neurons.

What synflow measures here: with absolute weights at this model's initialization (std 0.02),
the all-ones input drives no LIF neuron over its threshold, so every layer past the first conv
sees zero spikes and gets no weight gradient. The score is then the first conv's
``sum |w * dR/dw|``, and ``dR/dw`` carries, through the surrogate slopes of every LIF, the sum
over all input-to-output paths of the product of absolute weights: a surrogate-weighted path
norm of the whole network (for a linear network it would equal ``R`` itself).

Neither function leaves a trace on the model: weights, dtype, modes and gradients are as before.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import nn

from energy.estimate import batchnorm_mode

WEIGHT_LAYERS = (nn.Conv2d, nn.Linear)


def _weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    return [(name, m) for name, m in model.named_modules() if isinstance(m, WEIGHT_LAYERS)]


@contextlib.contextmanager
def _restored(model: nn.Module) -> Iterator[None]:
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


def synflow(model: nn.Module, example: torch.Tensor) -> float:
    """SynFlow of ``model``: ``sum |w * dR/dw|`` over the weight layers, where ``R`` is the summed
    output for an all-ones input shaped like one sample of ``example``, with every parameter
    replaced by its absolute value (Tanaka et al. 2020).

    BatchNorm runs in eval mode on its running statistics. On a fresh network those are mean 0,
    variance 1 with unit scale and zero shift, so BatchNorm is the identity (up to eps): the
    same as leaving it out, which is Abdelfattah et al.'s default for synflow. Batch statistics
    would centre every channel and break the all-positive paths the score is built on.
    The pass runs in float64: products of absolute weights along deep paths under- or overflow
    float32.
    """
    with _restored(model):
        model.double()
        model.eval()
        with torch.no_grad():
            for p in model.parameters():
                p.abs_()
        model.zero_grad(set_to_none=True)
        ones = torch.ones_like(example[:1], dtype=torch.float64)
        model(ones).sum().backward()
        total = sum(float((m.weight * m.weight.grad).abs().sum().detach()) for _, m in _weight_layers(model)
                    if m.weight.grad is not None)
    return total


def layer_grad_norms(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """The L2 norm of each weight layer's gradient of the cross-entropy loss on ``(inputs, targets)``.
    BatchNorm normalizes with the batch's statistics (the network is untrained) and its running
    statistics are left alone. A layer the gradient does not reach gets 0."""
    with _restored(model), batchnorm_mode(model, use_batch_stats=True):
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(inputs), targets).backward()
        return {name: float(m.weight.grad.norm()) if m.weight.grad is not None else 0.0
                for name, m in _weight_layers(model)}


def grad_norm(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """grad-norm (Abdelfattah et al. 2021): the sum over weight layers of their gradient's L2 norm."""
    return sum(layer_grad_norms(model, inputs, targets).values())
