"""The attention types against SpikingJelly 2.0's reference layers, and the registry's promise that
a new block type is one declaration: a toy type registered here is searched, built, costed and
measured with no other change.

Per type, at the token counts of every dataset the product knows (digits 4x4, CIFAR/ndigits/DVS
8x8, MNIST 7x7): parameters of our module, of the closed form and of SpikingJelly's layer agree
(the issue asks within 0.5%; they are equal), and the MACs torch's FlopCounterMode counts in our
module equal the closed form; in SpikingJelly's layer they equal it too, except SSA's two
products, which SpikingJelly multiplies in the order q (k^T v) (2 L D^2 / heads) and we in
Spikformer's (q k^T) v (2 L^2 D): same result without softmax, documented convention.
"""
import random

import pytest
import torch
from spikingjelly.activation_based.layer.attention import (SpikeDrivenSelfAttention, SpikingSelfAttention,
                                                           TokenQKAttention)
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from autost.arch import Arch
from autost.blocks import AttentionType, attention_names, attention_type, register, unregister
from autost.cost import analytic_cost, count_macs, count_params, layer_spike_ops
from autost.geometry import Geometry
from autost.layers import LinearBN, Neurons
from autost.model import build_model, token_grid
from autost.search.evaluate import Constraints
from autost.search.exact_solver import exact_flops_optimum
from autost.seeding import arch_seed
from autost.space import SearchSpace
from datasets import KNOWN, dataset_info
from energy.closed_form import calibrate, closed_form_energy
from energy.measure import measure_network
from energy.models import E_AC_PJ
from energy.record import PJ_PER_MJ

TOKENS = sorted({token_grid(dataset_info(n).img_size, dataset_info(n).patch_size) ** 2 for n in KNOWN})
REFERENCE = {"ssa": SpikingSelfAttention, "sdsa": SpikeDrivenSelfAttention, "qk": TokenQKAttention}
DIGITS = Geometry(in_channels=1, img_size=16, patch_size=4, num_classes=10, time_steps=2)


def _macs(module: nn.Module, x: torch.Tensor) -> dict[str, int]:
    """MACs by aten op (FLOPs / 2) of one forward pass."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(x)
    return {str(op).removeprefix("aten."): v // 2 for op, v in counter.get_flop_counts()["Global"].items()}


def _spikes(*shape: int) -> torch.Tensor:
    return (torch.rand(*shape) < 0.3).float()


def _reference_input(name: str, tokens: int, dim: int) -> torch.Tensor:
    """SpikingJelly's layouts: [T, N, C, L]; SDSA takes [T, N, C, H, W]."""
    if name == "sdsa":
        side = int(tokens ** 0.5)
        return _spikes(1, 1, dim, side, side)
    return _spikes(1, 1, dim, tokens)


def test_the_token_counts_are_the_products():
    assert TOKENS == [16, 49, 64]


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("dim, heads", [(64, 4), (48, 2), (384, 12)])
def test_params_equal_spikingjelly(name, dim, heads):
    kind = attention_type(name)
    ours = count_params(kind.build(dim, heads, Neurons()))
    theirs = sum(p.numel() for p in REFERENCE[name](dim, heads).parameters())
    assert ours == kind.params(dim, heads) == theirs
    assert abs(ours - theirs) <= 0.005 * theirs


