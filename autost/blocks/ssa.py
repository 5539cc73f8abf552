"""``ssa``: Spikformer's Spiking Self-Attention (Zhou et al., ICLR 2023); SpikingJelly 2.0's
``layer.attention.SpikingSelfAttention``.

q, k, v = Linear-BN-LIF of the block's input; per head ``attn = q k^T * 0.125`` and ``attn v``
(no softmax); LIF at half the threshold; Linear-BN. Under Spikformer's spike shortcut the block adds
a LIF after it, which makes it SpikingJelly's layer output for output; under the membrane shortcut
the block puts one in front (``autost.layers.branch_lifs``). MACs per step: the four D x D linears (4 L D^2)
and both products in the order ``(q k^T) v`` (2 L^2 D), as Spikformer writes it; SpikingJelly
multiplies ``q (k^T v)`` (2 L D^2 / heads), which gives the same result with no softmax.
"""
from __future__ import annotations

import torch

from autost.blocks.registry import AttentionType, register
from autost.layers import AttentionProduct, LinearBN, Neurons, SpikingQKV, merge_heads

ATTENTION_SCALE = 0.125


class SpikingSelfAttention(SpikingQKV):
    """SSA: q/k/v = Linear-BN-LIF, ``attn = q k^T * 0.125``, ``attn v``, LIF(0.5), Linear-BN."""

    def __init__(self, dim: int, num_heads: int, neurons: Neurons = Neurons()):
        super().__init__(dim, num_heads, neurons)
        self.qk = AttentionProduct(transpose_rhs=True, scale=ATTENTION_SCALE)
        self.av = AttentionProduct(transpose_rhs=False)
        self.attn_lif = neurons.attention_lif()
        self.proj = LinearBN(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x)
        y = merge_heads(self.av(self.qk(q, k), v))
        return self.proj(self.attn_lif(y))


def _macs(dim: int, heads: int, tokens: int) -> dict[str, int]:
    linear = tokens * dim * dim
    return {"q.linear": linear, "k.linear": linear, "v.linear": linear, "proj.linear": linear,
            "qk": tokens * tokens * dim, "av": tokens * tokens * dim}


SSA = register(AttentionType(
    name="ssa",
    build=SpikingSelfAttention,
    params=lambda dim, heads: 4 * (dim * dim + 2 * dim),  # four bias-free linears, each with a BatchNorm
    macs=_macs,
    spike_ops=lambda dim, heads, tokens: {},
    summary="Spikformer's SSA: q k^T v of spikes per head, no softmax (2 L^2 D product MACs a step)",
    linears=lambda dim, heads: {f"{name}.linear": (dim, dim, False) for name in ("q", "k", "v", "proj")},
    lifs=lambda dim, heads, tokens: {name: tokens * dim for name in ("q_lif", "k_lif", "v_lif", "attn_lif")},
    source="Zhou et al., Spikformer, ICLR 2023; SpikingJelly 2.0 layer.attention.SpikingSelfAttention",
))
