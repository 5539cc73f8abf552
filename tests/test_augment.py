"""Augmentation recipes: batch shapes and soft targets, seeding, event frames, recipe choice and overrides."""
import json

import pytest
import torch
import torch.nn.functional as F

from autost import cli, recipes
from autost.arch import Arch
from autost.augment import BatchAugment, make_augment
from autost.checkpoint import CheckpointError
from autost.errors import UsageError
from autost.configs import train_config
from autost.train import TrainConfig, train

K = 10
TINY = Arch(1, 32, (2,), (2,))
SMALL = dict(limit=32, batch_size=16, warmup_epochs=1)
ALL_OFF = dict(hflip=0, randaugment_n=0, reprob=0, mixup=0, cutmix=0)


def recipe(name="cifar", **overrides):
    return recipes.resolve("x", name, overrides)[1]


def constant_images(shape=(K, 3, 16, 16)):
    """Sample i is the constant image i with label i: a mixed pixel's value is its classes' weighted sum."""
    y = torch.arange(shape[0])
    return y.view(-1, *[1] * (len(shape) - 1)).float().expand(shape).clone(), y


@pytest.mark.parametrize("name,kind,shape", [("cifar", "static", (8, 3, 32, 32)), ("cifar", "static", (8, 1, 16, 16)),
                                             ("dvs", "neuromorphic", (8, 4, 2, 32, 32))])
def test_batch_keeps_shape_and_dtype_and_soft_targets_sum_to_one(name, kind, shape):
    augment = BatchAugment(recipe(name, mix_prob=1.0), kind, K, epochs=10)
    torch.manual_seed(0)
    x, y = torch.rand(shape), torch.randint(0, K, (shape[0],))
    out, target = augment(x, y, epoch=1)
    assert out.shape == x.shape and out.dtype == x.dtype and torch.isfinite(out).all()
    assert target.shape == (shape[0], K) and target.dtype == torch.float32
    assert torch.allclose(target.sum(1), torch.ones(shape[0])) and (target >= 0).all()


@pytest.mark.parametrize("mix", [dict(mixup=0.5, cutmix=0.0), dict(mixup=0.0, cutmix=1.0)])
def test_soft_targets_weigh_classes_as_the_pixels_do(mix):
    """Independent check of kornia's label columns: the mean of a mixed constant image is the
    target-weighted mean of its classes' values (mixup: the lambda; cutmix: the pixel share)."""
    augment = BatchAugment(recipe("cifar", **{**ALL_OFF, **mix}), "static", K, epochs=1)
    torch.manual_seed(1)
    x, y = constant_images()
    out, target = augment(x, y, epoch=1)
    expected = target @ torch.arange(K).float()
    assert torch.allclose(out.mean(dim=(1, 2, 3)), expected, atol=1e-5)
    assert (target.max(1).values < 1).any()  # something was mixed


def test_label_smoothing_on_soft_targets_equals_smoothing_before_mixing():
    """timm smooths each one-hot (off = e/K, on = 1 - e + e/K) and then mixes; the loss smooths
    the mixed target instead, which is the same because the mix weights sum to 1."""
    augment = BatchAugment(recipe("cifar", **{**ALL_OFF, "mixup": 0.5}), "static", K, epochs=1)
    torch.manual_seed(2)
    x, y = constant_images()
    _, target = augment(x, y, epoch=1)
    logits = torch.randn(K, K)
    eps = 0.1
    own = (target * F.one_hot(y, K)).sum(1, keepdim=True)  # y are distinct, so this is the own weight
    partner = (target - own * F.one_hot(y, K)).argmax(1)
    smooth = lambda labels: F.one_hot(labels, K) * (1 - eps) + eps / K  # noqa: E731
    timm_target = own * smooth(y) + (1 - own) * smooth(partner)
    by_hand = -(timm_target * F.log_softmax(logits, 1)).sum(1).mean()
    assert torch.allclose(F.cross_entropy(logits, target, label_smoothing=eps), by_hand, atol=1e-6)


@pytest.mark.parametrize("name,kind,shape", [("cifar", "static", (6, 3, 16, 16)),
                                             ("dvs", "neuromorphic", (6, 3, 2, 16, 16))])
def test_a_fixed_seed_gives_the_same_batch(name, kind, shape):
    augment = BatchAugment(recipe(name, mix_prob=1.0), kind, K, epochs=1)
    x, y = torch.rand(shape), torch.arange(shape[0])
    results = []
    for seed in (5, 5, 6):
        torch.manual_seed(seed)
        results.append(augment(x, y, epoch=1))
    assert torch.equal(results[0][0], results[1][0]) and torch.equal(results[0][1], results[1][1])
    assert not torch.equal(results[0][0], results[2][0])


