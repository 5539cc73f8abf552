"""Issue 14: nothing lost, nothing mixed, every bad input one line.

NaN recovery, the out-folder lock, the resume fingerprint, Ctrl-C, unwritable output folders,
bad numbers and files, the memory guard and the thread choice.
"""
import dataclasses
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time

import pytest
import torch

from autost import cli, memory, threads
from autost.arch import Arch
from autost.blocks import attention_names
from autost.checkpoint import load_checkpoint
from autost.errors import UsageError
from autost.geometry import Geometry
from autost.model import build_model
from autost.rundir import claim
from autost.schedule import WarmupCosine
from conftest import ROOT
from data_formats import write_cifar_binary

TINY = Arch(1, 32, (2,), (2,))
SMALL_ARGS = ["--limit", "32", "--batch-size", "16", "--warmup-epochs", "1"]
DIGITS_SPACE = ROOT / "spaces" / "digits.yaml"
FLOPS_ARGS = ["--input-shape", "1x16x16", "--num-classes", "10", "--patch-size", "4", "--population", "4",
              "--select", "2", "--mutation", "1", "--crossover", "1", "--generations", "2"]
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}


def error_line(capsys) -> str:
    """The one ``error:`` line the CLI printed, last on stderr (progress lines may precede it)."""
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines and lines[-1].startswith("error: ") and sum(line.startswith("error: ") for line in lines) == 1, lines
    assert not any("Traceback" in line for line in lines), lines
    return lines[-1]


def write_arch(path, arch=TINY):
    arch.to_yaml(path)
    return str(path)


def train_args(tmp_path, out, *extra):
    return ["train", "--arch", write_arch(tmp_path / "arch.yaml"), "--dataset", "digits", "--out", str(out),
            *SMALL_ARGS, *extra]


def all_finite(state) -> bool:
    """Every floating-point tensor in a (nested) state is finite, checked independently of autost."""
    if isinstance(state, torch.Tensor):
        return not state.is_floating_point() or bool(torch.isfinite(state).all())
    if isinstance(state, dict):
        return all(all_finite(v) for v in state.values())
    if isinstance(state, (list, tuple)):
        return all(all_finite(v) for v in state)
    return True


# --- NaN stop, finite checkpoints, resume with a lower rate ------------------------------------

