"""The new genes: ATTENTION per block, TIME_STEPS, TAU and THRESHOLD, in YAML, the space's operators,
the model, the cost, the exact solver and the commands."""
import itertools
import random

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
import yaml

from autost import cli
from autost.arch import Arch
from autost.checkpoint import load_checkpoint
from autost.cost import analytic_cost
from autost.errors import UsageError
from autost.geometry import Geometry
from autost.model import build_model
from autost.search.evaluate import Constraints, Evaluator
from autost.search.exact_solver import NotAdditive, exact_flops_optimum
from autost.seeding import arch_seed
from autost.space import SearchSpace

DIGITS = Geometry(in_channels=1, img_size=16, patch_size=4, num_classes=10, time_steps=4)
HYBRID = "SEARCH_SPACE:\n  MLP_RATIO: [2, 3]\n  NUM_HEADS: [1, 2]\n  DEPTH: [1, 2]\n  EMBED_DIM: [16, 32]\n" \
         "  ATTENTION: [ssa, sdsa, qk]\n  TIME_STEPS: [1, 2, 3]\n  TAU: [1.5, 2.0]\n  THRESHOLD: [0.5, 1.0]\n"
NEW = Arch(2, 32, (2, 3), (2, 4), ("qk", "sdsa"), time_steps=3, tau=1.5, threshold=0.5)


def _space(tmp_path, text=HYBRID) -> SearchSpace:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    return SearchSpace.from_yaml(path)


def test_old_files_mean_spikformer_and_write_no_new_keys():
    old = {"RETRAIN": {"DEPTH": 2, "EMBED_DIM": 32, "MLP_RATIO": [2, 3], "NUM_HEADS": [2, 4]}}
    arch = Arch.from_dict(old)
    assert arch.attention == ("ssa", "ssa") and arch.time_steps is None and (arch.tau, arch.threshold) == (2, 1)
    assert arch.to_dict() == old and arch.short() == "d2-D32-m[2,3]-h[2,4]"
    assert Arch.from_dict({"RETRAIN": {**old["RETRAIN"], "ATTENTION": ["ssa", "ssa"], "TAU": 2.0}}) == arch


def test_new_genes_round_trip_through_yaml(tmp_path):
    path = tmp_path / "a.yaml"
    NEW.to_yaml(path)
    written = yaml.safe_load(path.read_text())["RETRAIN"]
    assert written["ATTENTION"] == ["qk", "sdsa"] and written["TIME_STEPS"] == 3
    assert (written["TAU"], written["THRESHOLD"]) == (1.5, 0.5)
    assert Arch.from_yaml(path) == NEW
    assert NEW.short() == "d2-D32-m[2,3]-h[2,4]-a[qk,sdsa]-T3-tau1.5-th0.5"


@pytest.mark.parametrize("extra, message", [
    ({"ATTENTION": ["qk"]}, "ATTENTION has 1 entries but DEPTH is 2"),
    ({"ATTENTION": ["qk", "softmax"]}, "unknown attention type 'softmax'"),
    ({"TIME_STEPS": 0}, "TIME_STEPS must be a positive integer"),
    ({"TIME_STEPS": 2.5}, "TIME_STEPS must be an integer"),
    ({"TAU": 0.5}, "TAU must be greater than 1"),
    ({"TAU": 1.0}, r"TAU must be greater than 1 \(SpikingJelly's LIF requires tau > 1\), got 1"),
    ({"THRESHOLD": -1}, "THRESHOLD must be a positive number"),
    ({"THRESHOLDS": 1}, "unknown key 'THRESHOLDS'"),
])
def test_bad_new_genes_are_one_line(extra, message):
    with pytest.raises(ValueError, match=message):
        Arch.from_dict({"RETRAIN": {"DEPTH": 2, "EMBED_DIM": 32, "MLP_RATIO": [2, 2], "NUM_HEADS": [2, 2], **extra}})


