import json
import math
import random

import numpy as np
import pytest
import yaml
from scipy import stats

from autost.arch import Arch
from autost.cli import main
from autost.cost import analytic_cost
from autost.correlate import (RESULT, StudyConfig, correlation_stats, geometry_of, proxies, ranking, run_study,
                              sample_architectures, train_config)
from autost.errors import UsageError
from autost.search.evaluate import Constraints
from autost.space import SearchSpace
from autost.train import train
from conftest import ROOT

N = 4
ENSEMBLES = ("ensemble:flops+zico",)
COLUMNS = proxies(ENSEMBLES)


class Stop(Exception):
    """Raised from the study's hook to stop it as a kill would."""


@pytest.fixture(scope="module")
def tiny_space(tmp_path_factory):
    """Four (depth, width) cells of tiny networks: a study of N = 4 trains in seconds."""
    path = tmp_path_factory.mktemp("space") / "tiny.yaml"
    path.write_text(yaml.safe_dump({"SEARCH_SPACE": {"MLP_RATIO": [1, 2], "NUM_HEADS": [1, 2], "DEPTH": [1, 2],
                                                     "EMBED_DIM": [16, 32]}}))
    return str(path)


def _config(space: str, **kw) -> StudyConfig:
    settings = dict(space=space, dataset="digits", n=N, epochs=2, time_steps=2, batch_size=8, train_batch_size=32,
                    limit=64, resamples=200, ensembles=ENSEMBLES)
    return StudyConfig(**(settings | kw))


@pytest.fixture(scope="module")
def straight(tiny_space, tmp_path_factory):
    out = tmp_path_factory.mktemp("straight")
    return run_study(_config(tiny_space), out, progress=False), out


def _scipy_or_none(value: float) -> float | None:
    return None if math.isnan(value) else value


def _random_table(n: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{**{p: float(rng.normal()) for p in COLUMNS}, "test_acc": float(rng.uniform())} for _ in range(n)]


# --- statistics -----------------------------------------------------------------------------------

def test_planted_monotone_function_of_macs_gets_tau_one():
    macs = [3e6, 1e7, 5e6, 2e8, 8e7, 4e7, 6e6, 1.5e8]
    rng = random.Random(1)
    table = [{"macs": m, "params": rng.random(), "test_acc": 0.5 + 0.05 * math.log(m)} for m in macs]
    result = correlation_stats(table, ["macs", "params"], resamples=300)
    assert result["macs"]["kendall_tau"] == pytest.approx(1.0)
    assert result["macs"]["spearman_rho"] == pytest.approx(1.0)
    assert result["macs"]["kendall_ci"] == pytest.approx([1.0, 1.0])
    assert result["params"]["kendall_tau"] < 1.0
    assert ranking(result) == ["macs", "params"]
    flipped = [{**row, "test_acc": -row["test_acc"]} for row in table]
    assert correlation_stats(flipped, ["macs"], resamples=10)["macs"]["kendall_tau"] == pytest.approx(-1.0)


def test_statistics_equal_scipys_and_intervals_hold_the_estimate():
    table = _random_table(30, seed=3)
    y = [row["test_acc"] for row in table]
    result = correlation_stats(table, COLUMNS, resamples=100, seed=5)
    for proxy, s in result.items():
        x = [row[proxy] for row in table]
        assert s["n"] == 30
        assert s["kendall_tau"] == stats.kendalltau(x, y).statistic
        assert s["spearman_rho"] == stats.spearmanr(x, y).statistic
        assert s["kendall_ci"][0] <= s["kendall_tau"] <= s["kendall_ci"][1]
        assert s["spearman_ci"][0] <= s["spearman_rho"] <= s["spearman_ci"][1]
    assert correlation_stats(table, COLUMNS, resamples=100, seed=5) == result  # seeded bootstrap


def test_rows_without_accuracy_are_left_out_and_constant_columns_are_undefined():
    table = _random_table(6, seed=0) + [{**_random_table(1, 9)[0], "test_acc": None}]
    for row in table:
        row["params"] = 7.0
    result = correlation_stats(table, ["macs", "params"], resamples=50)
    assert result["macs"]["n"] == 6
    assert result["params"]["kendall_tau"] is None and result["params"]["kendall_ci"] is None
    assert ranking(result) == ["macs", "params"]


# --- sampling -------------------------------------------------------------------------------------

