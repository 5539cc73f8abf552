"""Energy against arithmetic done by hand: one block of each attention type in each shortcut
arrangement, with every spike pinned, so that each layer's operations can be counted on paper.

The block: D = 4 channels, one head, L = 4 tokens, T = 1, hidden 4, eval mode. Every Linear has
weights of 1e-3 (tiny, but not 0 or 1: SpikingJelly's counters would take an all-zero weight for a
spike tensor), and its BatchNorm (running mean 0, variance 1) a bias of +4 on the channels that
are to fire and -4 on the others, so the LIF after it (tau 2, threshold 1: v = x / 2) fires on
exactly those channels, at every token, whatever its input. Pinned channels: q {0, 1, 2},
k {0, 1, 2}, v {0, 1}, proj {0}, fc1 {0, 1}, fc2 {0}.

The input spikes X (tokens x channels) are 1000 / 1100 / 1110 / 1111: 10 of 16, rate 0.625. Under
the membrane shortcut the stream carries real values, 2.5 X, which the block's first LIF turns
back into X (v = 1.25 >= 1 where X is 1).

Costs (spikformer-45nm): E_AC 0.9 pJ per accumulate, E_MAC 4.6 pJ. A D x D linear over the 4
tokens is L D^2 = 64 MACs.
"""
import pytest
import torch
from torch import nn

from autost.layers import MEMBRANE, SPIKE, LinearBN, Neurons
from autost.model import Block
from energy.measure import measure_network

PINNED = {"q": (0, 1, 2), "k": (0, 1, 2), "v": (0, 1), "proj": (0,), "fc1": (0, 1), "fc2": (0,)}
X = torch.tensor([[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]], dtype=torch.float32)

# Shared pieces, in pJ:
QKV_LINEAR = 64 * 0.625 * 0.9  # = 36: a q, k or v linear reads X (rate 0.625)
SPIKE_MLP = 64 * 4.6 + 64 * 0.5 * 0.9
# = 294.4 + 28.8: under the spike shortcut fc1 reads x + branch (channel 0 holds 2: not spikes, so
# 64 MACs at E_MAC); fc2 reads the hidden LIF's spikes on {0, 1} (rate 0.5)
MEMBRANE_MLP = 64 * 0.25 * 0.9 + 64 * 0.5 * 0.9
# = 14.4 + 28.8: under the membrane shortcut the MLP's first LIF reads 2.5 X + proj's BN (+4 on
# channel 0, -4 elsewhere): it fires on channel 0 only (rate 0.25); fc2 as above

ATTENTION = {
    # q k^T: 64 MACs gated by q (rate 0.75) = 43.2. Each entry q.k = 3, times 0.125 = 0.375; attn v:
    # 64 MACs gated by v (rate 0.5) = 28.8, and gives 4 x 0.375 = 1.5 on v's channels {0, 1}, where
    # the attention LIF (threshold 0.5: v = 0.75) fires: proj reads rate 0.5, 64 x 0.5 x 0.9 = 28.8.
    "ssa": 3 * QKV_LINEAR + 64 * 0.75 * 0.9 + 64 * 0.5 * 0.9 + 64 * 0.5 * 0.9,
    # k AND v (a mask gated by v, 16 elements at rate 0.5) = 7.2; their sum over tokens (16 additions
    # gated by k AND v, rate 0.5) = 7.2, 4 on {0, 1}, where the attention LIF fires (v = 2); q AND m
    # (16 elements gated by m, rate 0.5) = 7.2; proj reads q AND m, rate 0.5: 28.8.
    "sdsa": 3 * QKV_LINEAR + 3 * 16 * 0.5 * 0.9 + 64 * 0.5 * 0.9,
    # the sum of q over the head's channels (16 additions gated by q, rate 0.75) = 10.8, 3 at every
    # token, where the attention LIF fires (v = 1.5); k AND a (16 elements gated by a, rate 1) = 14.4;
    # proj reads k AND a = k, rate 0.75: 43.2.
    "qk": 2 * QKV_LINEAR + 16 * 0.75 * 0.9 + 16 * 1.0 * 0.9 + 64 * 0.75 * 0.9,
}
# What the synaptic model leaves out of the above: masks and sums are not synaptic operations.
SPIKE_OPS = {"ssa": 0.0, "sdsa": 3 * 16 * 0.5 * 0.9, "qk": 16 * 0.75 * 0.9 + 16 * 1.0 * 0.9}


