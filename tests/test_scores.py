import json
import math

import pytest
import torch

from autost.arch import Arch
from autost.cli import main
from autost.errors import BadInput
from autost.geometry import Geometry
from autost.model import build_model
from autost.scores import SCORES, Context, get_score
from autost.scores.codes import activation_scores, code_scores, naswot_kernel, sahd_kernel
from autost.scores.combined import autost_score
from autost.scores.ensemble import REFERENCE_ARCHS, midrank, rank_sum, reference_archs
from autost.search.evaluate import Evaluator
from autost.seeding import arch_seed
from autost.space import SearchSpace
from autost.supernet import SupernetConfig, train_supernet
from conftest import ROOT

DIGITS_SPACE = str(ROOT / "spaces" / "digits.yaml")

GEO = dict(in_channels=1, img_size=16, patch_size=4, time_steps=2, num_classes=10)


def test_scores_finite_and_deterministic():
    torch.manual_seed(0)
    model = build_model(Arch(2, 32, (2, 2), (2, 2)), **GEO)
    x = torch.randn(16, 1, 16, 16)
    a, b = activation_scores(model, x), activation_scores(model, x)
    assert math.isfinite(a.naswot) and math.isfinite(a.sahd)
    assert a == b


def test_more_diverse_codes_score_higher():
    gen = torch.Generator().manual_seed(0)
    base = (torch.rand(1, 4000, generator=gen) < 0.1).float()
    # 16 codes that differ from a common one in a few bits vs 16 independent codes
    flips = (torch.rand(16, 4000, generator=gen) < 0.01).float()
    similar = (base + flips) % 2
    diverse = (torch.rand(16, 4000, generator=gen) < 0.1).float()
    low, high = code_scores([similar[None]]), code_scores([diverse[None]])
    assert high.naswot > low.naswot
    assert high.sahd > low.sahd


def test_network_codes_more_diverse_for_varied_inputs():
    torch.manual_seed(0)
    model = build_model(Arch(2, 32, (2, 2), (2, 2)), **GEO)
    varied = torch.randn(16, 1, 16, 16) * 2
    nearly_same = torch.randn(1, 1, 16, 16) * 2 + 0.05 * torch.randn(16, 1, 16, 16)
    assert activation_scores(model, varied).naswot > activation_scores(model, nearly_same).naswot


# 3 samples, 2 LIF layers (4 and 2 neurons), 2 time steps: codes[layer][step][sample]
HAND_CODES = [
    [[[1, 1, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]],
     [[1, 0, 0, 0], [1, 0, 0, 0], [0, 1, 1, 1]]],
    [[[1, 0], [0, 1], [1, 1]],
     [[0, 0], [0, 0], [0, 0]]],
]


def test_naswot_and_sahd_on_a_hand_computed_example():
    """Worked by hand from the definitions (module docstring of autost.scores).

    NASWOT, K = sum of (N - Hamming): the Hamming distances per (layer, step) are
    (1,2): 2, 0, 2, 0; (1,3): 2, 4, 1, 0; (2,3): 2, 4, 1, 0, so K12 = 2+4+0+2 = 8,
    K13 = K23 = 2+0+1+2 = 5 and the diagonal 4+4+2+2 = 12; det = 12*119 - 8*71 + 5*(-20) = 760.

    SAHD, per (layer, step) N - 0.5 H / (N e + 0.001), e = r_i(1-r_j) + (1-r_i)r_j:
    layer 1 step 0, r = (1/2, 1/2, 0): every pair has H 2 and N e = 4 * 1/2 = 2 -> 4 - 1/2.001;
    layer 1 step 1, r = (1/4, 1/4, 3/4): (1,2) H 0 -> 4; (1,3), (2,3) H 4, N e = 4 * 5/8 = 2.5
    -> 4 - 2/2.501; layer 2 step 0, r = (1/2, 1/2, 1): (1,2) H 2, N e = 1 -> 2 - 1/1.001;
    (1,3), (2,3) H 1, N e = 1 -> 2 - 0.5/1.001; layer 2 step 1: all silent, H 0 -> 2.
    """
    codes = [torch.tensor(layer, dtype=torch.float32) for layer in HAND_CODES]
    naswot = torch.tensor([[12, 8, 5], [8, 12, 5], [5, 5, 12]], dtype=torch.float64)
    k12 = 12 - 1 / 2.001 - 1 / 1.001
    k13 = 12 - 1 / 2.001 - 2 / 2.501 - 0.5 / 1.001
    sahd = torch.tensor([[12, k12, k13], [k12, 12, k13], [k13, k13, 12]], dtype=torch.float64)
    assert torch.allclose(naswot_kernel(codes), naswot)
    assert torch.allclose(sahd_kernel(codes), sahd)
    scores = code_scores(codes)
    assert scores.naswot == pytest.approx(math.log(760))
    assert scores.sahd == pytest.approx(math.log(float(torch.linalg.det(sahd))))


