import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest

from autost.arch import Arch
from autost.cli import main
from autost.scores import SCORES
from autost.geometry import Geometry
from autost.search.evaluate import Constraints, Evaluator
from autost.search.runner import SearchConfig, run_search
from autost.search.generational import EvolutionSettings
from autost.space import SearchSpace
from conftest import ROOT

TINY = str(ROOT / "spaces" / "spikformer_tiny.yaml")
DIGITS_SPACE = str(ROOT / "spaces" / "digits.yaml")
CIFAR = Geometry(in_channels=3, img_size=32, patch_size=4, num_classes=10, time_steps=4)
CIFAR_ARGS = ["--input-shape", "3x32x32", "--num-classes", "10", "--patch-size", "4"]


def _search(tmp_path, name, **kw):
    config = SearchConfig(space=TINY, geometry=CIFAR, constraints=Constraints(11, 12), **kw)
    return run_search(config, tmp_path / name, progress=False)


@pytest.fixture(scope="module")
def paper_setting(tmp_path_factory):
    """The paper's setting: tiny space, CIFAR-10 input, 11-12 M params."""
    tmp = tmp_path_factory.mktemp("paper")
    return _search(tmp, "exact", algorithm="exact"), _search(tmp, "evo", seed=0), tmp


def test_exact_beats_every_sampled_legal_architecture(paper_setting):
    exact, _, _ = paper_setting
    best = exact["best"]
    space = SearchSpace.from_yaml(TINY)
    evaluator = Evaluator("flops", CIFAR)
    rng = random.Random(123)
    legal = 0
    for _ in range(20000):
        params, macs = evaluator.cost(space.sample(rng))
        if 11e6 <= params <= 12e6:
            legal += 1
            assert macs <= best["macs"]
    assert legal > 100
    assert 11e6 <= best["params"] <= 12e6


def test_evolution_reaches_the_exact_optimum_within_a_few_percent(paper_setting):
    exact, evo, _ = paper_setting
    assert evo["best"]["macs"] >= 0.97 * exact["best"]["macs"]


def test_search_outputs_are_consistent(paper_setting):
    _, evo, tmp = paper_setting
    space = SearchSpace.from_yaml(TINY)
    assert evo["best"] == evo["candidates"][0]
    scores = [c["score"] for c in evo["candidates"]]
    assert scores == sorted(scores, reverse=True)
    keys = set()
    for c in evo["candidates"]:
        arch = Arch.from_dict(c["arch"])
        assert space.contains(arch) and 11e6 <= c["params"] <= 12e6 and c["energy_mj"] is None
        keys.add(arch.short())
    assert len(keys) == len(evo["candidates"])  # nothing evaluated twice
    history = (tmp / "evo" / "history.csv").read_text().splitlines()
    assert history[0] == "generation,best,mean,worst,evaluated,elapsed_s" and len(history) == 21
    tops = sorted((tmp / "evo" / "top").glob("*.yaml"))
    assert [p.name for p in tops] == ["01.yaml", "02.yaml", "03.yaml", "04.yaml", "05.yaml"]
    assert Arch.from_yaml(tops[0]).to_dict()["RETRAIN"] == evo["best"]["arch"]
    costs = {(c["params"], c["macs"]) for c in evo["candidates"] if c["arch"] in
             [Arch.from_yaml(p).to_dict()["RETRAIN"] for p in tops]}
    assert len(costs) == 5  # the top-k differ in cost, not only in head counts


def test_same_seed_same_candidates(tmp_path):
    settings = EvolutionSettings(population=12, select=4, mutation=4, crossover=4, generations=4)
    a = _search(tmp_path, "a", seed=5, settings=settings)
    b = _search(tmp_path, "b", seed=5, settings=settings)
    c = _search(tmp_path, "c", seed=6, settings=settings)
    assert a["candidates"] == b["candidates"]
    assert a["candidates"] != c["candidates"]


