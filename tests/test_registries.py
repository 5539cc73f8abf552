"""Issue 15: each kind of thing is added in one place. A toy of each kind (score, search algorithm,
dataset, energy model) is registered here and used through the library and the CLI."""
import json

import pytest
import torch
from torch.utils.data import TensorDataset

from autost.arch import Arch
from autost.blocks import ATTENTION
from autost.cli import build_parser, main
from autost.errors import UsageError
from autost.geometry import Geometry, resolve_geometry
from autost.model import build_model
from autost.registry import Registry
from autost.scores import SCORES, Score
from autost.search.algorithms import ALGORITHMS, Algorithm
from autost.search.generational import EvolutionSettings, SearchState
from autost.search.runner import SearchConfig, run_search
from autost.space import SearchSpace
from conftest import ROOT
from datasets import DATASETS, DatasetInfo, get_dataset
from datasets.training import EMBEDDED
from energy.measure import measure_network
from energy.models import MODELS, EnergyModel

DIGITS_SPACE = str(ROOT / "spaces" / "digits.yaml")
DIGITS = Geometry(in_channels=1, img_size=16, patch_size=4, num_classes=10, time_steps=2)
SMALL = EvolutionSettings(population=6, select=2, mutation=2, crossover=2, generations=2)
SMALL_ARGS = ["--population", "6", "--select", "2", "--mutation", "2", "--crossover", "2", "--generations", "2"]
DIGITS_ARGS = ["--input-shape", "1x16x16", "--num-classes", "10", "--patch-size", "4", "--time-steps", "2"]


def _help(command: str) -> str:
    return build_parser()._subparsers._group_actions[0].choices[command].format_help()


# --- the registry itself --------------------------------------------------------------------------

def test_unknown_names_are_one_line_and_names_are_unique():
    registry = Registry("widget")
    registry.register(Score("a", "first", lambda ctx: 0.0))
    with pytest.raises(UsageError) as err:
        registry.get("b")
    assert str(err.value) == "unknown widget 'b'; choose one of a"
    with pytest.raises(ValueError, match="registered already"):
        registry.register(Score("a", "again", lambda ctx: 1.0))


@pytest.mark.parametrize("registry, default", [(SCORES, "flops"), (ALGORITHMS, "evolution"), (ATTENTION, "ssa")],
                         ids=lambda r: getattr(r, "kind", r))
def test_built_ins_come_in_their_modules_order_whatever_was_imported_first(registry, default):
    rank = {module: i for i, module in enumerate(registry.modules)}
    order = [rank.get(registry._origin[name], len(rank)) for name in registry.names()]
    assert order == sorted(order) and set(rank.values()) <= set(order)
    assert registry.names()[0] == default


