"""Training loop: resume equivalence, --from-search, divergence and checkpoint errors, metrics."""
import json
import math
import random
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from autost import cli
from autost.arch import Arch
from autost.checkpoint import CheckpointError, load_checkpoint, rng_state, set_rng_state
from autost.cost import analytic_cost
from autost.errors import UsageError
from autost.geometry import resolve_geometry
from autost.schedule import WarmupCosine
from autost.train import TrainConfig, train
from conftest import ROOT

TINY = Arch(1, 32, (2,), (2,))
OTHER = Arch(1, 48, (2,), (4,))
# 32 samples a split in batches of 16: two steps an epoch, a few seconds a run on 2 cores.
SMALL = dict(limit=32, batch_size=16, warmup_epochs=1)
SMALL_ARGS = ["--limit", "32", "--batch-size", "16", "--warmup-epochs", "1"]
METRIC_KEYS = {"arch", "dataset", "params", "macs", "epochs", "best_val_acc", "test_acc", "energy_mj", "mac_mj",
               "ac_mj", "ann_mj", "firing_rates", "energy_layers"}


def config(**overrides) -> TrainConfig:
    return TrainConfig.for_dataset("digits", **{"epochs": 3, **SMALL, **overrides})


def without_times(metrics: dict) -> dict:
    return {**metrics, "epochs": [{k: v for k, v in e.items() if k != "time_s"} for e in metrics["epochs"]]}


def error_line(capsys) -> str:
    """The one ``error:`` line the CLI printed last (progress lines may precede it)."""
    lines = capsys.readouterr().err.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], lines
    return errors[0]


def write_arch(path, arch: Arch):
    arch.to_yaml(path)
    return str(path)


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """An uninterrupted 3-epoch run: (its folder, its metrics)."""
    out = tmp_path_factory.mktemp("straight")
    return out, train(TINY, config(), out)


def test_metrics_json_has_every_field(straight):
    out, metrics = straight
    assert json.loads((out / "metrics.json").read_text()) == metrics
    assert METRIC_KEYS <= metrics.keys()
    assert metrics["arch"] == TINY.to_dict()["RETRAIN"] and metrics["dataset"] == "digits"
    geometry = resolve_geometry(dataset="digits", input_shape=None, num_classes=None, patch_size=None, time_steps=4)
    assert metrics["macs"] == analytic_cost(TINY, **geometry.model_kwargs()).macs
    assert metrics["params"] == analytic_cost(TINY, **geometry.model_kwargs()).params
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2, 3]
    for epoch in metrics["epochs"]:
        assert {"train_loss", "train_acc", "val_acc", "lr", "time_s"} <= epoch.keys()
        assert math.isfinite(epoch["train_loss"]) and 0 <= epoch["val_acc"] <= 1 and epoch["lr"] > 0
    assert metrics["best_val_acc"] == max(e["val_acc"] for e in metrics["epochs"])
    assert 0 <= metrics["test_acc"] <= 1
    assert metrics["energy_mj"] > 0
    assert metrics["energy_mj"] == pytest.approx(metrics["mac_mj"] + metrics["ac_mj"])
    assert metrics["firing_rates"] and all(0 <= r <= 1 for r in metrics["firing_rates"].values())
    assert {layer["name"] for layer in metrics["energy_layers"]} >= set(metrics["firing_rates"])
    assert (out / "last.pt").is_file() and (out / "best.pt").is_file()


def test_checkpoints_load_with_weights_only_and_hold_the_run(straight):
    out, metrics = straight
    last = torch.load(out / "last.pt", weights_only=True)
    assert last["epoch"] == 3 and last["arch"]["RETRAIN"]["EMBED_DIM"] == 32 and last["settings"]["lr"] == 2e-3
    assert {"python", "numpy", "torch"} <= last["rng"].keys()
    best = load_checkpoint(out / "best.pt")
    assert best["epoch"] == metrics["best_epoch"]
    assert best["history"]["best_val_acc"] == metrics["best_val_acc"]


