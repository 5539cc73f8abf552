"""``qk``: QKFormer's Q-K token attention (Zhou et al., "QKFormer", NeurIPS 2024, QKTA);
SpikingJelly 2.0's ``layer.attention.TokenQKAttention``.

q, k = Linear-BN-LIF of the block's input (SpikingJelly computes both in one D -> 2D conv: the same
weights); per head the token mask ``a = LIF(sum over the head's channels of q)`` (half the
threshold) and the output ``k AND a``; Linear-BN. Under Spikformer's spike shortcut (QKFormer's
arrangement) the block adds a LIF after it, which makes it SpikingJelly's layer output for
output; under the membrane shortcut the block puts one in front (``autost.layers.branch_lifs``). No value path and no token-token product, so
its cost is linear in the tokens: MACs per step are the three D x D linears (3 L D^2), what
torch's FlopCounterMode counts in SpikingJelly's layer too. The energy estimate charges the
spike operations: ``q_sum`` (one addition per q spike) and ``mask`` (k masked by a: one
accumulate per element the mask's spikes let through), L x D each a step.
"""
from __future__ import annotations

import torch
from torch import nn

from autost.blocks.registry import AttentionType, register
from autost.layers import LinearBN, Neurons, SpikeMask, SpikeSum, merge_heads, split_heads


class TokenQKAttention(nn.Module):
    """QKTA: q/k = Linear-BN-LIF, ``a = LIF(sum_channels(q))`` per head and token, ``k * a``, Linear-BN."""

    def __init__(self, dim: int, num_heads: int, neurons: Neurons = Neurons()):
        super().__init__()
        self.num_heads = num_heads
        self.q, self.k = LinearBN(dim, dim), LinearBN(dim, dim)
        self.q_lif, self.k_lif = neurons.lif(), neurons.lif()
        self.q_sum = SpikeSum(dim=-1)  # over a head's channels: [T, B, H, L, 1]
        self.attn_lif = neurons.attention_lif()
        self.mask = SpikeMask()
        self.proj = LinearBN(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = split_heads(self.q_lif(self.q(x)), self.num_heads)
        k = split_heads(self.k_lif(self.k(x)), self.num_heads)
        a = self.attn_lif(self.q_sum(q))
        return self.proj(merge_heads(self.mask(k, a)))


def _macs(dim: int, heads: int, tokens: int) -> dict[str, int]:
    linear = tokens * dim * dim
    return {"q.linear": linear, "k.linear": linear, "proj.linear": linear}


QK = register(AttentionType(
    name="qk",
    build=TokenQKAttention,
    params=lambda dim, heads: 3 * (dim * dim + 2 * dim),  # three bias-free linears, each with a BatchNorm
    macs=_macs,
    spike_ops=lambda dim, heads, tokens: {"q_sum": tokens * dim, "mask": tokens * dim},
    summary="QKFormer's token Q-K attention: k AND LIF(sum over channels of q); linear in the tokens, "
            "no product MACs",
    linears=lambda dim, heads: {f"{name}.linear": (dim, dim, False) for name in ("q", "k", "proj")},
    # the attention LIF fires on each head's channel sum: one value per head and token
    lifs=lambda dim, heads, tokens: {"q_lif": tokens * dim, "k_lif": tokens * dim, "attn_lif": heads * tokens},
    source="Zhou et al., QKFormer, NeurIPS 2024; SpikingJelly 2.0 layer.attention.TokenQKAttention",
    token_matrix=False,  # its products are masks and sums over tokens, never L x L
))
