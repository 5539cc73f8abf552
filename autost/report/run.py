"""The run report: which architectures, how accurate, how much energy, where it goes.

Reads a run folder (the pipeline's layout: ``search/``, ``train/NN/``) and writes, through
``autost.report.page``, ``report.md`` with PNG plots beside it and ``report.html``, a dashboard
in one self-contained file: a summary at the top (the run in a few lines, the comparison with
the baseline and its verdicts when the run trained one (``autost.report.comparison``), the
chosen architectures' accuracy and energy), a table of contents, then the search, energy and
training sections with their figures in a grid, successive halving's rungs when the training
recorded them (``autost.report.halving``), and what the report leaves out. The report names the
energy model of every figure and its source, splits compute from memory where the model charges
memory, groups each trained network's energy by layer type, and, given a second run, puts the
two runs' candidates under both runs' energy models side by side (``autost.report.compare``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from autost.arch import Arch
from autost.io import atomic_write_text
from autost.report import plots
from autost.report.compare import search_model
from autost.report.comparison import HEAD as COMPARISON_HEAD
from autost.report.comparison import VERDICT_RULE, architecture_label, comparison_rows, has_baseline
from autost.report.halving import halving_section
from autost.report.page import Block, Bullets, Figure, Section, Table, to_html, to_markdown
from autost.report.run_files import read_history, read_init_energy, read_metrics, read_rungs, read_search
from energy.breakdown import by_layer_type
from energy.models import DEFAULT_MODEL, get_model


@dataclass
class RunData:
    search: dict | None = None
    history: list[dict] = field(default_factory=list)
    trained: list[tuple[str, dict]] = field(default_factory=list)  # (label, metrics.json)
    init_energy: dict[str, float] = field(default_factory=dict)  # label -> init-time mJ (pipeline's energy step)
    comparison: dict | None = None  # autost.report.compare.compare_searches of this run's search and another's
    rungs: list[tuple[str, dict]] = field(default_factory=list)  # (training folder, rungs.json): successive halving
    missing: list[str] = field(default_factory=list)  # what the report leaves out, and why


def _first(*paths: Path) -> Path | None:
    return next((p for p in paths if p.is_file()), None)


def load_run(run_dir: str | Path) -> RunData:
    """Find the search results and the trained metrics under ``run_dir``, each file checked for
    the fields the report uses (``autost.report.run_files``), and note what is missing and why."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"{run_dir}: run folder not found")
    data = RunData()
    _load_search(run_dir, data)
    train_dir = run_dir / "train" if (run_dir / "train").is_dir() else run_dir
    for path in sorted(train_dir.rglob("metrics.json")):
        label = path.parent.relative_to(train_dir).as_posix()
        data.trained.append((label if label != "." else "run", read_metrics(path)))
    for path in sorted(train_dir.rglob("rungs.json")):
        label = path.parent.relative_to(train_dir).as_posix()
        data.rungs.append((label if label != "." else "run", read_rungs(path)))
    for path in sorted((run_dir / "energy").rglob("*.json")):
        label = path.relative_to(run_dir / "energy").with_suffix("").as_posix()
        data.init_energy[label] = read_init_energy(path)
    if data.search is None and not data.trained:
        raise FileNotFoundError(f"{run_dir}: no search.json and no metrics.json found; is this a run folder?")
    data.missing += _missing_training(run_dir, train_dir, data)
    return data


def _load_search(run_dir: Path, data: RunData) -> None:
    search = _first(run_dir / "search" / "search.json", run_dir / "search.json")
    if search is None:
        data.missing.append(f"Search: no search.json in {run_dir} or {run_dir / 'search'} (no search ran into this "
                            "folder, or it did not finish)")
        return
    data.search = read_search(search)
    history = search.parent / "history.csv"
    if history.is_file():
        data.history = read_history(history)
    else:
        data.missing.append(f"Search progress: no {history} (the plot of scores per generation needs it)")


