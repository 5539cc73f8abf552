"""The converged correlation studies' profiles and bookkeeping (benchmarks/bench_correlate_converged.py)."""
import json
from dataclasses import replace

import numpy as np

from autost.correlate import proxies
from benchmarks.bench_correlate_converged import DIGITS, FASHION, PROFILES, markdown_table, needs_rescore, study_config


def test_the_profiles_are_the_converged_studies_asked_for():
    assert DIGITS.study.limit is None and DIGITS.study.epochs == 20 and DIGITS.study.n >= 30
    assert FASHION.study.limit >= 5000 and FASHION.study.patience == 3 and FASHION.study.epochs <= 12
    for profile in PROFILES.values():
        config = study_config(profile)
        assert config.supernet.endswith(f"correlate_converged_{profile.study.dataset}/supernet")
        assert profile.supernet.space == profile.study.space and profile.supernet.dataset == profile.study.dataset
        assert profile.supernet.time_steps == profile.study.time_steps and config.ensembles


def _study_file(path, columns, n=30, seed=0, supernet=None):
    rng = np.random.default_rng(seed)
    table = []
    for i in range(n):
        row = {c: float(rng.normal()) for c in columns}
        row.update(macs=float(rng.lognormal(15, 1)), test_acc=float(rng.uniform()))
        table.append(row)
    settings = {"resamples": 50, "seed": 0, **({"supernet": supernet} if supernet else {})}
    path.write_text(json.dumps({"settings": settings, "proxies": list(columns), "table": table}))
    return path


def test_a_study_without_the_supernet_column_or_rated_otherwise_needs_a_rescore(tmp_path):
    config = replace(study_config(DIGITS), supernet=str(tmp_path / "supernet"))
    (tmp_path / "supernet").mkdir()
    summary = {"settings": {"dataset": "digits"}, "steps_done": 200, "validation_images": 256}
    (tmp_path / "supernet" / "supernet.json").write_text(json.dumps(summary))
    rated = {"dataset": "digits", "steps_done": 200, "validation_images": 256}
    columns = proxies(config.ensembles)  # without the supernet's
    assert not needs_rescore(tmp_path, config)  # no study yet
    _study_file(tmp_path / "correlate.json", columns, supernet=rated)
    assert needs_rescore(tmp_path, config)
    _study_file(tmp_path / "correlate.json", proxies(config.ensembles, supernet=True), supernet=rated)
    assert not needs_rescore(tmp_path, config)
    # rated on one batch of 32 before the supernet's validation images were a setting
    _study_file(tmp_path / "correlate.json", proxies(config.ensembles, supernet=True),
                supernet={"dataset": "digits", "steps_done": 200})
    assert needs_rescore(tmp_path, config)


def test_the_table_ranks_by_the_tau_within_macs_bins(tmp_path):
    path = _study_file(tmp_path / "correlate.json", ["macs", "params", "naswot"])
    lines = markdown_table(path).splitlines()
    assert lines[0].startswith("| proxy | Kendall tau overall | tau within MACs bins")
    assert sorted(line.split(" | ")[0][2:] for line in lines[2:]) == ["macs", "naswot", "params"]
    assert "undefined" in next(line for line in lines if line.startswith("| macs |"))  # MACs given MACs
