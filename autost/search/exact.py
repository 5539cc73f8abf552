"""Exact maximization of MACs (the FLOPs score) under parameter limits.

Params and MACs are sums over blocks, a block's share depends only on its MLP ratio (head
count changes neither: the attention products cost 2 T L^2 D whatever the heads), and the
order of blocks changes nothing. So for every width and depth it is enough to enumerate the
multisets of MLP ratios: a few thousand configurations even for AutoST's base space. The
best feasible one is a certified optimum over the whole space.
"""
from __future__ import annotations

from itertools import combinations_with_replacement

from autost.arch import Arch
from autost.geometry import Geometry
from autost.search.evaluate import Constraints, Evaluator
from autost.space import SearchSpace


def _block_cost(evaluator: Evaluator, dim: int, ratio: float) -> tuple[int, int]:
    """Params and MACs that one block of MLP ratio ``ratio`` adds at width ``dim``."""
    one = evaluator.cost(Arch(1, dim, (ratio,), (1,)))
    two = evaluator.cost(Arch(2, dim, (ratio, ratio), (1, 1)))
    return two[0] - one[0], two[1] - one[1]


def exact_flops_optimum(space: SearchSpace, geometry: Geometry, constraints: Constraints,
                        keep: int = 50) -> list[tuple[int, int, Arch]]:
    """The ``keep`` best feasible (macs, params, arch) by MACs, best first; the first is the
    certified optimum. Blocks are ordered by ratio and use the largest head count that
    divides the width (any would do: heads change neither params nor MACs)."""
    evaluator = Evaluator("flops", geometry)
    feasible: list[tuple[int, int, Arch]] = []
    for dim in space.embed_dim:
        heads = max(space.heads_for(dim))
        per_block = {r: _block_cost(evaluator, dim, r) for r in space.mlp_ratio}
        first = space.mlp_ratio[0]
        one_params, one_macs = evaluator.cost(Arch(1, dim, (first,), (heads,)))
        base_params, base_macs = one_params - per_block[first][0], one_macs - per_block[first][1]
        for depth in space.depth:
            for ratios in combinations_with_replacement(space.mlp_ratio, depth):
                params = base_params + sum(per_block[r][0] for r in ratios)
                if not constraints.params_ok(params):
                    continue
                macs = base_macs + sum(per_block[r][1] for r in ratios)
                feasible.append((macs, params, Arch(depth, dim, ratios, (heads,) * depth)))
    feasible.sort(key=lambda t: (-t[0], t[1], t[2].short()))
    return feasible[:keep]