def pinned_block(attention: str, shortcut: str) -> Block:
    block = Block(4, 1, 4, attention, Neurons(), shortcut).eval()
    for name, module in block.named_modules():
        if isinstance(module, LinearBN):
            on = PINNED[name.split(".")[-1]]
            with torch.no_grad():
                module.linear.weight.fill_(1e-3)
                if module.linear.bias is not None:
                    module.linear.bias.zero_()
                module.bn.weight.fill_(1.0)
                module.bn.bias.copy_(torch.tensor([4.0 if c in on else -4.0 for c in range(4)]))
            module.bn.running_mean.zero_()
            module.bn.running_var.fill_(1.0)
    return block


def _input(shortcut: str) -> torch.Tensor:
    return (X if shortcut == SPIKE else 2.5 * X).reshape(1, 1, 4, 4)  # [T, B, L, D]


@pytest.mark.parametrize("shortcut", [SPIKE, MEMBRANE])
@pytest.mark.parametrize("attention", sorted(ATTENTION))
def test_every_energy_model_against_arithmetic(attention, shortcut):
    expected_pj = ATTENTION[attention] + (SPIKE_MLP if shortcut == SPIKE else MEMBRANE_MLP)
    x = _input(shortcut)
    rate = measure_network(pinned_block(attention, shortcut), x, "spikformer-45nm", use_batch_stats=False)
    assert rate.total_mj * 1e9 == pytest.approx(expected_pj, rel=1e-6)
    # the precision variants price the same counts: MACs and ACs apart
    fp16 = measure_network(pinned_block(attention, shortcut), x, "spikformer-45nm-fp16", use_batch_stats=False)
    assert fp16.total_mj == pytest.approx(rate.mac_mj * 1.5 / 4.6 + rate.ac_mj * 0.4 / 0.9, rel=1e-6)
    int8 = measure_network(pinned_block(attention, shortcut), x, "spikformer-45nm-int8", use_batch_stats=False)
    assert int8.total_mj == pytest.approx(rate.mac_mj * 0.3 / 4.6 + rate.ac_mj * 0.1 / 0.9, rel=1e-6)
    # linears and products: each spike's fan-out here is exactly rate x MACs (no padded taps; each
    # q.k is 3, so the q AND k coincidences of q k^T are q's spikes x 4 keys); masks and sums are free
    synaptic = measure_network(pinned_block(attention, shortcut), x, "synaptic-45nm", use_batch_stats=False)
    assert synaptic.total_mj * 1e9 == pytest.approx(expected_pj - SPIKE_OPS[attention], rel=1e-6)


def test_the_pinned_block_fires_as_the_working_says():
    block = pinned_block("ssa", SPIKE)
    seen = {}
    for name in ("attn.q_lif", "attn.v_lif", "attn.attn_lif", "out_lif", "mlp.hidden_lif"):
        block.get_submodule(name).register_forward_hook(lambda m, a, out, name=name: seen.setdefault(name, out))
    with torch.no_grad():
        block(_input(SPIKE))
    assert seen["attn.q_lif"][0, 0].tolist() == [[1, 1, 1, 0]] * 4
    assert seen["attn.v_lif"][0, 0].tolist() == [[1, 1, 0, 0]] * 4
    assert seen["attn.attn_lif"][0, 0].tolist() == [[1, 1, 0, 0]] * 4
    assert seen["out_lif"][0, 0].tolist() == [[1, 0, 0, 0]] * 4
    assert seen["mlp.hidden_lif"][0, 0].tolist() == [[1, 1, 0, 0]] * 4
    assert isinstance(block.in_lif, nn.Identity)
