import random

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from autost.arch import Arch
from autost.cost import analytic_cost, count_macs, count_params
from autost.model import build_model
from autost.space import SearchSpace
from conftest import ROOT

CIFAR = dict(in_channels=3, img_size=32, patch_size=4, time_steps=4, num_classes=10)
DVS = dict(in_channels=2, img_size=128, patch_size=16, time_steps=2, num_classes=11)


def _archs():
    space = SearchSpace.from_yaml(ROOT / "spaces" / "spikformer_tiny.yaml")
    rng = random.Random(7)
    small = SearchSpace((3, 4, 5), (4, 8), (1, 2), (64, 128))
    cases = [(space.sample(rng), CIFAR) for _ in range(12)]
    cases += [(small.sample(rng), DVS) for _ in range(3)]
    return cases


CASES = _archs()


def _flop_counter_macs(model, x):
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    return counter.get_total_flops() / 2


@pytest.mark.parametrize("arch, geo", CASES, ids=lambda v: v.short() if isinstance(v, Arch) else "")
def test_counted_macs_match_flop_counter_and_closed_form(arch, geo):
    torch.manual_seed(0)
    model = build_model(arch, **geo)
    x = torch.randn(1, geo["in_channels"], geo["img_size"], geo["img_size"])
    counted = count_macs(model, x)
    reference = _flop_counter_macs(model, x)
    assert abs(counted - reference) <= 0.01 * reference
    closed = analytic_cost(arch, **geo)
    assert closed.params == count_params(model)
    assert closed.macs == counted


def test_attention_products_are_counted():
    """thop alone counts the two attention products as zero; our rule adds 2 * T * L^2 * D per block."""
    arch = Arch(1, 64, (2,), (4,))
    model = build_model(arch, **CIFAR)
    x = torch.randn(1, 3, 32, 32)
    one_block = count_macs(model, x)
    tokens, t, d = (32 // 4) ** 2, CIFAR["time_steps"], 64
    linear_only = analytic_cost(arch, **CIFAR).macs - 2 * t * tokens * tokens * d
    assert one_block - linear_only == 2 * t * tokens * tokens * d


def test_count_is_per_sample():
    model = build_model(Arch(1, 32, (2,), (2,)), **CIFAR)
    assert count_macs(model, torch.randn(3, 3, 32, 32)) == count_macs(model, torch.randn(1, 3, 32, 32))


def test_counting_leaves_no_trace_in_later_models():
    """thop attaches counting buffers to every module it sees; none may survive into a model
    built afterwards (SpikingJelly's default surrogate is one module shared process-wide)."""
    arch = Arch(1, 32, (2,), (2,))
    before = set(build_model(arch, **CIFAR).state_dict())
    count_macs(build_model(arch, **CIFAR), torch.randn(1, 3, 32, 32))
    assert set(build_model(arch, **CIFAR).state_dict()) == before
