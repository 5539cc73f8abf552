import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autost.arch import Arch
from autost.cli import main
from conftest import ROOT

SEARCH_WITH_DATA = ["search", "--space", str(ROOT / "spaces" / "digits.yaml"), "--dataset", "digits",
                    "--score", "naswot"]
COMMON = ["--dataset", "digits", "--epochs", "2", "--warmup-epochs", "0", "--limit", "96", "--batch-size", "32",
          "--time-steps", "2", "--top-k", "2"]


def _search_dir(tmp_path: Path) -> Path:
    search = tmp_path / "search"
    Arch(1, 32, (2,), (2,)).to_yaml(search / "top" / "01.yaml")
    Arch(2, 32, (2, 2), (1, 2)).to_yaml(search / "top" / "02.yaml")
    return search


def _metrics(out: Path) -> dict:
    result = {}
    for name in ("01", "02"):
        m = json.loads((out / name / "metrics.json").read_text())
        for epoch in m["epochs"]:
            epoch.pop("time_s")
        result[name] = m
    return result


@pytest.fixture(scope="module")
def one_worker(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("w1")
    search = _search_dir(tmp)
    assert main(["train", "--from-search", str(search), *COMMON, "--workers", "1", "--out", str(tmp / "out")]) == 0
    return search, _metrics(tmp / "out")


def test_two_workers_give_the_same_metrics_as_one(one_worker, tmp_path):
    search, expected = one_worker
    assert main(["train", "--from-search", str(search), *COMMON, "--workers", "2", "--out", str(tmp_path / "o")]) == 0
    assert _metrics(tmp_path / "o") == expected


def _worker_pids(parent: int) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if int(stat[1]) == parent and b"spawn_main" in cmdline:
            pids.append(int(proc.name))
    return pids


def test_killing_a_worker_loses_nothing(one_worker, tmp_path):
    search, expected = one_worker
    out = tmp_path / "o"
    cmd = [sys.executable, str(ROOT / "run.py"), "train", "--from-search", str(search), *COMMON, "--workers", "2",
           "--out", str(out)]
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline, killed = time.time() + 300, False
    while time.time() < deadline and proc.poll() is None and not killed:
        if any((out / n / "last.pt").exists() for n in ("01", "02")) and not all(
                (out / n / "metrics.json").exists() and json.loads((out / n / "metrics.json").read_text())["test_acc"]
                is not None for n in ("01", "02")):
            workers = _worker_pids(proc.pid)
            if workers:
                os.kill(workers[0], signal.SIGKILL)
                killed = True
        time.sleep(0.05)
    assert proc.wait(timeout=600) == 0
    assert killed, "no worker could be killed mid-run"
    assert _metrics(out) == expected


def test_ray_address_without_ray_is_one_line_naming_the_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError, as on a machine without it
    out = tmp_path / "o"
    search = [*SEARCH_WITH_DATA, "--out", str(tmp_path / "s"), "--ray-address", "local"]
    train = ["train", "--from-search", str(_search_dir(tmp_path)), *COMMON, "--ray-address", "local", "--out", str(out)]
    for args in (train, search):
        assert main(args) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "pip install -r requirements-ray.txt" in err
    assert (ROOT / "requirements-ray.txt").read_text().count("ray[tune]==") == 1
    assert not out.exists()


def test_ray_address_where_nothing_listens_is_one_line(tmp_path, capsys):
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.perf_counter()
    args = ["train", "--from-search", str(_search_dir(tmp_path)), *COMMON, "--ray-address", f"127.0.0.1:{port}",
            "--out", str(tmp_path / "o")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no Ray cluster answers" in err and "ray start --head" in err
    assert time.perf_counter() - start < 30


def test_workers_need_from_search(tmp_path, capsys):
    path = tmp_path / "a.yaml"
    Arch(1, 32, (2,), (2,)).to_yaml(path)
    assert main(["train", "--arch", str(path), "--dataset", "digits", "--workers", "2", "--out", str(tmp_path / "o")]) == 2
    assert "--from-search" in capsys.readouterr().err