@pytest.mark.parametrize("tokens", TOKENS)
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_macs_equal_flop_counter_in_ours_and_spikingjelly(name, tokens):
    dim, heads = 64, 4
    torch.manual_seed(0)
    kind = attention_type(name)
    closed = kind.macs(dim, heads, tokens)
    ours = _macs(kind.build(dim, heads, Neurons()), _spikes(1, 1, tokens, dim))
    theirs = _macs(REFERENCE[name](dim, heads), _reference_input(name, tokens, dim))
    assert sum(ours.values()) == sum(closed.values())
    linears = sum(v for k, v in closed.items() if k.endswith("linear"))
    assert sum(v for op, v in ours.items() if op != "bmm") == linears
    assert sum(v for op, v in theirs.items() if op != "bmm") == linears
    if name == "ssa":
        assert ours["bmm"] == 2 * tokens * tokens * dim
        assert theirs["bmm"] == 2 * tokens * dim * (dim // heads)
    else:  # masks and sums only: no matrix product at all
        assert "bmm" not in ours and "bmm" not in theirs
        assert sum(theirs.values()) == sum(closed.values())


@pytest.mark.parametrize("name", attention_names())
def test_the_whole_network_counts_what_the_closed_form_says(name):
    arch = Arch(2, 32, (2, 3), (2, 4), (name, "ssa"))
    model = build_model(arch, **DIGITS.model_kwargs())
    closed = analytic_cost(arch, **DIGITS.model_kwargs())
    assert count_params(model) == closed.params
    assert count_macs(model, torch.zeros(2, 1, 16, 16)) == closed.macs
    assert _macs(model, torch.zeros(1, 1, 16, 16)) and sum(_macs(model, torch.zeros(1, 1, 16, 16)).values()) == \
        closed.macs


def test_qk_mask_is_charged_by_the_mask_spikes():
    """The Q-K attention's product ``k AND a`` costs one accumulate per key element a mask spike lets
    through: the record's rate is the mask's (the attention LIF's output), not k's."""
    torch.manual_seed(0)
    arch = Arch(1, 32, (2,), (2,), ("qk",))
    model = build_model(arch, **DIGITS.model_kwargs())
    seen = {}

    def rate_of(key):
        def hook(module, args, out):
            seen[key] = float(out.mean())
        return hook

    model.blocks[0].attn.attn_lif.register_forward_hook(rate_of("mask"))
    model.blocks[0].attn.k_lif.register_forward_hook(rate_of("k"))
    report = measure_network(model, torch.rand(8, 1, 16, 16))
    record = {layer.name: layer for layer in report.layers}["blocks.0.attn.mask"]
    assert record.macs == 0 and record.spike_ops == layer_spike_ops(arch, **DIGITS.model_kwargs())["blocks.0.attn.mask"]
    assert record.firing_rate == pytest.approx(seen["mask"])
    assert record.firing_rate != pytest.approx(seen["k"])
    assert record.energy_mj == pytest.approx(record.spike_ops * record.firing_rate * E_AC_PJ / PJ_PER_MJ)
    assert report.macs == analytic_cost(arch, **DIGITS.model_kwargs()).macs  # masks are not MACs


def test_closed_form_energy_charges_the_same_spike_operations():
    """Calibrated on the architecture itself, the closed form reproduces the measured estimate,
    masks and sums included (every record has its position in the table)."""
    arch = Arch(2, 32, (2, 2), (2, 2), ("sdsa", "qk"), tau=1.5, threshold=0.5)
    batch = torch.rand(8, 1, 16, 16)
    table = calibrate([arch], DIGITS, batch, seed=0)
    torch.manual_seed(arch_seed(0, arch))  # the weights calibrate() measured
    measured = measure_network(build_model(arch, **DIGITS.model_kwargs()), batch).total_mj
    assert closed_form_energy(arch, DIGITS, table, "spikformer-45nm") == pytest.approx(measured, rel=1e-9)
    assert any(part.startswith("sdsa/tau1.5,th0.5/attn.kv_sum") for part, _ in table.layers)


class _Mixer(nn.Module):
    """A toy token mixer: LIF, Linear-BN."""

    def __init__(self, dim: int, heads: int, neurons: Neurons):
        super().__init__()
        self.lif = neurons.lif()
        self.mix = LinearBN(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mix(self.lif(x))


TOY = AttentionType(name="toymix", build=_Mixer, params=lambda d, h: d * d + 2 * d,
                    macs=lambda d, h, tokens: {"mix.linear": tokens * d * d},
                    spike_ops=lambda d, h, tokens: {}, summary="a toy: one linear", source="this test")


@pytest.fixture
def toy():
    register(TOY)
    yield TOY
    unregister(TOY.name)


def test_a_toy_block_type_is_one_declaration(toy, tmp_path):
    space_file = tmp_path / "space.yaml"
    space_file.write_text("SEARCH_SPACE:\n  MLP_RATIO: [2]\n  NUM_HEADS: [2]\n  DEPTH: [1, 2]\n  EMBED_DIM: [32]\n"
                          "  ATTENTION: [ssa, toymix]\n")
    space = SearchSpace.from_yaml(space_file)
    arch = Arch(2, 32, (2, 2), (2, 2), ("toymix", "ssa"))
    assert space.contains(arch) and Arch.from_dict(arch.to_dict()) == arch
    model = build_model(arch, **DIGITS.model_kwargs())
    closed = analytic_cost(arch, **DIGITS.model_kwargs())
    assert count_params(model) == closed.params and count_macs(model, torch.zeros(2, 1, 16, 16)) == closed.macs
    assert any(r.name == "blocks.0.attn.mix.linear" for r in measure_network(model, torch.rand(4, 1, 16, 16)).layers)
    samples = {space.sample(random.Random(seed)).attention for seed in range(40)}
    assert {a for pair in samples for a in pair} == {"ssa", "toymix"}
    best = exact_flops_optimum(space, DIGITS, Constraints(), keep=1)[0]
    assert best[2].attention == ("ssa", "ssa")  # SSA's products outweigh the toy's single linear
