"""Successive halving of a search's top-k, in-process: rungs, survivors, resume, bad input.
(The ASHA path runs on a local Ray instance in test_ray.py.)"""
import json

import pytest

from autost import cli
from autost.arch import Arch
from autost.checkpoint import load_checkpoint
from autost.errors import UsageError
from autost.halving import successive_halving
from autost.pipeline import stages
from autost.rungs import Halving
from autost.train import TrainConfig, train
from conftest import ROOT

ARCHS = [("01", Arch(1, 32, (2,), (2,))), ("02", Arch(1, 48, (2,), (4,))), ("03", Arch(2, 32, (2, 2), (1, 1))),
         ("04", Arch(1, 32, (4,), (1,)))]
# 64 samples a split in batches of 16 at a high rate, so that accuracies differ after one epoch;
# a rung of one epoch takes about a second per candidate
ARGS = ["--dataset", "digits", "--epochs", "4", "--limit", "64", "--batch-size", "16", "--warmup-epochs", "0",
        "--time-steps", "2", "--lr", "0.01"]
CONFIG = TrainConfig.for_dataset("digits", epochs=4, limit=64, batch_size=16, warmup_epochs=0, time_steps=2, lr=0.01)


def without_times(metrics: dict) -> dict:
    return {**metrics, "epochs": [{k: v for k, v in e.items() if k != "time_s"} for e in metrics["epochs"]]}


def search_dir(tmp_path):
    for name, arch in ARCHS:
        arch.to_yaml(tmp_path / "search" / "top" / f"{name}.yaml")
    return tmp_path / "search"


@pytest.fixture(scope="module")
def halved(tmp_path_factory):
    """An uninterrupted run: 4 candidates, rungs of 1 and 2 epochs, the survivor to 4."""
    out = tmp_path_factory.mktemp("halved")
    results = successive_halving(ARCHS, CONFIG, out, Halving(rung_epochs=1, eta=2))
    return out, results, json.loads((out / "rungs.json").read_text())


def test_rung_epochs_are_geometric_and_end_at_the_full_schedule():
    assert Halving(1, 2).milestones(4) == [1, 2, 4]
    assert Halving(1, 2).milestones(5) == [1, 2, 4, 5]
    assert Halving(2, 3).milestones(20) == [2, 6, 18, 20]
    with pytest.raises(UsageError, match="--rung-epochs 4 must be below --epochs"):
        Halving(4).milestones(4)
    with pytest.raises(UsageError, match="--eta must be an integer of at least 2"):
        Halving(1, eta=1)


def test_rungs_keep_the_best_by_score_and_break_ties_by_search_order(tmp_path, monkeypatch):
    """The scheduler alone, on made-up scores: 6 candidates, eta 2, two survivors."""
    scores = {"01": [0.1, 0.5, 0.6], "02": [0.4, 0.4, 0.8], "03": [0.3, 0.2, 0.1], "04": [0.4, 0.9, 0.7],
              "05": [0.2, 0.1, 0.1], "06": [0.4, 0.3, 0.9]}
    rung_of = {1: 0, 2: 1, 6: 2}
    archs = [(name, ARCHS[0][1]) for name in scores]
    monkeypatch.setattr("autost.halving.advance",
                        lambda arch, config, folder, epoch, log: scores[folder.name][rung_of[epoch]])
    monkeypatch.setattr("autost.halving.train",
                        lambda arch, config, folder, log: {"best_val_acc": scores[folder.name][2]})
    results = successive_halving(archs, TrainConfig.for_dataset("digits", epochs=6), tmp_path,
                                 Halving(1, 2, survivors=2))
    rungs = json.loads((tmp_path / "rungs.json").read_text())["rungs"]
    kept = [[c["name"] for c in r["candidates"] if c["kept"]] for r in rungs]
    # rung 0: 02, 04, 06 tie at 0.4 ahead of 03; rung 1 (epoch 2): 04 and 02 of those three; then both to the end
    assert kept == [["02", "04", "06"], ["02", "04"], ["02", "04"]]
    assert [r["epochs"] for r in rungs] == [1, 2, 6] and list(results) == ["02", "04"]


