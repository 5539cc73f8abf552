"""Plots of a proxy-accuracy correlation study (autost.correlate): proxy against accuracy for
every proxy, and each proxy's Kendall tau, overall and within bins of near-equal MACs, with its
bootstrap interval."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

from autost.report.plots import _save, plt

LABELS = {
    "closed_form_mj": "closed-form init energy (mJ)",
    "macs": "MACs",
    "params": "parameters",
    "energy_mj": "init-time energy (mJ)",
    "naswot": "NASWOT",
    "sahd": "SAHD",
    "autost": "AutoST (MACs + λ/NASWOT)",
    "synflow": "synflow",
    "grad_norm": "grad-norm",
    "zico": "ZiCo",
    "supernet": "supernet (inherited weights)",
}


def _tau_text(stat: Mapping[str, Any]) -> str:
    """The panel's title: overall tau with its interval, then the tau within MACs bins."""
    tau, ci = stat["kendall_tau"], stat["kendall_ci"]
    binned = stat["size_controlled"]["binned_kendall"]
    overall = "τ undefined" if tau is None else f"τ = {tau:.2f}" + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "")
    return overall + "\n" + ("binned τ undefined" if binned is None else f"within MACs bins τ = {binned:.2f}")


def proxy_scatter(table: Sequence[Mapping[str, Any]], proxies: Sequence[str], stats: Mapping[str, Mapping[str, Any]],
                  path: Path, target: str = "test_acc", title: str = "") -> Path:
    """One panel per proxy: its value at initialization against the trained accuracy (%).
    A proxy spanning more than two decades of positive values gets a log axis."""
    rows = [row for row in table if row.get(target) is not None]
    cols = 4
    nrows = math.ceil(len(proxies) / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(3.2 * cols, 2.8 * nrows), squeeze=False)
    acc = [100 * row[target] for row in rows]
    for ax, proxy in zip(axes.flat, proxies):
        pairs = [(row[proxy], a) for row, a in zip(rows, acc) if row.get(proxy) is not None]
        if not pairs:  # a proxy this study could not compute (closed_form_mj under a counting model)
            ax.axis("off")
            continue
        values = [v for v, _ in pairs]
        ax.scatter(values, [a for _, a in pairs], s=14, color="#1f77b4")
        if min(values) > 0 and max(values) > 100 * min(values):
            ax.set_xscale("log")
        else:
            ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
        ax.set_xlabel(LABELS.get(proxy, proxy), fontsize=8)
        ax.set_ylabel("test accuracy (%)", fontsize=8)
        ax.set_title(_tau_text(stats[proxy]), fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(proxies):]:
        ax.axis("off")
    fig.suptitle(title or "Proxy at initialization vs accuracy after training", fontsize=10)
    return _save(fig, path)


def _bars(ax: Any, positions: list[float], values: list[float | None], intervals: list[list[float] | None],
          **style: Any) -> None:
    """Bars at ``positions`` with their intervals as error bars; an undefined value is left empty."""
    taus = [0.0 if v is None else v for v in values]
    low = [t - ci[0] if ci else 0.0 for t, ci in zip(taus, intervals)]
    high = [ci[1] - t if ci else 0.0 for t, ci in zip(taus, intervals)]
    ax.bar(positions, taus, yerr=[low, high], capsize=3, **style)


def tau_bars(stats: Mapping[str, Mapping[str, Any]], path: Path, title: str = "") -> Path:
    """Kendall's tau of each proxy against accuracy, overall and within bins of near-equal MACs,
    with bootstrap intervals as error bars; an undefined tau is left empty."""
    proxies = list(stats)
    width = 0.4
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(proxies)), 3.8))
    _bars(ax, [i - width / 2 for i in range(len(proxies))], [stats[p]["kendall_tau"] for p in proxies],
          [stats[p]["kendall_ci"] for p in proxies], width=width, color="#1f77b4", label="overall")
    controlled = [stats[p]["size_controlled"] for p in proxies]
    _bars(ax, [i + width / 2 for i in range(len(proxies))], [c["binned_kendall"] for c in controlled],
          [c["binned_kendall_ci"] for c in controlled], width=width, color="#ff7f0e",
          label="within bins of near-equal MACs")
    ax.legend(fontsize=8, loc="lower left")
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(len(proxies)), [LABELS.get(p, p) for p in proxies], rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("Kendall τ vs test accuracy")
    ax.set_ylim(-1.05, 1.05)
    ax.set_title(title + ("  " if title else "") + "(bars: 95% bootstrap interval)", fontsize=10)
    return _save(fig, path)
