import random

import pytest
import torch

from autost.arch import Arch
from autost.model import build_model
from autost.space import SearchSpace
from conftest import SPACES

CIFAR = dict(in_channels=3, img_size=32, patch_size=4, time_steps=4, num_classes=10)


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_spikformer_4_384_matches_spikingjelly_and_paper():
    from spikingjelly.activation_based.model.spikformer import spikformer_cifar10

    ours = n_params(build_model(Arch(4, 384, (4,) * 4, (12,) * 4), **CIFAR))
    reference = n_params(spikformer_cifar10())
    assert reference == 9_310_906
    assert abs(ours - reference) / reference < 0.01
    assert abs(ours - 9.32e6) / 9.32e6 < 0.01


def test_dvs_shaped_model_runs_on_frames():
    model = build_model(Arch(1, 32, (2,), (2,)), in_channels=2, img_size=128, patch_size=16,
                        time_steps=3, num_classes=11)
    x = (torch.rand(2, 3, 2, 128, 128) < 0.1).float()
    assert model(x).shape == (2, 11)


def test_forward_resets_state_and_is_repeatable():
    torch.manual_seed(0)
    model = build_model(Arch(2, 32, (2, 2), (2, 2)), in_channels=1, img_size=16, patch_size=4,
                        time_steps=2, num_classes=10).eval()
    x = torch.randn(3, 1, 16, 16)
    assert torch.equal(model(x), model(x))


@pytest.mark.parametrize("path", SPACES, ids=lambda p: p.stem)
def test_sampled_archs_build_round_trip_and_train(path, tmp_path):
    space = SearchSpace.from_yaml(path)
    rng = random.Random(0)
    small = path.stem == "digits"
    for i in range(3):
        arch = space.sample(rng)
        assert space.contains(arch)
        arch.to_yaml(tmp_path / f"{i}.yaml")
        assert Arch.from_yaml(tmp_path / f"{i}.yaml") == arch
        if small:
            model = build_model(arch, in_channels=1, img_size=16, patch_size=4, time_steps=2, num_classes=10)
            model(torch.randn(4, 1, 16, 16)).sum().backward()
            missing = [n for n, p in model.named_parameters() if p.grad is None]
            assert not missing, f"no gradient reached {missing}"
            # a silent attention LIF at init can zero a projection's gradient; the stem never is
            assert all(torch.isfinite(p.grad).all() for p in model.parameters())
            assert model.stem.stages[0].conv.weight.grad.abs().sum() > 0
        else:
            with torch.device("meta"):
                model = build_model(arch, **CIFAR)
            assert n_params(model) > 0


@pytest.mark.parametrize("img, patch", [(32, 3), (30, 4), (64, 32), (32, 0)])
def test_bad_patch_geometry(img, patch):
    with pytest.raises(ValueError, match="patch_size"):
        build_model(Arch(1, 32, (2,), (2,)), in_channels=1, img_size=img, patch_size=patch,
                    time_steps=1, num_classes=2)
