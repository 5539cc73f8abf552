"""Cross-checks against an independent implementation: SpikingJelly 2.0's own Spikformer,
built at the geometry of every dataset the product knows, counted by torch's FlopCounterMode.

SpikingJelly's stem takes patch 4 (pools in its last two stages) or 16 (in all four). For
patch 8 (ndigits) it is built for patch 16 and its first stage's max-pool is taken out,
which leaves the three pools, in the last three stages, that 8x8 patches need; none of its
weight layers is touched.

Checked per geometry: the token grid, the parameter count, and the conv + linear MACs, layer
by layer (stem stages, relative position conv, each block's attention and MLP, the head), for
our built model and for our closed form. The attention products are compared by their
documented conventions: we multiply ``(q k^T) v`` (2 L^2 D MACs a block and step), SpikingJelly
multiplies ``q (k^T v)`` (2 L D d, d = D / heads); with no softmax the two give the same result.
"""
import pytest
import torch
from spikingjelly.activation_based.model.spikformer import Spikformer, spikformer_cifar10
from torch.utils.flop_counter import FlopCounterMode

from autost.arch import Arch
from autost.cost import analytic_cost, count_params
from autost.model import build_model, token_grid
from datasets import KNOWN, dataset_info

SMALL = Arch(2, 64, (4, 4), (4, 4))
T = 2  # MACs are linear in T; two steps keep the 128x128 geometries fast
LAYER_PAIRS = [("stem.stages.0", "patch_embed.stages.0"), ("stem.stages.1", "patch_embed.stages.1"),
               ("stem.stages.2", "patch_embed.stages.2"), ("stem.stages.3", "patch_embed.stages.3"),
               ("stem.rpe", "patch_embed.positional_encoding"), ("head", "head")]


def _geometry(name: str, time_steps: int = T) -> dict:
    info = dataset_info(name)
    return dict(in_channels=info.in_channels, img_size=info.img_size, patch_size=info.patch_size,
                num_classes=info.num_classes, time_steps=time_steps)


def _spikingjelly(arch: Arch, geo: dict) -> Spikformer:
    assert len(set(arch.mlp_ratio)) == 1 and len(set(arch.num_heads)) == 1, "SpikingJelly's blocks are uniform"
    patch = geo["patch_size"]
    model = Spikformer(T=geo["time_steps"], in_channels=geo["in_channels"], img_size_h=geo["img_size"],
                       img_size_w=geo["img_size"], patch_size=16 if patch == 8 else patch,
                       num_classes=geo["num_classes"], embed_dims=arch.embed_dim, num_heads=arch.num_heads[0],
                       mlp_ratio=arch.mlp_ratio[0], depths=arch.depth)
    if patch == 8:
        block = model.patch_embed.stages[0].conv_bn.block
        assert isinstance(block[-1], torch.nn.MaxPool2d)
        block[-1] = torch.nn.Identity()
        model.patch_embed.grid_size = (geo["img_size"] // 8,) * 2
    return model


def _counts(model: torch.nn.Module, x: torch.Tensor) -> dict[str, dict[str, int]]:
    """FlopCounterMode's FLOPs per module (prefix: the model's class name dropped) and per op."""
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    prefix = type(model).__name__
    return {("" if k == prefix else k.removeprefix(prefix + ".")): {str(op): int(v) for op, v in ops.items()}
            for k, ops in counter.get_flop_counts().items() if k == prefix or k.startswith(prefix + ".")}


def _weight_macs(ops: dict[str, int]) -> int:
    """Conv and linear MACs (FLOPs / 2): every op except the batched matrix products of attention."""
    return sum(v for op, v in ops.items() if "bmm" not in op) // 2


def _inputs(name: str, geo: dict) -> tuple[torch.Tensor, torch.Tensor]:
    """One sample for our model and for SpikingJelly's (static: [1, C, H, W] for both; events:
    ours batch-first [1, T, C, H, W], SpikingJelly's time-first [T, 1, C, H, W])."""
    c, s, t = geo["in_channels"], geo["img_size"], geo["time_steps"]
    if dataset_info(name).kind == "static":
        x = torch.randn(1, c, s, s)
        return x, x
    x = torch.rand(1, t, c, s, s)
    return x, x.transpose(0, 1)


@pytest.mark.parametrize("name", KNOWN)
def test_tokens_params_and_macs_equal_spikingjelly_spikformer(name):
    geo = _geometry(name)
    torch.manual_seed(0)
    ours, theirs = build_model(SMALL, **geo), _spikingjelly(SMALL, geo)
    ours_x, their_x = _inputs(name, geo)

    side = geo["img_size"] // geo["patch_size"]
    assert token_grid(geo["img_size"], geo["patch_size"]) == side
    assert theirs.patch_embed.grid_size == (side, side)
    with torch.no_grad():
        assert ours.stem(ours.to_time_first(ours_x)).shape[2] == side * side
        assert theirs.patch_embed(their_x if their_x.dim() == 5 else theirs._to_sequence(their_x)).shape[-2:] == (
            side, side)

    closed = analytic_cost(SMALL, **geo)
    assert count_params(ours) == closed.params == sum(p.numel() for p in theirs.parameters())

    mine, ref = _counts(ours, ours_x), _counts(theirs, their_x)
    for our_layer, their_layer in LAYER_PAIRS:
        assert _weight_macs(mine[our_layer]) == _weight_macs(ref[their_layer]), our_layer
    for i in range(SMALL.depth):
        for part in ("attn", "mlp"):
            assert _weight_macs(mine[f"blocks.{i}.{part}"]) == _weight_macs(ref[f"blocks.{i}.{part}"]), (i, part)
    assert _weight_macs(mine[""]) == _weight_macs(ref[""])

    tokens, d = side * side, SMALL.embed_dim
    attention = T * SMALL.depth * 2 * tokens * tokens * d
    head_dim = d // SMALL.num_heads[0]
    assert sum(v for op, v in mine[""].items() if "bmm" in op) // 2 == attention
    assert sum(v for op, v in ref[""].items() if "bmm" in op) // 2 == T * SMALL.depth * 2 * tokens * d * head_dim
    assert closed.macs == _weight_macs(ref[""]) + attention


def test_spikformer_4_384_at_cifar_shape():
    """The paper's anchor: Spikformer-4-384 on CIFAR-10 (T 4) against SpikingJelly's
    ``spikformer_cifar10()``: 64 tokens, 9,310,906 params, conv + linear MACs equal."""
    arch = Arch(4, 384, (4,) * 4, (12,) * 4)
    geo = _geometry("cifar10", time_steps=4)
    ours, theirs = build_model(arch, **geo), spikformer_cifar10()
    assert theirs.patch_embed.grid_size == (8, 8) and token_grid(32, 4) == 8
    closed = analytic_cost(arch, **geo)
    assert closed.params == count_params(ours) == sum(p.numel() for p in theirs.parameters()) == 9_310_906
    x = torch.randn(1, 3, 32, 32)
    theirs_macs = _weight_macs(_counts(theirs, x)[""])
    assert _weight_macs(_counts(ours, x)[""]) == theirs_macs
    assert closed.macs - 4 * 4 * 2 * 64 * 64 * 384 == theirs_macs
    assert closed.macs == pytest.approx(3.736e9, rel=1e-3)  # 3.71 G in SpikingJelly's product order