def test_the_genes_reach_the_model_and_the_cost():
    model = build_model(NEW, **DIGITS.model_kwargs())
    assert model.time_steps == 3  # TIME_STEPS overrides the run's 4
    assert [type(b.attn).__name__ for b in model.blocks] == ["TokenQKAttention", "SpikeDrivenSelfAttention"]
    lifs = {(m.tau, m.v_threshold) for m in model.modules() if hasattr(m, "v_threshold")}
    assert lifs == {(1.5, 0.5), (1.5, 0.25)}  # the attention LIFs keep Spikformer's ratio 0.5 : 1
    with FlopCounterMode(display=False) as counter, torch.no_grad():  # torch's count at T 3, not ours at T 1
        model(torch.rand(1, 1, 16, 16))
    assert analytic_cost(NEW, **DIGITS.model_kwargs()).macs == counter.get_total_flops() // 2
    assert model(torch.rand(2, 1, 16, 16)).shape == (2, 10)
    with pytest.raises(ValueError, match="hold 4 time steps but the network runs 3"):
        model(torch.rand(2, 4, 1, 16, 16))


def test_spaces_read_write_and_keep_old_spaces_unchanged(tmp_path):
    space = _space(tmp_path)
    assert space.attention == ("ssa", "sdsa", "qk") and space.time_steps == (1, 2, 3)
    assert SearchSpace.from_dict(space.to_dict(), name="again") == SearchSpace.from_dict(space.to_dict(), "again")
    assert space.size() == 3 * 2 * 2 * sum((2 * len(space.heads_for(d)) * 3) ** k for k in (1, 2) for d in (16, 32))
    old = SearchSpace.from_yaml("spaces/spikformer_tiny.yaml")
    assert set(old.to_dict()["SEARCH_SPACE"]) == {"MLP_RATIO", "NUM_HEADS", "DEPTH", "EMBED_DIM"}
    # a space without the new genes draws exactly the random numbers it drew before they existed
    rng_a, rng_b = random.Random(3), random.Random(3)
    arch = old.sample(rng_a)
    rng_b.choice(old.depth), rng_b.choice(old.embed_dim)
    [rng_b.choice(old.mlp_ratio) for _ in range(arch.depth)], [rng_b.choice((4, 8)) for _ in range(arch.depth)]
    assert rng_a.getstate() == rng_b.getstate()
    with pytest.raises(ValueError, match="SEARCH_SPACE.ATTENTION: unknown attention type 'mamba'"):
        _space(tmp_path, HYBRID.replace("sdsa", "mamba"))
    for taus in ("[0.5]", "[1, 2.0]"):  # SpikingJelly's LIF asserts tau > 1: a TAU of 1 cannot be built
        with pytest.raises(ValueError, match="TAU must be a non-empty list of numbers greater than 1"):
            _space(tmp_path, HYBRID.replace("TAU: [1.5, 2.0]", f"TAU: {taus}"))


def test_sampling_mutation_and_crossover_cover_the_new_genes_deterministically(tmp_path):
    space = _space(tmp_path)
    archs = [space.sample(random.Random(seed)) for seed in range(60)]
    assert all(space.contains(a) for a in archs)
    assert {a for arch in archs for a in arch.attention} == {"ssa", "sdsa", "qk"}
    assert {a.time_steps for a in archs} == {1, 2, 3} and {a.tau for a in archs} == {1.5, 2}
    assert {a.threshold for a in archs} == {0.5, 1}
    parent = archs[0]
    mutants = [space.mutate(parent, random.Random(s), 0.5, 0.5) for s in range(40)]
    assert mutants == [space.mutate(parent, random.Random(s), 0.5, 0.5) for s in range(40)]
    assert all(space.contains(m) for m in mutants)
    for gene in ("attention", "time_steps", "tau", "threshold"):
        assert any(getattr(m, gene) != getattr(parent, gene) for m in mutants if m.depth == parent.depth), gene
    a = Arch(2, 32, (2, 2), (2, 2), ("ssa", "ssa"), 1, 1.5, 0.5)
    b = Arch(2, 32, (3, 3), (1, 1), ("qk", "qk"), 3, 2.0, 1.0)
    children = [space.crossover(a, b, random.Random(s)) for s in range(40)]
    assert children == [space.crossover(a, b, random.Random(s)) for s in range(40)]
    assert {c.attention for c in children} >= {("ssa", "qk"), ("qk", "ssa")}
    assert {c.time_steps for c in children} == {1, 3} and {c.tau for c in children} == {1.5, 2}