def test_a_new_file_in_a_registry_package_registers_itself(tmp_path, monkeypatch):
    """A score or block type is one new file: its registry imports every module of its package."""
    package = tmp_path / "toypkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from autost.registry import Registry\n"
        "WIDGETS = Registry('widget', modules=('toypkg.builtin',), package='toypkg')\n")
    for name in ("builtin", "zeta", "alpha"):
        (package / f"{name}.py").write_text(
            "from autost.scores import Score\nfrom toypkg import WIDGETS\n"
            f"WIDGETS.register(Score({name!r}, 'a toy', lambda ctx: 0.0))\n")
    (package / "_private.py").write_text("raise AssertionError('modules named _x are not members')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import toypkg

    assert toypkg.WIDGETS.names() == ("builtin", "alpha", "zeta")  # built-ins first, then by file name
    assert SCORES.package == "autost.scores"
    from autost.blocks import ATTENTION

    assert ATTENTION.package == "autost.blocks"


# --- a toy score: minus the parameter count, so the search prefers small networks ---------------

SMALLEST = Score("toy-small", "minus the parameters in M (a test's toy)", lambda ctx: -ctx.cost.params / 1e6)


def test_a_toy_score_drives_the_search_and_the_cli(tmp_path):
    with SCORES.registered(SMALLEST):
        config = SearchConfig(space=DIGITS_SPACE, geometry=DIGITS, score="toy-small", settings=SMALL, top_k=2)
        result = run_search(config, tmp_path / "lib", progress=False)
        params = [c["params"] for c in result["candidates"]]
        assert result["best"]["params"] == min(params) and result["best"]["score"] == -min(params) / 1e6
        assert "toy-small" in _help("search")
        assert main(["search", "--space", DIGITS_SPACE, *DIGITS_ARGS, *SMALL_ARGS, "--score", "toy-small",
                     "--out", str(tmp_path / "cli")]) == 0
        cli = json.loads((tmp_path / "cli" / "search.json").read_text())
        assert cli["best"] == result["best"]
    assert "toy-small" not in SCORES and "toy-small" not in _help("search")


def test_a_toy_score_that_needs_data_refuses_a_search_without_it(tmp_path):
    toy = Score("toy-mean", "the scoring batch's mean (a test's toy)", lambda ctx: float(ctx.inputs("toy-mean").mean()),
                data=True)
    with SCORES.registered(toy):
        config = SearchConfig(space=DIGITS_SPACE, geometry=DIGITS, score="toy-mean", settings=SMALL)
        with pytest.raises(ValueError, match="--score toy-mean needs real data"):
            run_search(config, tmp_path / "o", progress=False)


# --- a toy search algorithm: the one smallest architecture of the space --------------------------

def _smallest(config, space: SearchSpace, score, progress) -> SearchState:
    arch = Arch(min(space.depth), min(space.embed_dim), (min(space.mlp_ratio),) * min(space.depth),
                (min(space.num_heads),) * min(space.depth))
    state = SearchState()
    [record] = score([arch], lambda: None)
    state.seen[arch.short()] = {**record, "generation": 0, "legal": True}
    state.history = [{"generation": 0, "best": record["score"], "mean": record["score"], "worst": record["score"],
                      "evaluated": 1, "elapsed_s": 0.0}]
    return state


def test_a_toy_algorithm_runs_through_the_runner_and_the_cli(tmp_path):
    with ALGORITHMS.registered(Algorithm("toy-smallest", "the smallest architecture only", run=_smallest)):
        config = SearchConfig(space=DIGITS_SPACE, geometry=DIGITS, algorithm="toy-smallest")
        result = run_search(config, tmp_path / "lib", progress=False)
        assert [c["arch"]["DEPTH"] for c in result["candidates"]] == [1]
        assert result["best"]["arch"]["EMBED_DIM"] == 32 and result["algorithm"] == "toy-smallest"
        assert main(["search", "--space", DIGITS_SPACE, *DIGITS_ARGS, "--algorithm", "toy-smallest",
                     "--out", str(tmp_path / "cli")]) == 0
    with pytest.raises(SystemExit) as exit_:  # argparse: not a choice once unregistered
        main(["search", "--space", DIGITS_SPACE, *DIGITS_ARGS, "--algorithm", "toy-smallest",
              "--out", str(tmp_path / "gone")])
    assert exit_.value.code == 2


def test_a_toy_generational_algorithm_uses_the_shared_loop(tmp_path):
    calls = []

    def worst_first(legal, settings, objectives):
        calls.append(len(legal))
        return legal[::-1][: settings.select]

    toy = Algorithm("toy-worst", "breeds from the worst", parents=worst_first, pick=lambda pool, rng: pool[0])
    with ALGORITHMS.registered(toy):
        config = SearchConfig(space=DIGITS_SPACE, geometry=DIGITS, algorithm="toy-worst", settings=SMALL)
        result = run_search(config, tmp_path / "o", progress=False)
    assert calls == [6, 12]  # once per generation, with the legal records so far
    # the loop reports its parents' scores: here the two worst, so its best is below the best found
    last = (tmp_path / "o" / "history.csv").read_text().splitlines()[-1].split(",")
    assert float(last[1]) < result["best"]["score"]


# --- a toy dataset: 8x8 two-class noise, embedded --------------------------------------------------

def _noise(info, split, *, data_root, time_steps, img_size, seed):
    g = torch.Generator().manual_seed(seed + {"train": 0, "val": 1, "test": 2, "trainval": 3}[split])
    return TensorDataset(torch.rand(40, info.in_channels, img_size, img_size, generator=g),
                         torch.randint(0, info.num_classes, (40,), generator=g))


TOY_DATA = DatasetInfo("toy-noise", 1, 8, 2, "static", 4, _noise, embedded=True, training=EMBEDDED)


def test_a_toy_dataset_feeds_geometry_batches_and_a_search(tmp_path):
    with DATASETS.registered(TOY_DATA):
        assert len(get_dataset("toy-noise", "train")) == 40
        geometry = resolve_geometry(dataset="toy-noise", input_shape=None, num_classes=None, patch_size=None,
                                    time_steps=2)
        assert (geometry.in_channels, geometry.img_size, geometry.num_classes) == (1, 8, 2)
        assert "toy-noise" in _help("profile") and "toy-noise" in _help("train")
        assert main(["search", "--space", DIGITS_SPACE, "--dataset", "toy-noise", "--time-steps", "2", *SMALL_ARGS,
                     "--score", "naswot", "--batch-size", "8", "--out", str(tmp_path / "o")]) == 0
        best = json.loads((tmp_path / "o" / "search.json").read_text())["best"]
        assert best["energy_mj"] > 0 and best["naswot"] == best["score"]
    with pytest.raises(ValueError, match="unknown dataset 'toy-noise'"):
        get_dataset("toy-noise", "train")


# --- a toy energy model: the default's costs doubled ---------------------------------------------

def test_a_toy_energy_model_is_applied_by_the_estimator_and_the_cli(tmp_path, capsys):
    toy = EnergyModel("toy-double", "rate", 9.2, 1.8, "compute", True, "a test's toy", "twice spikformer-45nm")
    arch = Arch(1, 32, (2,), (2,))
    torch.manual_seed(0)
    model = build_model(arch, **DIGITS.model_kwargs())
    x = torch.rand(4, 1, 16, 16)
    with MODELS.registered(toy):
        assert measure_network(model, x, "toy-double").total_mj == pytest.approx(2 * measure_network(model, x).total_mj, rel=1e-9)
        path = tmp_path / "a.yaml"
        arch.to_yaml(path)
        runs = {}
        for name in ("spikformer-45nm", "toy-double"):
            assert main(["profile", "--arch", str(path), "--dataset", "digits", "--batch-size", "4", "--json",
                         "--energy-model", name]) == 0
            runs[name] = json.loads(capsys.readouterr().out)
        assert runs["toy-double"]["energy_mj"] == pytest.approx(2 * runs["spikformer-45nm"]["energy_mj"], rel=1e-9)
        assert "toy-double" in _help("energy")
