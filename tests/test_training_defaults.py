"""Each dataset owns its training defaults: its registration states its schedule and augmentation,
and ``run.py train`` on it gets exactly those (unless an option overrides one)."""
import pytest

from autost import recipes
from autost.cli import main
from autost.train import SCHEDULE, TrainConfig
from datasets import DATASETS, DatasetInfo
from datasets.training import CIFAR, SMALL, SPIKFORMER_DVS


@pytest.mark.parametrize("name", DATASETS.names())
def test_a_dataset_trains_with_its_own_defaults(name):
    own = DATASETS[name].training
    config = TrainConfig.for_dataset(name)
    assert {key: getattr(config, key) for key in SCHEDULE if key != "warmup_epochs"} == \
        {key: getattr(own, key) for key in SCHEDULE if key != "warmup_epochs"}
    recipe_name, recipe = config.augmentation()
    assert recipe_name == own.augmentation
    assert all(getattr(recipe, key) == value for key, value in own.aug.items())


@pytest.mark.parametrize("name", ["fashion-mnist", "mnist", "nfashion"])
def test_the_28x28_sets_are_not_trained_with_cifars_recipe(name):
    """They got AutoST's 300-epoch CIFAR recipe with RandAugment, mixup and erasing while the
    documentation said they were not augmented."""
    config = TrainConfig.for_dataset(name)
    assert DATASETS[name].training is SMALL and config.epochs == SMALL.epochs != CIFAR.epochs
    recipe_name, recipe = config.augmentation()
    assert recipe_name == "embedded" and recipe == recipes.AugRecipe()
    assert TrainConfig.for_dataset(name, epochs=5, recipe="cifar").augmentation()[0] == "cifar"


def test_cifar10dvs_takes_spikformers_script_values():
    config = TrainConfig.for_dataset("cifar10dvs")
    assert (config.epochs, config.lr, config.warmup_epochs, config.time_steps) == (96, 1e-3, 10, 16)
    assert DATASETS["cifar10dvs"].training is SPIKFORMER_DVS


def test_a_registration_must_state_its_training():
    with pytest.raises(TypeError, match="training"):
        DatasetInfo("toy", 1, 8, 2, "static", 4)


def test_train_help_lists_each_datasets_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = capsys.readouterr().out
    for name in DATASETS.names():
        assert f"  {name} " in out
    assert "fashion-mnist epochs 30" in " ".join(out.split())
