"""ZiCo (Li et al., "ZiCo: Zero-shot NAS via Inverse Coefficient of Variation on Gradients",
ICLR 2023, Sec. 3.3), through the LIF surrogate gradient.

For every weight ``theta`` of layer ``l`` the cross-entropy gradient is taken on several
mini-batches; ZiCo sums, over the layers, the log of the layer's summed inverse coefficient of
variation of the absolute gradients:

    ZiCo = sum over layers l of  log( sum over theta in layer l of  E[|g_theta|] / sqrt(Var[|g_theta|]) )

with mean and (population) variance across the mini-batches. A weight whose gradient is the same
on every mini-batch has no finite ratio and is left out, and a layer left with no weight (every
weight so, or no gradient at all: a layer behind silent neurons) adds nothing; the paper does not
say what to do with either, so both are our choices. The paper uses at least two mini-batches;
here the scoring batch is split into two halves (the first ``B // 2`` samples and the rest). The
weight layers are the convolutions and linears, BatchNorm normalizes with each half's statistics
(the network is untrained) and the model is left as it was.
"""
from __future__ import annotations

import math
from typing import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from autost.batchnorm import batchnorm_mode
from autost.errors import BadInput
from autost.scores import SCORES, Context, Score
from autost.scores._gradients import restored, weight_layers


def zico_of_gradients(gradients: Mapping[str, torch.Tensor]) -> float:
    """ZiCo from each layer's gradients ``[mini-batches, weights]`` (module docstring)."""
    total = 0.0
    for grads in gradients.values():
        magnitude = grads.abs().double()
        mean, std = magnitude.mean(dim=0), magnitude.std(dim=0, unbiased=False)
        varying = std > 0
        ratio = float((mean[varying] / std[varying]).sum())
        if ratio > 0:
            total += math.log(ratio)
    return total


def layer_gradients(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
    """Each weight layer's cross-entropy gradient on the two halves of the batch, ``[2, weights]``
    (zeros where the gradient does not reach the layer)."""
    if len(inputs) < 2:
        raise BadInput(f"--score zico splits the scoring batch into two halves: --batch-size must be at least 2, "
                       f"got {len(inputs)}")
    half = len(inputs) // 2
    layers = weight_layers(model)
    rows: dict[str, list[torch.Tensor]] = {name: [] for name, _ in layers}
    with restored(model), batchnorm_mode(model, use_batch_stats=True):
        for x, y in ((inputs[:half], targets[:half]), (inputs[half:], targets[half:])):
            model.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()
            for name, m in layers:
                grad = m.weight.grad
                rows[name].append(torch.zeros(m.weight.numel(), device=m.weight.device) if grad is None
                                  else grad.detach().flatten().clone())
    return {name: torch.stack(row) for name, row in rows.items()}


def zico(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """ZiCo of ``model`` on the two halves of ``(inputs, targets)``."""
    return zico_of_gradients(layer_gradients(model, inputs, targets))


def _compute(ctx: Context) -> float:
    return zico(ctx.network, *ctx.labeled("zico"))


SCORES.register(Score("zico", "log inverse coefficient of variation of the gradients over two half-batches "
                              "(Li et al. 2023)", _compute, data=True, backward=True))
