"""The headline study's bookkeeping: arms sharing a network, the results file's fields, and paired
intervals checked against SciPy's paired t-test."""
import pytest
from scipy import stats

from benchmarks.bench_headline import at_baseline_size, best_signal, markdown_table, network, summarize

BASE = {"DEPTH": 2, "EMBED_DIM": 32, "MLP_RATIO": [4, 4], "NUM_HEADS": [1, 1]}
WIDE = {"DEPTH": 1, "EMBED_DIM": 40, "MLP_RATIO": [3], "NUM_HEADS": [1]}
SEEDS = [0, 1, 2, 3, 4]


def test_time_steps_equal_to_the_runs_is_the_same_network():
    assert network({**WIDE, "TIME_STEPS": 4}, 4) == network(WIDE, 4)
    assert network({**WIDE, "TIME_STEPS": 2}, 4) != network(WIDE, 4)


def _metrics(acc: float, energy: float, arch: dict) -> dict:
    return {"arch": arch, "params": 41_000, "macs": 16_000_000, "test_acc": acc, "energy_mj": energy,
            "best_epoch": 3, "stopped_early": True, "epochs": [{"val_acc": acc, "time_s": 1.0}] * 4}


def test_summary_has_the_results_fields_and_scipys_paired_interval():
    base_acc = [0.80, 0.82, 0.81, 0.79, 0.80]
    arm_acc = [0.83, 0.82, 0.84, 0.80, 0.82]
    control_acc = [0.70, 0.75, 0.72, 0.71, 0.74]
    arms = [{"name": "baseline", "role": "baseline", "space": None, "archs": {s: BASE for s in SEEDS},
             "closed_form": {s: 0.014 for s in SEEDS}},
            {"name": "searched tiny", "role": "searched", "space": "t.yaml", "archs": {s: WIDE for s in SEEDS},
             "closed_form": {s: 0.010 for s in SEEDS}},
            {"name": "random control tiny", "role": "random-control", "space": "t.yaml",
             "archs": {s: WIDE for s in SEEDS}, "closed_form": {s: 0.005 for s in SEEDS}, "pool": 9}]
    runs = {}
    for s in SEEDS:
        runs[("baseline", s)] = _metrics(base_acc[s], 0.014, BASE)
        runs[("searched tiny", s)] = _metrics(arm_acc[s], 0.012, WIDE)
        runs[("random control tiny", s)] = _metrics(control_acc[s], 0.020, WIDE)
    result = summarize(arms, runs, SEEDS)
    base, searched, control = result["arms"]
    for arm in result["arms"]:
        assert {"role", "space", "arch", "params", "closed_form_energy_mj", "energy_mj", "test_acc"} <= arm.keys()
        assert arm["test_acc"]["values"] == [runs[(arm["name"], s)]["test_acc"] for s in SEEDS]
    expected = stats.ttest_rel(arm_acc, base_acc).confidence_interval(0.95)
    assert searched["paired_diff_vs_baseline"]["ci95"] == pytest.approx([expected.low, expected.high])
    assert searched["paired_diff_vs_baseline"]["mean"] == pytest.approx(0.018)
    # the interval excludes 0 at lower energy: dominates; the control loses (more energy, worse)
    assert searched["verdict"] == "dominates" and control["verdict"] == "loses"
    versus = stats.ttest_rel(arm_acc, control_acc).confidence_interval(0.95)
    assert searched["paired_diff_vs_random_control"]["ci95"] == pytest.approx([versus.low, versus.high])
    assert "paired_diff_vs_baseline" not in base and control["chosen_from"] == 9
    table = markdown_table({"datasets": {"fashion-mnist": result}})
    assert table.count("\n") == 4 and "dominates" in table


def _study(ranking: list[str], complete: bool = True) -> dict:
    stats = {c: {"size_controlled": {"binned_kendall": 0.3 - 0.1 * i, "binned_kendall_ci": [0.0, 0.5]}}
             for i, c in enumerate(ranking)}
    return {"complete": complete, "size_controlled_ranking": ranking, "stats": stats}


def test_the_signal_arm_takes_the_best_size_controlled_search_score():
    # the energies are constraints, not search scores: the best score after them is taken
    signal = best_signal(_study(["closed_form_mj", "energy_mj", "zico", "macs"]))
    assert signal["score"] == "zico" and signal["binned_kendall"] == pytest.approx(0.1)
    assert best_signal(_study(["ensemble:flops+zico", "zico"]))["score"] == "ensemble:flops+zico"
    # MACs is the study's column of the FLOPs score, which the searched arm already maximizes
    assert best_signal(_study(["macs", "zico"])) is None
    assert best_signal(_study(["zico", "macs"], complete=False)) is None


def test_the_tie_break_arm_picks_the_best_score_among_the_baselines_macs_within_the_limits():
    def record(name: str, macs: int, score: float, params: int = 100, energy: float = 1.0) -> dict:
        return {"arch": name, "macs": macs, "params": params, "energy_mj": energy, "score": score}

    limits = {"params_max": 100, "energy_max_mj": 1.0}
    candidates = [record("larger", 20, 9.0), record("over params", 10, 8.0, params=101),
                  record("over energy", 10, 7.0, energy=1.01), record("best", 10, 5.0), record("baseline", 10, 4.0)]
    pick, pool = at_baseline_size(candidates, 10, limits)
    assert pick["arch"] == "best" and pool == 2
    assert at_baseline_size(candidates, 11, limits) == (None, 0)


def test_a_study_job_resumes_the_run_folder_it_left(tmp_path):
    """A job carries TrainConfig.to_dict(), which leaves ``resume`` out; the job must still resume
    its folder, or a study interrupted mid-run fails there when continued."""
    from autost.train import TrainConfig
    from benchmarks.bench_headline import _train_one

    config = TrainConfig.for_dataset("digits", epochs=1, limit=64, batch_size=32, seed=0).to_dict()
    job = ({"DEPTH": 1, "EMBED_DIM": 16, "MLP_RATIO": [2], "NUM_HEADS": [1]}, config, str(tmp_path / "run"))
    first = _train_one(job)
    again = _train_one(job)  # the folder now holds last.pt: resumed (here, already complete)
    assert again["test_acc"] == first["test_acc"] and len(again["epochs"]) == 1