@pytest.fixture(scope="module")
def diverged(tmp_path_factory):
    """A 3-epoch run whose weights turn NaN in the last step of epoch 2, after its last loss (as
    with a huge --lr, where BatchNorm hides the divergence from the loss for a while): a check of
    the loss alone would checkpoint the NaN weights as epoch 2."""
    tmp = tmp_path_factory.mktemp("diverged")
    real_step = torch.optim.AdamW.step
    calls = {"n": 0}

    def step_then_poison(self, *args, **kwargs):
        result = real_step(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 4:  # two steps an epoch: epoch 2, step 2
            with torch.no_grad():
                self.param_groups[0]["params"][0][0, 0, 0, 0] = float("nan")
        return result

    mp = pytest.MonkeyPatch()
    mp.setattr(torch.optim.AdamW, "step", step_then_poison)
    try:
        status = cli.main(train_args(tmp, tmp / "run", "--epochs", "3"))
    finally:
        mp.undo()
    return tmp, status


def test_nan_weights_stop_training_and_keep_the_last_finite_checkpoints(diverged, capsys):
    tmp, status = diverged
    assert status == 2
    for name in ("last.pt", "best.pt"):
        data = load_checkpoint(tmp / "run" / name)
        assert data["epoch"] == 1
        assert all_finite(data["model"]) and all_finite(data["optimizer"])
    assert not (tmp / "run" / "metrics.json").exists()


def test_the_divergence_message_names_the_step_and_the_way_on(tmp_path, capsys, monkeypatch):
    real_step = torch.optim.AdamW.step
    calls = {"n": 0}

    def step_then_poison(self, *args, **kwargs):
        result = real_step(self, *args, **kwargs)
        calls["n"] += 1
        if calls["n"] == 3:
            with torch.no_grad():
                self.param_groups[0]["params"][0].fill_(float("inf"))
        return result

    monkeypatch.setattr(torch.optim.AdamW, "step", step_then_poison)
    assert cli.main(train_args(tmp_path, tmp_path / "run", "--epochs", "2")) == 2
    err = error_line(capsys)
    assert "non-finite" in err and "epoch 2, step 1 of 2" in err
    assert "epoch 1" in err and "--resume --lr" in err


def test_resume_with_a_lower_lr_continues_and_is_recorded(diverged, tmp_path, capsys):
    run = shutil.copytree(diverged[0] / "run", tmp_path / "run")
    assert cli.main(train_args(tmp_path, run, "--epochs", "3", "--resume", "--lr", "0.001")) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["settings"]["lr"] == 0.001
    assert metrics["lr_changes"] == [{"after_epoch": 1, "from": 0.002, "to": 0.001}]
    # 6 steps, 2 of warm-up: each epoch's last step runs at its peak times the schedule's factor
    schedule = WarmupCosine(2, 6)
    assert [e["lr"] for e in metrics["epochs"]] == pytest.approx(
        [0.002 * schedule(1), 0.001 * schedule(3), 0.001 * schedule(5)])


def test_resume_without_lr_keeps_refusing_a_changed_rate(diverged, tmp_path, capsys):
    run = shutil.copytree(diverged[0] / "run", tmp_path / "run")
    args = train_args(tmp_path, run, "--epochs", "3", "--resume")
    data = load_checkpoint(run / "last.pt")
    data["settings"]["lr"] = 0.05  # as if the first session had been given --lr 0.05
    torch.save(data, run / "last.pt")
    assert cli.main(args) == 2
    assert "lr changed from 0.05 to 0.002" in error_line(capsys)


def nan_loss(monkeypatch):
    """Every loss NaN from now on, whatever the weights and the learning rate."""
    real = torch.nn.functional.cross_entropy
    monkeypatch.setattr("autost.train.F.cross_entropy", lambda *a, **k: real(*a, **k) * float("nan"))


def test_weights_that_give_nan_before_any_step_are_not_sent_back_with_a_lower_lr(diverged, tmp_path, capsys,
                                                                                   monkeypatch):
    """A loss that is NaN on the session's first batch comes from the weights it starts from: no --lr helps."""
    run = shutil.copytree(diverged[0] / "run", tmp_path / "run")
    nan_loss(monkeypatch)
    assert cli.main(train_args(tmp_path, run, "--epochs", "3", "--resume", "--lr", "0.0001")) == 2
    err = error_line(capsys)
    assert "before any optimizer step" in err and f"{run / 'last.pt'} (epoch 1) already give a non-finite loss" in err
    assert "start again into another --out with a lower --lr" in err and "--resume --lr" not in err
    assert cli.main(train_args(tmp_path, tmp_path / "fresh", "--epochs", "1")) == 2
    assert "the freshly initialized network already gives a non-finite loss, so no --lr can help" in error_line(capsys)


def poisoned_checkpoint(diverged, tmp_path):
    data = load_checkpoint(diverged[0] / "run" / "best.pt")
    next(v for v in data["model"].values() if v.is_floating_point()).view(-1)[0] = float("nan")
    path = tmp_path / "nan.pt"
    torch.save(data, path)
    return path


def test_energy_refuses_a_checkpoint_with_non_finite_weights(diverged, tmp_path, capsys):
    path = poisoned_checkpoint(diverged, tmp_path)
    status = cli.main(["energy", "--arch", write_arch(tmp_path / "a.yaml"), "--dataset", "digits",
                       "--checkpoint", str(path), "--out", str(tmp_path / "e"), "--batch-size", "4"])
    assert status == 2
    err = error_line(capsys)
    assert str(path) in err and "NaN" in err
    assert not (tmp_path / "e" / "energy.json").exists()


def test_resume_refuses_a_non_finite_last_checkpoint(diverged, tmp_path, capsys):
    run = shutil.copytree(diverged[0] / "run", tmp_path / "run")
    shutil.copy(poisoned_checkpoint(diverged, tmp_path), run / "last.pt")
    assert cli.main(train_args(tmp_path, run, "--epochs", "3", "--resume")) == 2
    assert "NaN or infinite" in error_line(capsys)


# --- a full disk while saving -------------------------------------------------------------------

def disk_full_on(monkeypatch, failing_call: int):
    """torch.save into a full disk from its ``failing_call``-th call on (1-based), as a full disk
    fails a Python file write; every epoch is the best so far, so each writes last.pt then best.pt."""
    real_save, calls = torch.save, {"n": 0}

    def save(obj, f, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] >= failing_call:
            raise OSError(28, "No space left on device")
        return real_save(obj, f, *args, **kwargs)

    monkeypatch.setattr("autost.io.torch.save", save)
    accuracy = iter(range(1, 100))
    monkeypatch.setattr("autost.train.evaluate", lambda *args, **kwargs: next(accuracy) / 100)


def test_a_full_disk_while_saving_last_pt_names_what_was_kept_and_resumes(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        disk_full_on(patch, failing_call=3)  # epoch 2's last.pt
        assert cli.main(train_args(tmp_path, run, "--epochs", "2")) == 2
    err = error_line(capsys)
    assert f"cannot write {run / 'last.pt'} (No space left on device): epoch 2 was not saved" in err
    assert "last.pt still holds epoch 1; make room and rerun the same command plus --resume" in err
    assert sorted(p.name for p in run.iterdir()) == ["best.pt", "last.pt"]  # no temporary file left
    assert load_checkpoint(run / "last.pt")["epoch"] == 1
    assert cli.main(train_args(tmp_path, run, "--epochs", "2", "--resume")) == 0
    assert json.loads((run / "metrics.json").read_text())["epochs"][-1]["epoch"] == 2


def test_last_pt_is_written_before_best_pt_and_a_resume_rewrites_a_lagging_best(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    with monkeypatch.context() as patch:
        disk_full_on(patch, failing_call=4)  # epoch 2's best.pt, after its last.pt
        assert cli.main(train_args(tmp_path, run, "--epochs", "2")) == 2
    err = error_line(capsys)
    assert f"cannot write {run / 'best.pt'}" in err and "last.pt holds epoch 2, the best so far" in err
    assert load_checkpoint(run / "last.pt")["epoch"] == 2 and load_checkpoint(run / "best.pt")["epoch"] == 1
    assert cli.main(train_args(tmp_path, run, "--epochs", "2", "--resume")) == 0
    assert "best.pt: rewritten from last.pt (epoch 2" in capsys.readouterr().err
    best = load_checkpoint(run / "best.pt")
    assert best["epoch"] == 2 and best["history"]["best_epoch"] == 2
    assert json.loads((run / "metrics.json").read_text())["best_epoch"] == 2


def test_a_real_full_disk_during_train_is_one_line_and_leaves_no_temporary_file(tmp_path):
    """torch.save's own failure on a full disk, through the real path: a file-size limit makes every
    write beyond 100 kB fail as a full disk does (the tiny model's checkpoint is about 250 kB)."""
    def full_disk():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    out = tmp_path / "run"
    done = subprocess.run([sys.executable, str(ROOT / "run.py"), *train_args(tmp_path, out, "--epochs", "1")],
                          env=ENV, capture_output=True, text=True, timeout=120, preexec_fn=full_disk)
    err = done.stderr.strip().splitlines()
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert err[-1] == (f"error: cannot write {out / 'last.pt'} (File too large): epoch 1 was not saved and no "
                       "checkpoint was written before it; make room and rerun the same command plus --resume")
    assert all(line.startswith(f"{out}: ") for line in err[:-1]), err  # the run's own progress line
    assert not out.exists()  # no temporary file left, so the folder this run created went too


# --- one run per output folder ------------------------------------------------------------------

def test_an_out_in_use_is_refused_by_every_writing_command(tmp_path, capsys):
    out = tmp_path / "busy"
    config = tmp_path / "p.yaml"
    config.write_text(f"search: {{space: {DIGITS_SPACE}, dataset: digits}}\ntrain: {{epochs: 1}}\n")
    commands = [
        train_args(tmp_path, out, "--epochs", "1"),
        ["search", "--space", str(DIGITS_SPACE), *FLOPS_ARGS, "--out", str(out)],
        ["energy", "--arch", write_arch(tmp_path / "a.yaml"), "--dataset", "digits", "--out", str(out)],
        ["pipeline", "--config", str(config), "--out", str(out)],
        ["correlate", "--space", str(DIGITS_SPACE), "--dataset", "digits", "--n", "3", "--out", str(out)],
    ]
    with claim(out):
        for args in commands:
            assert cli.main(args) == 2, args
            assert "is in use by another run" in error_line(capsys)
    assert list(out.iterdir()) == []  # nothing was written, no lock file is left


def test_a_killed_run_does_not_leave_its_folder_locked(tmp_path):
    out = tmp_path / "o"
    holder = subprocess.Popen(
        [sys.executable, "-c", f"import sys, time\nfrom autost.rundir import claim\nwith claim({str(out)!r}):\n"
                               "    print('held', flush=True)\n    time.sleep(60)\n"],
        cwd=ROOT, env=ENV, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(UsageError, match="in use by another run"):
            with claim(out):
                pass
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with claim(out):  # the kernel dropped the dead process's lock
        pass


# --- resume fingerprint -------------------------------------------------------------------------

def test_search_resume_after_editing_the_space_is_refused_and_names_the_change(tmp_path, capsys):
    space = tmp_path / "space.yaml"
    space.write_text(DIGITS_SPACE.read_text())
    args = ["search", "--space", str(space), *FLOPS_ARGS, "--out", str(tmp_path / "o")]
    assert cli.main(args) == 0
    moved = tmp_path / "moved.yaml"
    shutil.move(space, moved)  # a moved file with the same content is the same input
    assert cli.main([a if a != str(space) else str(moved) for a in args] + ["--resume"]) == 0
    moved.write_text(moved.read_text().replace("DEPTH: [1, 2, 3, 4]", "DEPTH: [1, 2, 3, 4, 5]"))
    assert cli.main([a if a != str(space) else str(moved) for a in args] + ["--resume", "--seed", "1"]) == 2
    err = error_line(capsys)
    assert "--resume: seed changed from 0 to 1" in err
    assert "space.DEPTH changed from [1, 2, 3, 4] to [1, 2, 3, 4, 5]" in err


def test_pipeline_resume_with_another_search_seed_or_population_is_refused(tmp_path, capsys):
    config = tmp_path / "p.yaml"
    config.write_text(
        f"search: {{space: {DIGITS_SPACE}, input_shape: 1x16x16, num_classes: 10, patch_size: 4, population: 4,\n"
        "  select: 2, mutation: 1, crossover: 1, generations: 1, top_k: 1}\n"
        "train: {dataset: digits, epochs: 1, limit: 16, batch_size: 16}\nenergy: {batch_size: 4}\n")
    out = tmp_path / "run"
    assert cli.main(["pipeline", "--config", str(config), "--out", str(out)]) == 0
    capsys.readouterr()
    status = cli.main(["pipeline", "--config", str(config), "--out", str(out), "--resume",
                       "--set", "search.seed=1", "--set", "search.population=6"])
    assert status == 2
    err = error_line(capsys)
    assert "search.population changed from 4 to 6" in err and "search.seed changed from (absent) to 1" in err


# --- Ctrl-C -------------------------------------------------------------------------------------

def test_sigint_during_a_search_is_one_line_and_exit_130(tmp_path):
    out = tmp_path / "o"
    cmd = [sys.executable, str(ROOT / "run.py"), "search", "--space", str(DIGITS_SPACE), "--dataset", "digits",
           "--time-steps", "2", "--population", "6", "--select", "2", "--mutation", "2", "--crossover", "2",
           "--generations", "200", "--batch-size", "8", "--score", "naswot", "--out", str(out)]
    # NASWOT builds and runs every candidate, so 200 generations last minutes: a FLOPs search prices
    # candidates in closed form and could finish between two looks at the checkpoint. SIGINT back to its
    # default in the child: a shell that starts the suite in the background ignores it, the child would
    # inherit that, and Python then installs no KeyboardInterrupt handler.
    proc = subprocess.Popen(cmd, cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and not (out / "checkpoint.json").exists():
        time.sleep(0.05)
    assert proc.poll() is None, "the search ended before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == "interrupted; resume with the same command plus --resume"


@pytest.mark.parametrize("command", ["train", "pipeline"])
def test_interrupt_of_train_and_pipeline_is_one_line(command, tmp_path, capsys, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    if command == "train":
        monkeypatch.setattr("autost.train.evaluate", interrupt)
        args = train_args(tmp_path, tmp_path / "o", "--epochs", "1")
    else:
        monkeypatch.setattr("autost.search.runner.run_search", interrupt)
        config = tmp_path / "p.yaml"
        config.write_text(f"search: {{space: {DIGITS_SPACE}, dataset: digits}}\n")
        args = ["pipeline", "--config", str(config), "--out", str(tmp_path / "o")]
    assert cli.main(args) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "interrupted; resume with the same command plus --resume"
    assert cli.main(args + ["--resume"]) == 130
    assert capsys.readouterr().err.strip().splitlines()[-1] == "interrupted; run the same command again to resume"


# --- output folders that cannot take results ---------------------------------------------------

def out_cases(tmp_path, out):
    config = tmp_path / "p.yaml"
    config.write_text(f"search: {{space: {DIGITS_SPACE}, dataset: digits}}\n")
    return [
        train_args(tmp_path, out, "--epochs", "1"),
        ["search", "--space", str(DIGITS_SPACE), *FLOPS_ARGS, "--out", str(out)],
        ["energy", "--arch", write_arch(tmp_path / "a.yaml"), "--dataset", "digits", "--out", str(out)],
        ["pipeline", "--config", str(config), "--out", str(out)],
    ]


def test_an_out_that_is_a_file_or_under_a_file_is_one_line_before_work(tmp_path, capsys):
    afile = tmp_path / "file"
    afile.write_text("x")
    for out, message in ((afile, "is a file, not a folder"), (afile / "sub", "cannot hold results")):
        for args in out_cases(tmp_path, out):
            start = time.perf_counter()
            assert cli.main(args) == 2, args
            assert message in error_line(capsys)
            assert time.perf_counter() - start < 5
    assert afile.read_text() == "x"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_out_is_one_line_before_work(tmp_path, capsys):
    out = tmp_path / "ro"
    out.mkdir()
    out.chmod(0o555)
    try:
        for args in out_cases(tmp_path, out):
            assert cli.main(args) == 2, args
            assert "cannot hold results" in error_line(capsys)
    finally:
        out.chmod(0o755)


# --- bad numbers and files ----------------------------------------------------------------------

def arch_file(tmp_path, text):
    path = tmp_path / "bad_arch.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize("case, message", [
    (["search", "--space", str(DIGITS_SPACE), "--dataset", "digits", "--batch-size", "0"], "--batch-size"),
    (["energy", "--arch", "ARCH", "--dataset", "digits", "--batch-size", "0"], "--batch-size"),
    (["profile", "--arch", "ARCH", "--dataset", "digits", "--batch-size", "0"], "--batch-size"),
    (["train", "--arch", "ARCH", "--dataset", "digits", "--lr", "inf"], "--lr must be a finite number above 0"),
    (["train", "--arch", "ARCH", "--dataset", "digits", "--lr", "nan"], "--lr must be a finite number above 0"),
    (["train", "--arch", "ARCH", "--dataset", "digits", "--lr", "0"], "--lr must be a finite number above 0"),
    (["train", "--arch", "ARCH", "--dataset", "digits", "--lr", "-1"], "--lr must be a finite number above 0"),
    (["search", "--space", str(DIGITS_SPACE), "--dataset", "digits", "--energy-limit", "0"], "--energy-limit"),
    (["search", "--space", str(DIGITS_SPACE), "--input-shape", "1x16x16", "--num-classes", "0", "--patch-size", "4"],
     "--num-classes"),
    (["profile", "--arch", "ARCH", "--input-shape", "1x16x16", "--num-classes", "0", "--patch-size", "4"],
     "--num-classes"),
    (["train", "--arch", "ARCH", "--dataset", "digits", "--threads", "0"], "--threads"),
])
def test_bad_numbers_are_one_line_before_work(case, message, tmp_path, capsys):
    args = [a if a != "ARCH" else write_arch(tmp_path / "a.yaml") for a in case]
    if args[0] != "profile":
        args += ["--out", str(tmp_path / "o")]
    start = time.perf_counter()
    assert cli.main(args) == 2
    assert message in error_line(capsys)
    assert time.perf_counter() - start < 5 and not (tmp_path / "o").exists()


@pytest.mark.parametrize("text, message", [
    ("RETRAIN: {DEPTH: 1, EMBED_DIM: 32, MLP_RATIO: [.inf], NUM_HEADS: [2]}", "MLP_RATIO entries must be finite"),
    ("RETRAIN: {DEPTH: 1, EMBED_DIM: 32, MLP_RATIO: [1.0e+300], NUM_HEADS: [2]}", "of memory is available"),
    ("RETRAIN: {DEPTH: 1, EMBED_DIM: 1000000, MLP_RATIO: [4], NUM_HEADS: [8]}", "of memory is available"),
    ("RETRAIN: {DEPTH: 10000, EMBED_DIM: 32, MLP_RATIO: [" + ", ".join(["4"] * 10000) + "], NUM_HEADS: ["
     + ", ".join(["2"] * 10000) + "]}", "d10000-D32: training needs about"),
    ("RETRAIN: {DEPTH: 1, EMBED_DIM: 32, MLP_RATO: [2], NUM_HEADS: [2]}",
     "unknown key 'MLP_RATO' (known keys: DEPTH, EMBED_DIM, MLP_RATIO, NUM_HEADS)"),
    ("RETRAIN:\n  DEPTH: 1\n  EMBED_DIM: [32\n", "not valid YAML (line 4, column 1"),
])
def test_bad_architectures_are_one_line_before_work(text, message, tmp_path, capsys):
    start = time.perf_counter()
    assert cli.main(["train", "--arch", arch_file(tmp_path, text), "--dataset", "digits",
                     "--out", str(tmp_path / "o")]) == 2
    assert message in error_line(capsys)
    assert time.perf_counter() - start < 5 and not (tmp_path / "o").exists()


def test_unknown_space_keys_and_bad_yaml_name_the_place(tmp_path, capsys):
    space = tmp_path / "s.yaml"
    for text, message in [
        ("SEARCH_SPACE: {MLP_RATIO: [2], NUM_HEADS: [2], DEPTH: [1], EMBED_DIM: [32], WIDTH: [3]}",
         "SEARCH_SPACE: unknown key 'WIDTH' (known keys: MLP_RATIO, NUM_HEADS, DEPTH, EMBED_DIM)"),
        ("SEARCH_SPACE: {MLP_RATIO: [2], NUM_HEADS: [2], DEPTH: [1], EMBED_DIM: [32]}\nSUPERNET: {}",
         "unknown key 'SUPERNET'"),
        ("SEARCH_SPACE:\n  MLP_RATIO: [2\n  DEPTH: [1]\n", "line 3, column"),
    ]:
        space.write_text(text)
        assert cli.main(["search", "--space", str(space), *FLOPS_ARGS, "--out", str(tmp_path / "o")]) == 2
        assert message in error_line(capsys)


@pytest.mark.parametrize("value, message", [
    ("train.epochs=[1", "--set train.epochs=[1: not valid YAML (line 1, column 3"),
    ("train.epochs=!!python/object/apply:os.system ['echo planted']", "could not determine a constructor"),
])
def test_bad_set_values_are_one_line(value, message, tmp_path, capfd):
    config = tmp_path / "p.yaml"
    config.write_text(f"search: {{space: {DIGITS_SPACE}, dataset: digits}}\n")
    assert cli.main(["pipeline", "--config", str(config), "--out", str(tmp_path / "o"), "--set", value]) == 2
    captured = capfd.readouterr()  # file-descriptor level: a shell command's output would show here
    assert "planted" not in captured.out
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert not (tmp_path / "o").exists()


def test_a_cifar_label_beyond_the_classes_names_the_file(tmp_path, capsys):
    import numpy as np

    from datasets.files import CIFAR

    files = CIFAR["cifar10"]
    rng = np.random.default_rng(0)
    for name in (*files.train, *files.test):
        labels = np.arange(20) % 10
        if name == files.test[0]:
            labels[7] = 200
        write_cifar_binary(tmp_path / files.folder / name, rng.integers(0, 256, (20, 3, 32, 32)), labels)
    status = cli.main(["energy", "--arch", write_arch(tmp_path / "a.yaml"), "--dataset", "cifar10", "--data-root",
                       str(tmp_path), "--batch-size", "4", "--out", str(tmp_path / "o")])
    assert status == 2
    err = error_line(capsys)
    assert str(tmp_path / files.folder / files.test[0]) in err and "record 7 has label 200" in err


@pytest.mark.parametrize("name, content, message", [
    ("search.json", "{not json", "not valid JSON (line 1, column 2"),
    ("search.json", '{"space": "s"}', "lacks algorithm, score"),
    ("metrics.json", '{"arch": 1}', "lacks dataset"),
    ("metrics.json", "[1, 2]", "must be a JSON object"),
])
def test_report_on_malformed_run_files_names_the_file(name, content, message, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / name).write_text(content)
    assert cli.main(["report", "--run", str(run)]) == 2
    err = error_line(capsys)
    assert str(run / name) in err and message in err


def test_search_reports_the_number_of_files_it_wrote(tmp_path, capsys):
    space = tmp_path / "one.yaml"
    space.write_text("SEARCH_SPACE: {MLP_RATIO: [2], NUM_HEADS: [2], DEPTH: [1], EMBED_DIM: [32]}\n")
    assert cli.main(["search", "--space", str(space), *FLOPS_ARGS, "--out", str(tmp_path / "o")]) == 0
    written = sorted(p.name for p in (tmp_path / "o" / "top").iterdir())
    assert written == ["01.yaml"]
    out = capsys.readouterr().out
    assert "the best 1 of distinct cost" in out and "fewer than --top-k 5" in out


# --- memory guard -------------------------------------------------------------------------------

def saved_tensor_bytes(arch: Arch, geometry: Geometry, batch: int) -> int:
    """Bytes autograd keeps for the backward pass of one forward pass, counted by torch's own hook
    (each storage once)."""
    torch.manual_seed(0)
    model = build_model(arch, **geometry.model_kwargs())
    storages = {}

    def pack(t):
        storages[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(torch.randn(batch, geometry.in_channels, geometry.img_size, geometry.img_size))
    return sum(storages.values())


@pytest.mark.parametrize("attention", attention_names())
@pytest.mark.parametrize("arch, geometry", [
    (Arch(2, 32, (2, 4), (2, 8)), Geometry(1, 16, 4, 10, 4)),
    (Arch(1, 48, (3,), (4,)), Geometry(3, 32, 2, 10, 2)),
])
def test_activation_estimate_is_close_to_what_autograd_keeps(arch, geometry, attention):
    arch = dataclasses.replace(arch, attention=(attention,) * arch.depth)
    measured = saved_tensor_bytes(arch, geometry, batch=4)
    estimated = memory.saved_bytes(arch, geometry, 4)
    assert 0.9 * measured <= estimated <= 1.3 * measured


def test_memory_guard_refuses_a_huge_model_at_once_and_passes_a_tiny_one():
    geometry = Geometry(1, 16, 4, 10, 4)
    start = time.perf_counter()
    with pytest.raises(UsageError, match=r"needs about .* GB .* but .* of memory is available"):
        memory.check_fits(Arch(10000, 32, (4,) * 10000, (2,) * 10000), geometry, 64, use="train")
    assert time.perf_counter() - start < 1
    assert memory.check_fits(TINY, geometry, 64, use="train").total_bytes < memory.available_bytes()


# --- threads ------------------------------------------------------------------------------------

def test_thread_choice_precedence(monkeypatch):
    monkeypatch.delenv("AUTOST_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(threads, "usable_cores", lambda: 8)
    monkeypatch.setattr(threads, "busy_cores", lambda: 3)
    assert threads.choose_threads() == 5
    monkeypatch.setattr(threads, "busy_cores", lambda: 20)
    assert threads.choose_threads() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert threads.choose_threads() == 2
    monkeypatch.setenv("AUTOST_THREADS", "3")
    assert threads.choose_threads() == 3
    assert threads.choose_threads(4) == 4
    monkeypatch.setenv("AUTOST_THREADS", "many")
    with pytest.raises(UsageError, match="AUTOST_THREADS"):
        threads.choose_threads()


def test_usable_cores_follow_the_affinity_mask():
    assert threads.usable_cores() == len(os.sched_getaffinity(0))


def test_thread_count_is_recorded_in_metrics(tmp_path):
    out = tmp_path / "o"
    try:
        assert cli.main(train_args(tmp_path, out, "--epochs", "1", "--threads", "2")) == 0
    finally:
        torch.set_num_threads(1)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["threads"] == 2 and metrics["epochs"][0]["threads"] == 2
