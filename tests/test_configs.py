"""Issue 15: configs are dataclasses built from a mapping, by the same function for a pipeline YAML
section and for parsed command-line arguments; errors name the key as the user wrote it."""
import pytest
import yaml

from autost.cli import build_parser, main
from autost.commands.search import config_from_args as search_from_args
from autost.commands.train import config_from_args as train_from_args
from autost.configs import search_config, train_config
from autost.errors import UsageError
from autost.pipeline import load_config, stages
from conftest import ROOT

SPACE = str(ROOT / "spaces" / "digits.yaml")
SEARCH = {"space": SPACE, "dataset": "digits", "time_steps": 2, "population": 6, "select": 2, "mutation": 2,
          "crossover": 2, "generations": 3, "param_limits": [0.02, 0.1], "lambda": 0.5, "score": "autost",
          "objectives": "score,params", "top_k": 2, "batch_size": 8, "seed": 3}
TRAIN = {"dataset": "digits", "epochs": 2, "warmup_epochs": 0, "lr": 0.001, "limit": 96, "batch_size": 32,
         "aug": {"hflip": 0.5}, "amp": False}


def _parse(argv):
    return build_parser().parse_args(argv)


def test_yaml_section_and_command_line_give_the_same_search_config():
    args = _parse(["search", "--space", SPACE, "--dataset", "digits", "--time-steps", "2", "--population", "6",
                   "--select", "2", "--mutation", "2", "--crossover", "2", "--generations", "3",
                   "--param-limits", "0.02", "0.1", "--lambda", "0.5", "--score", "autost",
                   "--objectives", "score,params", "--top-k", "2", "--batch-size", "8", "--seed", "3",
                   "--out", "unused"])
    from_yaml = search_config(SEARCH, "search")
    assert search_from_args(args) == from_yaml
    assert from_yaml.settings.generations == 3 and from_yaml.lam == 0.5
    assert from_yaml.constraints.param_min == 0.02 and from_yaml.geometry.time_steps == 2


def test_yaml_section_and_command_line_give_the_same_train_config():
    args = _parse(["train", "--from-search", "s", "--dataset", "digits", "--epochs", "2", "--warmup-epochs", "0",
                   "--lr", "0.001", "--limit", "96", "--batch-size", "32", "--aug", "hflip=0.5", "--out", "o"])
    from_yaml = train_config(TRAIN, "train")
    assert train_from_args(args) == from_yaml
    assert from_yaml.epochs == 2 and from_yaml.aug == {"hflip": 0.5} and from_yaml.weight_decay == 6e-2


@pytest.mark.parametrize("section, key, value, message", [
    ("train", "epochs", 0, "train.epochs must be an integer of at least 1, got 0"),
    ("train", "epochs", "many", "train.epochs must be an integer, got 'many'"),
    ("train", "lr", -1, "train.lr must be a finite number above 0, got -1.0"),
    ("train", "amp", "yes", "train.amp must be true or false, got 'yes'"),
    ("search", "population", 0, "search.population must be an integer of at least 1, got 0"),
    ("search", "m_prob", 2, "search.m_prob must be in [0, 1], got 2.0"),
    ("search", "param_limits", [1], "search.param_limits takes 2 values, got [1]"),
    ("search", "energy_limit", 0, "search.energy_limit must be a finite number above 0"),
    ("search", "populaton", 5, "search.populaton is not an option of run.py search"),
])
def test_bad_yaml_values_name_the_yaml_key(section, key, value, message):
    build = {"search": search_config, "train": train_config}[section]
    base = {"search": SEARCH, "train": TRAIN}[section]
    with pytest.raises(UsageError) as err:
        build({**base, key: value}, section)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_same_bad_values_on_the_command_line_name_the_flag(tmp_path, capsys):
    assert main(["search", "--space", SPACE, "--dataset", "digits", "--population", "0",
                 "--out", str(tmp_path / "o")]) == 2
    assert "--population must be an integer of at least 1, got 0" in capsys.readouterr().err
    assert main(["train", "--arch", "a.yaml", "--dataset", "digits", "--epochs", "0", "--out", str(tmp_path)]) == 2
    assert "--epochs must be an integer of at least 1, got 0" in capsys.readouterr().err


def test_the_pipeline_builds_every_stage_from_its_sections(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({
        "search": SEARCH, "train": {**TRAIN, "dataset": ["digits", "ndigits"], "top_k": 2,
                                    "per_dataset": {"ndigits": {"epochs": 1, "top_k": 1}}},
        "energy": {"batch_size": 16, "model": "synaptic-45nm"}, "report": {}}))
    plan = stages(load_config(path, ["train.limit=64"]))
    assert plan.search == search_config({**SEARCH, "energy_model": "synaptic-45nm"}, "search")
    assert list(plan.train) == ["digits", "ndigits"]
    digits, ndigits = plan.train["digits"], plan.train["ndigits"]
    assert (digits.top_k, digits.config.epochs, digits.config.limit) == (2, 2, 64)
    assert (ndigits.top_k, ndigits.config.epochs, ndigits.config.dataset) == (1, 1, "ndigits")
    assert digits.config.resume and digits.config.change_lr  # a rerun continues, at the configured rate
    assert digits.config.energy_model == plan.energy.model == "synaptic-45nm" and plan.energy.batch_size == 16


@pytest.mark.parametrize("sections, message", [
    ({"train": {"dataset": "digits", "per_dataset": {"digits": {"epoch": 2}}}}, "train.epoch is not an option"),
    ({"energy": {"batchsize": 2}}, "energy.batchsize is not an option of the pipeline's energy section"),
    ({"report": {"path": "x"}}, "report.path is not an option of the pipeline's report section"),
    ({"train": {"dataset": "digits", "out": "x"}}, "train.out is set by the pipeline"),
    ({"search": {"space": SPACE, "threads": 2}}, "search.threads is not a config key"),
    ({"search": {"space": SPACE}}, "search.dataset or search.input_shape is required"),
])
def test_bad_pipeline_sections_are_one_line(tmp_path, sections, message):
    config = {"search": {"space": SPACE, "dataset": "digits"}, "train": {}, "energy": {}, "report": {},
              **sections}
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(config))
    with pytest.raises(UsageError) as err:
        stages(load_config(path))
    assert message in str(err.value) and "\n" not in str(err.value)


def test_a_bad_pipeline_value_is_one_line_and_touches_no_folder(tmp_path, capsys):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"search": {"space": SPACE, "dataset": "digits"}, "train": {"epochs": 0}}))
    assert main(["pipeline", "--config", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: train.epochs must be an integer of at least 1, got 0"
    assert not (tmp_path / "o").exists()
