import json
import os
import subprocess
import sys

from autost.arch import Arch
from conftest import ROOT


def test_two_process_gloo_torchrun_trains_and_writes_metrics_once(tmp_path):
    arch = tmp_path / "a.yaml"
    Arch(1, 32, (2,), (2,)).to_yaml(arch)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(ROOT / "run.py"), "train", "--arch", str(arch), "--dataset", "digits", "--epochs", "2",
           "--warmup-epochs", "0", "--limit", "128", "--batch-size", "32", "--time-steps", "2", "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("metrics.json") == 1  # one summary line: rank 0's
    assert done.stderr.count("epoch 2/2") == 1  # only rank 0 logs
    metrics = json.loads((out / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    assert metrics["test_acc"] is not None and metrics["energy_mj"] > 0
    assert sorted(p.name for p in out.iterdir()) == ["best.pt", "last.pt", "metrics.json"]  # no stray temp files
