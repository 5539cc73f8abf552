"""The energy model in the command line and in the reports: named, split, compared."""
import json

import pytest
import torch

from autost.arch import Arch
from autost.cli import main
from autost.model import build_model
from conftest import ROOT
from energy.breakdown import layer_type
from energy.measure import measure_network
from energy.models import MODELS
from autost.report.run import RunData, load_run, write_report

ARCH = Arch(1, 32, (2,), (2,))


def test_profile_json_names_the_model_and_splits_memory(tmp_path, capsys):
    path = tmp_path / "a.yaml"
    ARCH.to_yaml(path)
    base = ["profile", "--arch", str(path), "--dataset", "digits", "--time-steps", "2", "--batch-size", "4", "--json"]
    assert main(base + ["--energy-model", "lemaire"]) == 0
    lemaire = json.loads(capsys.readouterr().out)
    assert lemaire["energy_model"] == "lemaire" and "Lemaire" in lemaire["energy_source"]
    assert lemaire["memory_mj"] > lemaire["compute_mj"] > 0
    assert lemaire["energy_mj"] == pytest.approx(lemaire["compute_mj"] + lemaire["memory_mj"])
    assert main(base) == 0
    default = json.loads(capsys.readouterr().out)
    assert default["energy_model"] == "spikformer-45nm" and default["memory_mj"] == 0
    assert default["energy_mj"] == pytest.approx(default["mac_mj"] + default["ac_mj"])