def test_resumed_run_ends_like_an_uninterrupted_one(straight, tmp_path):
    _, expected = straight
    stopped = train(TINY, config(), tmp_path, stop_after_epoch=1)
    assert len(stopped["epochs"]) == 1 and stopped["test_acc"] is None
    assert not (tmp_path / "metrics.json").exists()
    assert load_checkpoint(tmp_path / "last.pt")["epoch"] == 1
    resumed = train(TINY, config(resume=True), tmp_path)
    assert without_times(resumed) == without_times(expected)
    # resuming a finished run only re-evaluates its best checkpoint
    again = train(TINY, config(resume=True), tmp_path)
    assert without_times(again) == without_times(expected)


def test_from_search_trains_the_top_k(tmp_path, capsys):
    top = tmp_path / "search" / "top"
    top.mkdir(parents=True)
    for name, arch in (("01", TINY), ("02", OTHER), ("03", TINY)):
        write_arch(top / f"{name}.yaml", arch)
    out = tmp_path / "trained"
    status = cli.main(["train", "--from-search", str(tmp_path / "search"), "--top-k", "2", "--dataset", "digits",
                       "--out", str(out), "--epochs", "1", *SMALL_ARGS])
    assert status == 0
    assert sorted(p.name for p in out.iterdir()) == ["01", "02"]
    for name, arch in (("01", TINY), ("02", OTHER)):
        assert Arch.from_dict(json.loads((out / name / "metrics.json").read_text())["arch"]) == arch
    printed = capsys.readouterr().out
    assert "01:" in printed and "02:" in printed


def test_diverging_loss_stops_with_epoch_and_step_and_keeps_last_good(tmp_path, monkeypatch, capsys):
    calls = {"n": 0}
    real = F.cross_entropy

    def nan_on_fourth_call(*args, **kwargs):  # two steps an epoch: epoch 2, step 2
        calls["n"] += 1
        loss = real(*args, **kwargs)
        return loss * float("nan") if calls["n"] == 4 else loss

    monkeypatch.setattr(F, "cross_entropy", nan_on_fourth_call)
    arch = write_arch(tmp_path / "a.yaml", TINY)
    status = cli.main(["train", "--arch", arch, "--dataset", "digits", "--out", str(tmp_path / "run"),
                       "--epochs", "3", *SMALL_ARGS])
    assert status != 0
    err = error_line(capsys)
    assert "epoch 2, step 2" in err and "last.pt" in err
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert last["epoch"] == 1 and all(torch.isfinite(v).all() for v in last["model"].values() if v.is_floating_point())
    assert not (tmp_path / "run" / "metrics.json").exists()


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory):
    """A 2-epoch run of TINY stopped after epoch 1."""
    out = tmp_path_factory.mktemp("stopped")
    train(TINY, config(epochs=2), out, stop_after_epoch=1)
    return out


@pytest.fixture
def one_epoch_run(stopped_run, tmp_path):
    """A private copy of ``stopped_run`` to damage or resume."""
    return shutil.copytree(stopped_run, tmp_path / "run")


