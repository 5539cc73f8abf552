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


@pytest.fixture(scope="module")
def pipeline_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pipe")
    out = tmp / "run"
    assert main(["pipeline", "--config", str(_write(tmp, CONFIG)), "--out", str(out)]) == 0
    return out


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
