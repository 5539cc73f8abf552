"""Search scoring on local worker processes: the same search as a serial one, resumable per generation."""
import itertools
import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from autost.cli import main
from autost.search.pool import balanced_batches
from conftest import ROOT

DIGITS_SPACE = str(ROOT / "spaces" / "digits.yaml")
# A search that measures every candidate's energy and NASWOT on a real batch.
SEARCH = ["search", "--space", DIGITS_SPACE, "--dataset", "digits", "--time-steps", "2", "--score", "naswot",
          "--population", "8", "--select", "3", "--mutation", "3", "--crossover", "3", "--generations", "5",
          "--batch-size", "8", "--seed", "3", "--energy", "measure"]


def _result(out) -> dict:
    result = json.loads((out / "search.json").read_text())
    result.pop("elapsed_s")
    return result


@pytest.fixture(scope="module")
def serial(tmp_path_factory):
    out = tmp_path_factory.mktemp("serial") / "s"
    assert main([*SEARCH, "--out", str(out)]) == 0
    return _result(out)


def _optimum(costs: list[int], n: int) -> int:
    """The smallest largest batch over every assignment (brute force)."""
    best = sum(costs)
    for assignment in itertools.product(range(n), repeat=len(costs)):
        loads = [0] * n
        for cost, b in zip(costs, assignment):
            loads[b] += cost
        best = min(best, max(loads))
    return best


def test_balanced_batches_partition_and_meet_grahams_bound():
    rng = random.Random(0)
    for _ in range(40):
        n = rng.randint(1, 3)
        costs = [rng.randint(1, 100) for _ in range(rng.randint(1, 8))]
        batches = balanced_batches(costs, n)
        assert sorted(i for b in batches for i in b) == list(range(len(costs)))
        assert len(batches) == min(n, len(costs)) and all(batches)
        # Graham (1969): longest-processing-time-first is within 4/3 - 1/(3n) of the optimum.
        worst = max(sum(costs[i] for i in b) for b in batches)
        assert worst <= (4 / 3 - 1 / (3 * n)) * _optimum(costs, n) + 1e-9


@pytest.mark.slow
def test_killed_two_worker_search_resumes_to_the_serial_result(serial, tmp_path):
    """Killed (driver and workers) after a generation, resumed on two workers: the records of
    a serial search, bit for bit."""
    out = tmp_path / "killed"
    cmd = [sys.executable, str(ROOT / "run.py"), *SEARCH, "--workers", "2", "--out", str(out)]
    # its own process group, so the kill takes the scoring workers with the driver
    proc = subprocess.Popen(cmd, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint, generation, deadline = out / "checkpoint.json", 0, time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if checkpoint.exists():
            generation = json.loads(checkpoint.read_text())["state"]["generation"]
            if generation >= 1:
                os.killpg(proc.pid, signal.SIGKILL)
                break
        time.sleep(0.02)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the search finished before it could be killed"
    assert 1 <= generation < 5 and not (out / "search.json").exists()
    assert main([*SEARCH, "--workers", "2", "--out", str(out), "--resume"]) == 0
    result = _result(out)
    assert result["candidates"] == serial["candidates"] and result["best"] == serial["best"]
    assert all(c["energy_mj"] > 0 and c["score"] == c["naswot"] for c in result["candidates"])


def test_workers_without_forward_passes_is_one_line(tmp_path, capsys):
    args = ["search", "--space", DIGITS_SPACE, "--input-shape", "1x16x16", "--num-classes", "10", "--patch-size", "4",
            "--out", str(tmp_path / "o"), "--workers", "2"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "--dataset" in err and err.count("\n") == 1
