"""The Spikformer / AutoST network (docs/architecture.md), built from an ``Arch``.

The SHORTCUT gene arranges every residual branch (``autost.layers.branch_lifs``): ``spike``,
Spikformer's (the default; AutoST's network is Spikformer's), reads the stream as it is and ends
each branch in BN-LIF, and the position conv's BN is followed by a LIF; ``membrane``, the
Spike-driven Transformer's, starts each branch with a LIF, ends it in BN, and adds the position
conv's BN output. ``spike`` is SpikingJelly 2.0's ``Spikformer`` output for output
(tests/test_equivalence.py).

Tensors are time-first inside: ``[T, B, ...]`` (SpikingJelly multi-step mode). Tokens are
``[T, B, L, D]``. Every layer that multiplies by weights is an ``nn.Conv2d``, an
``nn.Linear`` or an ``AttentionProduct``, and every spike-only attention operation a
``SpikeMask`` or ``SpikeSum`` (``autost.layers``), so counters and energy hooks find them by
type. Each block's attention is built by its registered type (``autost.blocks``).
"""
from __future__ import annotations

import torch
from torch import nn

from autost.arch import Arch
from autost.backend import select_lif_backend
from autost.blocks import attention_type
from autost.layers import DEFAULT_SHORTCUT, DropPath, LinearBN, Neurons, branch_lifs

from spikingjelly.activation_based import functional

MAX_STEM_POOLS = 4  # one max-pool per stem conv stage at most
# In the fingerprint of every resumable study and search: an architecture file without SHORTCUT
# meant the membrane network before the gene and means Spikformer's spike network since, so a run
# written before it must not be continued with the other network ("network" absent there).
NETWORK = "shortcut-gene"


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


class MLP(nn.Module):
    """Linear(D, hidden)-BN, LIF, Linear(hidden, D)-BN, with a LIF in front (``membrane``: LIF,
    Linear-BN, LIF, Linear-BN) or after (``spike``: Linear-BN-LIF twice, Spikformer's)."""

    def __init__(self, dim: int, hidden: int, neurons: Neurons = Neurons(), shortcut: str = DEFAULT_SHORTCUT):
        super().__init__()
        self.in_lif, self.out_lif = branch_lifs(shortcut, neurons)
        self.fc1 = LinearBN(dim, hidden)
        self.hidden_lif = neurons.lif()
        self.fc2 = LinearBN(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_lif(self.fc2(self.hidden_lif(self.fc1(self.in_lif(x)))))


class Block(nn.Module):
    """``x = x + attention(x); x = x + MLP(x)``, the attention of the registered type ``attention``
    between the LIFs its ``shortcut`` puts in front of it or after it; each branch dropped with
    probability ``drop_path`` per sample in training (stochastic depth; 0, the default, never)."""

    def __init__(self, dim: int, num_heads: int, hidden: int, attention: str = "ssa", neurons: Neurons = Neurons(),
                 shortcut: str = DEFAULT_SHORTCUT, drop_path: float = 0.0):
        super().__init__()
        self.in_lif, self.out_lif = branch_lifs(shortcut, neurons)
        self.attn = attention_type(attention).build(dim, num_heads, neurons)
        self.mlp = MLP(dim, hidden, neurons, shortcut)
        self.drop_path = DropPath(drop_path) if drop_path else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.out_lif(self.attn(self.in_lif(x))))
        return x + self.drop_path(self.mlp(x))


class PatchStem(nn.Module):
    """Spiking Patch Splitting: conv-BN-LIF stages of widths D/8, D/4, D/2, D with max-pools
    in the last ``pools`` stages, then a relative-position conv-BN (-LIF under the spike shortcut,
    as Spikformer's) added back."""

    def __init__(self, in_channels: int, dim: int, pools: int, neurons: Neurons = Neurons(),
                 shortcut: str = DEFAULT_SHORTCUT):
        super().__init__()
        widths = [dim // 8, dim // 4, dim // 2, dim]
        first_pool = len(widths) - pools
        self.stages = nn.ModuleList()
        self.lifs = nn.ModuleList()
        cin = in_channels
        for i, cout in enumerate(widths):
            self.stages.append(ConvBN(cin, cout, pool=i >= first_pool))
            self.lifs.append(neurons.lif())
            cin = cout
        self.rpe = ConvBN(dim, dim, pool=False)
        _, self.rpe_lif = branch_lifs(shortcut, neurons)  # no LIF in front: the stages end in one

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for stage, neurons in zip(self.stages, self.lifs):
            x = neurons(stage(x))
        x = x + self.rpe_lif(self.rpe(x))
        return x.flatten(3).transpose(2, 3)  # [T, B, L, D]


class SpikingTransformer(nn.Module):
    """Stem, ``depth`` blocks, head (mean over tokens, Linear, mean over time). ``time_steps`` is
    the run's T; the architecture's TIME_STEPS gene, when it has one, takes its place. ``drop_path``:
    the stochastic-depth rate of the last block, rising linearly from 0 at the first (timm's rule)."""

    def __init__(self, arch: Arch, *, in_channels: int, img_size: int, num_classes: int,
                 time_steps: int, patch_size: int, drop_path: float = 0.0):
        super().__init__()
        self.arch = arch
        self.time_steps = arch.steps(time_steps)
        self.in_channels = in_channels
        self.img_size = img_size
        neurons = arch.neurons
        self.stem = PatchStem(in_channels, arch.embed_dim, stem_pools(img_size, patch_size), neurons, arch.shortcut)
        rates = [drop_path * i / max(arch.depth - 1, 1) for i in range(arch.depth)]
        self.blocks = nn.ModuleList(
            Block(arch.embed_dim, arch.num_heads[i], arch.hidden_dim(i), arch.attention[i], neurons, arch.shortcut,
                  rates[i])
            for i in range(arch.depth)
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
            if x.shape[1] != self.time_steps:
                raise ValueError(f"the event frames hold {x.shape[1]} time steps but the network runs "
                                 f"{self.time_steps}; bin the events into the architecture's TIME_STEPS")
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
                patch_size: int, backend: str = "auto", drop_path: float = 0.0) -> SpikingTransformer:
    """Build the network for ``arch``. ``backend`` picks the LIF implementation on CUDA
    ("auto": SpikingJelly's GPU kernels when available; "torch"; "cuda"); the CPU always
    runs SpikingJelly's torch implementation. ``drop_path``: stochastic depth for training."""
    if time_steps <= 0 or num_classes <= 0 or in_channels <= 0:
        raise ValueError("time_steps, num_classes and in_channels must be positive")
    select_lif_backend(backend)
    return SpikingTransformer(arch, in_channels=in_channels, img_size=img_size, num_classes=num_classes,
                              time_steps=time_steps, patch_size=patch_size, drop_path=drop_path)
