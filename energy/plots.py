"""Plots of energy, search and training results (matplotlib, Agg backend: no display needed).

Each function takes plain data (lists of dicts as written in the JSON files) and a PNG path.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)

from autost.pareto import non_dominated  # noqa: E402

DPI = 110


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def _short(name: str) -> str:
    """Layer names without the repeated module words, to keep tick labels readable."""
    return name.replace("blocks.", "b").replace(".linear", "").replace(".conv", "").replace("stem.stages.", "stem")


def firing_rates(layers: Sequence[dict], path: Path, title: str = "Input firing rate per layer") -> Path:
    """Bars of each weight layer's input firing rate; real-valued (MAC) inputs are hatched at 1."""
    fig, ax = plt.subplots(figsize=(max(6, 0.22 * len(layers)), 3.6))
    names = [_short(layer["name"]) for layer in layers]
    colors = ["#d62728" if layer["kind"] == "MAC" else "#1f77b4" for layer in layers]
    ax.bar(range(len(layers)), [layer["firing_rate"] for layer in layers], color=colors)
    ax.set_xticks(range(len(layers)), names, rotation=90, fontsize=7)
    ax.set_ylabel("firing rate (fraction of non-zero inputs)")
    ax.set_ylim(0, 1.05)
    ax.set_title(title + "  (red: real-valued input, counted as MAC)")
    return _save(fig, path)


def energy_breakdown(layers: Sequence[dict], path: Path) -> Path:
    """Stacked MAC and AC energy per layer, in microjoules per sample."""
    fig, ax = plt.subplots(figsize=(max(6, 0.22 * len(layers)), 3.6))
    x = range(len(layers))
    mac = [layer["energy_mj"] * 1e3 if layer["kind"] == "MAC" else 0.0 for layer in layers]
    ac = [layer["energy_mj"] * 1e3 if layer["kind"] == "AC" else 0.0 for layer in layers]
    ax.bar(x, mac, color="#d62728", label="MAC (4.6 pJ each)")
    ax.bar(x, ac, bottom=mac, color="#1f77b4", label="AC (0.9 pJ each)")
    ax.set_xticks(list(x), [_short(layer["name"]) for layer in layers], rotation=90, fontsize=7)
    ax.set_ylabel("energy per sample (µJ)")
    ax.set_title("Where the energy goes: MAC vs AC energy per layer")
    ax.legend()
    return _save(fig, path)


def snn_vs_ann(entries: Sequence[tuple[str, float, float]], path: Path) -> Path:
    """Grouped bars: each network's spiking energy against the same network run as an ANN."""
    fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(entries)), 3.6))
    x = range(len(entries))
    ax.bar([i - 0.2 for i in x], [e[1] for e in entries], width=0.4, color="#1f77b4", label="SNN (spikes)")
    ax.bar([i + 0.2 for i in x], [e[2] for e in entries], width=0.4, color="#7f7f7f", label="same network as ANN")
    ax.set_xticks(list(x), [e[0] for e in entries], rotation=20, fontsize=8)
    ax.set_ylabel("energy per sample (mJ)")
    ax.set_title("Total energy: spiking vs ANN cost (all MACs at 4.6 pJ)")
    ax.legend()
    return _save(fig, path)


def search_history(history: Sequence[dict], score: str, path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(6, 3.6))
    rows = [r for r in history if r["best"] not in (None, "")]
    gens = [int(r["generation"]) for r in rows]
    ax.plot(gens, [float(r["best"]) for r in rows], marker="o", label="best of top-k")
    ax.plot(gens, [float(r["mean"]) for r in rows], marker=".", label="mean of top-k")
    ax.set_xlabel("generation")
    ax.set_ylabel(f"score ({score})")
    ax.set_title("Search progress")
    ax.legend()
    return _save(fig, path)


def candidates_scatter(candidates: Sequence[dict], chosen: Sequence[int], path: Path) -> Path:
    """Params vs MACs of every evaluated candidate, coloured by init-time energy when known."""
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    params = [c["params"] / 1e6 for c in candidates]
    macs = [c["macs"] / 1e9 for c in candidates]
    energy = [c["energy_mj"] for c in candidates]
    if all(e is not None for e in energy):
        points = ax.scatter(params, macs, c=energy, cmap="viridis", s=14)
        fig.colorbar(points, ax=ax, label="init-time energy (mJ / sample)")
    else:
        ax.scatter(params, macs, s=14, color="#1f77b4")
    ax.scatter([params[i] for i in chosen], [macs[i] for i in chosen], s=120, facecolors="none",
               edgecolors="#d62728", linewidths=2, label="chosen (top-k)")
    ax.set_xlabel("parameters (M)")
    ax.set_ylabel("MACs (G, one sample, all T)")
    ax.set_title(f"All {len(candidates)} evaluated candidates")
    ax.legend()
    return _save(fig, path)


def proxy_energy_front(candidates: Sequence[dict], score: str, path: Path) -> Path:
    """Accuracy proxy (the search score) against init-time energy, with the Pareto front
    (higher score, lower energy) drawn."""
    known = [c for c in candidates if c["energy_mj"] is not None]
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.scatter([c["energy_mj"] for c in known], [c["score"] for c in known], s=14, color="#9fb8d6",
               label="candidates")
    front = sorted(non_dominated(known, [lambda c: c["energy_mj"], lambda c: -c["score"]]),
                   key=lambda c: c["energy_mj"])
    ax.plot([c["energy_mj"] for c in front], [c["score"] for c in front], marker="o", color="#d62728",
            label=f"Pareto front ({len(front)})", drawstyle="steps-post")
    ax.set_xlabel("init-time energy (mJ / sample)")
    ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
    ax.set_ylabel(f"accuracy proxy: {score}")
    ax.set_title("Accuracy proxy vs energy")
    ax.legend()
    return _save(fig, path)


def training_curves(runs: Sequence[tuple[str, Sequence[dict]]], path: Path) -> Path:
    """Train loss and validation accuracy per epoch, one line per trained architecture."""
    fig, (loss_ax, acc_ax) = plt.subplots(1, 2, figsize=(10, 3.6))
    for label, epochs in runs:
        xs = [e["epoch"] for e in epochs]
        loss_ax.plot(xs, [e["train_loss"] for e in epochs], marker=".", label=label)
        acc_ax.plot(xs, [100 * e["val_acc"] for e in epochs], marker=".", label=label)
    loss_ax.set_xlabel("epoch")
    loss_ax.set_ylabel("train loss")
    loss_ax.set_title("Training loss")
    acc_ax.set_xlabel("epoch")
    acc_ax.set_ylabel("validation accuracy (%)")
    acc_ax.set_title("Validation accuracy")
    acc_ax.legend(fontsize=8)
    return _save(fig, path)
