import json

import pytest
import yaml

from autost.arch import Arch
from autost.baseline import read_baseline, spikformer
from autost.cli import main
from autost.cost import analytic_cost
from autost.errors import BadInput
from autost.geometry import resolve_geometry
from autost.space import SearchSpace
from conftest import ROOT

DIGITS_SPACE = str(ROOT / "spaces" / "digits.yaml")
SEARCH = ["search", "--space", DIGITS_SPACE, "--dataset", "digits", "--time-steps", "2", "--population", "6",
          "--select", "2", "--mutation", "2", "--crossover", "2", "--generations", "2", "--batch-size", "8"]
BASELINE = {"DEPTH": 2, "EMBED_DIM": 48, "MLP_RATIO": [4, 4], "NUM_HEADS": [2, 2]}


def test_spikformer_scaled_to_autosts_tiny_space_is_spikformer_4_384():
    arch = spikformer(SearchSpace.from_yaml(ROOT / "spaces" / "spikformer_tiny.yaml"))
    assert arch == Arch(4, 384, (4, 4, 4, 4), (12, 12, 12, 12))
    assert arch.shortcut == "spike" and arch.attention == ("ssa",) * 4 and arch.time_steps is None
    # Spikformer-4-384's parameter count at CIFAR shape (docs/architecture.md's anchor)
    cifar = resolve_geometry(dataset=None, input_shape="3x32x32", num_classes=10, patch_size=4, time_steps=4)
    assert analytic_cost(arch, **cifar.model_kwargs()).params == 9_310_906


@pytest.mark.parametrize("depths, widths, expected", [
    ((1, 2, 3, 4), (32, 48, 64, 96), Arch(4, 96, (4,) * 4, (3,) * 4)),  # 96 / 3 = 32
    ((2, 6), (48,), Arch(2, 48, (4, 4), (2, 2))),  # depth tie 2/6 -> 2; heads 24 wide beat 48 wide
    ((5, 8), (192, 256, 320), Arch(5, 320, (4,) * 5, (10,) * 5)),
])
def test_spikformer_reference_rule(depths, widths, expected):
    assert spikformer(SearchSpace((2, 3), (1, 2), depths, widths)) == expected


def test_read_baseline_ways_and_datasets(tmp_path):
    path = tmp_path / "b.yaml"
    Arch.from_dict(BASELINE).to_yaml(path)
    from_file = read_baseline({"arch": str(path)}, DIGITS_SPACE, ["digits", "ndigits"])
    inline = read_baseline({"RETRAIN": BASELINE, "datasets": ["digits"]}, DIGITS_SPACE, ["digits", "ndigits"])
    assert from_file.arch == inline.arch == Arch.from_dict(BASELINE)
    assert from_file.datasets == ("digits", "ndigits") and inline.datasets == ("digits",)
    assert read_baseline({}, DIGITS_SPACE, ["digits"]) is None
    with pytest.raises(BadInput, match="baseline.depth is not a key"):
        read_baseline({"reference": "spikformer", "depth": 2}, DIGITS_SPACE, ["digits"])


def test_search_matches_the_baselines_params_and_energy(tmp_path, capsys):
    arch = tmp_path / "baseline.yaml"
    Arch.from_dict(BASELINE).to_yaml(arch)
    out = tmp_path / "s"
    assert main([*SEARCH, "--match-baseline", str(arch), "--out", str(out)]) == 0
    result = json.loads((out / "search.json").read_text())
    matched, limits = result["match_baseline"], result["settings"]["constraints"]
    assert matched["arch"] == BASELINE
    digits = resolve_geometry(dataset="digits", input_shape=None, num_classes=None, patch_size=None, time_steps=2)
    assert matched["params"] == analytic_cost(Arch.from_dict(BASELINE), **digits.model_kwargs()).params
    assert limits == {"param_min": None, "param_max": matched["params"] / 1e6, "energy_max_mj": matched["energy_mj"]}
    assert all(c["params"] <= matched["params"] and c["energy_mj"] <= matched["energy_mj"]
               for c in result["candidates"])
    # a resumed search computes the same limits, so its checkpoint matches
    assert main([*SEARCH, "--match-baseline", str(arch), "--out", str(out), "--resume"]) == 0
    assert json.loads((out / "search.json").read_text())["candidates"] == result["candidates"]


def test_a_baseline_without_time_steps_is_priced_in_a_space_where_t_is_a_gene(tmp_path):
    """The hybrid space's rate table knows T only as a gene; the baseline (no TIME_STEPS: the run's
    T) is the candidate with T 2 there. Its closed-form energy agrees with a forward pass's."""
    arch = tmp_path / "baseline.yaml"
    Arch.from_dict(BASELINE).to_yaml(arch)
    hybrid = [*SEARCH[:2], str(ROOT / "spaces" / "digits_hybrid.yaml"), *SEARCH[3:], "--match-baseline", str(arch)]
    matched = {}
    for method in ("closed-form", "measure"):
        assert main([*hybrid, "--energy", method, "--out", str(tmp_path / method)]) == 0
        matched[method] = json.loads((tmp_path / method / "search.json").read_text())["match_baseline"]
    assert matched["closed-form"]["arch"] == {**BASELINE, "TIME_STEPS": 2}
    assert matched["closed-form"]["energy_mj"] == pytest.approx(matched["measure"]["energy_mj"], rel=0.15)


@pytest.mark.parametrize("extra, message", [
    (["--param-limits", "0.01", "0.1"], "--match-baseline fills --param-limits MAX and --energy-limit from the "
                                        "baseline; remove --param-limits"),
    (["--energy-limit", "0.1"], "remove --energy-limit"),
])
def test_explicit_limits_beside_match_baseline_are_refused(tmp_path, capsys, extra, message):
    arch = tmp_path / "baseline.yaml"
    arch.write_text(yaml.safe_dump({"RETRAIN": BASELINE}))
    assert main([*SEARCH, "--match-baseline", str(arch), *extra, "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "s").exists()


def test_match_baseline_needs_data_and_a_valid_file(tmp_path, capsys):
    arch = tmp_path / "baseline.yaml"
    arch.write_text(yaml.safe_dump({"RETRAIN": BASELINE}))
    assert main(["search", "--space", DIGITS_SPACE, "--input-shape", "1x8x8", "--num-classes", "10", "--patch-size",
                 "2", "--match-baseline", str(arch), "--out", str(tmp_path / "s")]) == 2
    assert "--match-baseline needs --dataset" in capsys.readouterr().err
    arch.write_text(yaml.safe_dump({"RETRAIN": {**BASELINE, "DEPTH": 0}}))
    assert main([*SEARCH, "--match-baseline", str(arch), "--out", str(tmp_path / "s")]) == 2
    assert "--match-baseline: " in capsys.readouterr().err