def test_unknown_model_on_the_command_line_is_one_line(tmp_path, capsys):
    path = tmp_path / "a.yaml"
    ARCH.to_yaml(path)
    assert main(["profile", "--arch", str(path), "--input-shape", "1x16x16", "--num-classes", "10",
                 "--patch-size", "4", "--energy-model", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "'nope'" in err and all(name in err for name in MODELS)


def _metrics(model_name):
    torch.manual_seed(0)
    model = build_model(ARCH, in_channels=1, img_size=16, patch_size=4, time_steps=2, num_classes=10)
    energy = measure_network(model, torch.rand(4, 1, 16, 16), model_name).to_dict()
    return {"arch": ARCH.to_dict()["RETRAIN"], "dataset": "digits", "params": 1, "macs": 1, "test_acc": 0.5,
            "epochs": [{"epoch": 1, "train_loss": 1.0, "val_acc": 0.5}], "firing_rates": {},
            "energy_model": energy["energy_model"], "energy_source": energy["energy_source"],
            "energy_mj": energy["energy_mj"], "compute_mj": energy["compute_mj"], "memory_mj": energy["memory_mj"],
            "mac_mj": energy["mac_mj"], "ac_mj": energy["ac_mj"], "ann_mj": energy["ann_mj"],
            "energy_layers": energy["layers"]}


def test_report_names_the_model_and_groups_energy_by_layer_type(tmp_path):
    metrics = _metrics("lemaire")
    assert all(layer_type(layer["name"]) != "other" for layer in metrics["energy_layers"])
    write_report(RunData(trained=[("01", metrics)]), tmp_path)
    md = (tmp_path / "report.md").read_text()
    assert "Energy model `lemaire`" in md and "Lemaire et al. 2022" in md
    assert "of which memory (mJ)" in md
    rows = {line.split("|")[1].strip(): line for line in md.splitlines() if line.startswith("| ")}
    assert {"stem conv 1 (input)", "q, k, v linears", "LIF neurons", "MLP linears"} <= set(rows)
    shares = [float(line.strip("|").split("|")[-1]) for name, line in rows.items()
              if name in {"stem conv 1 (input)", "stem convs 2-4", "position conv", "q, k, v linears", "q k^T",
                          "attn v", "attention projection", "MLP linears", "classifier head", "LIF neurons"}]
    assert sum(shares) == pytest.approx(100, abs=0.5)
    html = (tmp_path / "report.html").read_text()
    assert html.count("data:image/png;base64,") == md.count("![")
    assert "energy_types_01.png" in md and "snn_vs_ann.png" in md


@pytest.fixture(scope="module")
def two_searches(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    common = ["--space", str(ROOT / "spaces" / "digits.yaml"), "--dataset", "digits", "--time-steps", "2",
              "--population", "4", "--select", "2", "--mutation", "1", "--crossover", "1", "--generations", "1",
              "--batch-size", "4", "--top-k", "2", "--param-limits", "0.02", "0.1"]
    assert main(["search", *common, "--energy-model", "synaptic-45nm", "--energy-limit", "1",
                 "--out", str(out / "A" / "search")]) == 0
    # measured, as the report's comparison measures (lemaire's default would be its closed form)
    assert main(["search", *common, "--algorithm", "nsga2", "--energy-model", "lemaire", "--energy", "measure",
                 "--out", str(out / "B" / "search")]) == 0
    return out


def test_report_compares_a_limited_search_with_a_front_under_another_model(two_searches, tmp_path):
    a, b = two_searches / "A", two_searches / "B"
    search_a = json.loads((a / "search" / "search.json").read_text())
    search_b = json.loads((b / "search" / "search.json").read_text())
    assert search_a["energy_model"]["name"] == "synaptic-45nm" and search_b["energy_model"]["name"] == "lemaire"
    assert all(c["energy_memory_mj"] > 0 for c in search_b["candidates"])
    assert main(["report", "--run", str(a), "--compare", str(b), "--out", str(tmp_path)]) == 0
    comparison = json.loads((tmp_path / "energy_models.json").read_text())
    assert (comparison["model_a"], comparison["model_b"]) == ("synaptic-45nm", "lemaire")
    # the same batch and weights as each search: the numbers each search measured come back
    stored_a = {Arch.from_dict(c["arch"]).short(): c["energy_mj"] for c in search_a["candidates"]}
    stored_b = {Arch.from_dict(c["arch"]).short(): c["energy_mj"] for c in search_b["candidates"]}
    for row in comparison["rows"]:
        if row["arch"] in stored_a:
            assert row["energy_a"] == pytest.approx(stored_a[row["arch"]], rel=1e-6)
        if row["arch"] in stored_b:
            assert row["energy_b"] == pytest.approx(stored_b[row["arch"]], rel=1e-6)
        assert row["within_a_limit"] == (row["energy_a"] <= 1)
    assert {r["run"] for r in comparison["rows"]} & {"A", "A+B"} and {r["run"] for r in comparison["rows"]} & {"B", "A+B"}
    md = (tmp_path / "report.md").read_text()
    assert "## Energy models compared" in md and "Energy model `lemaire`" in md and "energy_models.png" in md
    assert load_run(a).search["energy_model"]["source"].startswith("Horowitz")


PIPELINE = {
    "search": {"space": str(ROOT / "spaces" / "digits.yaml"), "dataset": "digits", "time_steps": 2,
               "population": 4, "select": 2, "mutation": 1, "crossover": 1, "generations": 1, "top_k": 1,
               "batch_size": 4, "param_limits": [0.02, 0.1]},
    "train": {"dataset": "digits", "top_k": 1, "epochs": 1, "warmup_epochs": 0, "limit": 32, "batch_size": 16,
              "time_steps": 2},
    "energy": {"batch_size": 8, "model": "lemaire"},
    "report": {},
}


def _config(tmp_path, config):
    import yaml

    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_pipeline_energy_model_reaches_every_stage(tmp_path):
    out = tmp_path / "run"
    assert main(["pipeline", "--config", _config(tmp_path, PIPELINE), "--out", str(out)]) == 0
    search = json.loads((out / "search" / "search.json").read_text())
    metrics = json.loads((out / "train" / "digits" / "01" / "metrics.json").read_text())
    init = json.loads((out / "energy" / "digits" / "01.json").read_text())["init"]
    assert search["energy_model"]["name"] == metrics["energy_model"] == init["energy_model"] == "lemaire"
    assert metrics["memory_mj"] > 0 and init["memory_mj"] > 0
    assert metrics["energy_mj"] == pytest.approx(metrics["compute_mj"] + metrics["memory_mj"])
    md = (out / "report" / "report.md").read_text()
    assert "Energy model `lemaire` (search, trained digits/01)" in md and "of which memory (mJ)" in md


@pytest.mark.parametrize("energy, search, message", [
    ({"model": "nope"}, {}, "unknown energy model 'nope'; choose one of spikformer-45nm"),
    ({"model": "lemaire"}, {"energy_model": "synaptic-45nm"}, "search.energy_model is set by the pipeline"),
])
def test_pipeline_energy_model_errors_are_one_line(tmp_path, capsys, energy, search, message):
    config = {**PIPELINE, "energy": energy, "search": {**PIPELINE["search"], **search}}
    assert main(["pipeline", "--config", _config(tmp_path, config), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err
    assert not (tmp_path / "o" / "search").exists()
