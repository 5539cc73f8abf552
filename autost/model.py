"""The Spikformer / AutoST network (DESIGN.md), built from an ``Arch``.

Tensors are time-first inside: ``[T, B, ...]`` (SpikingJelly multi-step mode). Tokens are
``[T, B, L, D]``. Every layer that multiplies by weights is an ``nn.Conv2d``, an
``nn.Linear`` or an ``AttentionProduct``, so counters and energy hooks find them by type.
"""
from __future__ import annotations

import torch
from torch import nn

from autost.arch import Arch
from autost.backend import select_lif_backend

from spikingjelly.activation_based import functional, neuron, surrogate

ATTENTION_SCALE = 0.125
MAX_STEM_POOLS = 4  # one max-pool per stem conv stage at most


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


def lif(v_threshold: float = 1.0) -> neuron.LIFNode:
    """Multi-step LIF neuron with the Spikformer settings (tau 2, detached reset), integrating
    in float32 under mixed precision (``fp32_lif_input``).

    Each neuron gets its own surrogate module: LIFNode's default is one Sigmoid instance
    shared by every neuron in the process, so anything a tool attaches to it (thop's
    counting buffers, say) would leak into the state dict of every model built later."""
    node = neuron.LIFNode(tau=2.0, v_threshold=v_threshold, surrogate_function=surrogate.Sigmoid(),
                          detach_reset=True, step_mode="m")
    node.register_forward_pre_hook(fp32_lif_input)
    return node


