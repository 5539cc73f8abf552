"""Where the energy goes: a network's layers grouped by layer type, compute against memory."""
from __future__ import annotations

import re
from typing import Sequence

# (pattern on the layer name, type); first match wins. Names are autost.model's module paths.
_TYPES = (
    (r"^stem\.stages\.0\.conv$", "stem conv 1 (input)"),
    (r"^stem\.stages\.\d+\.conv$", "stem convs 2-4"),
    (r"^stem\.rpe\.conv$", "position conv"),
    (r"\.attn\.[qkv]\.linear$", "q, k, v linears"),
    (r"\.attn\.qk$", "q k^T"),
    (r"\.attn\.av$", "attn v"),
    (r"\.attn\.proj\.linear$", "attention projection"),
    (r"\.attn\.(kv|kv_sum|q_sum|mask)$", "attention masks and sums"),
    (r"\.mlp\.fc\d\.linear$", "MLP linears"),
    (r"^head$", "classifier head"),
    (r"(lif\d*|lifs\.\d+)$", "LIF neurons"),
)


def layer_type(name: str) -> str:
    for pattern, kind in _TYPES:
        if re.search(pattern, name):
            return kind
    return "other"


def by_layer_type(layers: Sequence[dict]) -> list[dict]:
    """One row per layer type, in network order: compute, memory and total energy (mJ per
    sample) and the share of the network's total."""
    rows: dict[str, dict] = {}
    for layer in layers:
        row = rows.setdefault(layer_type(layer["name"]), {"type": layer_type(layer["name"]), "layers": 0,
                                                          "compute_mj": 0.0, "memory_mj": 0.0})
        row["layers"] += 1
        row["compute_mj"] += layer.get("compute_mj", layer["energy_mj"])
        row["memory_mj"] += layer.get("memory_mj", 0.0)
    total = sum(r["compute_mj"] + r["memory_mj"] for r in rows.values())
    for row in rows.values():
        row["energy_mj"] = row["compute_mj"] + row["memory_mj"]
        row["share"] = row["energy_mj"] / total if total else 0.0
    return list(rows.values())