def test_sampling_is_stratified_distinct_seeded_and_within_limits():
    space = SearchSpace.from_yaml(ROOT / "spaces" / "digits.yaml")
    geometry = geometry_of(StudyConfig(space="", dataset="digits"))
    archs = sample_architectures(space, 16, random.Random(0), geometry)
    assert {(a.depth, a.embed_dim) for a in archs} == {(d, w) for d in space.depth for w in space.embed_dim}
    more = sample_architectures(space, 40, random.Random(0), geometry)
    assert len(set(more)) == 40 and more[:16] == archs
    assert sample_architectures(space, 16, random.Random(1), geometry) != archs
    limited = sample_architectures(space, 10, random.Random(0), geometry, Constraints(0.05, 0.2))
    assert all(0.05e6 <= analytic_cost(a, **geometry.model_kwargs()).params <= 0.2e6 for a in limited)


def test_sampling_refuses_more_architectures_than_the_space_holds(tiny_space):
    space = SearchSpace.from_yaml(tiny_space)
    with pytest.raises(UsageError, match="only"):
        sample_architectures(space, space.size() + 1, random.Random(0), geometry_of(_config(tiny_space)))


# --- the study ------------------------------------------------------------------------------------

def test_study_writes_the_table_statistics_and_plots(straight):
    result, out = straight
    assert result["complete"] and result["trained"] == N
    assert json.loads((out / RESULT).read_text()) == result
    assert len(result["table"]) == N and len({json.dumps(r["arch"]) for r in result["table"]}) == N
    for row in result["table"]:
        assert all(math.isfinite(row[p]) for p in COLUMNS)
        assert 0 <= row["test_acc"] <= 1
        assert (out / "runs" / f"{row['index']:03d}" / "metrics.json").exists()
    assert set(result["stats"]) == set(COLUMNS) and sorted(result["ranking"]) == sorted(COLUMNS)
    assert (out / "correlate_scatter.png").stat().st_size > 0 and (out / "correlate_tau.png").stat().st_size > 0


def test_saved_statistics_equal_scipys_on_the_saved_table(straight):
    result, _ = straight
    y = [row["test_acc"] for row in result["table"]]
    for proxy in COLUMNS:
        x = [row[proxy] for row in result["table"]]
        s = result["stats"][proxy]
        assert s["kendall_tau"] == _scipy_or_none(stats.kendalltau(x, y).statistic)
        assert s["spearman_rho"] == _scipy_or_none(stats.spearmanr(x, y).statistic)
        if s["kendall_tau"] is not None:
            assert s["kendall_ci"][0] <= s["kendall_tau"] <= s["kendall_ci"][1]


def test_ensemble_is_the_rank_sum_within_the_study(straight):
    """The study's architectures are the ensemble's reference set: its column is the sum of each
    member's rank among them (scipy's average ranks, each lowered by 1/2)."""
    result, _ = straight
    table = result["table"]
    ranks = [stats.rankdata([row[m] for row in table]) for m in ("flops", "zico")]
    assert [row["ensemble:flops+zico"] for row in table] == pytest.approx(list(ranks[0] + ranks[1] - 1.0))
    assert result["settings"]["ensembles"] == list(ENSEMBLES)


def test_a_study_without_ensembles_keeps_the_fingerprint_of_older_studies():
    assert "ensembles" not in StudyConfig(space="s", dataset="digits").to_dict()


def test_autost_proxy_is_macs_plus_lambda_over_naswot(straight):
    result, _ = straight
    for row in result["table"]:
        assert row["autost"] == pytest.approx(row["macs"] / 1e9 + 1.0 / row["naswot"])


def test_killed_study_resumes_to_the_same_result(tiny_space, straight, tmp_path):
    """Stopped after two architectures and again in the middle of the third one's training, then
    resumed: the table and the statistics equal an uninterrupted study's (which also shows that
    two studies with one seed agree)."""
    config = _config(tiny_space)
    out = tmp_path / "study"

    def stop_after_two(index, row):
        if index == 1:
            raise Stop

    with pytest.raises(Stop):
        run_study(config, out, progress=False, on_trained=stop_after_two)
    partial = json.loads((out / RESULT).read_text())
    assert partial["trained"] == 2 and not partial["complete"] and partial["stats"] is None
    third = Arch.from_dict(partial["table"][2]["arch"])
    train(third, train_config(config, resume=False), out / "runs" / "002", stop_after_epoch=1)
    assert not (out / "runs" / "002" / "metrics.json").exists()

    trained = []
    resumed = run_study(config, out, resume=True, progress=False, on_trained=lambda i, row: trained.append(i))
    assert trained == list(range(N))
    straight_result, _ = straight
    assert resumed["table"] == straight_result["table"]
    assert resumed["stats"] == straight_result["stats"]


