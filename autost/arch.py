"""Architecture encoding of the AutoST family, read and written in AutoST's RETRAIN YAML."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml

from autost.blocks import DEFAULT_ATTENTION, attention_type
from autost.io import atomic_write_text
from autost.layers import DEFAULT_SHORTCUT, SHORTCUTS, SPIKFORMER_TAU, SPIKFORMER_THRESHOLD, Neurons
from autost.validate import check_keys, load_yaml

_KEYS = ("DEPTH", "EMBED_DIM", "MLP_RATIO", "NUM_HEADS")
# Genes beyond AutoST's encoding; a file without them means Spikformer's network (ssa in every
# block, --time-steps, tau 2, threshold 1, the spike shortcut), and ``to_dict`` writes them only
# away from those defaults, so AutoST's files, fingerprints and weight seeds stay what they were.
_OPTIONAL = ("ATTENTION", "TIME_STEPS", "TAU", "THRESHOLD", "SHORTCUT")


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
    attention: tuple[str, ...] = ()  # one registered type per block; empty: ssa in every block
    time_steps: int | None = None  # None: the run's --time-steps
    tau: float = SPIKFORMER_TAU  # LIF time constant of every neuron
    threshold: float = SPIKFORMER_THRESHOLD  # LIF firing threshold (attention LIFs fire at half of it)
    shortcut: str = DEFAULT_SHORTCUT  # how branches meet the residual stream (autost.layers.SHORTCUTS)

    def __post_init__(self) -> None:
        object.__setattr__(self, "mlp_ratio", tuple(_number(r) for r in self.mlp_ratio))
        object.__setattr__(self, "num_heads", tuple(int(h) for h in self.num_heads))
        attention = tuple(self.attention)
        if not attention and isinstance(self.depth, int) and self.depth > 0:
            attention = (DEFAULT_ATTENTION,) * self.depth
        object.__setattr__(self, "attention", attention)
        object.__setattr__(self, "tau", _number(self.tau))
        object.__setattr__(self, "threshold", _number(self.threshold))
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
        if len(self.attention) != self.depth:
            raise ValueError(f"ATTENTION has {len(self.attention)} entries but DEPTH is {self.depth}; "
                             "give one per block")
        for i, name in enumerate(self.attention):
            try:
                attention_type(name)
            except ValueError as err:
                raise ValueError(f"ATTENTION[{i}]: {err}") from None
        if self.time_steps is not None and (isinstance(self.time_steps, bool) or not isinstance(self.time_steps, int)
                                            or self.time_steps < 1):
            raise ValueError(f"TIME_STEPS must be a positive integer, got {self.time_steps!r}")
        if not math.isfinite(self.tau) or self.tau <= 1:
            raise ValueError(f"TAU must be greater than 1 (SpikingJelly's LIF requires tau > 1), got {self.tau!r}")
        if not math.isfinite(self.threshold) or self.threshold <= 0:
            raise ValueError(f"THRESHOLD must be a positive number, got {self.threshold!r}")
        if self.shortcut not in SHORTCUTS:
            raise ValueError(f"SHORTCUT must be one of {', '.join(SHORTCUTS)} (Spikformer's spike shortcut or the "
                             f"Spike-driven Transformer's membrane shortcut), got {self.shortcut!r}")

    @property
    def neurons(self) -> Neurons:
        """The LIF parameters of every neuron of the network."""
        return Neurons(tau=float(self.tau), threshold=float(self.threshold))

    def steps(self, time_steps: int) -> int:
        """The time steps this architecture runs: its TIME_STEPS gene, else ``time_steps`` (--time-steps)."""
        return self.time_steps if self.time_steps is not None else time_steps

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
        check_keys(data, _KEYS, "architecture", _OPTIONAL)
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
        attention = data.get("ATTENTION", ())
        if not isinstance(attention, (list, tuple)) or any(not isinstance(a, str) for a in attention):
            raise ValueError(f"ATTENTION must be a list of attention type names, one per block, got {attention!r}")
        time_steps = data.get("TIME_STEPS")
        if time_steps is not None and (isinstance(time_steps, bool) or not isinstance(time_steps, int)):
            raise ValueError(f"TIME_STEPS must be an integer, got {time_steps!r}")
        neuron = {}
        for key in ("TAU", "THRESHOLD"):
            if key in data:
                value = data[key]
                if isinstance(value, bool) or not isinstance(value, (int, float)):
                    raise ValueError(f"{key} must be a number, got {value!r}")
                neuron[key.lower()] = value
        shortcut = data.get("SHORTCUT", DEFAULT_SHORTCUT)
        if not isinstance(shortcut, str):
            raise ValueError(f"SHORTCUT must be one of {', '.join(SHORTCUTS)}, got {shortcut!r}")
        return cls(depth, embed_dim, tuple(mlp), tuple(int(h) for h in heads), tuple(attention), time_steps,
                   shortcut=shortcut, **neuron)

    def to_dict(self) -> dict[str, Any]:
        """AutoST's ``RETRAIN`` mapping (with the wrapper); the new genes only away from their defaults."""
        retrain: dict[str, Any] = {
            "DEPTH": self.depth,
            "EMBED_DIM": self.embed_dim,
            "MLP_RATIO": list(self.mlp_ratio),
            "NUM_HEADS": list(self.num_heads),
        }
        if any(a != DEFAULT_ATTENTION for a in self.attention):
            retrain["ATTENTION"] = list(self.attention)
        if self.time_steps is not None:
            retrain["TIME_STEPS"] = self.time_steps
        if self.tau != SPIKFORMER_TAU:
            retrain["TAU"] = self.tau
        if self.threshold != SPIKFORMER_THRESHOLD:
            retrain["THRESHOLD"] = self.threshold
        if self.shortcut != DEFAULT_SHORTCUT:
            retrain["SHORTCUT"] = self.shortcut
        return {"RETRAIN": retrain}

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
        """A compact one-line label, e.g. ``d4-D384-m[4,4,4,4]-h[8,8,8,8]``; the new genes are
        appended only away from their defaults (``-a[qk,ssa]-T4-tau1.5-th0.5-membrane``)."""
        mlp = ",".join(f"{r:g}" for r in self.mlp_ratio)
        heads = ",".join(str(h) for h in self.num_heads)
        label = f"d{self.depth}-D{self.embed_dim}-m[{mlp}]-h[{heads}]"
        if any(a != DEFAULT_ATTENTION for a in self.attention):
            label += f"-a[{','.join(self.attention)}]"
        if self.time_steps is not None:
            label += f"-T{self.time_steps}"
        if self.tau != SPIKFORMER_TAU:
            label += f"-tau{self.tau:g}"
        if self.threshold != SPIKFORMER_THRESHOLD:
            label += f"-th{self.threshold:g}"
        if self.shortcut != DEFAULT_SHORTCUT:
            label += f"-{self.shortcut}"
        return label
