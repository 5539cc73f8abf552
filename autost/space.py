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
from autost.blocks import DEFAULT_ATTENTION, attention_type
from autost.layers import DEFAULT_SHORTCUT, SHORTCUTS, SPIKFORMER_TAU, SPIKFORMER_THRESHOLD
from autost.validate import check_keys, load_yaml

_KEYS = ("MLP_RATIO", "NUM_HEADS", "DEPTH", "EMBED_DIM")
# Optional genes (``autost.arch``): absent, a space holds Spikformer's defaults only and draws no
# random numbers for them, so AutoST's spaces sample, mutate and cross over exactly as before.
_OPTIONAL = ("ATTENTION", "TIME_STEPS", "TAU", "THRESHOLD", "SHORTCUT")
# The network-level genes after TIME_STEPS, drawn, mutated and crossed over alike.
_NETWORK_GENES = ("tau", "threshold", "shortcut")


@dataclass(frozen=True)
class SearchSpace:
    """Choices for depth, width and per-block MLP ratio and head count (AutoST's format), and
    optionally for each block's attention type and the network's T, tau, threshold and shortcut."""

    mlp_ratio: tuple[float, ...]
    num_heads: tuple[int, ...]
    depth: tuple[int, ...]
    embed_dim: tuple[int, ...]
    name: str = "space"
    attention: tuple[str, ...] = (DEFAULT_ATTENTION,)
    time_steps: tuple[int, ...] = ()  # empty: T is not a gene (the run's --time-steps)
    tau: tuple[float, ...] = (SPIKFORMER_TAU,)
    threshold: tuple[float, ...] = (SPIKFORMER_THRESHOLD,)
    shortcut: tuple[str, ...] = (DEFAULT_SHORTCUT,)

    def __post_init__(self) -> None:
        if not self.attention or not self.tau or not self.threshold or not self.shortcut:
            raise ValueError(f"{self.name}: ATTENTION, TAU, THRESHOLD and SHORTCUT need at least one choice each")
        for name in self.attention:
            attention_type(name)
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
        check_keys(space, _KEYS, f"{name}: SEARCH_SPACE", _OPTIONAL)
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
        return cls(values["MLP_RATIO"], values["NUM_HEADS"], values["DEPTH"], values["EMBED_DIM"], name=name,
                   **_optional_genes(space, name))

    @classmethod
    def from_yaml(cls, path: str | Path) -> "SearchSpace":
        return cls.from_dict(load_yaml(path, "search space file"), name=str(path))

    def to_dict(self) -> dict[str, Any]:
        """AutoST's mapping; the optional genes only where they hold more than the default."""
        space: dict[str, Any] = {
            "MLP_RATIO": list(self.mlp_ratio),
            "NUM_HEADS": list(self.num_heads),
            "DEPTH": list(self.depth),
            "EMBED_DIM": list(self.embed_dim),
        }
        if self.attention != (DEFAULT_ATTENTION,):
            space["ATTENTION"] = list(self.attention)
        if self.time_steps:
            space["TIME_STEPS"] = list(self.time_steps)
        if self.tau != (SPIKFORMER_TAU,):
            space["TAU"] = list(self.tau)
        if self.threshold != (SPIKFORMER_THRESHOLD,):
            space["THRESHOLD"] = list(self.threshold)
        if self.shortcut != (DEFAULT_SHORTCUT,):
            space["SHORTCUT"] = list(self.shortcut)
        return {"SEARCH_SPACE": space}

    def heads_for(self, embed_dim: int) -> tuple[int, ...]:
        """Head-count choices that divide ``embed_dim`` (the others cannot be built)."""
        return tuple(h for h in self.num_heads if embed_dim % h == 0)

    def contains(self, arch: Arch) -> bool:
        return (
            arch.depth in self.depth
            and arch.embed_dim in self.embed_dim
            and all(r in self.mlp_ratio for r in arch.mlp_ratio)
            and all(h in self.heads_for(arch.embed_dim) for h in arch.num_heads)
            and all(a in self.attention for a in arch.attention)
            and (arch.time_steps in self.time_steps if self.time_steps else arch.time_steps is None)
            and arch.tau in self.tau
            and arch.threshold in self.threshold
            and arch.shortcut in self.shortcut
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
        for i, a in enumerate(arch.attention):
            if a not in self.attention:
                raise ValueError(f"ATTENTION[{i}]={a} is not in {self.name}'s choices {list(self.attention)}")
        if self.time_steps and arch.time_steps not in self.time_steps:
            raise ValueError(f"TIME_STEPS {arch.time_steps} is not in {self.name}'s choices {list(self.time_steps)}")
        if not self.time_steps and arch.time_steps is not None:
            raise ValueError(f"TIME_STEPS {arch.time_steps} is set but {self.name} has no TIME_STEPS gene")
        for key, value, choices in (("TAU", arch.tau, self.tau), ("THRESHOLD", arch.threshold, self.threshold),
                                    ("SHORTCUT", arch.shortcut, self.shortcut)):
            if value not in choices:
                raise ValueError(f"{key} {value} is not in {self.name}'s choices {list(choices)}")

    def size(self) -> int:
        """Number of distinct architectures in the space."""
        per_network = max(len(self.time_steps), 1) * len(self.tau) * len(self.threshold) * len(self.shortcut)
        return per_network * sum(
            (len(self.mlp_ratio) * len(self.heads_for(dim)) * len(self.attention)) ** depth
            for depth in self.depth
            for dim in self.embed_dim
        )

    def _pick(self, choices: tuple, rng: random.Random):
        """A random choice, drawing no random number when there is one choice (so a space without
        the optional genes consumes the generator exactly as before they existed)."""
        return rng.choice(choices) if len(choices) > 1 else choices[0]

    def _network_genes(self, rng: random.Random) -> dict[str, Any]:
        """TIME_STEPS, TAU, THRESHOLD and SHORTCUT drawn at random."""
        genes = {"time_steps": self._pick(self.time_steps, rng) if self.time_steps else None}
        for gene in _NETWORK_GENES:
            genes[gene] = self._pick(getattr(self, gene), rng)
        return genes

    def sample(self, rng: random.Random) -> Arch:
        depth = rng.choice(self.depth)
        dim = rng.choice(self.embed_dim)
        return self.sample_at(depth, dim, rng)

    def sample_at(self, depth: int, dim: int, rng: random.Random) -> Arch:
        """A random architecture of ``depth`` blocks at width ``dim``: every other gene drawn."""
        heads = self.heads_for(dim)
        mlp = tuple(rng.choice(self.mlp_ratio) for _ in range(depth))
        head_counts = tuple(rng.choice(heads) for _ in range(depth))
        attention = tuple(self._pick(self.attention, rng) for _ in range(depth))
        return Arch(depth, dim, mlp, head_counts, attention, **self._network_genes(rng))

    def mutate(self, arch: Arch, rng: random.Random, m_prob: float, s_prob: float) -> Arch:
        """AutoST's mutation: depth resampled with probability ``s_prob`` (new blocks random,
        removed blocks cut from the tail), each block's MLP ratio and head count with
        ``m_prob``, the width with ``s_prob``. Heads that stop dividing a new width are
        resampled so the result is always buildable. The optional genes, where the space has
        more than one choice: each block's attention type with ``m_prob`` (like its MLP ratio),
        T, tau, threshold and shortcut each with ``s_prob`` (like the width: they act on every block);
        a space without them draws the same random numbers as before they existed."""
        depth = arch.depth
        mlp = list(arch.mlp_ratio)
        heads = list(arch.num_heads)
        attention = list(arch.attention)
        dim = arch.embed_dim
        if rng.random() < s_prob:
            depth = rng.choice(self.depth)
            if depth > arch.depth:
                extra = depth - arch.depth
                mlp += [rng.choice(self.mlp_ratio) for _ in range(extra)]
                heads += [rng.choice(self.heads_for(dim)) for _ in range(extra)]
                attention += [self._pick(self.attention, rng) for _ in range(extra)]
            else:
                mlp, heads, attention = mlp[:depth], heads[:depth], attention[:depth]
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
        if len(self.attention) > 1:
            for i in range(depth):
                if rng.random() < m_prob:
                    attention[i] = rng.choice(self.attention)
        genes = {gene: getattr(arch, gene) for gene in ("time_steps",) + _NETWORK_GENES}
        for gene in genes:
            choices = getattr(self, gene)
            if len(choices) > 1 and rng.random() < s_prob:
                genes[gene] = rng.choice(choices)
        return Arch(depth, dim, tuple(mlp), tuple(heads), tuple(attention), **genes)

    def crossover(self, a: Arch, b: Arch, rng: random.Random) -> Arch:
        """AutoST's crossover of two parents of equal depth: each gene from either parent.
        A head count that does not divide the inherited width is taken from the parent
        that gave the width (which is valid by construction). Each block's attention type and
        the network's T, tau, threshold and shortcut come from either parent too, where the space has more
        than one choice for them (else no random number is drawn: the parents agree)."""
        if a.depth != b.depth:
            raise ValueError(f"crossover needs parents of equal depth, got {a.depth} and {b.depth}")
        width_parent = rng.choice((a, b))
        dim = width_parent.embed_dim
        mlp = tuple(rng.choice(pair) for pair in zip(a.mlp_ratio, b.mlp_ratio))
        heads = []
        for i, pair in enumerate(zip(a.num_heads, b.num_heads)):
            h = rng.choice(pair)
            heads.append(h if dim % h == 0 else width_parent.num_heads[i])
        attention = a.attention
        if len(self.attention) > 1:
            attention = tuple(rng.choice(pair) for pair in zip(a.attention, b.attention))
        genes = {}
        for gene in ("time_steps",) + _NETWORK_GENES:
            pair = (getattr(a, gene), getattr(b, gene))
            genes[gene] = rng.choice(pair) if len(getattr(self, gene)) > 1 else pair[0]
        return Arch(a.depth, dim, mlp, tuple(heads), attention, **genes)


def _optional_genes(space: Mapping[str, Any], name: str) -> dict[str, tuple]:
    """The optional genes of a SEARCH_SPACE mapping, checked: registered attention types (in the
    file's order), positive integer time steps, taus above 1 (SpikingJelly's LIF asserts tau > 1),
    positive thresholds and shortcuts."""
    genes: dict[str, tuple] = {}
    if "ATTENTION" in space:
        choices = space["ATTENTION"]
        if not isinstance(choices, list) or not choices or any(not isinstance(c, str) for c in choices):
            raise ValueError(f"{name}: SEARCH_SPACE.ATTENTION must be a non-empty list of attention type names")
        for choice in choices:
            try:
                attention_type(choice)
            except ValueError as err:
                raise ValueError(f"{name}: SEARCH_SPACE.ATTENTION: {err}") from None
        genes["attention"] = tuple(dict.fromkeys(choices))
    if "SHORTCUT" in space:
        choices = space["SHORTCUT"]
        if not isinstance(choices, list) or not choices or any(c not in SHORTCUTS for c in choices):
            raise ValueError(f"{name}: SEARCH_SPACE.SHORTCUT must be a non-empty list of {', '.join(SHORTCUTS)}, "
                             f"got {choices}")
        genes["shortcut"] = tuple(dict.fromkeys(choices))
    rules = (("TIME_STEPS", "time_steps", (int,), lambda c: c >= 1, "positive integers"),
             ("TAU", "tau", (int, float), lambda c: c > 1,
              "numbers greater than 1 (SpikingJelly's LIF requires tau > 1)"),
             ("THRESHOLD", "threshold", (int, float), lambda c: c > 0, "positive numbers"))
    for key, field, kinds, allowed, kind in rules:
        if key not in space:
            continue
        choices = space[key]
        if not isinstance(choices, list) or not choices or any(
                isinstance(c, bool) or not isinstance(c, kinds) or not math.isfinite(c) or not allowed(c)
                for c in choices):
            raise ValueError(f"{name}: SEARCH_SPACE.{key} must be a non-empty list of {kind}, got {choices}")
        genes[field] = tuple(sorted(set(choices)))
    return genes
