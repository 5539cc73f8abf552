"""AutoST search spaces: the choices for each gene, and sampling, mutation and crossover.

Randomness always comes from a ``random.Random`` passed in, so a seed fixes a whole run.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from autost.arch import Arch
from autost.validate import check_keys, load_yaml

_KEYS = ("MLP_RATIO", "NUM_HEADS", "DEPTH", "EMBED_DIM")


@dataclass(frozen=True)
class SearchSpace:
    """Choices for depth, width and per-block MLP ratio and head count (AutoST's format)."""

    mlp_ratio: tuple[float, ...]
    num_heads: tuple[int, ...]
    depth: tuple[int, ...]
    embed_dim: tuple[int, ...]
    name: str = "space"

    def __post_init__(self) -> None:
        for dim in self.embed_dim:
            if dim % 8:
                raise ValueError(f"{self.name}: EMBED_DIM choice {dim} is not divisible by 8")
            if not self.heads_for(dim):
                raise ValueError(
                    f"{self.name}: no NUM_HEADS choice divides EMBED_DIM choice {dim}; add a divisor of it"
                )

    @classmethod
    def from_dict(cls, data: Any, name: str = "space") -> "SearchSpace":
        if not isinstance(data, Mapping) or not isinstance(data.get("SEARCH_SPACE"), Mapping):
            raise ValueError(f"{name}: expected a top-level SEARCH_SPACE mapping with keys {', '.join(_KEYS)}")
        check_keys(data, ("SEARCH_SPACE",), name)
        space = data["SEARCH_SPACE"]
        check_keys(space, _KEYS, f"{name}: SEARCH_SPACE")
        values: dict[str, tuple] = {}
        for key in _KEYS:
            if key not in space:
                raise ValueError(f"{name}: SEARCH_SPACE.{key} is missing")
            choices = space[key]
            if not isinstance(choices, list) or not choices:
                raise ValueError(f"{name}: SEARCH_SPACE.{key} must be a non-empty list of choices")
            number = (int, float) if key == "MLP_RATIO" else (int,)
            if any(isinstance(c, bool) or not isinstance(c, number) or not math.isfinite(c) or c <= 0
                   for c in choices):
                kind = "positive numbers" if key == "MLP_RATIO" else "positive integers"
                raise ValueError(f"{name}: SEARCH_SPACE.{key} must hold {kind}, got {choices}")
            values[key] = tuple(sorted(set(choices)))
        return cls(values["MLP_RATIO"], values["NUM_HEADS"], values["DEPTH"], values["EMBED_DIM"], name=name)

    @classmethod
    def from_yaml(cls, path: str | Path) -> "SearchSpace":
        return cls.from_dict(load_yaml(path, "search space file"), name=str(path))

    def to_dict(self) -> dict[str, Any]:
        return {
            "SEARCH_SPACE": {
                "MLP_RATIO": list(self.mlp_ratio),
                "NUM_HEADS": list(self.num_heads),
                "DEPTH": list(self.depth),
                "EMBED_DIM": list(self.embed_dim),
            }
        }

    def heads_for(self, embed_dim: int) -> tuple[int, ...]:
        """Head-count choices that divide ``embed_dim`` (the others cannot be built)."""
        return tuple(h for h in self.num_heads if embed_dim % h == 0)

    def contains(self, arch: Arch) -> bool:
        return (
            arch.depth in self.depth
            and arch.embed_dim in self.embed_dim
            and all(r in self.mlp_ratio for r in arch.mlp_ratio)
            and all(h in self.heads_for(arch.embed_dim) for h in arch.num_heads)
        )

    def check(self, arch: Arch) -> None:
        """Raise ``ValueError`` naming the first gene of ``arch`` outside this space."""
        if arch.depth not in self.depth:
            raise ValueError(f"DEPTH {arch.depth} is not in {self.name}'s choices {list(self.depth)}")
        if arch.embed_dim not in self.embed_dim:
            raise ValueError(f"EMBED_DIM {arch.embed_dim} is not in {self.name}'s choices {list(self.embed_dim)}")
        for i, r in enumerate(arch.mlp_ratio):
            if r not in self.mlp_ratio:
                raise ValueError(f"MLP_RATIO[{i}]={r} is not in {self.name}'s choices {list(self.mlp_ratio)}")
        for i, h in enumerate(arch.num_heads):
            if h not in self.num_heads:
                raise ValueError(f"NUM_HEADS[{i}]={h} is not in {self.name}'s choices {list(self.num_heads)}")

    def size(self) -> int:
        """Number of distinct architectures in the space."""
        return sum(
            (len(self.mlp_ratio) * len(self.heads_for(dim))) ** depth
            for depth in self.depth
            for dim in self.embed_dim
        )

    def sample(self, rng: random.Random) -> Arch:
        depth = rng.choice(self.depth)
        dim = rng.choice(self.embed_dim)
        heads = self.heads_for(dim)
        return Arch(
            depth,
            dim,
            tuple(rng.choice(self.mlp_ratio) for _ in range(depth)),
            tuple(rng.choice(heads) for _ in range(depth)),
        )

    def mutate(self, arch: Arch, rng: random.Random, m_prob: float, s_prob: float) -> Arch:
        """AutoST's mutation: depth resampled with probability ``s_prob`` (new blocks random,
        removed blocks cut from the tail), each block's MLP ratio and head count with
        ``m_prob``, the width with ``s_prob``. Heads that stop dividing a new width are
        resampled so the result is always buildable."""
        depth = arch.depth
        mlp = list(arch.mlp_ratio)
        heads = list(arch.num_heads)
        dim = arch.embed_dim
        if rng.random() < s_prob:
            depth = rng.choice(self.depth)
            if depth > arch.depth:
                extra = depth - arch.depth
                mlp += [rng.choice(self.mlp_ratio) for _ in range(extra)]
                heads += [rng.choice(self.heads_for(dim)) for _ in range(extra)]
            else:
                mlp, heads = mlp[:depth], heads[:depth]
        for i in range(depth):
            if rng.random() < m_prob:
                mlp[i] = rng.choice(self.mlp_ratio)
        for i in range(depth):
            if rng.random() < m_prob:
                heads[i] = rng.choice(self.heads_for(dim))
        if rng.random() < s_prob:
            dim = rng.choice(self.embed_dim)
            valid = self.heads_for(dim)
            heads = [h if h in valid else rng.choice(valid) for h in heads]
        return Arch(depth, dim, tuple(mlp), tuple(heads))

    def crossover(self, a: Arch, b: Arch, rng: random.Random) -> Arch:
        """AutoST's crossover of two parents of equal depth: each gene from either parent.
        A head count that does not divide the inherited width is taken from the parent
        that gave the width (which is valid by construction)."""
        if a.depth != b.depth:
            raise ValueError(f"crossover needs parents of equal depth, got {a.depth} and {b.depth}")
        width_parent = rng.choice((a, b))
        dim = width_parent.embed_dim
        mlp = tuple(rng.choice(pair) for pair in zip(a.mlp_ratio, b.mlp_ratio))
        heads = []
        for i, pair in enumerate(zip(a.num_heads, b.num_heads)):
            h = rng.choice(pair)
            heads.append(h if dim % h == 0 else width_parent.num_heads[i])
        return Arch(a.depth, dim, mlp, tuple(heads))