def test_random_search_and_energy_recorded_with_data(tmp_path):
    config = SearchConfig(space=DIGITS_SPACE, geometry=Geometry(1, 16, 4, 10, 2), dataset="digits",
                          algorithm="random", settings=EvolutionSettings(6, 2, 0, 0, 2), batch_size=8,
                          constraints=Constraints(energy_max_mj=1.0))
    result = run_search(config, tmp_path / "r", progress=False)
    assert len(result["candidates"]) == 12
    assert all(c["energy_mj"] is not None and 0 < c["energy_mj"] <= 1.0 for c in result["candidates"])


def test_naswot_score_needs_and_uses_data(tmp_path, capsys):
    out = tmp_path / "n"
    rc = main(["search", "--space", DIGITS_SPACE, "--dataset", "digits", "--time-steps", "2", "--score", "naswot",
               "--population", "4", "--select", "2", "--mutation", "1", "--crossover", "1", "--generations", "2",
               "--batch-size", "8", "--out", str(out)])
    assert rc == 0
    result = json.loads((out / "search.json").read_text())
    assert all(c["score"] == c["naswot"] for c in result["candidates"])
    assert main(["search", "--space", DIGITS_SPACE, *CIFAR_ARGS, "--score", "naswot", "--out", str(tmp_path / "x")]) == 2
    assert "needs real data" in capsys.readouterr().err


@pytest.mark.parametrize("extra, message", [
    (["--space", "missing.yaml"], "not found"),
    (["--space", TINY, "--param-limits", "12", "11"], "larger than MAX"),
    (["--space", TINY, "--param-limits", "500", "600"], "widen --param-limits"),
    (["--space", TINY, "--algorithm", "exact", "--score", "sahd"], "exact"),
    (["--space", TINY, "--score", "energy-aware"], "was removed: no paper defines it"),
    (["--space", TINY, "--score", "bogus"], "unknown score 'bogus'; choose one of " + ", ".join(SCORES.names())),
])
def test_bad_input_fails_before_work_with_one_line(tmp_path, capsys, extra, message):
    out = tmp_path / "o"
    start = time.perf_counter()
    assert main(["search", *CIFAR_ARGS, "--out", str(out), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert time.perf_counter() - start < 5 and not out.exists()


def test_existing_run_needs_resume(tmp_path, capsys):
    args = ["search", "--space", TINY, *CIFAR_ARGS, "--out", str(tmp_path / "o"), "--generations", "2"]
    assert main(args) == 0
    assert main(args) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(args + ["--resume", "--seed", "9"]) == 2
    assert "seed" in capsys.readouterr().err


def test_killed_search_resumes_to_the_same_candidates(tmp_path):
    common = ["--space", DIGITS_SPACE, "--dataset", "digits", "--time-steps", "2", "--population", "8",
              "--select", "3", "--mutation", "3", "--crossover", "3", "--generations", "6", "--batch-size", "16",
              "--seed", "3", "--score", "naswot"]  # a forward pass per candidate: generations the kill can land in
    straight = tmp_path / "straight"
    assert main(["search", *common, "--out", str(straight)]) == 0

    killed = tmp_path / "killed"
    cmd = [sys.executable, str(ROOT / "run.py"), "search", *common, "--out", str(killed)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = killed / "checkpoint.json"
    deadline = time.time() + 120
    generation = 0
    while time.time() < deadline and proc.poll() is None:
        if checkpoint.exists():
            generation = json.loads(checkpoint.read_text())["state"]["generation"]
            if generation >= 2:
                proc.send_signal(signal.SIGKILL)
                break
        time.sleep(0.02)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the search finished before it could be killed"
    assert 2 <= generation < 6 and not (killed / "search.json").exists()
    assert main(["search", *common, "--out", str(killed), "--resume"]) == 0
    a = json.loads((straight / "search.json").read_text())
    b = json.loads((killed / "search.json").read_text())
    assert a["candidates"] == b["candidates"]
