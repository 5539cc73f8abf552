"""Import a SpikingJelly 2.0 ``Spikformer`` into our own network, weights and statistics included.

``from_spikingjelly(model)`` returns a ``SpikingTransformer`` built by ``build_model`` (no
SpikingJelly model class inside) that computes what ``model`` computes: Spikformer's spike
shortcut, its geometry, depth, width, heads and MLP ratio read off the module, every weight and
BatchNorm statistic copied in. SpikingJelly's fused projections are split: the attention's
``qkv_conv_bn`` (one D -> 3D 1x1 conv and a 3D-channel BatchNorm) becomes our q, k and v
Linear-BN (a BatchNorm is per channel, so splitting it changes nothing), and every 1x1 ``Conv1d``
a ``Linear``. Its neurons must be the LIF neurons our network builds (one tau, the attention LIF at
half the others' threshold, hard reset to 0, detached reset, sigmoid surrogate): anything else is
refused in one line rather than imported as another network.

The original Spikformer repository's CIFAR checkpoints (``patch_embed.proj_conv``,
``block.N.attn.q_linear``, ...) are not read: its stem max-pools the spikes after the LIF, where
SpikingJelly's (and ours) pools the BatchNorm output before it, so its weights in our network would
compute another network.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

from autost.arch import Arch
from autost.checkpoint import load_weights_only
from autost.errors import UsageError
from autost.geometry import Geometry
from autost.layers import ATTENTION_THRESHOLD_RATIO, SPIKE
from autost.model import SpikingTransformer, build_model


class ImportRefused(UsageError):
    """A model that is not a network ours can reproduce output for output."""


def _lif_settings(model: nn.Module) -> tuple[float, float]:
    """(tau, threshold) of ``model``'s LIF neurons, checked to be ours; else ``ImportRefused``."""
    from spikingjelly.activation_based import neuron, surrogate

    taus, plain, attention = set(), set(), set()
    for name, node in model.named_modules():
        if not isinstance(node, neuron.BaseNode):
            continue
        if type(node) is not neuron.LIFNode:
            raise ImportRefused(f"{name} is a {type(node).__name__}; only LIF neurons (SpikingJelly's LIFNode, "
                                "Spikformer's default) can be imported")
        if node.v_reset != 0.0 or not node.detach_reset or not node.decay_input:
            raise ImportRefused(f"{name}: only a hard reset to 0 with detach_reset=True and decay_input=True "
                                f"(Spikformer's LIF) can be imported, got v_reset={node.v_reset}, "
                                f"detach_reset={node.detach_reset}, decay_input={node.decay_input}")
        if type(node.surrogate_function) is not surrogate.Sigmoid or node.surrogate_function.alpha != 4.0:
            raise ImportRefused(f"{name}: only the sigmoid surrogate with alpha 4 (SpikingJelly's default) can be "
                                "imported; another surrogate would train another network")
        taus.add(float(node.tau))
        (attention if name.endswith("attn.attn_lif") else plain).add(float(node.v_threshold))
    if len(taus) != 1 or len(plain) != 1 or len(attention) > 1:
        raise ImportRefused(f"the neurons must share one tau and one threshold (the attention LIF at half of it); "
                            f"got taus {sorted(taus)}, thresholds {sorted(plain)}, attention {sorted(attention)}")
    tau, threshold = taus.pop(), plain.pop()
    if attention and attention.pop() != threshold * ATTENTION_THRESHOLD_RATIO:
        raise ImportRefused(f"the attention LIF must fire at half the other neurons' threshold {threshold:g}, "
                            "as Spikformer's does")
    if tau <= 1:
        raise ImportRefused(f"tau {tau:g} is not greater than 1")
    return tau, threshold


