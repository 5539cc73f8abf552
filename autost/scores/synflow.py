"""synflow (Tanaka et al., "Pruning neural networks without any data by iteratively conserving
synaptic flow", NeurIPS 2020) in the form Abdelfattah et al. use as a NAS proxy ("Zero-Cost
Proxies for Lightweight NAS", ICLR 2021): a per-layer quantity summed over the weight layers
(convolutions and linears), reaching layers behind spiking neurons through the LIF surrogate
gradient.

What synflow measures here: with absolute weights at this model's initialization (std 0.02),
the all-ones input drives no LIF neuron over its threshold, so every layer past the first conv
sees zero spikes and gets no weight gradient. The score is then the first conv's
``sum |w * dR/dw|``, and ``dR/dw`` carries, through the surrogate slopes of every LIF, the sum
over all input-to-output paths of the product of absolute weights: a surrogate-weighted path
norm of the whole network (for a linear network it would equal ``R`` itself).

It needs no data (only the shape of a sample) and leaves no trace on the model: weights, dtype,
modes and gradients are as before.
"""
from __future__ import annotations

import torch
from torch import nn

from autost.scores import SCORES, Score
from autost.scores._gradients import restored, weight_layers


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
    with restored(model):
        model.double()
        model.eval()
        with torch.no_grad():
            for p in model.parameters():
                p.abs_()
        model.zero_grad(set_to_none=True)
        ones = torch.ones_like(example[:1], dtype=torch.float64)
        model(ones).sum().backward()
        total = sum(float((m.weight * m.weight.grad).abs().sum().detach()) for _, m in weight_layers(model)
                    if m.weight.grad is not None)
    return total


SCORES.register(Score("synflow", "sum |w dR/dw| with absolute weights on an all-ones input (Tanaka et al. 2020)",
                      lambda ctx: synflow(ctx.network, ctx.example()), backward=True))