def test_each_rung_keeps_the_better_half_by_validation_accuracy(halved):
    out, results, rungs = halved
    assert rungs["scheduler"] == "in-process" and rungs["eta"] == 2
    assert [(r["rung"], r["epochs"], len(r["candidates"])) for r in rungs["rungs"]] == [(0, 1, 4), (1, 2, 2), (2, 4, 1)]
    arch = dict(ARCHS)
    for rung, following in zip(rungs["rungs"], rungs["rungs"][1:] + [None]):
        candidates = rung["candidates"]
        for c in candidates:  # the score is the best validation accuracy up to the rung, as the checkpoint says
            history = load_checkpoint(out / c["name"] / "last.pt")["history"]["epochs"]
            assert c["val_acc"] == max(e["val_acc"] for e in history if e["epoch"] <= rung["epochs"])
            assert c["arch"] == arch[c["name"]].short()
            if not c["kept"]:  # a stopped candidate was not trained past its rung
                assert len(history) == rung["epochs"] and not (out / c["name"] / "metrics.json").exists()
        kept = [c for c in candidates if c["kept"]]
        assert len(kept) == max(1, len(candidates) // 2)
        assert min(c["val_acc"] for c in kept) >= max((c["val_acc"] for c in candidates if not c["kept"]), default=0)
        if following:
            assert [c["name"] for c in following["candidates"]] == [c["name"] for c in kept]
    [winner] = rungs["rungs"][-1]["candidates"]
    assert list(results) == [winner["name"]] and results[winner["name"]]["best_val_acc"] == winner["val_acc"]


def test_the_report_shows_the_rungs_and_does_not_call_stopped_candidates_unfinished(halved):
    from autost.report.run import load_run

    out, _, rungs = halved
    run = load_run(out)
    assert run.rungs == [("run", rungs)]
    assert not [line for line in run.missing if line.startswith("Training of")]


def test_the_survivor_ends_as_one_uninterrupted_run_of_the_full_schedule(halved, tmp_path):
    """Rungs only stop and resume a candidate: its warm-up and cosine decay are the full run's."""
    _, results, _ = halved
    [(name, metrics)] = results.items()
    straight = train(dict(ARCHS)[name], CONFIG, tmp_path / "straight")
    assert without_times(metrics) == without_times(straight)


def test_an_interrupted_halving_resumes_to_the_same_result(halved, tmp_path, monkeypatch, capsys):
    _, results, rungs = halved
    search, out = search_dir(tmp_path), tmp_path / "out"
    calls = []
    real = train

    def interrupted(*args, **kwargs):  # the run is killed in rung 1, before its second candidate trains
        calls.append(kwargs.get("stop_after_epoch"))
        if len(calls) == 6:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr("autost.rungs.train", interrupted)
    assert cli.main(["train", "--from-search", str(search), *ARGS, "--halving", "--rung-epochs", "1", "--out",
                     str(out)]) == 130
    assert len(json.loads((out / "rungs.json").read_text())["rungs"]) == 1
    monkeypatch.undo()
    assert cli.main(["train", "--from-search", str(search), *ARGS, "--halving", "--rung-epochs", "1", "--out",
                     str(out)]) == 2
    assert "pass --resume to continue the halving" in capsys.readouterr().err
    assert cli.main(["train", "--from-search", str(search), *ARGS, "--halving", "--rung-epochs", "1", "--resume",
                     "--out", str(out)]) == 0
    assert json.loads((out / "rungs.json").read_text()) == rungs
    [name] = results
    assert without_times(json.loads((out / name / "metrics.json").read_text())) == without_times(results[name])
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and printed[0].startswith(f"{name}: ")


@pytest.mark.parametrize("extra, message", [
    (["--rung-epochs", "1"], "--rung-epochs goes with --halving"),
    (["--halving"], "--halving needs --rung-epochs"),
    (["--halving", "--rung-epochs", "1", "--workers", "2"], "remove --workers"),
    (["--halving", "--rung-epochs", "1", "--ray-address", "local", "--survivors", "2"], "ASHA"),
    (["--halving", "--rung-epochs", "4"], "--rung-epochs 4 must be below --epochs (4)"),
    (["--halving", "--rung-epochs", "1", "--survivors", "4"], "--survivors 4 leaves nothing to halve among 4"),
    (["--halving", "--rung-epochs", "1", "--eta", "1"], "--eta must be an integer of at least 2, got 1"),
])
def test_bad_halving_options_are_one_line(tmp_path, capsys, extra, message):
    out = tmp_path / "out"
    assert cli.main(["train", "--from-search", str(search_dir(tmp_path)), *ARGS, *extra, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    assert not out.exists()


def test_the_pipeline_reads_halving_from_its_train_section():
    config = {"search": {"space": str(ROOT / "spaces" / "digits.yaml"), "dataset": "digits"}, "baseline": {},
              "train": {"epochs": 4, "halving": True, "rung_epochs": 1, "eta": 3}, "energy": {}, "report": {}}
    assert stages(config).train["digits"].halving == Halving(1, 3, 1)
    config["train"] = {"epochs": 4, "eta": 3}
    with pytest.raises(UsageError, match="train.eta goes with train.halving"):
        stages(config)