def spikingjelly_geometry(model: nn.Module) -> Geometry:
    """The geometry a SpikingJelly ``Spikformer`` was built for. The patch is read off its stem's
    max-pools (one halving each), which must sit in the last stages, as ours do."""
    stem = model.patch_embed
    height, width = stem.image_size
    if height != width:
        raise ImportRefused(f"the model takes {height}x{width} images; only square images can be imported")
    pooled = [any(isinstance(m, nn.MaxPool2d) for m in stage.modules()) for stage in stem.stages]
    pools = sum(pooled)
    if pooled != [False] * (len(pooled) - pools) + [True] * pools:
        raise ImportRefused(f"the stem pools in stages {[i for i, p in enumerate(pooled) if p]}; ours pools in the "
                            "last stages only")
    first = stem.stages[0].conv_bn.block[0]
    return Geometry(in_channels=first.in_channels, img_size=height, patch_size=2 ** pools,
                    num_classes=model.num_classes, time_steps=int(model.T))


def spikingjelly_arch(model: nn.Module) -> Arch:
    """The architecture of a SpikingJelly ``Spikformer``: Spikformer's network (spike shortcut)."""
    blocks = list(model.blocks)
    if not blocks:
        raise ImportRefused("the model has no transformer block")
    dim = int(model.embed_dims)
    hidden = [block.mlp.fc1[0].out_channels for block in blocks]
    heads = tuple(int(block.attn.num_heads) for block in blocks)
    tau, threshold = _lif_settings(model)
    arch = Arch(len(blocks), dim, tuple(h / dim for h in hidden), heads, tau=tau, threshold=threshold, shortcut=SPIKE)
    if [arch.hidden_dim(i) for i in range(arch.depth)] != hidden:
        raise ImportRefused(f"MLP widths {hidden} are not int(EMBED_DIM x MLP_RATIO) of any ratio")
    return arch


def linear_weight(weight: torch.Tensor) -> torch.Tensor:
    """A 1x1 ``Conv1d`` weight ``[out, in, 1]`` as a ``Linear`` weight ``[out, in]``."""
    return weight[..., 0]


def batchnorm_state(state: Mapping[str, torch.Tensor], prefix: str, rows: slice = slice(None)) -> dict[str, torch.Tensor]:
    """A BatchNorm's tensors under ``prefix`` (``weight.``, ``bias``, running statistics), its channels ``rows``."""
    out = {key: state[prefix + key][rows] for key in ("weight", "bias", "running_mean", "running_var")}
    out["num_batches_tracked"] = state[prefix + "num_batches_tracked"]
    return out


def split_projection(state: Mapping[str, torch.Tensor], prefix: str, names: str, dim: int
                     ) -> dict[str, torch.Tensor]:
    """A fused 1x1 Conv1d-BN under ``prefix`` (``0.weight``, ``1.*``) with ``len(names)`` x ``dim``
    outputs, as our Linear-BN layers ``names`` (``"qkv"`` -> ``q.linear.weight``, ``q.bn.weight``, ...)."""
    weight = linear_weight(state[prefix + "0.weight"])
    ours = {}
    for j, name in enumerate(names):
        rows = slice(j * dim, (j + 1) * dim)
        ours[f"{name}.linear.weight"] = weight[rows]
        ours.update({f"{name}.bn.{key}": value for key, value in batchnorm_state(state, prefix + "1.", rows).items()})
    return ours


def translate_state(state: Mapping[str, torch.Tensor], arch: Arch) -> dict[str, torch.Tensor]:
    """A SpikingJelly ``Spikformer`` state dict in our network's key names."""
    ours: dict[str, torch.Tensor] = {}

    def put(prefix: str, tensors: Mapping[str, torch.Tensor]) -> None:
        for key, value in tensors.items():
            ours[f"{prefix}.{key}"] = value

    for i in range(4):
        source = f"patch_embed.stages.{i}.conv_bn.block."
        ours[f"stem.stages.{i}.conv.weight"] = state[source + "0.weight"]
        put(f"stem.stages.{i}.bn", batchnorm_state(state, source + "1."))
    ours["stem.rpe.conv.weight"] = state["patch_embed.positional_encoding.conv_bn.block.0.weight"]
    put("stem.rpe.bn", batchnorm_state(state, "patch_embed.positional_encoding.conv_bn.block.1."))
    for i in range(arch.depth):
        block = f"blocks.{i}."
        put(block + "attn", split_projection(state, block + "attn.qkv_conv_bn.", "qkv", arch.embed_dim))
        put(block + "attn", split_projection(state, block + "attn.proj_conv_bn.", ["proj"], arch.embed_dim))
        put(block + "mlp", split_projection(state, block + "mlp.fc1.", ["fc1"], arch.hidden_dim(i)))
        put(block + "mlp", split_projection(state, block + "mlp.fc2.", ["fc2"], arch.embed_dim))
    ours["head.weight"], ours["head.bias"] = state["head.weight"], state["head.bias"]
    return {key: value.detach().clone() for key, value in ours.items()}