def _over_time(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Apply a single-step module to ``[T, B, ...]`` by folding time into the batch."""
    t, b = x.shape[:2]
    y = module(x.flatten(0, 1))
    return y.reshape(t, b, *y.shape[1:])


class ConvBN(nn.Module):
    """3x3 conv (no bias, BN follows) + BatchNorm2d, optionally max-pooled, over time."""

    def __init__(self, cin: int, cout: int, pool: bool):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel_size=3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1) if pool else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _over_time(lambda z: self.pool(self.bn(self.conv(z))), x)


class LinearBN(nn.Module):
    """Token-wise Linear (no bias, BN follows) + BatchNorm1d over ``[T, B, L, D]``."""

    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.linear = nn.Linear(cin, cout, bias=False)
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


class SpikingSelfAttention(nn.Module):
    """SSA: LIF, q/k/v = Linear-BN-LIF, ``attn = q k^T * 0.125``, ``attn v``, LIF(0.5), Linear-BN."""

    def __init__(self, dim: int, num_heads: int):
        super().__init__()
        self.num_heads = num_heads
        self.input_lif = lif()
        self.q, self.k, self.v = LinearBN(dim, dim), LinearBN(dim, dim), LinearBN(dim, dim)
        self.q_lif, self.k_lif, self.v_lif = lif(), lif(), lif()
        self.qk = AttentionProduct(transpose_rhs=True, scale=ATTENTION_SCALE)
        self.av = AttentionProduct(transpose_rhs=False)
        self.attn_lif = lif(v_threshold=0.5)
        self.proj = LinearBN(dim, dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        t, b, n, d = x.shape
        return x.reshape(t, b, n, self.num_heads, d // self.num_heads).transpose(2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.input_lif(x)
        q = self._heads(self.q_lif(self.q(s)))
        k = self._heads(self.k_lif(self.k(s)))
        v = self._heads(self.v_lif(self.v(s)))
        y = self.av(self.qk(q, k), v)  # [T, B, H, L, d]
        y = y.transpose(2, 3).flatten(-2)
        return self.proj(self.attn_lif(y))


class MLP(nn.Module):
    """LIF, Linear(D, hidden)-BN, LIF, Linear(hidden, D)-BN."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.lif1 = lif()
        self.fc1 = LinearBN(dim, hidden)
        self.lif2 = lif()
        self.fc2 = LinearBN(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.lif2(self.fc1(self.lif1(x))))


class Block(nn.Module):
    def __init__(self, dim: int, num_heads: int, hidden: int):
        super().__init__()
        self.attn = SpikingSelfAttention(dim, num_heads)
        self.mlp = MLP(dim, hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(x)
        return x + self.mlp(x)


class PatchStem(nn.Module):
    """Spiking Patch Splitting: conv-BN-LIF stages of widths D/8, D/4, D/2, D with max-pools
    in the last ``pools`` stages, then a relative-position conv-BN added back."""

    def __init__(self, in_channels: int, dim: int, pools: int):
        super().__init__()
        widths = [dim // 8, dim // 4, dim // 2, dim]
        first_pool = len(widths) - pools
        self.stages = nn.ModuleList()
        self.lifs = nn.ModuleList()
        cin = in_channels
        for i, cout in enumerate(widths):
            self.stages.append(ConvBN(cin, cout, pool=i >= first_pool))
            self.lifs.append(lif())
            cin = cout
        self.rpe = ConvBN(dim, dim, pool=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage, neurons in zip(self.stages, self.lifs):
            x = neurons(stage(x))
        x = x + self.rpe(x)
        return x.flatten(3).transpose(2, 3)  # [T, B, L, D]


class SpikingTransformer(nn.Module):
    """Stem, ``depth`` blocks, head (mean over tokens, Linear, mean over time)."""

    def __init__(self, arch: Arch, *, in_channels: int, img_size: int, num_classes: int,
                 time_steps: int, patch_size: int):
        super().__init__()
        self.arch = arch
        self.time_steps = time_steps
        self.in_channels = in_channels
        self.img_size = img_size
        self.stem = PatchStem(in_channels, arch.embed_dim, stem_pools(img_size, patch_size))
        self.blocks = nn.ModuleList(
            Block(arch.embed_dim, arch.num_heads[i], arch.hidden_dim(i)) for i in range(arch.depth)
        )
        self.head = nn.Linear(arch.embed_dim, num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def to_time_first(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, H, W]`` repeated over T, or ``[B, T, C, H, W]`` frames, as ``[T, B, C, H, W]``."""
        if x.dim() == 4:
            return x.unsqueeze(0).repeat(self.time_steps, 1, 1, 1, 1)
        if x.dim() == 5:
            return x.transpose(0, 1)
        raise ValueError(f"expected [B, C, H, W] or [B, T, C, H, W] input, got shape {tuple(x.shape)}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        functional.reset_net(self)
        x = self.stem(self.to_time_first(x))
        for block in self.blocks:
            x = block(x)
        return self.head(x.mean(dim=2)).mean(dim=0)


def stem_pools(img_size: int, patch_size: int) -> int:
    """Number of stem max-pools for ``patch_size`` x ``patch_size`` pixel patches: one halving per
    factor of two in the patch, ``log2(patch_size)``, so the token grid is ``img_size / patch_size``
    a side (CIFAR 32x32, patch 4: 2 pools, 8x8 tokens; DVS 128x128, patch 16: 4 pools, 8x8)."""
    if img_size <= 0 or patch_size <= 0:
        raise ValueError(f"img_size {img_size} and patch_size {patch_size} must be positive")
    pools = patch_size.bit_length() - 1
    if 1 << pools != patch_size:
        raise ValueError(f"patch_size {patch_size} must be a power of two (one max-pool per halving); "
                         f"use 1, 2, 4, 8 or 16")
    if img_size % patch_size:
        raise ValueError(f"patch_size {patch_size} must divide img_size {img_size}; "
                         f"pick a power of two that does")
    if pools > MAX_STEM_POOLS:
        raise ValueError(f"patch_size {patch_size} needs {pools} halvings; the stem has "
                         f"{MAX_STEM_POOLS} stages, so use a patch_size of at most {1 << MAX_STEM_POOLS}")
    return pools


def token_grid(img_size: int, patch_size: int) -> int:
    """Tokens a side after the stem: ``img_size / patch_size`` (checked by ``stem_pools``)."""
    stem_pools(img_size, patch_size)
    return img_size // patch_size


def build_model(arch: Arch, *, in_channels: int, img_size: int, num_classes: int, time_steps: int,
                patch_size: int, backend: str = "auto") -> SpikingTransformer:
    """Build the network for ``arch``. ``backend`` picks the LIF implementation on CUDA
    ("auto": SpikingJelly's GPU kernels when available; "torch"; "cuda"); the CPU always
    runs SpikingJelly's torch implementation."""
    if time_steps <= 0 or num_classes <= 0 or in_channels <= 0:
        raise ValueError("time_steps, num_classes and in_channels must be positive")
    select_lif_backend(backend)
    return SpikingTransformer(arch, in_channels=in_channels, img_size=img_size, num_classes=num_classes,
                              time_steps=time_steps, patch_size=patch_size)
