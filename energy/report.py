"""The run report: which architectures, how accurate, how much energy, where it goes.

Reads a run folder (the pipeline's layout: ``search/``, ``train/NN/``) and writes
``report.md`` with PNG plots beside it and ``report.html`` with the same plots embedded,
so the HTML file opens anywhere on its own.
"""
from __future__ import annotations

import base64
import csv
import html
from dataclasses import dataclass, field
from pathlib import Path

from autost.arch import Arch
from autost.errors import UsageError
from autost.io import atomic_write_text
from autost.validate import load_json
from energy import plots


@dataclass
class RunData:
    search: dict | None = None
    history: list[dict] = field(default_factory=list)
    trained: list[tuple[str, dict]] = field(default_factory=list)  # (label, metrics.json)
    init_energy: dict[str, float] = field(default_factory=dict)  # label -> init-time mJ (pipeline's energy step)


SEARCH_KEYS = ("space", "algorithm", "score", "seed", "settings", "candidates", "elapsed_s")
CANDIDATE_KEYS = ("arch", "params", "macs", "energy_mj", "score")
METRICS_KEYS = ("arch", "dataset", "params", "macs", "epochs", "test_acc", "energy_mj")


def _first(*paths: Path) -> Path | None:
    return next((p for p in paths if p.is_file()), None)


def _check_arch(path: Path, arch: object, where: str) -> None:
    try:
        Arch.from_dict(arch)
    except ValueError as err:
        raise UsageError(f"{path}: {where} is not a valid architecture ({err}); rerun the step that wrote it") from None


def _read_search(path: Path) -> dict:
    """search.json, checked for what the report reads, so a damaged file is one line naming it."""
    data = load_json(path, "search result", SEARCH_KEYS)
    candidates = data["candidates"]
    if not isinstance(candidates, list) or not isinstance(data["settings"], dict):
        raise UsageError(f"{path}: candidates must be a list and settings a mapping; rerun the search")
    for i, c in enumerate(candidates):
        missing = [k for k in CANDIDATE_KEYS if not isinstance(c, dict) or k not in c]
        if missing:
            raise UsageError(f"{path}: candidate {i} lacks {', '.join(missing)}; rerun the search")
        _check_arch(path, c["arch"], f"candidate {i}'s arch")
    return data


def _read_metrics(path: Path) -> dict:
    data = load_json(path, "training metrics", METRICS_KEYS)
    _check_arch(path, data["arch"], "arch")
    if not isinstance(data["epochs"], list):
        raise UsageError(f"{path}: epochs must be a list; rerun the training")
    return data