def test_existing_study_needs_resume_and_the_same_settings(tiny_space, straight):
    _, out = straight
    with pytest.raises(UsageError, match="--resume"):
        run_study(_config(tiny_space), out, progress=False)
    with pytest.raises(UsageError, match="epochs"):
        run_study(_config(tiny_space, epochs=3), out, resume=True, progress=False)


@pytest.mark.parametrize("kw, message", [(dict(n=2), "--n"), (dict(param_limits=(2.0, 1.0)), "MIN"),
                                         (dict(epochs=0), "--epochs")])
def test_bad_settings_fail_before_any_work(tiny_space, tmp_path, kw, message):
    with pytest.raises(UsageError, match=message):
        run_study(_config(tiny_space, **kw), tmp_path / "never", progress=False)
    assert not (tmp_path / "never").exists()


def test_cli_reports_the_ranking(tiny_space, straight, capsys):
    _, out = straight
    args = ["correlate", "--space", tiny_space, "--dataset", "digits", "--n", str(N), "--epochs", "2",
            "--time-steps", "2", "--batch-size", "8", "--train-batch-size", "32", "--limit", "64",
            "--resamples", "200", "--ensemble", ENSEMBLES[0], "--out", str(out), "--resume"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert all(proxy in printed for proxy in COLUMNS) and "Kendall tau" in printed
    assert main(args[:-1]) == 2  # without --resume: refused, one line on stderr
    assert "--resume" in capsys.readouterr().err


def test_two_workers_give_the_same_table(tiny_space, straight, tmp_path):
    parallel = run_study(_config(tiny_space), tmp_path / "w2", progress=False, workers=2)
    straight_result, _ = straight
    assert parallel["table"] == straight_result["table"]
    assert parallel["stats"] == straight_result["stats"]


def test_rescore_keeps_training_results_and_needs_no_run_folders(tiny_space, straight, tmp_path):
    """A committed study (correlate.json alone, no runs/) is scored again without training: the
    accuracies stay, the proxies are recomputed (here one is planted wrong and must come back)."""
    result, out = straight
    copy = tmp_path / "study"
    copy.mkdir()
    saved = json.loads((out / RESULT).read_text())
    saved["table"][0]["sahd"] = -1.0
    (copy / RESULT).write_text(json.dumps(saved))
    again = run_study(_config(tiny_space), copy, resume=True, rescore=True, progress=False)
    assert not (copy / "runs").exists()
    assert [row["test_acc"] for row in again["table"]] == [row["test_acc"] for row in result["table"]]
    assert again["table"][0]["sahd"] == pytest.approx(result["table"][0]["sahd"])
    assert again["stats"] == result["stats"] and again["timing"]["training_s"] == result["timing"]["training_s"]
    with pytest.raises(UsageError, match="--rescore needs a study"):
        run_study(_config(tiny_space), tmp_path / "empty", resume=True, rescore=True, progress=False)


def test_trained_energy_is_a_second_target(straight):
    """Each row carries the trained network's energy from its metrics.json, and every proxy is
    ranked against it too (init-time energy included: does it predict what training leaves?)."""
    result, out = straight
    for row in result["table"]:
        metrics = json.loads((out / "runs" / f"{row['index']:03d}" / "metrics.json").read_text())
        assert row["trained_energy_mj"] == metrics["energy_mj"] > 0
    energy = result["energy_stats"]
    assert set(energy) == set(COLUMNS) and result["energy_ranking"][0] in COLUMNS
    y = [row["trained_energy_mj"] for row in result["table"]]
    x = [row["energy_mj"] for row in result["table"]]
    assert energy["energy_mj"]["kendall_tau"] == pytest.approx(stats.kendalltau(x, y).statistic)


# --- size control, the supernet, recording as workers finish --------------------------------------

def test_every_proxy_has_a_size_controlled_entry_and_a_ranking_by_it(straight):
    result, _ = straight
    for proxy in COLUMNS:
        controlled = result["stats"][proxy]["size_controlled"]
        assert set(controlled) == {"partial_spearman", "partial_spearman_ci", "binned_kendall", "binned_kendall_ci"}
    assert result["stats"]["macs"]["size_controlled"]["partial_spearman"] is None  # MACs given MACs: nothing left
    assert sorted(result["size_controlled_ranking"]) == sorted(COLUMNS)
    assert set(result["size_control"]["method"]) == {"partial_spearman", "binned_kendall"}
    assert sum(b["n"] for b in result["size_control"]["bins"]) == N


@pytest.fixture(scope="module")
def tiny_supernet(tiny_space, tmp_path_factory) -> str:
    from autost.supernet import SupernetConfig, train_supernet

    out = tmp_path_factory.mktemp("supernet")
    train_supernet(SupernetConfig(space=tiny_space, dataset="digits", steps=2, batch_size=8, time_steps=2, limit=32),
                   out, progress=False)
    return str(out)


def _copy_study(out, dest, runs=()):
    """``out``'s correlate.json (and the named run folders) in ``dest``."""
    import shutil

    dest.mkdir()
    shutil.copy(out / RESULT, dest / RESULT)
    for name in runs:
        shutil.copytree(out / "runs" / name, dest / "runs" / name)
    return dest


def test_a_rescore_adds_the_supernet_with_its_cost(tiny_space, straight, tiny_supernet, tmp_path):
    result, out = straight
    copy = _copy_study(out, tmp_path / "study")
    config = _config(tiny_space, supernet=tiny_supernet)
    with pytest.raises(UsageError, match="supernet changed"):  # a new column needs --rescore
        run_study(config, copy, resume=True, progress=False)
    again = run_study(config, copy, resume=True, rescore=True, progress=False)
    assert "supernet" in again["proxies"] and "supernet" in again["stats"]
    assert all(0 <= row["supernet"] <= 1 for row in again["table"])
    assert [row["test_acc"] for row in again["table"]] == [row["test_acc"] for row in result["table"]]
    assert again["settings"]["supernet"]["steps_done"] == 2 and again["settings"]["supernet"]["dataset"] == "digits"
    cost = again["supernet_cost"]
    per_network = result["timing"]["training_s"] / N
    assert cost["per_network_training_s"] == pytest.approx(per_network)
    assert cost["relative_to_one_network"] == pytest.approx(cost["training_s"] / per_network)
    assert cost["rating_s"] > 0 and again["timing"]["per_score_s"]["supernet"] == cost["rating_s"]
    assert run_study(config, copy, resume=True, progress=False)["table"] == again["table"]  # now it matches


def test_a_supernet_of_another_space_or_dataset_is_refused_in_one_line(straight, tiny_supernet, tmp_path):
    digits_space = str(ROOT / "spaces" / "digits.yaml")
    with pytest.raises(UsageError, match="another space"):
        run_study(_config(digits_space, supernet=tiny_supernet), tmp_path / "never", progress=False)
    with pytest.raises(UsageError, match="holds no trained supernet"):
        run_study(_config(digits_space, supernet=str(tmp_path)), tmp_path / "never", progress=False)
    assert not (tmp_path / "never").exists()


def test_workers_record_each_architecture_as_it_finishes(tiny_space, straight, tmp_path):
    """Two run folders already hold finished runs and two architectures are left to train: by the
    time the study walks its table, all four are in its file (a study stopped early keeps them)."""
    result, out = straight
    copy = _copy_study(out, tmp_path / "study", runs=("000", "001"))
    saved = json.loads((copy / RESULT).read_text())
    for row in saved["table"]:
        row.update(test_acc=None, best_val_acc=None, trained_energy_mj=None)
    saved["timing"]["training_s"] = 0.0
    (copy / RESULT).write_text(json.dumps(saved))

    def stop_at_once(index, row):
        raise Stop

    with pytest.raises(Stop):
        run_study(_config(tiny_space), copy, resume=True, progress=False, workers=2, on_trained=stop_at_once)
    recorded = json.loads((copy / RESULT).read_text())
    assert [row["test_acc"] for row in recorded["table"]] == [row["test_acc"] for row in result["table"]]
    assert recorded["trained"] == N and recorded["timing"]["training_s"] > 0