def from_spikingjelly(model: nn.Module) -> SpikingTransformer:
    """Our network with the weights and running statistics of a SpikingJelly 2.0 ``Spikformer``
    (any constructor: ``spikformer_cifar10()``, ``spikformer_ti()``, ``Spikformer(...)``)."""
    from spikingjelly.activation_based.model.spikformer import Spikformer

    if not isinstance(model, Spikformer):
        raise ImportRefused(f"expected SpikingJelly's Spikformer, got {type(model).__name__}")
    arch = spikingjelly_arch(model)
    geometry = spikingjelly_geometry(model)
    ours = build_model(arch, **geometry.model_kwargs())
    ours.load_state_dict(translate_state(model.state_dict(), arch))
    return ours


# SpikingJelly's Spikformer constructors ``run.py import --spikingjelly`` takes, and whether each
# takes the input geometry (the CIFAR-10 one is fixed at 3x32x32, patch 4).
CONSTRUCTORS = {"spikformer_cifar10": False, "spikformer_ti": True, "spikformer_s": True}


def spikingjelly_model(name: str, *, in_channels: int, img_size: int, num_classes: int,
                       time_steps: int) -> nn.Module:
    """SpikingJelly's constructor ``name`` at a dataset's geometry (where it takes one)."""
    from spikingjelly.activation_based.model import spikformer

    if name not in CONSTRUCTORS:
        raise ImportRefused(f"unknown SpikingJelly model {name!r}; use one of {', '.join(CONSTRUCTORS)}")
    kwargs: dict[str, Any] = {"T": time_steps, "num_classes": num_classes}
    if CONSTRUCTORS[name]:
        kwargs.update(in_channels=in_channels, img_size_h=img_size, img_size_w=img_size)
    return getattr(spikformer, name)(**kwargs)


def load_spikingjelly_weights(model: nn.Module, path: str) -> None:
    """A state dict saved from a SpikingJelly Spikformer (bare, or under ``model`` / ``state_dict``),
    read with ``weights_only=True``, into ``model``; a file that does not fit is one line."""
    try:
        data = load_weights_only(path)
    except FileNotFoundError:
        raise
    except Exception as err:  # torch raises many types for a damaged or foreign file
        raise ImportRefused(f"{path}: not a readable state dict ({type(err).__name__}); save one with "
                            "torch.save(model.state_dict(), FILE)") from None
    if isinstance(data, Mapping):
        data = next((data[k] for k in ("model", "state_dict") if isinstance(data.get(k), Mapping)), data)
    try:
        model.load_state_dict(data)
    except (RuntimeError, TypeError, AttributeError) as err:
        first = " ".join(str(err).split())[:200]
        raise ImportRefused(f"{path} does not fit this SpikingJelly model ({first}); give the --spikingjelly "
                            "constructor and --dataset it was trained with") from None


MODEL_FILE = "model.pt"


def save_import(state: Mapping[str, torch.Tensor], arch: Arch, dataset: str, out: Path, *, source: str,
                weights: str) -> Path:
    """``OUT/arch.yaml`` and ``OUT/model.pt``: the imported weights as a checkpoint of ours (epoch 0,
    no optimizer state), which ``energy --checkpoint`` and ``train --init-weights`` read."""
    from autost.checkpoint import rng_state, save_checkpoint

    arch.to_yaml(out / "arch.yaml")
    save_checkpoint(out / MODEL_FILE, {
        "model": dict(state), "optimizer": None, "scheduler": None, "scaler": None, "epoch": 0, "rng": rng_state(),
        "arch": arch.to_dict(), "dataset": dataset, "settings": {"imported_from": source, "weights": weights},
        "history": []})
    return out / MODEL_FILE
