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

import thop
import torch
from spikingjelly.activation_based import neuron
from torch import nn

from autost.arch import Arch
from autost.blocks import attention_type
from autost.layers import AttentionProduct
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
