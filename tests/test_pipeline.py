import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from autost.cli import main
from conftest import ROOT

CONFIG = {
    "search": {"space": str(ROOT / "spaces" / "digits.yaml"), "dataset": "digits", "time_steps": 2,
               "population": 6, "select": 2, "mutation": 2, "crossover": 2, "generations": 2, "top_k": 2,
               "batch_size": 8, "param_limits": [0.02, 0.1]},
    "train": {"dataset": "digits", "top_k": 2, "epochs": 2, "warmup_epochs": 0, "limit": 96, "batch_size": 32,
              "time_steps": 2},
    "energy": {"batch_size": 16},
    "report": {},
}


def _write(tmp_path, config):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _pipeline(tmp_path_factory, name: str, config: dict):
    """A finished pipeline run of ``config`` in a fresh folder: its output folder."""
    tmp = tmp_path_factory.mktemp(name)
    out = tmp / "run"
    assert main(["pipeline", "--config", str(_write(tmp, config)), "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory):
    return _pipeline(tmp_path_factory, "pipe", CONFIG)


def test_report_numbers_equal_the_json_files(pipeline_run):
    md = (pipeline_run / "report" / "report.md").read_text()
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in md.splitlines()
            if line.startswith("| digits/")]
    assert [r[0] for r in rows] == ["digits/01", "digits/02"]
    for row in rows:
        metrics = json.loads((pipeline_run / "train" / row[0] / "metrics.json").read_text())
        init = json.loads((pipeline_run / "energy" / f"{row[0]}.json").read_text())["init"]["energy_mj"]
        assert int(row[2].replace(",", "")) == metrics["params"]
        assert int(row[3].replace(",", "")) == metrics["macs"]
        assert float(row[4]) == pytest.approx(init, rel=1e-5)
        assert float(row[5]) == pytest.approx(metrics["energy_mj"], rel=1e-5)
        assert float(row[6]) == pytest.approx(100 * metrics["test_acc"], abs=0.006)
    html = (pipeline_run / "report" / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 7


def test_killed_pipeline_resumes_without_redoing_the_search(tmp_path):
    config = {**CONFIG, "train": {**CONFIG["train"], "epochs": 3, "limit": 128}}
    path = _write(tmp_path, config)
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, str(ROOT / "run.py"), "pipeline", "--config", str(path), "--out", str(out)],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = out / "train" / "digits" / "01" / "last.pt"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not last.exists():
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert last.exists() and not (out / "report").exists(), "the pipeline ended before training could be killed"
    search_json = out / "search" / "search.json"
    before = (search_json.stat().st_mtime_ns, search_json.read_bytes())
    assert main(["pipeline", "--config", str(path), "--out", str(out), "--resume"]) == 0
    assert (search_json.stat().st_mtime_ns, search_json.read_bytes()) == before
    assert (out / "report" / "report.html").exists()
    metrics = json.loads((out / "train" / "digits" / "01" / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2, 3]


def test_missing_data_root_fails_at_once_before_any_search(tmp_path, capsys):
    config = {**CONFIG, "search": {**CONFIG["search"], "dataset": "cifar10"}, "train": {"dataset": "cifar10"}}
    out = tmp_path / "run"
    start = time.perf_counter()
    assert main(["pipeline", "--config", str(_write(tmp_path, config)), "--out", str(out)]) == 2
    assert time.perf_counter() - start < 1.0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cifar10" in err and "--data-root" in err
    assert not out.exists()


@pytest.mark.parametrize("config_name", ["cifar10", "cifar100", "dvsgesture", "cifar10dvs"])
def test_shipped_real_dataset_configs_ask_for_their_data(tmp_path, capsys, config_name):
    assert main(["pipeline", "--config", str(ROOT / "configs" / f"{config_name}.yaml"), "--out", str(tmp_path / "o"),
                 "--data-root", str(tmp_path / "nothing")]) == 2
    assert str(tmp_path / "nothing") in capsys.readouterr().err


def test_bad_config_keys_are_one_line_errors(tmp_path, capsys):
    config = {**CONFIG, "search": {**CONFIG["search"], "populaton": 5}}
    assert main(["pipeline", "--config", str(_write(tmp_path, config)), "--out", str(tmp_path / "o")]) == 2
    assert "search.populaton is not an option of run.py search" in capsys.readouterr().err
    assert main(["pipeline", "--config", str(_write(tmp_path, CONFIG)), "--out", str(tmp_path / "o"),
                 "--set", "nonsense"]) == 2
    assert "SECTION.KEY=VALUE" in capsys.readouterr().err
    config = {**CONFIG, "train": {**CONFIG["train"], "aug": {"mixupp": 0.5}}}
    assert main(["pipeline", "--config", str(_write(tmp_path, config)), "--out", str(tmp_path / "o")]) == 2
    assert "--aug mixupp: not an augmentation key" in capsys.readouterr().err
    assert not (tmp_path / "o" / "search").exists()  # refused before the search


BASELINE = {"DEPTH": 2, "EMBED_DIM": 48, "MLP_RATIO": [4, 4], "NUM_HEADS": [2, 2]}
BASELINE_CONFIG = {
    **CONFIG,
    "search": {**{k: v for k, v in CONFIG["search"].items() if k != "param_limits"}, "match_baseline": True},
    "baseline": {"RETRAIN": BASELINE},
    "train": {**CONFIG["train"], "top_k": 1, "epochs": 1, "limit": 64, "seeds": [0, 1]},
}
COMPARISON_HEAD = ["dataset", "architecture", "seeds", "test accuracy (%)", "95% interval",
                   "paired difference (points)", "95% interval of the difference", "trained energy (mJ)", "params",
                   "MACs", "verdict"]


@pytest.fixture(scope="module")
def baseline_run(tmp_path_factory):
    return _pipeline(tmp_path_factory, "base", BASELINE_CONFIG)


def _metrics(run, seed, name):
    return json.loads((run / "train" / "digits" / f"seed{seed}" / name / "metrics.json").read_text())


def test_baseline_is_trained_with_the_same_settings_and_seeds(baseline_run):
    for seed in (0, 1):
        base, searched = _metrics(baseline_run, seed, "baseline"), _metrics(baseline_run, seed, "01")
        assert base["arch"] == BASELINE
        assert base["settings"] == searched["settings"]
        assert base["settings"]["seed"] == seed and base["settings"]["epochs"] == 1
    assert sorted(p.name for p in (baseline_run / "train" / "digits").iterdir()) == ["seed0", "seed1"]
    assert (baseline_run / "energy" / "digits" / "baseline.json").exists()


def test_search_limits_are_the_baselines_params_and_closed_form_energy(baseline_run):
    from autost.arch import Arch
    from autost.geometry import resolve_geometry
    from energy.closed_form import RateTable, closed_form_energy

    search = json.loads((baseline_run / "search" / "search.json").read_text())
    limits = search["settings"]["constraints"]
    params = _metrics(baseline_run, 0, "baseline")["params"]  # counted on the trained model
    geometry = resolve_geometry(dataset="digits", input_shape=None, num_classes=None, patch_size=None, time_steps=2)
    energy = closed_form_energy(Arch.from_dict(BASELINE), geometry, RateTable.from_dict(search["energy_rates"]),
                                "spikformer-45nm")
    assert search["energy_method"]["method"] == "closed-form"
    assert limits == {"param_min": None, "param_max": params / 1e6, "energy_max_mj": pytest.approx(energy, rel=1e-12)}
    assert search["match_baseline"]["params"] == params
    assert search["match_baseline"]["energy_mj"] == limits["energy_max_mj"]
    assert all(c["params"] <= params and c["energy_mj"] <= limits["energy_max_mj"] for c in search["candidates"])


def _first_table(md):
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    table = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append([c.strip() for c in line.strip("|").split("|")])
    return lines[:start], table[0], table[2:]


def test_report_opens_with_the_comparison_to_the_baseline(baseline_run):
    from scipy import stats

    md = (baseline_run / "report" / "report.md").read_text()
    before, head, rows = _first_table(md)
    assert [line for line in before if line.startswith(("## ", "### "))] == ["## Summary", "### Against the baseline"]
    assert head == COMPARISON_HEAD
    assert [r[1].split(":")[0] for r in rows] == ["baseline", "01"]
    base = [_metrics(baseline_run, s, "baseline") for s in (0, 1)]
    searched = [_metrics(baseline_run, s, "01") for s in (0, 1)]
    for row, runs in zip(rows, (base, searched)):
        acc = [100 * m["test_acc"] for m in runs]
        assert row[0] == "digits" and row[2] == "0, 1"
        assert float(row[3]) == pytest.approx(sum(acc) / 2, abs=0.006)
        if acc[0] != acc[1]:
            low, high = stats.t.interval(0.95, 1, loc=sum(acc) / 2, scale=stats.sem(acc))
            assert row[4] == f"[{low:.2f}, {high:.2f}]"
        assert float(row[7]) == pytest.approx(sum(m["energy_mj"] for m in runs) / 2, rel=1e-3)
        assert int(row[8].replace(",", "")) == runs[0]["params"]
        assert int(row[9].replace(",", "")) == runs[0]["macs"]
    diffs = [100 * (s["test_acc"] - b["test_acc"]) for s, b in zip(searched, base)]
    assert float(rows[1][5]) == pytest.approx(sum(diffs) / 2, abs=0.006)
    assert rows[0][10] == "baseline"
    cheaper = float(rows[1][7]) < float(rows[0][7])
    assert rows[1][10] in (("trades accuracy for energy", "dominates") if cheaper else ("loses", "dominates"))
    assert "Verdict (our rule)" in md
    html = (baseline_run / "report" / "report.html").read_text()
    assert html.index("Against the baseline") < html.index("Chosen architectures")


@pytest.mark.parametrize("change, message", [
    ({"baseline": {"RETRAIN": BASELINE, "epochs": 3}}, "baseline.epochs is not a key of the baseline section"),
    ({"baseline": {"RETRAIN": BASELINE, "reference": "spikformer"}}, "exactly one of baseline.arch"),
    ({"baseline": {"RETRAIN": {**BASELINE, "DEPTH": 3}}}, "baseline.RETRAIN: MLP_RATIO has 2 entries but DEPTH is 3"),
    ({"baseline": {"reference": "resnet"}}, "baseline.reference 'resnet' is not a known reference"),
    ({"baseline": {"arch": "missing.yaml"}}, "missing.yaml"),
    ({"baseline": {"RETRAIN": BASELINE, "datasets": ["ndigits"]}}, "baseline.datasets: 'ndigits' is not trained on"),
    ({"baseline": {}}, "search.match_baseline needs a baseline section"),
    ({"search": {**BASELINE_CONFIG["search"], "param_limits": [0.01, 0.1]}},
     "search.match_baseline fills search.param_limits MAX and search.energy_limit from the baseline; remove "
     "search.param_limits"),
    ({"search": {**BASELINE_CONFIG["search"], "match_baseline": "a.yaml"}}, "search.match_baseline must be true or"),
    ({"train": {**BASELINE_CONFIG["train"], "seed": 3}}, "train.seed and train.seeds are both given"),
    ({"train": {**BASELINE_CONFIG["train"], "seeds": [1, 1]}}, "train.seeds must be a list of distinct integers"),
])
def test_bad_baseline_sections_are_one_line_errors(tmp_path, capsys, change, message):
    out = tmp_path / "o"
    assert main(["pipeline", "--config", str(_write(tmp_path, {**BASELINE_CONFIG, **change})), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
    assert not out.exists()
