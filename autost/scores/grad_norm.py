"""grad-norm, in the form Abdelfattah et al. use as a NAS proxy ("Zero-Cost Proxies for Lightweight
NAS", ICLR 2021): the sum over the weight layers (convolutions and linears) of the L2 norm of the
cross-entropy gradient on the scoring batch, through the LIF surrogate gradient. It leaves no
trace on the model.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from autost.batchnorm import batchnorm_mode
from autost.scores import SCORES, Context, Score
from autost.scores._gradients import restored, weight_layers


def layer_grad_norms(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
    """The L2 norm of each weight layer's gradient of the cross-entropy loss on ``(inputs, targets)``.
    BatchNorm normalizes with the batch's statistics (the network is untrained) and its running
    statistics are left alone. A layer the gradient does not reach gets 0."""
    with restored(model), batchnorm_mode(model, use_batch_stats=True):
        model.zero_grad(set_to_none=True)
        F.cross_entropy(model(inputs), targets).backward()
        return {name: float(m.weight.grad.norm()) if m.weight.grad is not None else 0.0
                for name, m in weight_layers(model)}


def grad_norm(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> float:
    """grad-norm (Abdelfattah et al. 2021): the sum over weight layers of their gradient's L2 norm."""
    return sum(layer_grad_norms(model, inputs, targets).values())


def _compute(ctx: Context) -> float:
    return grad_norm(ctx.network, *ctx.labeled("grad_norm"))


SCORES.register(Score("grad_norm", "sum of the layers' cross-entropy gradient L2 norms (Abdelfattah et al. 2021)",
                      _compute, data=True, backward=True))
