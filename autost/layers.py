"""The layers every block type is built from: LIF neurons, token-wise Linear-BN, and the
attention operations (matrix products, spike masks and spike sums) as modules, so that MAC
counters and energy hooks find each one by type and name.

Tokens are ``[T, B, L, D]`` (time first, SpikingJelly multi-step mode).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from spikingjelly.activation_based import neuron, surrogate
from torch import nn

SPIKFORMER_TAU = 2.0
# The two ways a block's branches meet the residual stream (the SHORTCUT gene, autost.arch):
# ``spike`` (Spikformer, QKFormer): each branch reads the stream as it is and ends in BN-LIF, so
# spikes are added to the stream (which then holds integer spike counts); ``membrane`` (the
# Spike-driven Transformer): each branch starts with a LIF and ends in BN, so real values are
# added (a membrane shortcut).
SPIKE = "spike"
MEMBRANE = "membrane"
SHORTCUTS = (SPIKE, MEMBRANE)
DEFAULT_SHORTCUT = SPIKE
SPIKFORMER_THRESHOLD = 1.0
# Spikformer's attention LIF fires at 0.5 while every other neuron fires at 1.0; a network with
# another threshold keeps that ratio (its attention LIF fires at half the network's threshold).
ATTENTION_THRESHOLD_RATIO = 0.5


def fp32_lif_input(module: nn.Module, args: tuple) -> tuple | None:
    """Forward pre-hook: a LIF neuron integrates in float32 under mixed precision.

    Under fp16 autocast the conv/linear-BN before a LIF gives fp16, and SpikingJelly 2.0.0's LIF
    then keeps an fp16 membrane, which its GPU kernels do not take: it falls back to the torch
    reference, and a forced backend (``--backend cuda`` or ``torch``) refuses to run (seen on an
    H200). Casting the input keeps the membrane in float32, as autocast keeps BatchNorm's
    statistics; the spikes (0/1) are exact either way."""
    x = args[0]
    if x.dtype in (torch.float16, torch.bfloat16):
        return (x.float(), *args[1:])
    return None


def lif(v_threshold: float = SPIKFORMER_THRESHOLD, tau: float = SPIKFORMER_TAU) -> neuron.LIFNode:
    """Multi-step LIF neuron with a detached reset (Spikformer's settings by default),
    integrating in float32 under mixed precision (``fp32_lif_input``).

    Each neuron gets its own surrogate module: LIFNode's default is one Sigmoid instance
    shared by every neuron in the process, so anything a tool attaches to it (thop's
    counting buffers, say) would leak into the state dict of every model built later."""
    node = neuron.LIFNode(tau=float(tau), v_threshold=float(v_threshold), surrogate_function=surrogate.Sigmoid(),
                          detach_reset=True, step_mode="m")
    node.register_forward_pre_hook(fp32_lif_input)
    return node


@dataclass(frozen=True)
class Neurons:
    """The LIF parameters of a network (the TAU and THRESHOLD genes)."""

    tau: float = SPIKFORMER_TAU
    threshold: float = SPIKFORMER_THRESHOLD

    def lif(self) -> neuron.LIFNode:
        return lif(self.threshold, self.tau)

    def attention_lif(self) -> neuron.LIFNode:
        """The attention's own LIF: Spikformer's 0.5 at threshold 1.0, the same ratio otherwise."""
        return lif(self.threshold * ATTENTION_THRESHOLD_RATIO, self.tau)


def branch_lifs(shortcut: str, neurons: Neurons) -> tuple[nn.Module, nn.Module]:
    """The LIF in front of a branch and the one after it: ``membrane`` has the first, ``spike``
    the second (the other is an ``nn.Identity``)."""
    if shortcut == MEMBRANE:
        return neurons.lif(), nn.Identity()
    if shortcut == SPIKE:
        return nn.Identity(), neurons.lif()
    raise ValueError(f"unknown shortcut {shortcut!r}; use one of {', '.join(SHORTCUTS)}")


class LinearBN(nn.Module):
    """Token-wise Linear (no bias unless asked, BN follows) + BatchNorm1d over ``[T, B, L, D]``."""

    def __init__(self, cin: int, cout: int, bias: bool = False):
        super().__init__()
        self.linear = nn.Linear(cin, cout, bias=bias)
        self.bn = nn.BatchNorm1d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.linear(x)
        return self.bn(y.flatten(0, -2)).reshape(y.shape)


class AttentionProduct(nn.Module):
    """``q @ k^T * scale`` or ``attn @ v`` on ``[T, B, H, L, d]``; a module so that MAC
    counters and firing-rate hooks can see it (thop only hooks modules)."""

    def __init__(self, transpose_rhs: bool, scale: float = 1.0):
        super().__init__()
        self.transpose_rhs = transpose_rhs
        self.scale = scale

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        out = a @ (b.transpose(-2, -1) if self.transpose_rhs else b)
        return out * self.scale if self.scale != 1.0 else out


class SpikeMask(nn.Module):
    """``x * mask`` with a binary ``mask`` that broadcasts over ``x``: a spike-driven mask, no MAC
    (a multiplication by 0 or 1 selects). The energy estimate charges one accumulate per element
    the mask lets through: ``x.numel()`` operations gated by the mask's firing rate."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return x * mask


class SpikeSum(nn.Module):
    """Sum of binary spikes over ``dim`` (kept): additions, no MAC. The energy estimate charges one
    accumulate per spike added: ``x.numel()`` operations gated by ``x``'s firing rate."""

    def __init__(self, dim: int):
        super().__init__()
        self.dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum(dim=self.dim, keepdim=True)


class DropPath(nn.Module):
    """Stochastic depth (Huang et al. 2016) on a residual branch of ``[T, B, ...]``: in training,
    each sample's branch output is dropped with probability ``rate`` (the same draw at every time
    step) and the kept ones are scaled by ``1 / (1 - rate)``; the identity in eval mode."""

    def __init__(self, rate: float):
        super().__init__()
        if not 0 <= rate < 1:
            raise ValueError(f"drop-path rate must be in [0, 1), got {rate}")
        self.rate = rate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.rate == 0:
            return x
        keep = x.new_empty(1, x.shape[1], *(1,) * (x.dim() - 2)).bernoulli_(1 - self.rate)
        return x * keep / (1 - self.rate)


SPIKE_OPS = (SpikeMask, SpikeSum)


def spike_op_count(module: nn.Module, inputs: tuple, output: torch.Tensor) -> int:
    """Operations of one call of a spike op (whole batch): the mask's output elements, the sum's inputs."""
    if isinstance(module, SpikeMask):
        return output.numel()
    if isinstance(module, SpikeSum):
        return inputs[0].numel()
    raise TypeError(f"not a spike op: {type(module).__name__}")


def spike_op_gate(module: nn.Module, inputs: tuple) -> torch.Tensor:
    """The binary operand whose spikes trigger a spike op's operations: the mask, the summed spikes."""
    return inputs[1] if isinstance(module, SpikeMask) else inputs[0]


def split_heads(x: torch.Tensor, heads: int) -> torch.Tensor:
    """``[T, B, L, D]`` -> ``[T, B, H, L, D / H]``."""
    t, b, n, d = x.shape
    return x.reshape(t, b, n, heads, d // heads).transpose(2, 3)


def merge_heads(x: torch.Tensor) -> torch.Tensor:
    """``[T, B, H, L, d]`` -> ``[T, B, L, H * d]``."""
    return x.transpose(2, 3).flatten(-2)


class SpikingQKV(nn.Module):
    """What SSA and SDSA share: q, k, v = Linear-BN-LIF of the block's input, split into heads
    (the block puts a LIF in front under the membrane shortcut, ``branch_lifs``).
    Subclasses add their token mixing and projection after ``super().__init__`` (keeping the
    parameter order, which optimizer states in checkpoints follow)."""

    def __init__(self, dim: int, num_heads: int, neurons: Neurons):
        super().__init__()
        self.num_heads = num_heads
        self.q, self.k, self.v = LinearBN(dim, dim), LinearBN(dim, dim), LinearBN(dim, dim)
        self.q_lif, self.k_lif, self.v_lif = neurons.lif(), neurons.lif(), neurons.lif()

    def qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Spikes of q, k and v, each ``[T, B, H, L, D / H]``."""
        return tuple(split_heads(lif(linear(x)), self.num_heads)  # type: ignore[return-value]
                     for linear, lif in ((self.q, self.q_lif), (self.k, self.k_lif), (self.v, self.v_lif)))
