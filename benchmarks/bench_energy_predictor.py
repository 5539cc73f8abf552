"""Which estimate ranks the TRAINED network's energy best? Cross-validated comparison, and the fit we ship.

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python -m benchmarks.bench_energy_predictor

Data: the committed trained-energy studies ``benchmarks/results/correlate_energy_{digits,
ndigits,fashion-mnist}`` (30 architectures each, their ``trained_energy_mj``, init-time energy,
closed-form energy and MACs) and ``benchmarks/results/short_training_energy.json`` (written by
``benchmarks/short_training_energy.py``). Nothing is trained here.

Candidates, each scored by Kendall tau / Spearman rho against trained energy with percentile
bootstrap intervals (``autost.correlate.correlation_stats``, 1000 resamples):
* fit-free, over all 30 architectures of a study: MACs, init-time energy (a forward pass),
  the closed form, and the short-training energies (after 20 / 40 steps, BatchNorm statistics
  recomputed; and without that, as ``train`` leaves them);
* fitted (``energy.predictor``), out of sample: the ReNAS-style residual ranker (closed form x
  exp(linear pairwise ranker on the architecture encoding)); the same encoding regressed on the
  log trained/closed-form ratio by least squares (ridge); and a ranker on the encoding alone
  without the closed form (closest to ReNAS's ranker from scratch; ``log_macs`` is a feature).
  Protocols: leave-one-out within each study (each architecture predicted by a model fitted on
  the study's 29 others; the 30 predictions pooled), and leave-one-study-out (fitted on the
  other two studies' 60, predicting the held-out study's 30: a new dataset and, for
  fashion-mnist, a new space).
Also the relative error of each mJ-valued estimate against the trained energy (median, 90th
percentile, max), which is what an ``--energy-limit`` set on it risks. The rankers are left
out of it: a pairwise loss is blind to scale, so their outputs rank but are no energies
(``energy.predictor``).

Writes benchmarks/results/energy_predictor.json, and the ridge fit on all 90 architectures
(it ranks as well as the rankers and is calibrated) to energy/trained_energy_predictor.json,
what ``--energy predicted`` loads.
"""
from __future__ import annotations

import json
from typing import Callable

import numpy as np

from autost.arch import Arch
from autost.correlate import correlation_stats
from autost.geometry import resolve_geometry
from autost.io import atomic_write_json
from benchmarks.common import RESULTS, write_result
from energy.predictor import FEATURES, FITTED, features, fit

STUDIES = ("digits", "ndigits", "fashion-mnist")
TARGET = "trained_energy_mj"
SHORT_STEPS = (20, 40)
L2 = 0.01  # fixed, not tuned on the studies (tuning it on them would leak into the comparison)
NAMES = tuple(FEATURES)


def load_study(name: str, short: dict) -> list[dict]:
    """The study's rows: its proxies, trained energy, encoding and short-training energies."""
    data = json.loads((RESULTS / f"correlate_energy_{name}" / "correlate.json").read_text())
    settings = data["settings"]
    geometry = resolve_geometry(dataset=settings["dataset"], input_shape=None, num_classes=None, patch_size=None,
                                time_steps=settings["time_steps"])
    rows = []
    for row in data["table"]:
        if row.get("closed_form_mj") is None:
            raise SystemExit(f"{name}: no closed_form_mj; rescore the study first (run.py correlate ... --resume "
                             "--rescore)")
        arch = Arch.from_dict({"RETRAIN": row["arch"]})
        entry = {"study": name, "label": row["label"], "x": features(arch, geometry, NAMES),
                 **{key: row[key] for key in ("macs", "energy_mj", "closed_form_mj", TARGET)}}
        for steps in SHORT_STEPS:
            runs = short.get(name, {}).get(str(steps), {})
            entry[f"short_{steps}_mj"] = runs.get("recalibrated_mj", {}).get(row["label"])
            entry[f"short_{steps}_raw_mj"] = runs.get("energy_mj", {}).get(row["label"])
        rows.append(entry)
    return rows


