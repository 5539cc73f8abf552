"""Architecture encoding of the AutoST family, read and written in AutoST's RETRAIN YAML."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from autost.io import atomic_write_text
from autost.validate import check_keys, load_yaml

_KEYS = ("DEPTH", "EMBED_DIM", "MLP_RATIO", "NUM_HEADS")


def _number(value: Any) -> float:
    """An mlp ratio as written in YAML: keep integers integral so files stay tidy."""
    value = float(value)
    return int(value) if value.is_integer() else value


@dataclass(frozen=True)
class Arch:
    """One spiking transformer: ``depth`` blocks of width ``embed_dim``, each with its own
    MLP ratio and head count (AutoST's encoding)."""

    depth: int
    embed_dim: int
    mlp_ratio: tuple[float, ...]
    num_heads: tuple[int, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "mlp_ratio", tuple(_number(r) for r in self.mlp_ratio))
        object.__setattr__(self, "num_heads", tuple(int(h) for h in self.num_heads))
        self.validate()

    def validate(self) -> None:
        """Raise ``ValueError`` naming the offending field when the encoding is impossible."""
        if not isinstance(self.depth, int) or self.depth <= 0:
            raise ValueError(f"DEPTH must be a positive integer, got {self.depth!r}")
        if not isinstance(self.embed_dim, int) or self.embed_dim <= 0:
            raise ValueError(f"EMBED_DIM must be a positive integer, got {self.embed_dim!r}")
        if self.embed_dim % 8:
            raise ValueError(
                f"EMBED_DIM {self.embed_dim} must be divisible by 8 (the stem uses EMBED_DIM/8 channels)"
            )
        for key, values in (("MLP_RATIO", self.mlp_ratio), ("NUM_HEADS", self.num_heads)):
            if len(values) != self.depth:
                raise ValueError(f"{key} has {len(values)} entries but DEPTH is {self.depth}; give one per block")
            if any(not math.isfinite(v) or v <= 0 for v in values):
                raise ValueError(f"{key} entries must be finite and positive, got {list(values)}")
        for i, heads in enumerate(self.num_heads):
            if self.embed_dim % heads:
                raise ValueError(
                    f"NUM_HEADS[{i}]={heads} does not divide EMBED_DIM {self.embed_dim}; "
                    "pick a head count that divides the width"
                )
        for i, ratio in enumerate(self.mlp_ratio):
            if not math.isfinite(self.embed_dim * ratio):
                raise ValueError(f"MLP_RATIO[{i}]={ratio} gives a hidden layer too wide to count")
            if int(self.embed_dim * ratio) <= 0:
                raise ValueError(f"MLP_RATIO[{i}]={ratio} gives an empty hidden layer")

    def hidden_dim(self, block: int) -> int:
        """Width of block ``block``'s MLP hidden layer (``int(D * ratio)``, as Spikformer does)."""
        return int(self.embed_dim * self.mlp_ratio[block])

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Arch":
        """Read AutoST's ``RETRAIN`` mapping, with or without the ``RETRAIN`` wrapper."""
        if not isinstance(data, Mapping):
            raise ValueError(f"an architecture must be a mapping with keys {', '.join(_KEYS)}, got {type(data).__name__}")
        if "RETRAIN" in data:
            check_keys(data, ("RETRAIN",), "architecture")
            data = data["RETRAIN"]
            if not isinstance(data, Mapping):
                raise ValueError("RETRAIN must be a mapping with keys " + ", ".join(_KEYS))
        check_keys(data, _KEYS, "architecture")
        missing = [k for k in _KEYS if k not in data]
        if missing:
            raise ValueError(f"architecture is missing {', '.join(missing)} (needs {', '.join(_KEYS)})")
        depth, embed_dim = data["DEPTH"], data["EMBED_DIM"]
        mlp, heads = data["MLP_RATIO"], data["NUM_HEADS"]
        for key, value in (("DEPTH", depth), ("EMBED_DIM", embed_dim)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{key} must be an integer, got {value!r}")
        for key, value in (("MLP_RATIO", mlp), ("NUM_HEADS", heads)):
            if not isinstance(value, (list, tuple)):
                raise ValueError(f"{key} must be a list with one entry per block, got {value!r}")
            if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value):
                raise ValueError(f"{key} entries must be numbers, got {list(value)}")
        if any(not float(h).is_integer() for h in heads):
            raise ValueError(f"NUM_HEADS entries must be integers, got {list(heads)}")
        return cls(depth, embed_dim, tuple(mlp), tuple(int(h) for h in heads))

    def to_dict(self) -> dict[str, Any]:
        """AutoST's ``RETRAIN`` mapping (with the wrapper)."""
        return {
            "RETRAIN": {
                "DEPTH": self.depth,
                "EMBED_DIM": self.embed_dim,
                "MLP_RATIO": list(self.mlp_ratio),
                "NUM_HEADS": list(self.num_heads),
            }
        }

    @classmethod
    def from_yaml(cls, path: str | Path) -> "Arch":
        data = load_yaml(path, "architecture file")
        try:
            return cls.from_dict(data)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from err

    def to_yaml(self, path: str | Path) -> None:
        atomic_write_text(path, yaml.safe_dump(self.to_dict(), default_flow_style=None, sort_keys=False))

    def short(self) -> str:
        """A compact one-line label, e.g. ``d4-D384-m[4,4,4,4]-h[8,8,8,8]``."""
        mlp = ",".join(f"{r:g}" for r in self.mlp_ratio)
        heads = ",".join(str(h) for h in self.num_heads)
        return f"d{self.depth}-D{self.embed_dim}-m[{mlp}]-h[{heads}]"
