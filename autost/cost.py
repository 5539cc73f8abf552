"""MACs and parameters: counted with thop on a built model, and in closed form from an Arch.

Convention (docs/conventions.md): MACs of ONE sample over ALL time steps, counting convolutions,
linear layers and the attention matrix products (SSA's two). BatchNorm (foldable into the
preceding layer at inference), LIF neurons, max-pooling, additions, means and spike masks
(SDSA's and Q-K attention's) are not MACs. This is also what
``torch.utils.flop_counter.FlopCounterMode`` counts (FLOPs = 2 x MACs). Each block's attention
declares its own share (``autost.blocks``); the architecture's TIME_STEPS gene, when it has one,
replaces ``time_steps`` and multiplies every count.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import thop
import torch
from spikingjelly.activation_based import neuron
from torch import nn

from autost.arch import Arch
from autost.blocks import attention_type
from autost.layers import SPIKE, AttentionProduct
from autost.model import MAX_STEM_POOLS, stem_pools


@dataclass(frozen=True)
class Cost:
    params: int
    macs: int


def module_macs(module: nn.Module, inputs: tuple, output: torch.Tensor) -> int:
    """MACs of one call of a weight layer (whole batch), by the same rule thop uses."""
    if isinstance(module, nn.Conv2d):
        per_output = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
        return output.numel() * per_output
    if isinstance(module, nn.Linear):
        return output.numel() * module.in_features
    if isinstance(module, AttentionProduct):
        return output.numel() * inputs[0].shape[-1]
    raise TypeError(f"not a weight layer: {type(module).__name__}")


def _attention_hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
    module.total_ops += torch.DoubleTensor([module_macs(module, inputs, output)])


def _no_macs(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
    """BatchNorm is folded into the preceding layer at inference; thop would count 2 per element."""


_CUSTOM_OPS = {
    AttentionProduct: _attention_hook,
    nn.BatchNorm1d: _no_macs,
    nn.BatchNorm2d: _no_macs,
    nn.MaxPool2d: _no_macs,
    neuron.LIFNode: _no_macs,
}


def count_macs(model: nn.Module, example_input: torch.Tensor) -> int:
    """MACs per sample over all time steps, counted by thop's module hooks plus our rule for
    the attention products. ``example_input`` may hold any batch size; the count is per sample."""
    was_training = model.training
    macs, _ = thop.profile(model, inputs=(example_input,), custom_ops=_CUSTOM_OPS, verbose=False)
    model.train(was_training)
    return round(macs / example_input.shape[0])


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _tokens_and_stem(arch: Arch, in_channels: int, img_size: int, patch_size: int) -> tuple[int, dict[str, int]]:
    """The token count and the stem's MACs per step, by layer name."""
    d = arch.embed_dim
    pools = stem_pools(img_size, patch_size)
    macs: dict[str, int] = {}
    side, cin = img_size, in_channels
    for i, cout in enumerate([d // 8, d // 4, d // 2, d]):
        macs[f"stem.stages.{i}.conv"] = side * side * 9 * cin * cout
        if i >= MAX_STEM_POOLS - pools:
            side = (side + 1) // 2  # MaxPool2d(3, stride 2, padding 1)
        cin = cout
    macs["stem.rpe.conv"] = side * side * 9 * d * d
    return side * side, macs


def layer_macs(arch: Arch, *, in_channels: int, img_size: int, patch_size: int, time_steps: int,
               num_classes: int) -> dict[str, int]:
    """MACs per sample over all T steps of every weight layer, in closed form, keyed by the
    layer's module name in ``autost.model`` (as the energy estimate's records name them)."""
    d = arch.embed_dim
    tokens, macs = _tokens_and_stem(arch, in_channels, img_size, patch_size)
    for i in range(arch.depth):
        hidden, block = arch.hidden_dim(i), f"blocks.{i}"
        for name, value in attention_type(arch.attention[i]).macs(d, arch.num_heads[i], tokens).items():
            macs[f"{block}.attn.{name}"] = value
        macs[f"{block}.mlp.fc1.linear"] = macs[f"{block}.mlp.fc2.linear"] = tokens * d * hidden
    macs["head"] = d * num_classes
    steps = arch.steps(time_steps)
    return {name: value * steps for name, value in macs.items()}


def layer_spike_ops(arch: Arch, *, in_channels: int, img_size: int, patch_size: int, time_steps: int,
                    num_classes: int) -> dict[str, int]:
    """The attention's spike operations (masks and sums, not MACs) per sample over all T steps, as
    each type declares them, keyed by module name; the energy estimate charges each one an
    accumulate times its gating operand's firing rate. Empty for an all-SSA network."""
    tokens, _ = _tokens_and_stem(arch, in_channels, img_size, patch_size)
    steps = arch.steps(time_steps)
    ops: dict[str, int] = {}
    for i in range(arch.depth):
        for name, value in attention_type(arch.attention[i]).spike_ops(arch.embed_dim, arch.num_heads[i],
                                                                       tokens).items():
            ops[f"blocks.{i}.attn.{name}"] = value * steps
    return ops


def analytic_cost(arch: Arch, *, in_channels: int, img_size: int, patch_size: int, time_steps: int,
                  num_classes: int) -> Cost:
    """Params and MACs (per sample, all T steps) in closed form, without building a model.

    Mirrors ``autost.model``: bias-free convs and linears each followed by BatchNorm
    (2 parameters per channel), a biased classifier head; each attention as its type declares.
    """
    d = arch.embed_dim
    widths = [d // 8, d // 4, d // 2, d]
    params, cin = 0, in_channels
    for cout in widths:
        params += 9 * cin * cout + 2 * cout
        cin = cout
    params += 9 * d * d + 2 * d  # relative position conv
    for i in range(arch.depth):
        hidden = arch.hidden_dim(i)
        params += attention_type(arch.attention[i]).params(d, arch.num_heads[i])
        params += 2 * d * hidden + 2 * hidden + 2 * d  # the MLP's two linears with BatchNorm
    params += d * num_classes + num_classes
    macs = layer_macs(arch, in_channels=in_channels, img_size=img_size, patch_size=patch_size,
                      time_steps=time_steps, num_classes=num_classes)
    return Cost(params=params, macs=sum(macs.values()))


class WeightLayer(NamedTuple):  # a tuple: built some fifty times per candidate, frozen dataclasses cost more
    """One conv or linear layer of a network, per sample and time step: what the memory-aware
    energy model (Lemaire et al. 2022) counts accesses of. ``taps``: kernel positions (9 for the
    stem's 3x3 convs, 1 for a linear); ``fan_in``: inputs per output (``in_channels x taps``)."""

    name: str
    conv: bool
    fan_in: int
    out_channels: int
    taps: int
    in_elements: int
    out_elements: int
    params: int
    bias: bool


class Part(NamedTuple):
    """A stretch of the network (the stem, one block, the head): its conv and linear layers and its
    LIF neurons by name with the values each emits per step and sample."""

    layers: list[WeightLayer]
    lifs: dict[str, int]


def _linear(name: str, din: int, dout: int, bias: bool, rows: int) -> WeightLayer:
    return WeightLayer(name, False, din, dout, 1, rows * din, rows * dout, din * dout + dout * bias, bias)


def stem_part(arch: Arch, *, in_channels: int, img_size: int, patch_size: int) -> tuple[Part, int]:
    """The stem's convs and LIFs (mirrors ``autost.model.PatchStem``), and the token count."""
    d = arch.embed_dim
    pools = stem_pools(img_size, patch_size)
    layers, lifs, side, cin = [], {}, img_size, in_channels
    for i, cout in enumerate([d // 8, d // 4, d // 2, d]):
        layers.append(WeightLayer(f"stem.stages.{i}.conv", True, 9 * cin, cout, 9, cin * side * side,
                                  cout * side * side, 9 * cin * cout, False))
        if i >= MAX_STEM_POOLS - pools:
            side = (side + 1) // 2  # the LIF reads the pooled BatchNorm output
        lifs[f"stem.lifs.{i}"] = cout * side * side
        cin = cout
    tokens = side * side
    layers.append(WeightLayer("stem.rpe.conv", True, 9 * d, d, 9, d * tokens, d * tokens, 9 * d * d, False))
    if arch.shortcut == SPIKE:
        lifs["stem.rpe_lif"] = d * tokens
    return Part(layers, lifs), tokens


def block_part(arch: Arch, i: int, tokens: int) -> Part:
    """Block ``i``'s linears and LIFs (mirrors ``autost.model.Block``: the attention's as its type
    declares them, ``AttentionType.linears`` and ``lifs``; each branch's LIF in front under the
    membrane shortcut, after it under the spike shortcut, ``autost.layers.branch_lifs``)."""
    d, hidden, heads, block = arch.embed_dim, arch.hidden_dim(i), arch.num_heads[i], f"blocks.{i}"
    kind = attention_type(arch.attention[i])
    if kind.linears is None or kind.lifs is None:
        raise ValueError(f"attention type {kind.name!r} does not declare its linears and LIFs, which the memory-aware "
                         "closed form needs (AttentionType.linears, AttentionType.lifs)")
    layers = [_linear(f"{block}.attn.{name}", din, dout, bias, tokens)
              for name, (din, dout, bias) in kind.linears(d, heads).items()]
    layers += [_linear(f"{block}.mlp.fc1.linear", d, hidden, False, tokens),
               _linear(f"{block}.mlp.fc2.linear", hidden, d, False, tokens)]
    edge = "out_lif" if arch.shortcut == SPIKE else "in_lif"
    lifs = {f"{block}.{edge}": tokens * d, f"{block}.mlp.{edge}": tokens * d,
            f"{block}.mlp.hidden_lif": tokens * hidden}
    lifs.update({f"{block}.attn.{name}": n for name, n in kind.lifs(d, heads, tokens).items()})
    return Part(layers, lifs)


def head_part(arch: Arch, num_classes: int) -> Part:
    """The classifier, on the mean over tokens."""
    return Part([_linear("head", arch.embed_dim, num_classes, True, 1)], {})


def network_parts(arch: Arch, *, in_channels: int, img_size: int, patch_size: int, time_steps: int,
                  num_classes: int) -> list[Part]:
    """The stem, each block and the head of ``arch``'s network, in closed form."""
    stem, tokens = stem_part(arch, in_channels=in_channels, img_size=img_size, patch_size=patch_size)
    return [stem, *(block_part(arch, i, tokens) for i in range(arch.depth)), head_part(arch, num_classes)]


def lif_elements(arch: Arch, **geometry: int) -> dict[str, int]:
    """Every LIF neuron of ``arch``'s network by module name, with the values it emits per step and
    sample, in closed form."""
    return {name: n for part in network_parts(arch, **geometry) for name, n in part.lifs.items()}
