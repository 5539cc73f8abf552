import math

import pytest
import torch

from autost.arch import Arch
from autost.model import build_model
from autost.scores import activation_scores, autost_score, code_scores

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
    low, high = code_scores([similar]), code_scores([diverse])
    assert high.naswot > low.naswot
    assert high.sahd > low.sahd


def test_network_codes_more_diverse_for_varied_inputs():
    torch.manual_seed(0)
    model = build_model(Arch(2, 32, (2, 2), (2, 2)), **GEO)
    varied = torch.randn(16, 1, 16, 16) * 2
    nearly_same = torch.randn(1, 1, 16, 16) * 2 + 0.05 * torch.randn(16, 1, 16, 16)
    assert activation_scores(model, varied).naswot > activation_scores(model, nearly_same).naswot


def _kernels_by_definition(layers):
    """NASWOT and SAHD kernels element by element from Hamming distances, as the papers define them."""
    batch = len(layers[0])
    plain = [[0.0] * batch for _ in range(batch)]
    sparse = [[0.0] * batch for _ in range(batch)]
    for codes in layers:
        rows = codes.tolist()
        rate = sum(map(sum, rows)) / (len(rows) * len(rows[0]))
        for i in range(batch):
            for j in range(batch):
                both_one = sum(a == b == 1 for a, b in zip(rows[i], rows[j]))
                both_zero = sum(a == b == 0 for a, b in zip(rows[i], rows[j]))
                hamming = sum(a != b for a, b in zip(rows[i], rows[j]))
                plain[i][j] += len(rows[i]) - hamming
                sparse[i][j] += (1 - rate) * both_one + rate * both_zero
    return torch.tensor(plain, dtype=torch.float64), torch.tensor(sparse, dtype=torch.float64)


def test_kernels_match_their_definitions():
    gen = torch.Generator().manual_seed(3)
    layers = [(torch.rand(6, 40, generator=gen) < p).float() for p in (0.1, 0.3)]
    plain, sparse = _kernels_by_definition(layers)
    scores = code_scores(layers)
    assert scores.naswot == pytest.approx(float(torch.linalg.slogdet(plain).logabsdet))
    assert scores.sahd == pytest.approx(float(torch.linalg.slogdet(sparse).logabsdet))


def test_autost_score():
    assert autost_score(2_000_000_000, None) == pytest.approx(2.0)
    assert autost_score(2_000_000_000, 50.0, lam=100.0) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="NASWOT"):
        autost_score(1, None, lam=1.0)
