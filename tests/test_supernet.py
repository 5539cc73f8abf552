import json

import pytest
import torch

from autost.arch import Arch
from autost.cli import main
from autost.errors import BadInput, UsageError
from autost.geometry import resolve_geometry
from autost.model import build_model
from autost.space import SearchSpace
from autost.supernet import (SupernetConfig, _split, check_space, inherited, largest, load, rate, sandwich,
                             smallest, train_supernet)
from conftest import ROOT

DIGITS_SPACE = str(ROOT / "spaces" / "digits.yaml")
GEOMETRY = resolve_geometry(dataset="digits", input_shape=None, num_classes=None, patch_size=None, time_steps=2)
SETTINGS = dict(space=DIGITS_SPACE, dataset="digits", steps=4, batch_size=8, time_steps=2, limit=64, save_every=2,
                calibration_batches=2, validation_images=20)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("supernet")
    train_supernet(SupernetConfig(**SETTINGS), out, progress=False)
    return out


def test_spaces_whose_genes_cannot_share_weights_are_refused_in_one_line(tmp_path, capsys):
    with pytest.raises(BadInput, match="TIME_STEPS, ATTENTION, SHORTCUT; give the space one choice of each"):
        check_space(SearchSpace.from_yaml(ROOT / "spaces" / "hybrid_tiny.yaml"))
    assert main(["supernet", "train", "--space", str(ROOT / "spaces" / "hybrid_tiny.yaml"), "--dataset", "digits",
                 "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not (tmp_path / "o").exists()


def test_a_candidate_takes_the_leading_slices_of_the_shared_weights():
    space = SearchSpace.from_yaml(DIGITS_SPACE)
    torch.manual_seed(0)
    supernet = build_model(largest(space), **GEOMETRY.model_kwargs())
    small = build_model(Arch(2, 48, (3, 2), (2, 4)), **GEOMETRY.model_kwargs())
    state = inherited(supernet, small)
    assert all(state[k].shape == v.shape for k, v in small.state_dict().items())
    # block 1 of d2-D48 with MLP ratio 2: 96 hidden units over 48 channels
    assert torch.equal(state["blocks.1.mlp.fc1.linear.weight"],
                       supernet.get_parameter("blocks.1.mlp.fc1.linear.weight")[:96, :48])
    # views: a step on the supernet moves the candidate's weights with it
    with torch.no_grad():
        supernet.head.weight.add_(1.0)
    assert torch.equal(state["head.weight"], supernet.head.weight[:, :48])
    # the largest candidate inherits everything: the same network
    x = torch.rand(2, 1, 16, 16)
    top = build_model(largest(space), **GEOMETRY.model_kwargs())
    top.load_state_dict({k: v.clone() for k, v in inherited(supernet, top).items()})
    supernet.eval(), top.eval()
    assert torch.equal(top(x), supernet(x))


def test_the_sandwich_is_seeded_by_step():
    space = SearchSpace.from_yaml(DIGITS_SPACE)
    first = sandwich(space, 0, 3)
    assert first[:2] == [largest(space), smallest(space)] and len(first) == 4
    assert sandwich(space, 0, 3) == first and sandwich(space, 0, 4) != first


def test_training_moves_the_weights_and_a_killed_run_resumes_to_the_same_ones(trained, tmp_path):
    summary = json.loads((trained / "supernet.json").read_text())
    assert summary["steps_done"] == 4 and summary["passes_per_step"] == 4
    torch.manual_seed(0)
    fresh = build_model(largest(SearchSpace.from_yaml(DIGITS_SPACE)), **GEOMETRY.model_kwargs()).state_dict()
    done = torch.load(trained / "supernet.pt", weights_only=True)["model"]
    assert not torch.equal(fresh["head.weight"], done["head.weight"])
    assert not torch.equal(fresh["stem.stages.0.conv.weight"], done["stem.stages.0.conv.weight"])
    out = tmp_path / "resumed"
    train_supernet(SupernetConfig(**{**SETTINGS, "steps": 2}), out, progress=False)  # as if killed after step 2
    with pytest.raises(BadInput, match="--resume"):
        train_supernet(SupernetConfig(**SETTINGS), out, progress=False)
    with pytest.raises(UsageError, match="lr changed from 0.001 to 0.01"):
        train_supernet(SupernetConfig(**{**SETTINGS, "lr": 0.01}), out, resume=True, progress=False)
    assert train_supernet(SupernetConfig(**SETTINGS), out, resume=True, progress=False)["steps_done"] == 4
    resumed = torch.load(out / "supernet.pt", weights_only=True)
    assert all(torch.equal(v, resumed["model"][k]) for k, v in done.items())


def test_rating_is_an_accuracy_recalibrated_per_candidate_and_leaves_the_supernet_alone(trained):
    loaded = load(str(trained))
    before = {k: v.clone() for k, v in loaded.supernet.state_dict().items()}
    scores = [rate(loaded, arch, GEOMETRY) for arch in (Arch(1, 32, (2,), (2,)), Arch(2, 48, (3, 2), (2, 4)))]
    # 20 held-out images in batches of 8, 8 and 4
    assert [len(y) for _, y in loaded.validation] == [8, 8, 4]
    assert all(0 <= s <= 1 and round(s * 20, 9).is_integer() for s in scores)
    assert rate(loaded, Arch(1, 32, (2,), (2,)), GEOMETRY) == scores[0]
    assert all(torch.equal(before[k], v) for k, v in loaded.supernet.state_dict().items())
    with pytest.raises(BadInput, match="not a candidate of the supernet"):
        rate(loaded, Arch(5, 32, (2,) * 5, (2,) * 5), GEOMETRY)
    other = resolve_geometry(dataset="digits", input_shape=None, num_classes=None, patch_size=None, time_steps=4)
    with pytest.raises(BadInput, match="same --dataset and --time-steps"):
        rate(loaded, Arch(1, 32, (2,), (2,)), other)


def _copy(trained, out):
    out.mkdir()
    for name in ("supernet.pt", "supernet.json"):
        (out / name).write_bytes((trained / name).read_bytes())
    return out


def test_resuming_with_other_validation_images_changes_the_rating_set_without_training(trained, tmp_path):
    out = _copy(trained, tmp_path / "copy")
    summary = train_supernet(SupernetConfig(**{**SETTINGS, "validation_images": 12}), out, resume=True,
                             progress=False)
    assert summary["validation_images"] == 12 and summary["steps_done"] == 4
    assert (out / "supernet.pt").read_bytes() == (trained / "supernet.pt").read_bytes()
    assert sum(len(y) for _, y in load(str(out)).validation) == 12
    # a supernet.json written before the setting existed rates on the default
    del summary["validation_images"]
    (out / "supernet.json").write_text(json.dumps(summary))
    loaded = load(str(out))
    assert sum(len(y) for _, y in loaded.validation) == min(256, len(_split(loaded.config, "val")))


def test_search_under_the_supernet_score(trained, tmp_path, capsys):
    args = ["search", "--space", DIGITS_SPACE, "--dataset", "digits", "--time-steps", "2", "--batch-size", "8",
            "--score", "supernet", "--population", "3", "--select", "2", "--mutation", "1", "--crossover", "1",
            "--generations", "1"]
    assert main([*args, "--supernet", str(trained), "--out", str(tmp_path / "o")]) == 0
    candidates = json.loads((tmp_path / "o" / "search.json").read_text())["candidates"]
    assert all(c["score"] == c["supernet"] and 0 <= c["score"] <= 1 for c in candidates)
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "x")]) == 2
    assert "give --supernet DIR" in capsys.readouterr().err


def test_a_search_resumes_only_with_the_supernet_it_rated_with(trained, tmp_path, capsys):
    supernet = _copy(trained, tmp_path / "supernet")
    args = ["search", "--space", DIGITS_SPACE, "--dataset", "digits", "--time-steps", "2", "--batch-size", "8",
            "--score", "supernet", "--supernet", str(supernet), "--population", "3", "--select", "2",
            "--mutation", "1", "--crossover", "1", "--generations", "1", "--out", str(tmp_path / "o")]
    assert main(args) == 0
    assert main([*args, "--resume"]) == 0
    train_supernet(SupernetConfig(**{**SETTINGS, "validation_images": 12}), supernet, resume=True, progress=False)
    capsys.readouterr()
    assert main([*args, "--resume"]) == 2
    assert "supernet.validation_images changed from 20 to 12" in capsys.readouterr().err