def _arrays(rows: list[dict]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (np.array([r["x"] for r in rows]), np.array([r["closed_form_mj"] for r in rows]),
            np.array([r[TARGET] for r in rows]))


def _model(method: str, with_closed_form: bool = True):
    """A fitting function: arrays of the fitted architectures -> prediction on new (x, closed form)."""
    def make(x: np.ndarray, closed: np.ndarray, trained: np.ndarray) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        base = closed if with_closed_form else np.ones(len(x))
        p = fit(x, base, trained, names=NAMES, method=method, l2=L2)
        return lambda xs, cs: np.array([(c if with_closed_form else 1.0) * np.exp(
            ((row - np.array(p.mean)) / np.array(p.scale)) @ np.array(p.weights) + p.intercept)
            for row, c in zip(xs, cs)])
    return make


FITTED_MODELS = {"ridge_ratio": _model("ridge"), "ranker": _model("pairwise"),
                 "ranker_from_scratch": _model("pairwise", with_closed_form=False)}


def leave_one_out(rows: list[dict], make) -> list[float]:
    x, closed, trained = _arrays(rows)
    out = []
    for i in range(len(rows)):
        keep = np.arange(len(rows)) != i
        out.append(float(make(x[keep], closed[keep], trained[keep])(x[i:i + 1], closed[i:i + 1])[0]))
    return out


def relative_errors(estimate: list[float | None], trained: list[float]) -> dict | None:
    if any(e is None for e in estimate):
        return None
    ratio = np.array(trained) / np.array(estimate)
    err = np.abs(1 / ratio - 1)
    # max_trained_over_estimate: how far above a limit set on the estimate a trained network went
    return {"median": float(np.median(err)), "p90": float(np.percentile(err, 90)), "max": float(err.max()),
            "max_trained_over_estimate": float(ratio.max())}


def _summary(stats: dict) -> dict:
    return {name: {k: s[k] for k in ("kendall_tau", "kendall_ci", "spearman_rho", "spearman_ci")}
            for name, s in stats.items()}


def main() -> None:
    short_path = RESULTS / "short_training_energy.json"
    short = json.loads(short_path.read_text())["studies"] if short_path.exists() else {}
    studies = {name: load_study(name, short) for name in STUDIES}
    fit_free = ["macs", "energy_mj", "closed_form_mj"] + [f"short_{s}{raw}_mj" for s in SHORT_STEPS
                                                         for raw in ("", "_raw")]
    mj_valued = ["energy_mj", "closed_form_mj"] + [f"short_{s}_mj" for s in SHORT_STEPS]
    result: dict = {"protocol": __doc__.split("\n\n")[1:4], "features": list(NAMES), "l2": L2, "studies": {}}
    for name, rows in studies.items():
        trained = [r[TARGET] for r in rows]
        loo = {model: leave_one_out(rows, make) for model, make in FITTED_MODELS.items()}
        others = [r for other, rs in studies.items() if other != name for r in rs]
        x, closed, _ = _arrays(rows)
        loso = {model: [float(v) for v in make(*_arrays(others))(x, closed)] for model, make in FITTED_MODELS.items()}
        table = [{**{k: r[k] for k in fit_free}, TARGET: r[TARGET],
                  **{f"{m}_loo": loo[m][i] for m in loo}, **{f"{m}_loso": loso[m][i] for m in loso}}
                 for i, r in enumerate(rows)]
        columns = fit_free + [f"{m}_{p}" for p in ("loo", "loso") for m in FITTED_MODELS]
        have = [c for c in columns if all(row[c] is not None for row in table)]
        stats = correlation_stats(table, have, TARGET, resamples=1000, seed=0)
        errors = {c: relative_errors([row[c] for row in table], trained)
                  for c in mj_valued + [f"{m}_{p}" for p in ("loo", "loso") for m in ("ridge_ratio",)]}
        result["studies"][name] = {"architectures": len(rows), "rank_vs_trained_energy": _summary(stats),
                                   "relative_error_vs_trained_energy": errors,
                                   "missing": sorted(set(columns) - set(have))}
    everything = [r for rows in studies.values() for r in rows]
    predictor = fit(*_arrays(everything), names=NAMES, method="ridge", l2=L2, fitted_on={
        "studies": [f"correlate_energy_{name}" for name in STUDIES], "target": TARGET,
        "source": "benchmarks/results/correlate_energy_*/correlate.json (trained 2-3 epochs; see README)",
        "script": "python -m benchmarks.bench_energy_predictor"})
    atomic_write_json(FITTED, predictor.to_dict())
    # the ranker on the same 90, for its weights: a pairwise loss stretches the closed form's spread
    result["ranker_fitted_on_all"] = fit(*_arrays(everything), names=NAMES, method="pairwise", l2=L2).to_dict()
    result["shipped"] = {"path": str(FITTED.relative_to(FITTED.parents[1])), **predictor.to_dict()}
    path = write_result("energy_predictor", result)
    for name, r in result["studies"].items():
        taus = {k: v["kendall_tau"] for k, v in r["rank_vs_trained_energy"].items()}
        print(name, " ".join(f"{k} {v:+.3f}" for k, v in taus.items() if v is not None))
    print(f"-> {path}; fitted predictor -> {FITTED}")


if __name__ == "__main__":
    main()
