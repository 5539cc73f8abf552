import math

import pytest
import torch

from autost.arch import Arch
from autost.model import build_model
from autost.scores import activation_scores, autost_score, code_scores, naswot_kernel, sahd_kernel

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