def test_event_augmentation_is_the_same_for_every_time_step_and_differs_across_samples():
    augment = BatchAugment(recipe("dvs", mixup=0), "neuromorphic", K, epochs=1)
    torch.manual_seed(3)
    frame = torch.rand(1, 1, 2, 24, 24).round() * torch.randint(1, 4, (1, 1, 2, 24, 24))  # sparse event counts
    x = frame.expand(16, 5, 2, 24, 24).clone()  # 16 equal samples, each with 5 equal time steps
    out, _ = augment(x, torch.zeros(16, dtype=torch.long), epoch=1)
    assert torch.equal(out, out[:, :1].expand_as(out))  # every time step got its sample's transform
    distinct = {out[i].numpy().tobytes() for i in range(16)}
    assert len(distinct) > 3  # samples drew their own ops
    assert set(out.unique().tolist()) <= set(x.unique().tolist())  # nearest resampling keeps counts


def test_event_flip_mirrors_every_time_step():
    augment = BatchAugment(recipe("dvs", event_ops=False, mixup=0, hflip=1.0), "neuromorphic", K, epochs=1)
    x = torch.rand(3, 4, 2, 8, 8)
    out, target = augment(x, torch.arange(3), epoch=1)
    assert torch.equal(out, x.flip(-1)) and torch.equal(target, torch.arange(3))


def test_mixing_stops_after_mix_until():
    augment = BatchAugment(recipe("cifar", **{**ALL_OFF, "mixup": 0.5, "mix_until": 0.5}), "static", K, epochs=10)
    x, y = constant_images()
    assert augment(x, y, epoch=5)[1].ndim == 2
    out, target = augment(x, y, epoch=6)
    assert torch.equal(target, y) and torch.equal(out, x)


def test_recipes_by_dataset_and_overrides():
    assert recipes.resolve("cifar10")[0] == "cifar" and recipes.resolve("cifar100")[0] == "cifar"
    assert recipes.resolve("cifar10dvs") == ("dvs", recipes.AUGMENTATION_RECIPES["dvs"])
    assert recipes.resolve("dvsgesture")[1].hflip == 0 and recipes.resolve("dvsgesture")[1].event_ops
    assert recipes.resolve("nmnist")[1].hflip == 0
    assert recipes.resolve("digits") == ("embedded", recipes.AugRecipe())
    assert make_augment(recipes.resolve("digits")[1], "static", K, 20) is None
    assert make_augment(recipe("cifar", **ALL_OFF), "static", K, 20) is None
    name, r = recipes.resolve("cifar10", "auto", recipes.parse_overrides(["mixup=0.8", "reprob=0"]))
    assert name == "cifar" and r.mixup == 0.8 and r.reprob == 0 and r.randaugment_n == 1
    with pytest.raises(UsageError, match="not an augmentation key"):
        recipes.resolve("cifar10", "auto", {"mixupp": 1})
    with pytest.raises(UsageError, match="does nothing on ndigits"):
        recipes.resolve("ndigits", "auto", {"randaugment_n": 1}, kind="neuromorphic")
    with pytest.raises(UsageError, match="expected int"):
        recipes.resolve("cifar10", "auto", {"randaugment_n": 1.5})
    with pytest.raises(UsageError, match="in \\[0, 1\\]"):
        recipes.resolve("cifar10", "auto", {"hflip": 2})
    # a pipeline's train.aug mapping and the command line's --aug KEY=VALUE give the same config
    from_yaml = train_config({"dataset": "cifar10", "aug": {"mixup": 0, "reprob": 0.1}}, "train")
    from_cli = train_config({"dataset": "cifar10", "aug": ["mixup=0", "reprob=0.1"]})
    assert from_yaml.aug == from_cli.aug == {"mixup": 0, "reprob": 0.1}


