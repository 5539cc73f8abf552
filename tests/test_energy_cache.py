"""The closed form as the default energy of a search, and its rate table's on-disk cache."""
import dataclasses
import json

import pytest
import torch

from autost.arch import Arch
from autost.batches import real_batch
from autost.geometry import Geometry
from autost.model import build_model
from autost.search.evaluate import Constraints
from autost.search.generational import EvolutionSettings
from autost.search.runner import SearchConfig, energy_method, rate_table, run_search
from autost.seeding import arch_seed
from autost.space import SearchSpace
from conftest import ROOT
from energy.closed_form import CACHE_SUB, RateTable, cached_table, table_key
from energy.measure import measure_network

DIGITS_SPACE = str(ROOT / "spaces" / "digits.yaml")
GEOMETRY = Geometry(1, 16, 4, 10, 2)
CONFIG = SearchConfig(space=DIGITS_SPACE, geometry=GEOMETRY, dataset="digits", algorithm="random",
                      settings=EvolutionSettings(4, 2, 0, 0, 2), batch_size=8,
                      constraints=Constraints(energy_max_mj=1.0))


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AUTOST_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / CACHE_SUB


def _batch(config: SearchConfig) -> torch.Tensor:
    return real_batch("digits", batch_size=config.batch_size, time_steps=config.geometry.time_steps, seed=config.seed)


def test_auto_is_the_closed_form_under_a_rate_model_and_a_forward_pass_otherwise():
    assert energy_method(CONFIG) == "closed-form"
    assert energy_method(dataclasses.replace(CONFIG, energy_model="synaptic-45nm")) == "measure"
    assert energy_method(dataclasses.replace(CONFIG, energy="measure")) == "measure"
    assert energy_method(dataclasses.replace(CONFIG, dataset=None, constraints=Constraints())) is None


def test_second_table_is_read_from_the_cache_and_a_changed_setting_misses(cache):
    space = SearchSpace.from_yaml(DIGITS_SPACE)
    first, how = rate_table(CONFIG, space, _batch(CONFIG))
    assert how == "miss" and len(list(cache.glob("*.json"))) == 1
    again, how = rate_table(CONFIG, space, None)  # a hit calibrates nothing: no batch needed
    assert how == "hit" and again == first
    for changed in (dataclasses.replace(CONFIG, seed=1), dataclasses.replace(CONFIG, batch_size=6),
                    dataclasses.replace(CONFIG, geometry=dataclasses.replace(GEOMETRY, time_steps=3))):
        table, how = rate_table(changed, space, _batch(changed))
        assert how == "miss" and table != first
    assert len(list(cache.glob("*.json"))) == 4
    smaller = SearchSpace.from_dict({"SEARCH_SPACE": {**space.to_dict()["SEARCH_SPACE"], "DEPTH": [1, 2]}})
    assert table_key(smaller, GEOMETRY, "digits", 0, 8) != table_key(space, GEOMETRY, "digits", 0, 8)


def test_a_corrupt_cache_file_is_recomputed_with_a_one_line_warning(cache, capsys):
    key = {"any": "key"}
    table = RateTable.from_dict({"calibrated_on": ["a"], "batch": 4, "rates": {"head@-1": {"kind": "AC", "rate": 0.25,
                                                                               "once": False}}})
    calls = []

    def compute():
        calls.append(1)
        return table

    assert cached_table(key, compute) == (table, "miss")
    path = next(cache.glob("*.json"))
    for bad in ("{not json", json.dumps({"key": key, "table": {"rates": {}}}), json.dumps({"key": {"other": 1}})):
        path.write_text(bad)
        assert cached_table(key, compute) == (table, "recomputed")
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and str(path) in err and "calibrating again" in err
        assert cached_table(key, compute) == (table, "hit")  # the recomputed table replaced the bad file
    assert len(calls) == 4


def test_a_cached_table_with_impossible_rates_or_missing_positions_is_recalibrated(cache, capsys):
    """Valid JSON is not a valid table: NaN rates ended a search in a JSON error naming no file, and
    rates of 5.0 made every candidate miss its energy limit."""
    space = SearchSpace.from_yaml(DIGITS_SPACE)
    first, _ = rate_table(CONFIG, space, _batch(CONFIG))
    path = next(cache.glob("*.json"))
    good = json.loads(path.read_text())
    rates = good["table"]["rates"]
    name = sorted(rates)[0]
    for change, problem in ((lambda r: r[name].update(rate=float("nan")), "not a fraction in [0, 1]"),
                            (lambda r: r[name].update(rate=5.0), "not a fraction in [0, 1]"),
                            (lambda r: r[name].update(kind="DC"), "not MAC, AC or neuron"),
                            (lambda r: r.pop(name), "lacks 1 layer position")):
        bad = json.loads(json.dumps(good))
        change(bad["table"]["rates"])
        path.write_text(json.dumps(bad))
        table, how = rate_table(CONFIG, space, _batch(CONFIG))
        err = capsys.readouterr().err
        assert (how, table) == ("recomputed", first)
        assert err.count("\n") == 1 and str(path) in err and problem in err and "calibrating again" in err
    assert rate_table(CONFIG, space, None) == (first, "hit")


def test_default_search_uses_the_cached_closed_form_and_measure_forces_forward_passes(cache, tmp_path):
    first = run_search(CONFIG, tmp_path / "a", progress=False)
    second = run_search(CONFIG, tmp_path / "b", progress=False)
    assert first["energy_method"] == {"method": "closed-form", "rate_table_cache": "miss"}
    assert second["energy_method"] == {"method": "closed-form", "rate_table_cache": "hit"}
    assert first["candidates"] == second["candidates"] and first["energy_rates"] == second["energy_rates"]

    measured = run_search(dataclasses.replace(CONFIG, energy="measure"), tmp_path / "m", progress=False)
    assert measured["energy_method"] == {"method": "measure"} and measured["energy_rates"] is None
    batch = _batch(CONFIG)
    for candidate in measured["candidates"]:
        arch = Arch.from_dict({"RETRAIN": candidate["arch"]})
        torch.manual_seed(arch_seed(0, arch))
        model = build_model(arch, **GEOMETRY.model_kwargs())
        assert candidate["energy_mj"] == pytest.approx(measure_network(model, batch).total_mj)
    closed = {json.dumps(c["arch"]): c["energy_mj"] for c in first["candidates"]}
    for candidate in measured["candidates"]:  # the closed form is within a few percent of the forward pass
        if json.dumps(candidate["arch"]) in closed:
            assert closed[json.dumps(candidate["arch"])] == pytest.approx(candidate["energy_mj"], rel=0.15)


def test_correlate_scores_the_closed_form_beside_the_measured_energy():
    from autost.batches import labeled_batch
    from autost.correlate import score_architecture, study_rates

    space = SearchSpace.from_yaml(DIGITS_SPACE)
    inputs, targets = labeled_batch("digits", batch_size=8, time_steps=2, seed=0)
    rates = study_rates(space, GEOMETRY, inputs, 0)
    arch = Arch(2, 32, (2, 3), (2, 4))
    scores = score_architecture(arch, GEOMETRY, inputs, targets, seed=0, lam=1.0, rates=rates)
    assert scores["closed_form_mj"] == pytest.approx(scores["energy_mj"], rel=0.15)
    assert score_architecture(arch, GEOMETRY, inputs, targets, seed=0, lam=1.0, rates=rates,
                              energy_model="synaptic-45nm")["closed_form_mj"] is None