def test_sahd_ranks_unlike_naswot_on_codes_of_different_sparsity():
    """SAHD's normalization removes what NASWOT mostly measures on sparse codes, the spike count:
    two batches with the same pattern of agreement but ten times the spikes get very different
    NASWOT scores and nearly the same SAHD."""
    gen = torch.Generator().manual_seed(1)
    sparse = (torch.rand(1, 8, 2000, generator=gen) < 0.02).float()
    dense = (torch.rand(1, 8, 2000, generator=gen) < 0.2).float()
    a, b = code_scores([sparse]), code_scores([dense])
    assert abs(a.naswot - b.naswot) > 5 * abs(a.sahd - b.sahd)


def test_autost_score():
    assert autost_score(2_000_000_000, None) == pytest.approx(2.0)
    assert autost_score(2_000_000_000, 50.0, lam=100.0) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="NASWOT"):
        autost_score(1, None, lam=1.0)


# --- every registered score, through its context -----------------------------------------------

DIGITS = Geometry(**GEO)
ARCH = Arch(2, 32, (2, 2), (2, 2))


@pytest.fixture(scope="module")
def supernet(tmp_path_factory) -> str:
    """A supernet of the digits space trained for two steps: enough for --score supernet to run."""
    out = tmp_path_factory.mktemp("supernet")
    train_supernet(SupernetConfig(space=DIGITS_SPACE, dataset="digits", steps=2, batch_size=8, time_steps=2, limit=32),
                   out, progress=False)
    return str(out)


@pytest.fixture(scope="module")
def labeled():
    gen = torch.Generator().manual_seed(0)
    return torch.rand(8, 1, 16, 16, generator=gen), torch.randint(0, 10, (8,), generator=gen)


def _context(labeled, supernet: str, arch: Arch = ARCH) -> Context:
    x, y = labeled
    return Context(arch, DIGITS, seed=3, lam=1.0, batch=x, targets=y, backward=True, supernet=supernet)


def _state(model):
    return ({k: v.clone() for k, v in model.state_dict().items()}, {m: m.training for m in model.modules()},
            [p.grad for p in model.parameters()])


@pytest.mark.parametrize("name", SCORES.names())
def test_every_score_is_finite_seeded_and_leaves_the_network_alone(name, labeled, supernet):
    """A score computed first, computed after every other score on the same network, and computed
    on a fresh context agree: it depends on the candidate alone, and no score leaves a trace."""
    first = _context(labeled, supernet)
    value = first.score(name)
    assert math.isfinite(value)
    crowded = _context(labeled, supernet)
    before = _state(crowded.network)
    for other in SCORES.names():
        crowded.score(other)
    after = _state(crowded.network)
    assert all(torch.equal(before[0][k], after[0][k]) for k in before[0]) and before[1] == after[1]
    assert all(g is None for g in after[2])
    assert crowded.score(name) == value and _context(labeled, supernet).score(name) == value


@pytest.mark.parametrize("name", SCORES.names())
def test_a_score_builds_the_network_only_when_it_needs_it(name, labeled, supernet):
    ctx = _context(labeled, supernet)
    ctx.score(name)
    assert (ctx._network is not None) == (SCORES[name].needs_data(ctx.lam) or SCORES[name].backward)


def test_the_network_has_the_weights_a_search_gives_the_candidate(labeled, supernet):
    torch.manual_seed(arch_seed(3, ARCH))
    expected = build_model(ARCH, **GEO).state_dict()
    got = _context(labeled, supernet).network.state_dict()
    assert all(torch.equal(expected[k], got[k]) for k in expected)


def test_scores_that_need_data_refuse_a_context_without_it_in_one_line(supernet):
    ctx = Context(ARCH, DIGITS, supernet=supernet)
    for name, score in SCORES.items():
        if score.needs_data(1.0):
            with pytest.raises(BadInput, match=r"--score \S+ needs .*: give --dataset"):
                Context(ARCH, DIGITS, lam=1.0).score(name)
        else:
            assert math.isfinite(ctx.score(name))


