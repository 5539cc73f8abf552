"""The --ray-address paths, run on a real local Ray instance (2 CPUs, no dashboard, loopback only).

Ray is a test requirement (requirements-ray.txt, installed by `make test`): these tests do not skip, except the
ASHA test in an environment installed before requirements-ray.txt asked for Ray Tune's extra (it says so).
"""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import ray

from autost.arch import Arch
from autost.checkpoint import load_checkpoint
from autost.cli import main
from autost.correlate import StudyConfig, run_study
from conftest import ROOT

TRAIN = ["--dataset", "digits", "--epochs", "2", "--warmup-epochs", "0", "--limit", "128", "--batch-size", "32",
         "--time-steps", "2", "--top-k", "2"]
SEARCH = ["search", "--space", str(ROOT / "spaces" / "digits.yaml"), "--dataset", "digits", "--time-steps", "2",
          "--score", "sahd", "--population", "6", "--select", "2", "--mutation", "2", "--crossover", "2",
          "--generations", "2", "--batch-size", "8"]


@pytest.fixture(scope="module")
def cluster():
    """A local Ray instance for the module; yields its address (127.0.0.1:PORT)."""
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        address = ray.get_runtime_context().gcs_address
        assert address.startswith("127.0.0.1:")  # conftest keeps Ray on the loopback interface
        yield address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def search_dir(tmp_path_factory):
    """Two depth-1 candidates of about the same cost, so both train at the same time."""
    search = tmp_path_factory.mktemp("search")
    Arch(1, 32, (2,), (2,)).to_yaml(search / "top" / "01.yaml")
    Arch(1, 32, (3,), (1,)).to_yaml(search / "top" / "02.yaml")
    return search


def _metrics(out: Path) -> dict:
    result = {}
    for name in ("01", "02"):
        metrics = json.loads((out / name / "metrics.json").read_text())
        for epoch in metrics["epochs"]:
            epoch.pop("time_s")
        result[name] = metrics
    return result