def load_run(run_dir: str | Path) -> RunData:
    """Find the search results and the trained metrics under ``run_dir``."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: run folder not found")
    data = RunData()
    search = _first(run_dir / "search" / "search.json", run_dir / "search.json")
    if search:
        data.search = _read_search(search)
        history = search.parent / "history.csv"
        if history.is_file():
            data.history = list(csv.DictReader(history.open()))
    train_dir = run_dir / "train" if (run_dir / "train").is_dir() else run_dir
    for path in sorted(train_dir.rglob("metrics.json")):
        label = path.parent.relative_to(train_dir).as_posix()
        data.trained.append((label if label != "." else "run", _read_metrics(path)))
    for path in sorted((run_dir / "energy").rglob("*.json")):
        label = path.relative_to(run_dir / "energy").with_suffix("").as_posix()
        init = load_json(path, "init-time energy", ("init",))["init"]
        if not isinstance(init, dict) or "energy_mj" not in init:
            raise UsageError(f"{path}: init.energy_mj is missing; rerun the pipeline's energy step")
        data.init_energy[label] = init["energy_mj"]
    if data.search is None and not data.trained:
        raise FileNotFoundError(f"{run_dir}: no search.json and no metrics.json found; is this a run folder?")
    return data


def _fmt(value: float | None, spec: str = ".6g") -> str:
    return "–" if value is None else format(value, spec)


def _init_energy(search: dict | None, arch: dict) -> float | None:
    """The init-time energy the search measured for ``arch``, if it did."""
    for c in (search or {}).get("candidates", []):
        if c["arch"] == arch:
            return c["energy_mj"]
    return None


def architecture_rows(run: RunData) -> list[dict]:
    """One row per trained architecture, or per top-k search candidate when nothing was trained."""
    rows = []
    for label, m in run.trained:
        rates = list(m.get("firing_rates", {}).values())
        rows.append({
            "label": label, "arch": Arch.from_dict(m["arch"]).short(), "params": m["params"], "macs": m["macs"],
            "init_mj": run.init_energy.get(label, _init_energy(run.search, m["arch"])), "trained_mj": m["energy_mj"],
            "test_acc": m["test_acc"], "mean_rate": sum(rates) / len(rates) if rates else None,
        })
    if not rows and run.search:
        top_k = run.search["settings"].get("top_k", 5)
        for i, c in enumerate(run.search["candidates"][:top_k], start=1):
            rows.append({"label": f"{i:02d}", "arch": Arch.from_dict(c["arch"]).short(), "params": c["params"],
                         "macs": c["macs"], "init_mj": c["energy_mj"], "trained_mj": None, "test_acc": None,
                         "mean_rate": None})
    return rows


TABLE_HEAD = ["#", "architecture", "params", "MACs", "init energy (mJ)", "trained energy (mJ)",
              "test accuracy (%)", "mean firing rate"]


def _table_cells(row: dict) -> list[str]:
    acc = None if row["test_acc"] is None else 100 * row["test_acc"]
    return [row["label"], row["arch"], f"{row['params']:,}", f"{row['macs']:,}", _fmt(row["init_mj"]),
            _fmt(row["trained_mj"]), _fmt(acc, ".2f"), _fmt(row["mean_rate"], ".4f")]


def make_plots(run: RunData, out: Path) -> list[tuple[str, str, Path]]:
    """Every plot the run's data allows, as (section, caption, path)."""
    figures = []
    if run.search:
        s = run.search
        if run.history:
            figures.append(("Search", "Best and mean score of the top-k per generation",
                            plots.search_history(run.history, s["score"], out / "search_history.png")))
        chosen_arch = [m["arch"] for _, m in run.trained] or [c["arch"] for c in s["candidates"][:5]]
        chosen = [i for i, c in enumerate(s["candidates"]) if c["arch"] in chosen_arch]
        figures.append(("Search", "Every evaluated candidate: params vs MACs, coloured by init-time energy",
                        plots.candidates_scatter(s["candidates"], chosen, out / "candidates.png")))
        if any(c["energy_mj"] is not None for c in s["candidates"]):
            figures.append(("Search", "Accuracy proxy vs init-time energy with its Pareto front",
                            plots.proxy_energy_front(s["candidates"], s["score"], out / "pareto.png")))
    for label, m in run.trained:
        layers = m.get("energy_layers") or []
        if layers:
            stem = label.replace("/", "_")
            figures.append(("Energy", f"{label}: input firing rate per layer (trained)",
                            plots.firing_rates(layers, out / f"firing_rates_{stem}.png")))
            figures.append(("Energy", f"{label}: MAC vs AC energy per layer (trained)",
                            plots.energy_breakdown(layers, out / f"energy_layers_{stem}.png")))
    if run.trained:
        entries = [(label, m["energy_mj"], m["ann_mj"]) for label, m in run.trained if m.get("ann_mj") is not None]
        if entries:
            figures.append(("Energy", "Total energy per sample against the same networks as ANNs",
                            plots.snn_vs_ann(entries, out / "snn_vs_ann.png")))
        figures.append(("Training", "Training loss and validation accuracy per epoch",
                        plots.training_curves([(label, m["epochs"]) for label, m in run.trained],
                                              out / "training_curves.png")))
    return figures


def _summary_lines(run: RunData) -> list[str]:
    lines = []
    if run.search:
        s = run.search
        lines.append(f"Search: {s['algorithm']} over `{s['space']}`, score `{s['score']}`, "
                     f"{len(s['candidates'])} legal candidates in {s['elapsed_s']:.1f} s, seed {s['seed']}.")
    for label, m in run.trained:
        lines.append(f"Trained {label} on `{m['dataset']}`: test accuracy {100 * m['test_acc']:.2f}%, "
                     f"energy {m['energy_mj']:.6g} mJ per sample.")
    return lines


def write_report(run: RunData, out_dir: str | Path) -> Path:
    """Write report.md, report.html and the PNGs into ``out_dir``; returns the HTML path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rows = architecture_rows(run)
    figures = make_plots(run, out)
    summary = _summary_lines(run)

    md = ["# AutoST report", "", *summary, "", "## Chosen architectures", "",
          "| " + " | ".join(TABLE_HEAD) + " |", "|" + "---|" * len(TABLE_HEAD)]
    md += ["| " + " | ".join(_table_cells(r)) + " |" for r in rows]
    for section in ("Search", "Energy", "Training"):
        entries = [(caption, path) for sec, caption, path in figures if sec == section]
        if entries:
            md += ["", f"## {section}", ""] + [f"![{caption}]({path.name})\n\n{caption}\n" for caption, path in entries]
    atomic_write_text(out / "report.md", "\n".join(md) + "\n")

    def img(path: Path, caption: str) -> str:
        data = base64.b64encode(path.read_bytes()).decode()
        return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(caption)}">'
                f"<figcaption>{html.escape(caption)}</figcaption></figure>")

    body = ["<h1>AutoST report</h1>"] + [f"<p>{html.escape(line).replace('`', '')}</p>" for line in summary]
    body += ["<h2>Chosen architectures</h2><table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in TABLE_HEAD)
             + "</tr>"]
    body += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in _table_cells(r)) + "</tr>" for r in rows]
    body.append("</table>")
    for section in ("Search", "Energy", "Training"):
        entries = [(caption, path) for sec, caption, path in figures if sec == section]
        if entries:
            body += [f"<h2>{section}</h2>"] + [img(path, caption) for caption, path in entries]
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
             "img{max-width:100%}figure{margin:1.5em 0}figcaption{color:#555;font-size:90%}")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>AutoST report</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")
    atomic_write_text(out / "report.html", page)
    return out / "report.html"
