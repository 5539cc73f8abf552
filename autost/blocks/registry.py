"""The attention-type registry: each type declares, in one place, its module and its closed-form
cost (parameters, MACs and the spike operations its energy is charged for). The model, the
closed-form cost, the exact solver, the energy estimate and the search space read it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from torch import nn

from autost.layers import Neurons
from autost.registry import Registry

DEFAULT_ATTENTION = "ssa"


@dataclass(frozen=True)
class AttentionType:
    """A block's token mixer. The block is ``x = x + attention(x); x = x + MLP(x)`` whatever the type.

    ``build(dim, heads, neurons)`` returns the module (``[T, B, L, D]`` in and out).
    ``params(dim, heads)``: its parameters. ``macs(dim, heads, tokens)``: MACs of ONE time step
    and one sample, keyed by the weight layer's name inside the module (``"q.linear"``); these
    are what torch's FlopCounterMode counts for the module (FLOPs / 2). ``spike_ops(dim, heads,
    tokens)``: the non-MAC spike operations of one step (``SpikeMask`` / ``SpikeSum`` modules by
    name, ``autost.layers``), which the energy estimate charges and the MAC count leaves out.
    """

    name: str
    build: Callable[[int, int, Neurons], nn.Module]
    params: Callable[[int, int], int]
    macs: Callable[[int, int, int], dict[str, int]]
    spike_ops: Callable[[int, int, int], dict[str, int]]
    summary: str  # one line: what it computes
    source: str  # the paper (and reference layer) it follows
    # whether it keeps a heads x L x L token matrix for the backward pass (autost.memory); True,
    # the larger estimate, unless the type declares otherwise
    token_matrix: bool = True
    # For the memory-aware closed form (energy.closed_form): ``linears(dim, heads)`` its Linear layers
    # by name, ``(in_features, out_features, bias)``; ``lifs(dim, heads, tokens)`` its LIF neurons by
    # name, with the elements each emits per step and sample. A type without them is refused there.
    linears: Callable[[int, int], dict[str, tuple[int, int, bool]]] | None = None
    lifs: Callable[[int, int, int], dict[str, int]] | None = None


# Every module of autost.blocks registers its type when imported: the built-ins first, Spikformer's
# (the default) leading, then any other file there by name.
ATTENTION: Registry[AttentionType] = Registry("attention type", ("autost.blocks.ssa", "autost.blocks.sdsa",
                                                                  "autost.blocks.qk"), package="autost.blocks")
register = ATTENTION.register
attention_type = ATTENTION.get
attention_names = ATTENTION.names


def unregister(name: str) -> None:
    """Remove a registered type (tests register toys and take them away again)."""
    if name == DEFAULT_ATTENTION:
        raise ValueError(f"{DEFAULT_ATTENTION!r} is the default attention type and stays registered")
    ATTENTION.unregister(name)