@pytest.fixture(scope="module")
def one_worker(search_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("w1") / "out"
    assert main(["train", "--from-search", str(search_dir), *TRAIN, "--workers", "1", "--out", str(out)]) == 0
    return _metrics(out)


def test_train_top_k_on_ray_matches_one_worker(cluster, search_dir, one_worker, tmp_path):
    out = tmp_path / "ray"
    assert main(["train", "--from-search", str(search_dir), *TRAIN, "--ray-address", "local", "--out", str(out)]) == 0
    assert _metrics(out) == one_worker


def _ray_workers_running(task: str) -> list[int]:
    """Pids of this test's Ray workers (descendants of this process) executing ``task``."""
    me, pids = os.getpid(), []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if not (proc / "cmdline").read_bytes().startswith(f"ray::{task}".encode()):
                continue
            pid = int(proc.name)
            while pid > 1 and pid != me:
                pid = int((Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError):
            continue
        if pid == me:
            pids.append(int(proc.name))
    return pids


@pytest.mark.slow
def test_killed_ray_workers_are_retried_from_their_checkpoints(cluster, search_dir, one_worker, tmp_path):
    """A second driver (its own process) connects to the cluster by address; its Ray workers
    are killed once a candidate has a checkpoint but no metrics. Ray reruns the tasks, which
    resume: the finished metrics keep the checkpointed epochs as they were timed before the
    kill, and equal those of an undisturbed run."""
    out = tmp_path / "o"
    cmd = [sys.executable, str(ROOT / "run.py"), "train", "--from-search", str(search_dir), *TRAIN,
           "--ray-address", cluster, "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    # generous: Ray's workers run niced, and on a loaded machine their first checkpoint took over 300 s
    names, checkpointed, deadline = ("01", "02"), {}, time.time() + 900
    while time.time() < deadline and proc.poll() is None and not checkpointed:
        midway = [n for n in names if (out / n / "last.pt").exists() and not (out / n / "metrics.json").exists()]
        workers = _ray_workers_running("run_job") if midway else []
        if workers:
            checkpointed = {n: load_checkpoint(out / n / "last.pt")["history"]["epochs"] for n in midway}
            for pid in workers:
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    assert checkpointed, "no Ray worker could be killed mid-run"
    for n, epochs in checkpointed.items():  # not trained again: the records, timings included, are the saved ones
        assert json.loads((out / n / "metrics.json").read_text())["epochs"][:len(epochs)] == epochs
    assert _metrics(out) == one_worker


def test_search_scored_on_ray_matches_a_serial_search(cluster, tmp_path):
    assert main([*SEARCH, "--out", str(tmp_path / "serial")]) == 0
    assert main([*SEARCH, "--ray-address", cluster, "--out", str(tmp_path / "ray")]) == 0
    serial, parallel = (json.loads((tmp_path / d / "search.json").read_text()) for d in ("serial", "ray"))
    assert parallel["candidates"] == serial["candidates"] and len(serial["candidates"]) == 12
    assert all(c["energy_mj"] > 0 and c["score"] == c["sahd"] for c in parallel["candidates"])


def test_correlate_on_ray_matches_a_serial_study(cluster, tmp_path):
    space = tmp_path / "tiny.yaml"
    space.write_text("SEARCH_SPACE:\n  MLP_RATIO: [1, 2]\n  NUM_HEADS: [1, 2]\n  DEPTH: [1]\n  EMBED_DIM: [16, 32]\n")
    args = ["correlate", "--space", str(space), "--dataset", "digits", "--n", "3", "--epochs", "1",
            "--time-steps", "2", "--batch-size", "8", "--train-batch-size", "16", "--limit", "32",
            "--resamples", "50"]
    assert main([*args, "--ray-address", cluster, "--out", str(tmp_path / "ray")]) == 0
    config = StudyConfig(space=str(space), dataset="digits", n=3, epochs=1, time_steps=2, batch_size=8,
                         train_batch_size=16, limit=32, resamples=50)
    serial = run_study(config, tmp_path / "serial", progress=False)
    parallel = json.loads((tmp_path / "ray" / "correlate.json").read_text())
    assert parallel["table"] == serial["table"] and all(row["test_acc"] is not None for row in parallel["table"])
    assert parallel["stats"] == serial["stats"]


def test_halving_on_asha_records_its_rungs_and_trains_the_survivors_to_the_end(cluster, tmp_path):
    """Four candidates, rungs of 1 and 2 epochs, 4 in all, on Ray Tune's ASHA. ASHA decides
    asynchronously, so the test checks what holds whatever the order: its rung epochs are ours,
    every rung is recorded with the scores the checkpoints hold, a stopped candidate was not
    trained past its rung, and a finished one ends as one uninterrupted run of the schedule."""
    pytest.importorskip("ray.tune", reason="Ray Tune's dependencies are missing: pip install -r requirements-ray.txt")
    from ray.tune.schedulers import ASHAScheduler

    from autost.rungs import Halving
    from autost.train import TrainConfig, train

    halving = Halving(rung_epochs=1, eta=2)
    asha = ASHAScheduler(time_attr="epoch", metric="val_acc", mode="max", max_t=4, grace_period=1, reduction_factor=2)
    assert sorted(milestone for milestone, _ in asha._brackets[0]._rungs) == halving.milestones(4)
    archs = {"01": Arch(1, 32, (2,), (2,)), "02": Arch(1, 48, (2,), (4,)), "03": Arch(2, 32, (2, 2), (1, 1)),
             "04": Arch(1, 32, (4,), (1,))}
    for name, arch in archs.items():
        arch.to_yaml(tmp_path / "search" / "top" / f"{name}.yaml")
    out = tmp_path / "out"
    options = ["--dataset", "digits", "--epochs", "4", "--warmup-epochs", "0", "--limit", "64", "--batch-size", "16",
               "--time-steps", "2"]
    assert main(["train", "--from-search", str(tmp_path / "search"), *options, "--halving", "--rung-epochs", "1",
                 "--ray-address", "local", "--out", str(out)]) == 0
    rungs = json.loads((out / "rungs.json").read_text())
    assert rungs["scheduler"] == "asha" and rungs["eta"] == 2
    assert [r["epochs"] for r in rungs["rungs"]][:1] == [1] and len(rungs["rungs"][0]["candidates"]) == 4
    finished = set()
    for rung, following in zip(rungs["rungs"], rungs["rungs"][1:] + [None]):
        for c in rung["candidates"]:
            history = load_checkpoint(out / c["name"] / "last.pt")["history"]["epochs"]
            assert c["arch"] == archs[c["name"]].short()
            assert c["val_acc"] == max(e["val_acc"] for e in history if e["epoch"] <= rung["epochs"])
            if not c["kept"]:
                assert len(history) == rung["epochs"] and not (out / c["name"] / "metrics.json").exists()
            elif rung["epochs"] == 4:
                finished.add(c["name"])
        if following:
            assert {c["name"] for c in following["candidates"]} == {c["name"] for c in rung["candidates"] if c["kept"]}
    assert finished, "no candidate was trained to the end"
    config = TrainConfig.for_dataset("digits", epochs=4, warmup_epochs=0, limit=64, batch_size=16, time_steps=2)
    name = sorted(finished)[0]
    straight = train(archs[name], config, tmp_path / "straight")
    halved = json.loads((out / name / "metrics.json").read_text())
    for metrics in (straight, halved):
        for epoch in metrics["epochs"]:
            epoch.pop("time_s")
    assert halved == straight