def _missing_training(run_dir: Path, train_dir: Path, data: RunData) -> list[str]:
    """What the report cannot show of the training, and why."""
    stopped = {(train_dir if label == "run" else train_dir / label) / c["name"]  # successive halving stopped them
               for label, record in data.rungs for rung in record["rungs"] for c in rung["candidates"] if not c["kept"]}
    missing = [f"Training of {path.parent}: it has {path.name} but no metrics.json, so it did not finish; rerun "
               "it with --resume" for path in sorted(train_dir.rglob("last.pt"))
               if not (path.parent / "metrics.json").is_file() and path.parent not in stopped]
    if not data.trained:
        missing.append(f"Training and trained energy: no metrics.json under {train_dir} (nothing trained into this "
                       "folder)")
    missing += [f"Energy of {label}: its metrics.json has no energy_layers (the energy per layer and per layer type)"
                for label, metrics in data.trained if not metrics.get("energy_layers")]
    if data.trained and not data.init_energy and (run_dir / "train").is_dir():
        shown = "the search's own values are shown where it measured them" if data.search else "none is shown"
        missing.append(f"Init-time energy of the trained networks: no {run_dir / 'energy'} (the pipeline's energy "
                       f"step did not run); {shown}")
    return missing


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
            "init_mj": run.init_energy.get(architecture_label(label), _init_energy(run.search, m["arch"])),
            "trained_mj": m["energy_mj"],
            "trained_memory_mj": m.get("memory_mj"), "test_acc": m["test_acc"],
            "mean_rate": sum(rates) / len(rates) if rates else None,
        })
    if not rows and run.search:
        top_k = run.search["settings"].get("top_k", 5)
        for i, c in enumerate(run.search["candidates"][:top_k], start=1):
            rows.append({"label": f"{i:02d}", "arch": Arch.from_dict(c["arch"]).short(), "params": c["params"],
                         "macs": c["macs"], "init_mj": c["energy_mj"], "trained_mj": None,
                         "trained_memory_mj": None, "test_acc": None, "mean_rate": None})
    return rows


def _has_memory(rows: list[dict]) -> bool:
    return any(r["trained_memory_mj"] for r in rows)


def _table_head(rows: list[dict]) -> list[str]:
    memory = ["of which memory (mJ)"] if _has_memory(rows) else []
    return ["#", "architecture", "params", "MACs", "init energy (mJ)", "trained energy (mJ)", *memory,
            "test accuracy (%)", "mean firing rate"]


def _table_cells(row: dict, memory: bool) -> list[str]:
    acc = None if row["test_acc"] is None else 100 * row["test_acc"]
    return [row["label"], row["arch"], f"{row['params']:,}", f"{row['macs']:,}", _fmt(row["init_mj"]),
            _fmt(row["trained_mj"]), *([_fmt(row["trained_memory_mj"])] if memory else []), _fmt(acc, ".2f"),
            _fmt(row["mean_rate"], ".4f")]


def _metrics_model(m: dict) -> str:
    return m.get("energy_model") or DEFAULT_MODEL


def energy_tables(run: RunData) -> list[tuple[str, Table]]:
    """Per trained network: its energy by layer type, compute against memory; and, with a
    comparison, the candidates of both runs under both energy models."""
    tables = []
    for label, m in run.trained:
        layers = m.get("energy_layers") or []
        if layers:
            rows = [[r["type"], str(r["layers"]), _fmt(r["compute_mj"] * 1e3, ".4g"), _fmt(r["memory_mj"] * 1e3, ".4g"),
                     _fmt(r["energy_mj"] * 1e3, ".4g"), f"{100 * r['share']:.1f}"] for r in by_layer_type(layers)]
            tables.append(("Energy", Table(f"{label} (trained, {_metrics_model(m)}): where the energy goes",
                                           ["layer type", "layers", "compute (µJ)", "memory (µJ)", "total (µJ)",
                                            "share (%)"], rows)))
    c = run.comparison
    if c:
        limit = c["energy_limit_a"]
        rows = [[r["arch"], r["run"], f"{r['params']:,}", f"{r['macs']:,}", _fmt(r["score"]), _fmt(r["energy_a"]),
                 _fmt(r["energy_b"]), _fmt(r["energy_b"] / r["energy_a"] if r["energy_a"] else None, ".3f"),
                 "–" if r["within_a_limit"] is None else ("yes" if r["within_a_limit"] else "no")] for r in c["rows"]]
        tables.append(("Energy models compared", Table(
            f"Run A's top-k and run B's Pareto front (or top-k), each under {c['model_a']} (run A's model) and "
            f"{c['model_b']} (run B's model); same batch and weights"
            + (f"; run A's limit {limit:g} mJ" if limit is not None else ""),
            ["architecture", "from run", "params", "MACs", "score", f"{c['model_a']} (mJ)", f"{c['model_b']} (mJ)",
             "ratio B/A", "within A's limit"], rows)))
    return tables


