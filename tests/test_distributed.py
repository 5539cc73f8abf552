import json
import os
import socket
import subprocess
import sys

import pytest

from autost.arch import Arch
from autost.cli import main
from conftest import ROOT

TRAIN = ["--dataset", "digits", "--epochs", "2", "--warmup-epochs", "0", "--limit", "128", "--time-steps", "2"]
# Every process on the loopback interface: the rendezvous store and gloo's own sockets.
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}


def _train(arch, out, batch_size: int) -> list[str]:
    return [str(ROOT / "run.py"), "train", "--arch", str(arch), *TRAIN, "--batch-size", str(batch_size),
            "--out", str(out)]


def _metrics(out) -> dict:
    metrics = json.loads((out / "metrics.json").read_text())
    for epoch in metrics["epochs"]:
        epoch.pop("time_s")
    return metrics


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def arch(tmp_path_factory):
    path = tmp_path_factory.mktemp("arch") / "a.yaml"
    Arch(1, 32, (2,), (2,)).to_yaml(path)
    return path


@pytest.fixture(scope="module")
def one_node(arch, tmp_path_factory):
    """Two processes on one node (torchrun --standalone), 32 samples each per step."""
    out = tmp_path_factory.mktemp("one_node") / "out"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           *_train(arch, out, 32)]
    done = subprocess.run(cmd, cwd=ROOT, env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    return done, out


def test_two_process_gloo_torchrun_trains_and_writes_metrics_once(one_node):
    done, out = one_node
    assert done.stdout.count("metrics.json") == 1  # one summary line: rank 0's
    assert done.stderr.count("epoch 2/2") == 1  # only rank 0 logs
    metrics = json.loads((out / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    assert metrics["test_acc"] is not None and metrics["energy_mj"] > 0
    assert sorted(p.name for p in out.iterdir()) == ["best.pt", "last.pt", "metrics.json"]  # no stray temp files


@pytest.mark.slow
def test_two_nodes_train_as_two_processes_on_one_node(arch, one_node, tmp_path):
    """Two torchrun agents, one process each, meet at a c10d rendezvous on 127.0.0.1 as two
    machines would at their head node's address. The job is the one-node job above to the bit
    (same world size, same shards, same all-reduce), and its learning-rate schedule is that
    of one process with the same global batch of 64. (One process's metrics differ otherwise:
    without SyncBatchNorm each rank normalizes over its own 32 samples.)"""
    out = tmp_path / "out"
    port = _free_port()
    nodes = [subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--nproc-per-node", "1",
                               "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "autost",
                               "--local-addr", "127.0.0.1", *_train(arch, out, 32)],
                              cwd=ROOT, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    outputs = [node.communicate(timeout=600) for node in nodes]
    for node, (_, err) in zip(nodes, outputs):
        assert node.returncode == 0, err[-2000:]
    assert sum(stdout.count("metrics.json") for stdout, _ in outputs) == 1  # rank 0, on one of the nodes
    two_nodes = _metrics(out)
    assert two_nodes == _metrics(one_node[1])

    single = tmp_path / "single"
    assert main(["train", "--arch", str(arch), *TRAIN, "--batch-size", "64", "--out", str(single)]) == 0
    assert [e["lr"] for e in two_nodes["epochs"]] == [e["lr"] for e in _metrics(single)["epochs"]]
