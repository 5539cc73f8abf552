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


def _model_label(model: str) -> str:
    from energy.models import get_model

    m = get_model(model)
    costs = f"MAC {m.e_mac_pj:g} pJ, AC {m.e_ac_pj:g} pJ" if m.e_mac_pj is not None else m.charges
    return f"{m.name}: {costs}"


def energy_breakdown(layers: Sequence[dict], path: Path, model: str = "spikformer-45nm") -> Path:
    """Stacked energy per layer in microjoules per sample: MAC, AC and neuron compute, then memory."""
    fig, ax = plt.subplots(figsize=(max(6, 0.22 * len(layers)), 3.8))
    x = list(range(len(layers)))
    bottom = [0.0] * len(layers)
    parts = [("MAC", "#d62728", "compute, real-valued input (MAC)"), ("AC", "#1f77b4", "compute, spike input (AC)"),
             ("neuron", "#2ca02c", "compute, LIF neurons")]
    for kind, color, label in parts:
        values = [layer.get("compute_mj", layer["energy_mj"]) * 1e3 if layer["kind"] == kind else 0.0
                  for layer in layers]
        if any(values):
            ax.bar(x, values, bottom=bottom, color=color, label=label)
            bottom = [b + v for b, v in zip(bottom, values)]
    memory = [layer.get("memory_mj", 0.0) * 1e3 for layer in layers]
    if any(memory):
        ax.bar(x, memory, bottom=bottom, color="#7f7f7f", label="memory reads/writes")
    ax.set_xticks(x, [_short(layer["name"]) for layer in layers], rotation=90, fontsize=7)
    ax.set_ylabel("energy per sample (µJ)")
    ax.set_title(f"Where the energy goes, per layer ({_model_label(model)})", fontsize=9)
    ax.legend(fontsize=8)
    return _save(fig, path)


def energy_by_type(rows: Sequence[dict], path: Path, model: str = "spikformer-45nm") -> Path:
    """Stacked compute and memory energy per layer type (``energy.breakdown.by_layer_type``)."""
    fig, ax = plt.subplots(figsize=(max(6, 0.8 * len(rows)), 3.8))
    x = list(range(len(rows)))
    compute = [r["compute_mj"] * 1e3 for r in rows]
    ax.bar(x, compute, color="#1f77b4", label="compute")
    if any(r["memory_mj"] for r in rows):
        ax.bar(x, [r["memory_mj"] * 1e3 for r in rows], bottom=compute, color="#7f7f7f", label="memory")
    ax.set_xticks(x, [r["type"] for r in rows], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("energy per sample (µJ)")
    ax.set_title(f"Energy by layer type ({_model_label(model)})", fontsize=9)
    ax.legend(fontsize=8)
    return _save(fig, path)


def snn_vs_ann(entries: Sequence[tuple], path: Path, model: str = "spikformer-45nm") -> Path:
    """Grouped bars: each network's spiking energy ``(label, snn, ann[, ann_int8])`` against the same
    network run as an ANN at the model's precision and, where given, as an INT8 ANN (8-bit weights
    and activations, 32-bit accumulation), all counted under ``model``."""
    fig, ax = plt.subplots(figsize=(max(5, 1.5 * len(entries)), 3.6))
    x = range(len(entries))
    int8 = [e[3] if len(e) > 3 else None for e in entries]
    ax.bar([i - 0.27 for i in x], [e[1] for e in entries], width=0.27, color="#1f77b4", label="SNN (spikes)")
    ax.bar(list(x), [e[2] for e in entries], width=0.27, color="#7f7f7f", label="same network as ANN")
    if any(v is not None for v in int8):
        ax.bar([i + 0.27 for i in x], [v or 0 for v in int8], width=0.27, color="#2ca02c",
               label="as an INT8 ANN (32-bit accumulation)")
    ax.set_xticks(list(x), [e[0] for e in entries], rotation=20, fontsize=8)
    ax.set_ylabel("energy per sample (mJ)")
    ax.set_title(f"Total energy: spiking vs ANN ({_model_label(model)})", fontsize=9)
    ax.legend()
    return _save(fig, path)


def model_comparison(rows: Sequence[dict], model_a: str, model_b: str, path: Path) -> Path:
    """Each candidate's energy under two models, one point per candidate, marked by the run it
    comes from (``rows``: dicts with ``run``, ``energy_a``, ``energy_b``)."""
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for run, marker, color in (("A", "o", "#1f77b4"), ("B", "s", "#d62728"), ("A+B", "D", "#2ca02c")):
        chosen = [r for r in rows if r["run"] == run]
        if chosen:
            ax.scatter([r["energy_a"] for r in chosen], [r["energy_b"] for r in chosen], marker=marker, color=color,
                       label={"A": "run A only", "B": "run B only", "A+B": "in both runs"}[run])
    ax.set_xlabel(f"energy under {model_a} (mJ / sample)")
    ax.set_ylabel(f"energy under {model_b} (mJ / sample)")
    ax.ticklabel_format(style="sci", scilimits=(-2, 3))
    ax.set_title("The same candidates under two energy models")
    ax.legend(fontsize=8)
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