def _resume(tmp_path, out, arch=TINY, *extra):
    return cli.main(["train", "--arch", write_arch(tmp_path / "arch.yaml", arch), "--dataset", "digits",
                     "--out", str(out), "--epochs", "2", *SMALL_ARGS, "--resume", *extra])


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_corrupt_checkpoint_is_a_one_line_error(tmp_path, one_epoch_run, capsys, damage):
    last = one_epoch_run / "last.pt"
    data = last.read_bytes()
    last.write_bytes(b"not a checkpoint" * 10 if damage == "garbage" else data[: len(data) // 2])
    assert _resume(tmp_path, one_epoch_run) == 2
    err = error_line(capsys)
    assert str(last) in err and "not a readable checkpoint" in err


def test_checkpoint_of_another_arch_names_both(tmp_path, one_epoch_run, capsys):
    assert _resume(tmp_path, one_epoch_run, OTHER) == 2
    err = error_line(capsys)
    assert TINY.short() in err and OTHER.short() in err


def test_resume_with_other_settings_is_refused_naming_each_change(tmp_path, one_epoch_run, capsys):
    assert _resume(tmp_path, one_epoch_run, TINY, "--seed", "1", "--label-smoothing", "0.2") == 2
    err = error_line(capsys)
    assert "--resume: label_smoothing changed from 0.1 to 0.2; seed changed from 0 to 1" in err


def test_existing_run_is_not_overwritten_without_resume(one_epoch_run):
    with pytest.raises(UsageError, match="--resume"):
        train(TINY, config(epochs=2), one_epoch_run)


def test_bad_input_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("RETRAIN: [unclosed\n")
    arch = write_arch(tmp_path / "a.yaml", TINY)
    cases = [
        ["--arch", str(bad), "--dataset", "digits"],
        ["--arch", arch, "--dataset", "cifar10", "--data-root", str(tmp_path)],
        ["--arch", arch, "--dataset", "digits", "--device", "cpu", "--amp"],
        ["--arch", arch, "--dataset", "digits", "--epochs", "2", "--warmup-epochs", "3"],
        ["--arch", arch, "--top-k", "2", "--dataset", "digits"],
        ["--from-search", str(tmp_path), "--dataset", "digits"],
    ]
    for args in cases:
        assert cli.main(["train", *args, "--out", str(tmp_path / "out")]) == 2, args
        error_line(capsys)
    assert not (tmp_path / "out").exists()


def test_recipe_defaults_and_overrides():
    assert TrainConfig.for_dataset("digits").epochs == 20
    assert TrainConfig.for_dataset("cifar10") == TrainConfig("cifar10")  # AutoST's recipe
    assert TrainConfig.for_dataset("cifar10", lr=None).lr == 5e-4
    assert TrainConfig.for_dataset("digits", epochs=1).warmup_epochs == 0  # shrunk with the run
    with pytest.raises(UsageError, match="--warmup-epochs"):
        TrainConfig.for_dataset("digits", epochs=1, warmup_epochs=2)


def test_warmup_cosine_schedule():
    schedule = WarmupCosine(warmup_steps=4, total_steps=20)
    factors = [schedule(step) for step in range(20)]
    assert factors[:4] == [0.25, 0.5, 0.75, 1.0]
    assert all(a >= b for a, b in zip(factors[3:], factors[4:]))
    assert factors[-1] < 0.01
    assert WarmupCosine(0, 5)(0) == 1.0


def test_rng_state_survives_a_weights_only_round_trip(tmp_path):
    random.seed(1), np.random.seed(2), torch.manual_seed(3)
    torch.save(rng_state(), tmp_path / "rng.pt")
    expected = (random.random(), np.random.rand(), torch.rand(1).item())
    random.seed(9), np.random.seed(9), torch.manual_seed(9)
    set_rng_state(torch.load(tmp_path / "rng.pt", weights_only=True))
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expected


def test_load_checkpoint_rejects_foreign_files(tmp_path):
    torch.save({"model": {}}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="not an AutoST training checkpoint"):
        load_checkpoint(tmp_path / "other.pt")


def test_checkpoint_of_the_old_token_grid_is_refused(one_epoch_run):
    """Format 1 was written by the stem with log2(img / patch) pools. Its weights have the same
    shapes, so only the format tells: digits (16x16, patch 4) and ndigits (32x32, then patch 4,
    now 8) keep their 4x4 grids and still load; CIFAR (32x32, patch 4) had 4x4 tokens where the
    fixed stem makes 8x8."""
    path = one_epoch_run / "last.pt"
    data = torch.load(path, weights_only=True)
    for dataset in ("digits", "ndigits"):
        torch.save({**data, "format": 1, "dataset": dataset}, path)
        assert load_checkpoint(path)["dataset"] == dataset
    torch.save({**data, "format": 1, "dataset": "cifar10"}, path)
    with pytest.raises(CheckpointError, match="old stem .4x4 tokens for cifar10; the fixed stem makes 8x8"):
        load_checkpoint(path)


def test_architecture_outside_the_given_space_is_refused(tmp_path, capsys):
    path = tmp_path / "a.yaml"
    Arch(1, 128, (2,), (2,)).to_yaml(path)
    space = ROOT / "spaces" / "digits.yaml"
    assert cli.main(["train", "--arch", str(path), "--space", str(space), "--dataset", "digits",
                     "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "EMBED_DIM 128 is not in" in err and err.count("\n") == 1
    assert not (tmp_path / "o").exists()


def _scripted_val(monkeypatch, accuracies: list[float]):
    """Make every evaluation return the next of ``accuracies`` (then 0.25): validation curves on cue."""
    import autost.train as train_module

    values = iter(accuracies)
    monkeypatch.setattr(train_module, "evaluate", lambda *args, **kwargs: next(values, 0.25))


def test_patience_stops_once_validation_stops_improving(tmp_path, monkeypatch):
    # best at epoch 2; epochs 3 and 4 do not beat it (equal is not better): stop before epoch 5
    _scripted_val(monkeypatch, [0.5, 0.6, 0.6, 0.55, 0.9, 0.9])
    metrics = train(TINY, config(epochs=6, patience=2), tmp_path / "run")
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2, 3, 4]
    assert metrics["best_epoch"] == 2 and metrics["stopped_early"] is True
    assert metrics["settings"]["patience"] == 2


def test_patience_stop_survives_an_interruption(tmp_path, monkeypatch):
    curve = [0.5, 0.6, 0.6, 0.55, 0.9, 0.9]
    _scripted_val(monkeypatch, curve)
    straight = train(TINY, config(epochs=6, patience=2), tmp_path / "straight")
    _scripted_val(monkeypatch, curve)
    train(TINY, config(epochs=6, patience=2), tmp_path / "cut", stop_after_epoch=3)
    _scripted_val(monkeypatch, curve[3:])
    resumed = train(TINY, config(epochs=6, patience=2, resume=True), tmp_path / "cut")
    assert without_times(resumed)["epochs"] == without_times(straight)["epochs"]
    assert resumed["stopped_early"] and resumed["best_epoch"] == straight["best_epoch"]


def test_without_patience_every_epoch_runs(tmp_path, monkeypatch):
    _scripted_val(monkeypatch, [0.6, 0.5, 0.5, 0.5])
    metrics = train(TINY, config(epochs=4), tmp_path / "run")
    assert len(metrics["epochs"]) == 4 and metrics["stopped_early"] is False


def test_trained_energy_covers_the_whole_test_split(straight):
    """Measured batch by batch and weighted by batch size, the test split's energy equals one pass
    over all of it at once: in eval mode a sample's spikes do not depend on its batch."""
    from autost.train import load_splits, make_loader, test_set_energy
    from energy.measure import measure_network

    out, metrics = straight
    cfg = config()
    model = build_for(out, cfg)
    test = load_splits(cfg, resolve_geometry(dataset="digits", input_shape=None, num_classes=None, patch_size=None,
                                             time_steps=cfg.time_steps))["test"]
    batched = test_set_energy(model, make_loader(test, cfg, torch.device("cpu"), shuffle_seed=None),
                              torch.device("cpu"), cfg.energy_model)
    whole = torch.stack([test[i][0] for i in range(len(test))])
    at_once = measure_network(model, whole, cfg.energy_model).to_dict()
    assert batched["samples"] == len(test) == 32 and batched["batches"] == 2
    assert batched["energy_mj"] == pytest.approx(at_once["energy_mj"], rel=1e-9)
    assert metrics["energy_samples"] == 32 and metrics["energy_mj"] == pytest.approx(at_once["energy_mj"], rel=1e-9)


def build_for(out, cfg: TrainConfig):
    """The straight run's best network, in eval mode."""
    from autost.model import build_model

    geometry = resolve_geometry(dataset="digits", input_shape=None, num_classes=None, patch_size=None,
                                time_steps=cfg.time_steps)
    model = build_model(TINY, **geometry.model_kwargs())
    model.load_state_dict(load_checkpoint(out / "best.pt")["model"])
    return model.eval()
