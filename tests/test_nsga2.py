import json

import pytest

from autost.arch import Arch
from autost.pareto import knee_point
from autost.cli import main
from autost.geometry import Geometry
from autost.search.evaluate import Constraints, Evaluator
from autost.search.generational import EvolutionSettings
from autost.search.exact_solver import exact_flops_optimum
from autost.search.runner import SearchConfig, distinct_costs, run_search
from autost.space import SearchSpace
from conftest import ROOT

TINY = str(ROOT / "spaces" / "spikformer_tiny.yaml")
CIFAR = Geometry(in_channels=3, img_size=32, patch_size=4, num_classes=10, time_steps=4)


def _dominates(a, b, keys):
    return all(a[k] <= b[k] for k in keys) and any(a[k] < b[k] for k in keys)


def _brute_force_front(candidates, objectives):
    signed = {"score": lambda c: -c["score"], "energy": lambda c: c["energy_mj"], "params": lambda c: c["params"]}
    vals = [{o: signed[o](c) for o in objectives} for c in candidates]
    return [c for c, v in zip(candidates, vals) if not any(_dominates(w, v, objectives) for w in vals)]


def test_pareto_is_the_non_dominated_subset_with_energy(tmp_path):
    out = tmp_path / "n"
    assert main(["search", "--space", str(ROOT / "spaces" / "digits.yaml"), "--dataset", "digits",
                 "--time-steps", "2", "--algorithm", "nsga2", "--objectives", "score,energy,params",
                 "--population", "8", "--mutation", "4", "--crossover", "4", "--generations", "3",
                 "--batch-size", "8", "--top-k", "3", "--out", str(out)]) == 0
    result = json.loads((out / "search.json").read_text())
    assert result["pareto"] == _brute_force_front(result["candidates"], ["score", "energy", "params"])
    tops = [Arch.from_yaml(p).to_dict()["RETRAIN"] for p in sorted((out / "top").glob("*.yaml"))]
    assert tops == [c["arch"] for c in distinct_costs(result["pareto"])[:3]]


def test_front_on_tiny_space_holds_the_exact_flops_optimum(tmp_path):
    config = SearchConfig(space=TINY, geometry=CIFAR, algorithm="nsga2", objectives=("score", "params"),
                          constraints=Constraints(11, 12), seed=1,
                          settings=EvolutionSettings(population=30, mutation=15, crossover=15, generations=10))
    result = run_search(config, tmp_path / "t", progress=False)
    assert result["pareto"] == _brute_force_front(result["candidates"], ["score", "params"])
    optimum_macs, _, _ = exact_flops_optimum(SearchSpace.from_yaml(TINY), CIFAR, Constraints(11, 12), keep=1)[0]
    evaluator = Evaluator("flops", CIFAR)
    optimal = [c for c in result["candidates"] if c["macs"] == optimum_macs]
    assert optimal, "NSGA-II never evaluated an architecture with the optimal MACs"
    on_front = [c for c in result["pareto"] if c["macs"] == optimum_macs]
    assert on_front and all(evaluator.cost(Arch.from_dict(c["arch"]))[1] == optimum_macs for c in on_front)


def test_nsga2_needs_data_for_energy(tmp_path, capsys):
    assert main(["search", "--space", TINY, "--input-shape", "3x32x32", "--num-classes", "10", "--patch-size", "4",
                 "--algorithm", "nsga2", "--out", str(tmp_path / "x")]) == 2
    assert "needs --dataset" in capsys.readouterr().err


FRONT = [{"name": n, "score": s, "energy_mj": e}
         for n, s, e in (("big", 1.0, 10.0), ("knee", 0.9, 3.0), ("mid", 0.5, 1.0), ("small", 0.0, 0.0))]
OBJECTIVES = [lambda r: -r["score"], lambda r: r["energy_mj"]]


def test_knee_is_the_point_farthest_from_the_chord_and_ignores_units():
    # scaled: big (0, 1), knee (0.1, 0.3), mid (0.5, 0.1), small (1, 0); distances to x + y = 1: 0, .6, .4, 0
    assert knee_point(FRONT, OBJECTIVES)["name"] == "knee"
    in_joules = [{**r, "energy_mj": r["energy_mj"] * 1e-3} for r in FRONT]
    assert knee_point(in_joules, OBJECTIVES)["name"] == "knee"
    bulging = FRONT[:2] + [{"name": "mid", "score": 0.8, "energy_mj": 0.5}] + FRONT[3:]
    assert knee_point(bulging, OBJECTIVES)["name"] == "mid"  # (0.2, 0.05): 0.75 from the chord
    assert knee_point(FRONT[:1], OBJECTIVES)["name"] == "big"
    with pytest.raises(ValueError, match="two objectives"):
        knee_point(FRONT, OBJECTIVES[:1])