@pytest.mark.parametrize("name", SCORES.names())
def test_every_score_drives_a_search(name, tmp_path, supernet):
    out = tmp_path / "o"
    assert main(["search", "--space", DIGITS_SPACE, "--dataset", "digits", "--time-steps", "2", "--batch-size", "8",
                 "--score", name, "--population", "3", "--select", "2", "--mutation", "1", "--crossover", "1",
                 "--generations", "1", "--supernet", supernet, "--out", str(out)]) == 0
    candidates = json.loads((out / "search.json").read_text())["candidates"]
    assert all(c["score"] == c[name] for c in candidates)
    assert [c["score"] for c in candidates] == sorted((c["score"] for c in candidates), reverse=True)


# --- rank ensembles -----------------------------------------------------------------------------

def test_midranks_and_rank_sums_by_hand():
    reference = [1.0, 2.0, 2.0, 5.0]
    assert [midrank(v, reference) for v in (0.5, 1.0, 2.0, 3.0, 9.0)] == [0, 0.5, 2.0, 3.0, 4.0]
    # a: beats 1 and ties 2.0 twice -> 2; b: beats all four -> 4
    assert rank_sum({"a": 2.0, "b": 7.0}, {"a": reference, "b": [1.0, 2.0, 3.0, 4.0]}) == 6.0


@pytest.mark.parametrize("name, message", [
    ("ensemble:flops", "two or more distinct"),
    ("ensemble:flops+flops", "two or more distinct"),
    ("ensemble:flops+bogus", "unknown score 'bogus'"),
])
def test_bad_ensembles_are_one_line(name, message):
    with pytest.raises(BadInput, match=message) as err:
        get_score(name)
    assert "\n" not in str(err.value)


def test_an_ensemble_needs_data_when_a_member_does():
    assert not get_score("ensemble:flops+params").needs_data(0.0)
    assert get_score("ensemble:flops+naswot").needs_data(0.0)
    assert get_score("ensemble:flops+zico").backward and not get_score("ensemble:flops+naswot").backward


def test_an_ensemble_ranks_against_its_reference_set_whatever_came_before(labeled):
    """The score of a candidate is the sum of its members' midranks among the reference set, the
    same whether it is evaluated first or after others (a resumed or parallel search agrees)."""
    x, y = labeled
    space = SearchSpace.from_yaml(DIGITS_SPACE)
    evaluator = Evaluator("ensemble:params+naswot", DIGITS, batch=x, targets=y, seed=3)
    evaluator.set_reference(reference_archs(space, 3, lambda arch: True, n=6))
    assert all(len(v) == 6 and v == sorted(v) for v in evaluator.reference.values())
    archs = [Arch(1, 32, (2,), (2,)), Arch(3, 64, (4, 4, 4), (4, 4, 4)), ARCH]
    forward = [evaluator.evaluate(a) for a in archs]
    backward = [evaluator.evaluate(a) for a in archs[::-1]][::-1]
    assert forward == backward
    for record in forward:
        expected = sum(midrank(record[m], evaluator.reference[m]) for m in ("params", "naswot"))
        assert record["score"] == expected and 0 <= expected <= 12
    with pytest.raises(BadInput, match="reference set"):
        Evaluator("ensemble:params+naswot", DIGITS, batch=x, targets=y).evaluate(ARCH)


def test_a_search_under_an_ensemble_scores_a_candidate_alike_in_a_shorter_run(tmp_path):
    args = ["search", "--space", DIGITS_SPACE, "--dataset", "digits", "--time-steps", "2", "--batch-size", "8",
            "--score", "ensemble:flops+zico", "--population", "3", "--select", "2", "--mutation", "1",
            "--crossover", "1"]
    assert main([*args, "--generations", "2", "--out", str(tmp_path / "straight")]) == 0
    assert main([*args, "--generations", "1", "--out", str(tmp_path / "resumed")]) == 0
    # what lets a resumed run agree: a candidate's score does not depend on what else was scored
    straight = json.loads((tmp_path / "straight" / "search.json").read_text())["candidates"]
    first = json.loads((tmp_path / "resumed" / "search.json").read_text())["candidates"]
    by_arch = {json.dumps(c["arch"]): c for c in straight}
    assert all(by_arch[json.dumps(c["arch"])] == c for c in first)
    assert all(0 <= c["score"] <= 2 * REFERENCE_ARCHS and {"flops", "zico"} <= set(c) for c in straight)
