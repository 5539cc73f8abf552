"""`run.py import` end to end: a SpikingJelly Spikformer becomes our arch.yaml and checkpoint, and
`energy --checkpoint` and `train --init-weights` work on it (CIFAR-10 as tiny files in its official
binary format)."""
import json

import numpy as np
import pytest
import torch
from spikingjelly.activation_based.model.spikformer import Spikformer, spikformer_cifar10

from autost import cli
from autost.arch import Arch
from autost.batches import real_batch
from autost.convert import MODEL_FILE, from_spikingjelly, save_import
from data_formats import write_cifar_binary
from datasets.files import CIFAR
from energy.measure import measure_network
from test_equivalence import excite


@pytest.fixture
def cifar_root(tmp_path):
    files = CIFAR["cifar10"]
    rng = np.random.default_rng(0)
    for name in (*files.train, *files.test):
        write_cifar_binary(tmp_path / "data" / files.folder / name, rng.integers(0, 256, (8, 3, 32, 32)),
                           np.arange(8) % 10)
    return tmp_path / "data"


def test_import_then_energy_of_spikformer_cifar10(tmp_path, cifar_root, capsys):
    torch.manual_seed(0)
    theirs = excite(spikformer_cifar10())
    torch.save(theirs.state_dict(), tmp_path / "sj.pt")
    out = tmp_path / "imported"
    assert cli.main(["import", "--spikingjelly", "spikformer_cifar10", "--checkpoint", str(tmp_path / "sj.pt"),
                     "--dataset", "cifar10", "--out", str(out)]) == 0
    assert "9,310,906 params" in capsys.readouterr().out
    arch = Arch.from_yaml(out / "arch.yaml")
    assert arch == Arch(4, 384, (4,) * 4, (12,) * 4)
    assert json.loads((out / "import.json").read_text())["params"] == 9_310_906
    assert cli.main(["energy", "--arch", str(out / "arch.yaml"), "--checkpoint", str(out / MODEL_FILE),
                     "--dataset", "cifar10", "--data-root", str(cifar_root), "--batch-size", "4",
                     "--out", str(tmp_path / "energy")]) == 0
    result = json.loads((tmp_path / "energy" / "energy.json").read_text())
    batch = real_batch("cifar10", batch_size=4, time_steps=4, seed=0, data_root=cifar_root, split="test")
    assert result["stage"] == "trained"
    assert result["energy_mj"] == pytest.approx(measure_network(from_spikingjelly(theirs), batch).total_mj, rel=1e-9)


def test_import_refuses_a_state_dict_of_another_model(tmp_path, capsys):
    torch.save({"model": {"head.weight": torch.zeros(3, 3)}}, tmp_path / "other.pt")
    status = cli.main(["import", "--spikingjelly", "spikformer_cifar10", "--checkpoint", str(tmp_path / "other.pt"),
                       "--dataset", "cifar10", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert status == 2 and len(err.splitlines()) == 1 and "does not fit this SpikingJelly model" in err
    assert not (tmp_path / "o").exists()


def test_training_starts_from_imported_weights(tmp_path):
    """A small Spikformer at the digits geometry, imported and saved as import writes it, trains from
    its weights (at a learning rate of 1e-9 they come out of the epoch as they went in)."""
    torch.manual_seed(0)
    theirs = excite(Spikformer(T=4, in_channels=1, img_size_h=16, img_size_w=16, patch_size=4, num_classes=10,
                               embed_dims=32, num_heads=2, mlp_ratio=2, depths=1))
    ours = from_spikingjelly(theirs)
    (tmp_path / "imp").mkdir()
    weights = save_import(ours.state_dict(), ours.arch, "digits", tmp_path / "imp", source="test", weights="test")
    arch_file = str(tmp_path / "imp" / "arch.yaml")
    common = ["train", "--arch", arch_file, "--dataset", "digits", "--epochs", "1", "--limit", "16",
              "--batch-size", "16", "--lr", "1e-9", "--warmup-epochs", "0"]
    assert cli.main([*common, "--init-weights", str(weights), "--out", str(tmp_path / "from")]) == 0
    assert cli.main([*common, "--out", str(tmp_path / "fresh")]) == 0
    state = torch.load(tmp_path / "from" / "last.pt", weights_only=True)["model"]
    fresh = torch.load(tmp_path / "fresh" / "last.pt", weights_only=True)["model"]
    key = "blocks.0.attn.q.bn.weight"  # excited, away from a fresh BatchNorm's ones
    assert torch.allclose(state[key], ours.state_dict()[key], atol=1e-6)  # lr 1e-9: the imported weights
    assert not torch.allclose(fresh[key], ours.state_dict()[key], atol=1e-2)
    status = cli.main(["train", "--arch", arch_file, "--dataset", "digits", "--epochs", "1", "--limit", "16",
                       "--init-weights", str(tmp_path / "nothing.pt"), "--out", str(tmp_path / "bad")])
    assert status == 2