def make_plots(run: RunData, out: Path) -> list[tuple[str, str, Path]]:
    """Every plot the run's data allows, as (section, caption, path)."""
    figures = []
    if run.search:
        s = run.search
        model = search_model(s)
        if run.history:
            figures.append(("Search", "Best and mean score of the top-k per generation",
                            plots.search_history(run.history, s["score"], out / "search_history.png")))
        chosen_arch = [m["arch"] for _, m in run.trained] or [c["arch"] for c in s["candidates"][:5]]
        chosen = [i for i, c in enumerate(s["candidates"]) if c["arch"] in chosen_arch]
        figures.append(("Search", f"Every evaluated candidate: params vs MACs, coloured by init-time energy ({model})",
                        plots.candidates_scatter(s["candidates"], chosen, out / "candidates.png")))
        if any(c["energy_mj"] is not None for c in s["candidates"]):
            figures.append(("Search", f"Accuracy proxy vs init-time energy ({model}) with its Pareto front",
                            plots.proxy_energy_front(s["candidates"], s["score"], out / "pareto.png")))
    for label, m in run.trained:
        layers = m.get("energy_layers") or []
        if layers:
            stem, model = label.replace("/", "_"), _metrics_model(m)
            figures.append(("Energy", f"{label}: input firing rate per layer (trained)",
                            plots.firing_rates([x for x in layers if x["kind"] != "neuron"],
                                               out / f"firing_rates_{stem}.png")))
            figures.append(("Energy", f"{label}: energy per layer, compute and memory (trained, {model})",
                            plots.energy_breakdown(layers, out / f"energy_layers_{stem}.png", model=model)))
            figures.append(("Energy", f"{label}: energy by layer type, compute and memory (trained, {model})",
                            plots.energy_by_type(by_layer_type(layers), out / f"energy_types_{stem}.png",
                                                 model=model)))
    if run.trained:
        models = {_metrics_model(m) for _, m in run.trained}
        entries = [(label, m["energy_mj"], m["ann_mj"], m.get("ann_int8_mj")) for label, m in run.trained
                   if m.get("ann_mj") is not None]
        if entries and len(models) == 1:
            figures.append(("Energy", f"Total energy per sample against the same networks as ANNs ({models.pop()})",
                            plots.snn_vs_ann(entries, out / "snn_vs_ann.png", model=_metrics_model(run.trained[0][1]))))
        figures.append(("Training", "Training loss and validation accuracy per epoch",
                        plots.training_curves([(label, m["epochs"]) for label, m in run.trained],
                                              out / "training_curves.png")))
    if run.comparison:
        c = run.comparison
        figures.append(("Energy models compared", f"Each candidate's energy under {c['model_a']} and {c['model_b']}",
                        plots.model_comparison(c["rows"], c["model_a"], c["model_b"], out / "energy_models.png")))
    return figures


def _model_lines(run: RunData) -> list[str]:
    """Which energy model each part of the report uses, what it charges and its source."""
    used: dict[str, list[str]] = {}
    if run.search and any(c["energy_mj"] is not None for c in run.search["candidates"]):
        used.setdefault(search_model(run.search), []).append("search")
    for label, m in run.trained:
        used.setdefault(_metrics_model(m), []).append(f"trained {label}")
    if run.comparison:
        used.setdefault(run.comparison["model_b"], []).append("comparison (run B)")
    lines = []
    for name, where in used.items():
        m = get_model(name)
        lines.append(f"Energy model `{name}` ({', '.join(where)}): charges {m.charges}; {m.summary}. "
                     f"Source: {m.source}.")
    return lines