def test_exact_solver_certifies_the_optimum_of_a_hybrid_space(tmp_path):
    """Brute force over every architecture of a small hybrid space (T scales every MAC; attention
    types are one more per-block choice) finds the solver's optimum under a parameter cap."""
    space = _space(tmp_path, HYBRID.replace("TAU: [1.5, 2.0]", "TAU: [2.0]").replace("THRESHOLD: [0.5, 1.0]",
                                                                                        "THRESHOLD: [1.0]"))
    limits = Constraints(None, 0.03)
    evaluator = Evaluator("flops", DIGITS)
    best = None
    for depth, dim, t in itertools.product(space.depth, space.embed_dim, space.time_steps):
        for blocks in itertools.product(space.mlp_ratio, space.heads_for(dim), space.attention, repeat=depth):
            arch = Arch(depth, dim, blocks[0::3], blocks[1::3], blocks[2::3], time_steps=t)
            params, macs = evaluator.cost(arch)
            if limits.params_ok(params) and (best is None or (macs, -params) > (best[0], -best[1])):
                best = (macs, params)
    macs, params, arch = exact_flops_optimum(space, DIGITS, limits, keep=1)[0]
    assert (macs, params) == best and evaluator.cost(arch) == (params, macs) and space.contains(arch)


def test_exact_solver_refuses_a_cost_that_does_not_add_up(tmp_path, monkeypatch):
    real = Evaluator.cost
    monkeypatch.setattr(Evaluator, "cost", lambda self, arch: (real(self, arch)[0], real(self, arch)[1] * arch.depth))
    with pytest.raises(NotAdditive, match="cannot certify an optimum; use --algorithm evolution"):
        exact_flops_optimum(_space(tmp_path), DIGITS, Constraints())


def test_new_gene_checkpoint_round_trips(tmp_path):
    from autost.train import TrainConfig, train

    arch = Arch(1, 16, (2,), (2,), ("qk",), time_steps=2, tau=1.5, threshold=0.5)
    config = TrainConfig.for_dataset("ndigits", epochs=1, batch_size=16, limit=32, time_steps=4)
    metrics = train(arch, config, tmp_path / "run")
    assert Arch.from_dict(metrics["arch"]) == arch
    assert Arch.from_dict(load_checkpoint(tmp_path / "run" / "best.pt")["arch"]) == arch


def test_a_search_on_event_data_runs_each_candidate_on_frames_of_its_own_t(tmp_path):
    """ndigits is binned per T: a candidate with TIME_STEPS 1 or 3 is measured on frames binned at
    its T, the same energy as a model of it run on its own real_batch."""
    from autost.batches import real_batch
    from autost.geometry import resolve_geometry
    from autost.search.generational import EvolutionSettings
    from autost.search.runner import SearchConfig, run_search
    from energy.measure import measure_network

    path = tmp_path / "space.yaml"
    path.write_text(HYBRID)
    geometry = resolve_geometry(dataset="ndigits", input_shape=None, num_classes=None, patch_size=None,
                                time_steps=2)
    config = SearchConfig(space=str(path), geometry=geometry, dataset="ndigits", algorithm="random", batch_size=4,
                          energy="measure", settings=EvolutionSettings(population=6, select=2, mutation=0,
                                                                       crossover=0, generations=1))
    result = run_search(config, tmp_path / "out", progress=False)
    checked = set()
    for record in result["candidates"]:
        arch = Arch.from_dict(record["arch"])
        steps = arch.steps(geometry.time_steps)
        batch = real_batch("ndigits", batch_size=4, time_steps=steps, seed=0)
        assert batch.shape[1] == steps
        torch.manual_seed(arch_seed(0, arch))
        model = build_model(arch, **geometry.model_kwargs())
        assert record["energy_mj"] == pytest.approx(measure_network(model, batch, config.energy_model).total_mj, rel=1e-6)
        checked.add(steps)
    assert checked - {geometry.time_steps}, "no candidate ran at another T"


