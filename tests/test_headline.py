import pytest

from autost.pareto import knee_point
from benchmarks.bench_headline import markdown_table, summarize

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


def _entry(name, roles, accs, energies):
    return {"arch_short": name, "roles": roles, "runs": [{"test_acc": a} for a in accs], "energy_values": energies}


def test_a_searched_architecture_dominates_only_with_higher_accuracy_at_no_more_energy():
    entries = [_entry("base", ["baseline"], [0.80, 0.82, 0.81], [1.0, 1.0, 1.0]),
               _entry("better", ["flops top 1"], [0.83, 0.84, 0.82], [0.9, 1.1, 1.0]),
               _entry("costly", ["flops top 2"], [0.90, 0.90, 0.90], [1.2, 1.2, 1.2]),
               _entry("worse", ["NSGA-II knee"], [0.70, 0.71, 0.72], [0.2, 0.2, 0.2])]
    result = summarize(entries)
    by_name = {e["arch_short"]: e for e in result["architectures"]}
    assert [n for n, e in by_name.items() if e["dominates_baseline"]] == ["better"]
    assert result["any_searched_dominates"]
    assert by_name["base"]["test_acc"]["mean"] == pytest.approx(0.81)
    assert by_name["base"]["test_acc"]["std"] == pytest.approx(0.01)  # sample std over seeds
    assert by_name["costly"]["energy_over_baseline"] == pytest.approx(1.2)
    assert by_name["worse"]["acc_minus_baseline"] == pytest.approx(-0.10)
    assert not summarize(entries[:1] + entries[2:])["any_searched_dominates"]


def test_the_readme_table_marks_the_baseline_and_the_dominating_architecture():
    entries = [_entry("base", ["baseline"], [0.80, 0.82], [1e-3, 1e-3]),
               _entry("better", ["flops top 1", "NSGA-II knee"], [0.85, 0.85], [0.5e-3, 0.5e-3])]
    result = {"datasets": {"fashion-mnist": summarize([{**e, "params": 4e4, "macs": 1.6e7} for e in entries])}}
    base, better = markdown_table(result).splitlines()[2:]
    assert "| baseline |" in base and base.endswith("|  |") and "81.0 ± 1.4" in base and "1.00 ± 0.00" in base
    assert "flops top 1, NSGA-II knee" in better and "+4.0 pts, energy x0.50, dominates" in better