def _summary_lines(run: RunData) -> list[str]:
    lines = []
    if run.search:
        s = run.search
        lines.append(f"Search: {s['algorithm']} over `{s['space']}`, score `{s['score']}`, "
                     f"{len(s['candidates'])} legal candidates in {s['elapsed_s']:.1f} s, seed {s['seed']}.")
    for label, m in run.trained:
        memory = f" (of which memory {m['memory_mj']:.6g})" if m.get("memory_mj") else ""
        lines.append(f"Trained {label} on `{m['dataset']}`: test accuracy {100 * m['test_acc']:.2f}%, "
                     f"energy {m['energy_mj']:.6g} mJ per sample{memory}.")
    return lines


def verdict_lines(compared: list[list[str]]) -> list[str]:
    """One line per architecture of the comparison table (``comparison_rows``): its verdict, the
    paired accuracy difference and its trained energy against the baseline's."""
    lines, baseline_energy = [], {}
    for row in compared:
        cell = dict(zip(COMPARISON_HEAD, row))
        if cell["verdict"] == "baseline":
            baseline_energy[cell["dataset"]] = cell["trained energy (mJ)"]
            continue
        line = f"{cell['dataset']}, {cell['architecture']}: {cell['verdict']}"
        if cell["paired difference (points)"] != "–":
            line += (f" (paired accuracy difference {cell['paired difference (points)']} points, "
                     f"95% interval {cell['95% interval of the difference']}; trained energy "
                     f"{cell['trained energy (mJ)']} mJ against the baseline's {baseline_energy[cell['dataset']]} mJ)")
        lines.append(line + ".")
    return lines


TITLE = "AutoST report"
SUMMARY = "Summary"
AGAINST_BASELINE = "Against the baseline"
CHOSEN = "Chosen architectures"
SECTIONS = ("Search", "Energy", "Energy models compared", "Training")
NOT_HERE = "Not in this report"


def _summary(run: RunData) -> Section:
    """The top of the report: the run in a few lines, the comparison with the baseline (when the
    run trained one) with a verdict per architecture, the chosen architectures' accuracy and
    energy, and which energy model each figure uses."""
    rows = architecture_rows(run)
    memory = _has_memory(rows)
    facts = _summary_lines(run)
    summary = Section(SUMMARY, ([Bullets(facts)] if facts else []) + _model_lines(run))
    compared = comparison_rows(run.trained) if has_baseline(run.trained) else []
    if compared:
        summary.subsections.append(Section(AGAINST_BASELINE, [Bullets(verdict_lines(compared)),
                                                              Table("", COMPARISON_HEAD, compared), VERDICT_RULE]))
    summary.subsections.append(Section(CHOSEN, [Table("", _table_head(rows), [_table_cells(r, memory) for r in rows])]))
    return summary


def report_sections(run: RunData, out: Path) -> list[Section]:
    """The report's sections in order, the summary first; the plots are written into ``out``."""
    figures = make_plots(run, out)
    tables = energy_tables(run)
    sections = [_summary(run)]
    for title in SECTIONS:
        blocks: list[Block] = [table for where, table in tables if where == title]
        blocks += [Figure(caption, path) for where, caption, path in figures if where == title]
        if blocks:
            sections.append(Section(title, blocks))
    halving = halving_section(run.rungs)
    if halving:
        sections.append(halving)
    if run.missing:
        sections.append(Section(NOT_HERE, [Bullets(run.missing)]))
    return sections


def write_report(run: RunData, out_dir: str | Path) -> Path:
    """Write report.md, report.html and the PNGs into ``out_dir``; returns the HTML path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sections = report_sections(run, out)
    atomic_write_text(out / "report.md", to_markdown(TITLE, sections))
    atomic_write_text(out / "report.html", to_html(TITLE, sections))
    return out / "report.html"