@pytest.mark.parametrize("args,message", [
    (["--aug", "bogus=1"], "--aug bogus: not an augmentation key"),
    (["--aug", "mixup"], "--aug takes KEY=VALUE"),
    (["--recipe", "dvs", "--aug", "reprob=0.5"], "--aug reprob: does nothing"),
])
def test_bad_recipe_options_are_one_line(tmp_path, capsys, args, message):
    arch = tmp_path / "a.yaml"
    TINY.to_yaml(arch)
    dataset = "ndigits" if "dvs" in args else "digits"
    assert cli.main(["train", "--arch", str(arch), "--dataset", dataset, "--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert not (tmp_path / "o").exists()


def _weights(path):
    return torch.load(path, weights_only=True)["model"]


def test_augmentation_off_trains_exactly_as_without_it(tmp_path):
    """The default digits run (no augmentation) and a cifar-recipe run with every step switched
    off take the same path: identical weights and metrics, bit for bit."""
    plain = train(TINY, TrainConfig.for_dataset("digits", epochs=2, **SMALL), tmp_path / "plain")
    off = train(TINY, TrainConfig.for_dataset("digits", epochs=2, recipe="cifar", aug=ALL_OFF, **SMALL),
                tmp_path / "off")
    a, b = _weights(tmp_path / "plain" / "last.pt"), _weights(tmp_path / "off" / "last.pt")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    strip = lambda m: [{k: v for k, v in e.items() if k != "time_s"} for e in m["epochs"]]  # noqa: E731
    assert strip(plain) == strip(off) and plain["test_acc"] == off["test_acc"]
    assert plain["recipe"]["name"] == "embedded" and off["recipe"]["name"] == "cifar"


def test_augmented_run_records_its_recipe_and_resumes_to_the_same_result(tmp_path):
    config = TrainConfig.for_dataset("digits", epochs=2, recipe="cifar", aug={"hflip": 0, "mix_until": 1}, **SMALL)
    straight = train(TINY, config, tmp_path / "straight")
    recorded = json.loads((tmp_path / "straight" / "metrics.json").read_text())["recipe"]
    assert recorded == {"name": "cifar", **vars(recipe("cifar", hflip=0, mix_until=1))}
    assert straight["settings"]["aug"] == {"hflip": 0, "mix_until": 1}
    train(TINY, config, tmp_path / "resumed", stop_after_epoch=1)
    resumed = train(TINY, TrainConfig.for_dataset("digits", epochs=2, recipe="cifar", aug={"hflip": 0, "mix_until": 1},
                                                  resume=True, **SMALL), tmp_path / "resumed")
    strip = lambda m: [{k: v for k, v in e.items() if k != "time_s"} for e in m["epochs"]]  # noqa: E731
    assert strip(resumed) == strip(straight)
    plain = train(TINY, TrainConfig.for_dataset("digits", epochs=2, **SMALL), tmp_path / "plain")
    assert strip(plain) != strip(straight)  # the recipe did change training
    with pytest.raises(CheckpointError, match='recipe changed from "auto" to "cifar"'):
        train(TINY, TrainConfig.for_dataset("digits", epochs=2, recipe="cifar", resume=True, **SMALL),
              tmp_path / "plain")


def test_randaugment_keeps_normalized_pixels_in_the_pixel_range():
    """RandAugment runs on [0, 1] images: a normalized CIFAR batch comes back normalized, its pixels
    still in [0, 255], and some images changed."""
    from datasets.static import CIFAR_STATS

    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in CIFAR_STATS["cifar10"])
    torch.manual_seed(4)
    pixels = torch.randint(0, 256, (12, 3, 32, 32)).float() / 255
    augment = BatchAugment(recipe("cifar", **{**ALL_OFF, "randaugment_n": 1, "randaugment_p": 1.0}), "static", K, 1)
    changed = 0
    for _ in range(4):  # four draws of the batch's op
        out, _ = augment((pixels - mean) / std, torch.arange(12) % K, epoch=1)
        back = out * std + mean
        assert back.min() > -1e-4 and back.max() < 1 + 1e-4
        changed += int((back - pixels).abs().amax(dim=(1, 2, 3)).gt(1e-3).sum())
    assert changed > 0


@pytest.mark.parametrize("dataset", ["cifar10", "ndigits"])
def test_default_recipe_trains_end_to_end(tmp_path, dataset):
    """The dataset's default recipe (cifar on CIFAR files in the official format, dvs when asked on
    ndigits) runs through training and is recorded."""
    from test_datasets import make_cifar

    if dataset == "cifar10":
        make_cifar(tmp_path / "data", "cifar10", per_file=8)
        config = TrainConfig.for_dataset(dataset, epochs=1, data_root=tmp_path / "data", limit=16, batch_size=8)
    else:
        config = TrainConfig.for_dataset(dataset, epochs=1, recipe="dvs", aug={"hflip": 0}, limit=16, batch_size=8)
    metrics = train(TINY, config, tmp_path / "run")
    assert metrics["recipe"]["name"] == ("cifar" if dataset == "cifar10" else "dvs")
    assert all(torch.isfinite(torch.tensor(e["train_loss"])) for e in metrics["epochs"])
