"""``sdsa``: Spike-Driven Self-Attention (Yao et al., "Spike-driven Transformer", NeurIPS 2023,
SDSA version 1); SpikingJelly 2.0's ``layer.attention.SpikeDrivenSelfAttention``.

q, k, v = Linear-BN-LIF of the block's input; per head the channel mask
``m = LIF(sum over tokens of (k AND v))`` (half the threshold) and the output ``q AND m``; then
Linear (with bias, as SpikingJelly's ``proj_conv``) and BN. Under the Spike-driven Transformer's
membrane shortcut the block puts a LIF in front, which makes it SpikingJelly's layer output for
output (its layer adds the residual itself); under the spike shortcut the block adds a LIF after it
(``autost.layers.branch_lifs``). Between q, k and v there are only
masks and additions (the paper's point): MACs per step are the four D x D linears (4 L D^2), the
only products torch's FlopCounterMode counts in SpikingJelly's layer too. The energy estimate
charges the spike operations: ``kv`` (k masked by v: one accumulate per v spike), ``kv_sum``
(one addition per k AND v spike), ``mask`` (q masked by m: one per element m lets through),
L x D each a step.
"""
from __future__ import annotations

import torch

from autost.blocks.registry import AttentionType, register
from autost.layers import LinearBN, Neurons, SpikeMask, SpikeSum, SpikingQKV, merge_heads


class SpikeDrivenSelfAttention(SpikingQKV):
    """SDSA: q/k/v = Linear-BN-LIF, ``m = LIF(sum_tokens(k * v))``, ``q * m``, Linear(bias)-BN."""

    def __init__(self, dim: int, num_heads: int, neurons: Neurons = Neurons()):
        super().__init__(dim, num_heads, neurons)
        self.kv = SpikeMask()
        self.kv_sum = SpikeSum(dim=-2)  # over the tokens of a head: [T, B, H, 1, d]
        self.attn_lif = neurons.attention_lif()
        self.mask = SpikeMask()
        self.proj = LinearBN(dim, dim, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x)
        m = self.attn_lif(self.kv_sum(self.kv(k, v)))
        return self.proj(merge_heads(self.mask(q, m)))


def _macs(dim: int, heads: int, tokens: int) -> dict[str, int]:
    linear = tokens * dim * dim
    return {"q.linear": linear, "k.linear": linear, "v.linear": linear, "proj.linear": linear}


SDSA = register(AttentionType(
    name="sdsa",
    build=SpikeDrivenSelfAttention,
    # four linears with BatchNorm (2 per channel), the projection's bias (SpikingJelly's proj_conv has one)
    params=lambda dim, heads: 4 * (dim * dim + 2 * dim) + dim,
    macs=_macs,
    spike_ops=lambda dim, heads, tokens: {"kv": tokens * dim, "kv_sum": tokens * dim, "mask": tokens * dim},
    summary="Spike-driven Transformer's SDSA: q AND LIF(sum over tokens of k AND v); masks and additions, "
            "no product MACs",
    linears=lambda dim, heads: {**{f"{name}.linear": (dim, dim, False) for name in ("q", "k", "v")},
                                "proj.linear": (dim, dim, True)},
    # the attention LIF fires on the token sum: one value per channel
    lifs=lambda dim, heads, tokens: {**{name: tokens * dim for name in ("q_lif", "k_lif", "v_lif")}, "attn_lif": dim},
    source="Yao et al., Spike-driven Transformer, NeurIPS 2023; SpikingJelly 2.0 "
           "layer.attention.SpikeDrivenSelfAttention",
    token_matrix=False,  # its products are masks and sums over tokens, never L x L
))