def test_a_study_on_event_data_scores_each_architecture_on_frames_of_its_own_t(tmp_path):
    from autost.batches import real_batch
    from autost.geometry import resolve_geometry
    from energy.measure import measure_network

    path = tmp_path / "space.yaml"
    path.write_text(HYBRID)
    assert cli.main(["correlate", "--space", str(path), "--dataset", "ndigits", "--out", str(tmp_path / "o"),
                     "--n", "3", "--epochs", "1", "--limit", "16", "--batch-size", "4", "--train-batch-size", "8",
                     "--time-steps", "2"]) == 0
    geometry = resolve_geometry(dataset="ndigits", input_shape=None, num_classes=None, patch_size=None,
                                time_steps=2)
    study = yaml.safe_load((tmp_path / "o" / "correlate.json").read_text())
    for row in study["table"]:
        arch = Arch.from_dict(row["arch"])
        torch.manual_seed(arch_seed(0, arch))
        model = build_model(arch, **geometry.model_kwargs())
        batch = real_batch("ndigits", batch_size=4, time_steps=arch.steps(2), seed=0)
        assert row["energy_mj"] == pytest.approx(measure_network(model, batch, "spikformer-45nm").total_mj, rel=1e-6)
    assert {Arch.from_dict(row["arch"]).steps(2) for row in study["table"]} - {2}, "no architecture at another T"


def test_usage_error_is_a_value_error_for_one_line_reports():
    assert issubclass(NotAdditive, UsageError)


def test_search_profile_and_energy_commands_on_the_hybrid_digits_space(tmp_path, capsys):
    """The CLI end to end on spaces/digits_hybrid.yaml: a small closed-form-energy search, then
    profile and energy of its best architecture (which carries the new genes in its YAML)."""
    out = tmp_path / "search"
    assert cli.main(["search", "--space", "spaces/digits_hybrid.yaml", "--dataset", "digits", "--algorithm", "random",
                     "--population", "6", "--mutation", "1", "--crossover", "1", "--select", "2", "--energy",
                     "closed-form", "--batch-size", "8", "--top-k", "1",
                     "--out", str(out)]) == 0
    best = out / "top" / "01.yaml"
    arch = Arch.from_yaml(best)
    assert SearchSpace.from_yaml("spaces/digits_hybrid.yaml").contains(arch)
    assert set(yaml.safe_load(best.read_text())["RETRAIN"]) >= {"TIME_STEPS"}
    capsys.readouterr()
    assert cli.main(["profile", "--arch", str(best), "--dataset", "digits", "--batch-size", "4", "--json"]) == 0
    profile = yaml.safe_load(capsys.readouterr().out)
    assert profile["macs"] == profile["macs_analytic"] == analytic_cost(arch, **DIGITS.model_kwargs()).macs
    assert cli.main(["energy", "--arch", str(best), "--dataset", "digits", "--batch-size", "4",
                     "--out", str(tmp_path / "energy")]) == 0


def test_correlate_sampler_reads_the_new_genes(tmp_path):
    from autost.correlate import sample_architectures

    space = _space(tmp_path)
    archs = sample_architectures(space, 12, random.Random(0), DIGITS)
    assert len(set(archs)) == 12 and all(space.contains(a) for a in archs)
    assert len({a for arch in archs for a in arch.attention}) > 1 and len({a.time_steps for a in archs}) > 1
