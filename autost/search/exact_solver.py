"""Exact maximization of MACs (the FLOPs score) under parameter limits.

Why it is exact: params and MACs are sums over blocks plus a fixed part (stem and head), a
block's share depends only on its own genes (MLP ratio, attention type, and head count where
its type's declared cost uses it: none of the built-in types does, so every head count gives
the same cost), and the order of blocks changes nothing. T multiplies every MAC (each layer
runs once a step) and no parameter; tau, threshold and shortcut change neither. So for every width it is
enough to enumerate the multisets of per-block choices with distinct costs, and to scale the
MACs by each T: a few thousand configurations for AutoST's spaces, about 10^5 a width for the
hybrid tiny space. The best feasible one is a certified optimum over the whole space.

The solver checks that premise on the closed form before it trusts it (every block choice
gives the same fixed part, a network of all the choices costs the fixed part plus their sum,
and MACs scale with T); a block type whose declared cost broke it (one that changed the token
count for the blocks after it, say) makes the solver refuse with one line, ``NotAdditive``.
"""
from __future__ import annotations

from itertools import combinations_with_replacement

from autost.arch import Arch
from autost.errors import UsageError
from autost.geometry import Geometry
from autost.layers import DEFAULT_SHORTCUT, SPIKFORMER_TAU, SPIKFORMER_THRESHOLD
from autost.search.evaluate import Constraints, Evaluator
from autost.space import SearchSpace


class NotAdditive(UsageError):
    """The space's cost is not a fixed part plus a sum over blocks: no optimum can be certified."""


def _neutral(choices: tuple, default: float | str) -> float | str:
    """Spikformer's value when the space offers it, else the first choice (the cost is the same)."""
    return default if default in choices else choices[0]


def _arch(space: SearchSpace, dim: int, blocks: tuple[tuple, ...], time_steps: int | None) -> Arch:
    """An architecture of ``blocks`` ((ratio, attention, heads) each); tau, threshold and shortcut
    at Spikformer's values where the space has them (they cost nothing)."""
    return Arch(len(blocks), dim, tuple(b[0] for b in blocks), tuple(b[2] for b in blocks),
                tuple(b[1] for b in blocks), time_steps, _neutral(space.tau, SPIKFORMER_TAU),
                _neutral(space.threshold, SPIKFORMER_THRESHOLD), _neutral(space.shortcut, DEFAULT_SHORTCUT))


def _block_choices(space: SearchSpace, evaluator: Evaluator, dim: int
                   ) -> tuple[tuple[int, int], list[tuple[tuple, int, int]]]:
    """The fixed part (params, MACs of one step) and, for each per-block choice with a distinct
    cost, ``(choice, params, macs)`` it adds (one step). Raises ``NotAdditive`` when the costs
    do not add up."""
    choices, seen, fixed = [], set(), set()
    for ratio in space.mlp_ratio:
        for attention in space.attention:
            for heads in sorted(space.heads_for(dim), reverse=True):  # the largest first: the label kept
                block = (ratio, attention, heads)
                one = evaluator.cost(_arch(space, dim, (block,), 1))
                two = evaluator.cost(_arch(space, dim, (block, block), 1))
                params, macs = two[0] - one[0], two[1] - one[1]
                fixed.add((one[0] - params, one[1] - macs))
                if (params, macs) not in seen:
                    seen.add((params, macs))
                    choices.append((block, params, macs))
    if len(fixed) != 1:
        raise NotAdditive(f"{space.name}: the cost outside the blocks depends on the block types at width {dim}, "
                          "so --algorithm exact cannot certify an optimum; use --algorithm evolution")
    base = fixed.pop()
    every = tuple(block for block, _, _ in choices)
    params, macs = evaluator.cost(_arch(space, dim, every, 1))
    if (params, macs) != (base[0] + sum(c[1] for c in choices), base[1] + sum(c[2] for c in choices)):
        raise NotAdditive(f"{space.name}: a block's cost depends on the blocks around it at width {dim}, so "
                          "--algorithm exact cannot certify an optimum; use --algorithm evolution")
    if evaluator.cost(_arch(space, dim, every, 2))[1] != 2 * macs:
        raise NotAdditive(f"{space.name}: MACs do not scale with TIME_STEPS at width {dim}, so --algorithm exact "
                          "cannot certify an optimum; use --algorithm evolution")
    return base, choices


def exact_flops_optimum(space: SearchSpace, geometry: Geometry, constraints: Constraints,
                        keep: int = 50) -> list[tuple[int, int, Arch]]:
    """The ``keep`` best feasible (macs, params, arch) by MACs, best first; the first is the
    certified optimum. Blocks are ordered by their choice (ratio, then attention type in the
    space's order) and use the largest head count that divides the width among those of equal
    cost. Raises ``NotAdditive`` (one line) for a space whose cost does not add up over blocks."""
    evaluator = Evaluator("flops", geometry)
    steps = space.time_steps or (None,)
    configs: list[tuple[int, int, int, tuple]] = []  # (macs of one step, params, dim, blocks)
    for dim in space.embed_dim:
        (base_params, base_macs), choices = _block_choices(space, evaluator, dim)
        for depth in space.depth:
            for combo in combinations_with_replacement(choices, depth):
                params = base_params + sum(c[1] for c in combo)
                if constraints.params_ok(params):
                    configs.append((base_macs + sum(c[2] for c in combo), params, dim, tuple(c[0] for c in combo)))
    configs.sort(key=lambda c: (-c[0], c[1]))
    candidates = []
    for t in steps:
        scale = geometry.time_steps if t is None else t
        ranked = configs[:keep]
        # equal (macs, params) past the cut are kept too, so the final tie-break by label sees them all
        ranked += [c for c in configs[keep:] if ranked and (c[0], c[1]) == (ranked[-1][0], ranked[-1][1])]
        candidates += [(macs * scale, params, _arch(space, dim, blocks, t)) for macs, params, dim, blocks in ranked]
    candidates.sort(key=lambda c: (-c[0], c[1], c[2].short()))
    return candidates[:keep]


def param_span(space: SearchSpace, geometry: Geometry) -> tuple[int, int]:
    """The fewest and the most parameters of any architecture in ``space`` (T changes neither)."""
    evaluator = Evaluator("flops", geometry)
    low, high = None, None
    for dim in space.embed_dim:
        (base, _), choices = _block_choices(space, evaluator, dim)
        params = [c[1] for c in choices]
        low = min(x for x in (low, base + min(space.depth) * min(params)) if x is not None)
        high = max(x for x in (high, base + max(space.depth) * max(params)) if x is not None)
    return low, high
