import json

from autost.arch import Arch
from autost.cli import main


def test_profile_json_without_data(tmp_path, capsys):
    path = tmp_path / "a.yaml"
    Arch(2, 64, (2, 4), (2, 4)).to_yaml(path)
    rc = main(["profile", "--arch", str(path), "--input-shape", "3x32x32", "--num-classes", "10",
               "--patch-size", "4", "--json"])
    assert rc == 0
    out = json.loads(capsys.readouterr().out)
    assert out["macs"] == out["macs_analytic"] > 0
    assert "energy_mj" not in out


def test_profile_json_with_dataset(tmp_path, capsys):
    path = tmp_path / "a.yaml"
    Arch(1, 32, (2,), (2,)).to_yaml(path)
    assert main(["profile", "--arch", str(path), "--dataset", "digits", "--batch-size", "8", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("params", "macs", "macs_analytic", "energy_mj", "mac_mj", "ac_mj", "layers", "naswot", "sahd"):
        assert key in out
    assert abs(sum(layer["energy_mj"] for layer in out["layers"]) - out["energy_mj"]) < 1e-12
    assert sum(layer["macs"] for layer in out["layers"]) == out["macs"]


def test_profile_bad_input_is_one_line(tmp_path, capsys):
    assert main(["profile", "--arch", str(tmp_path / "none.yaml"), "--input-shape", "3x32x32",
                 "--num-classes", "10", "--patch-size", "4"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "not found" in err
    path = tmp_path / "a.yaml"
    path.write_text("RETRAIN: {DEPTH: 1, EMBED_DIM: 30, MLP_RATIO: [2], NUM_HEADS: [4]}")
    assert main(["profile", "--arch", str(path), "--input-shape", "3x32x32", "--num-classes", "10",
                 "--patch-size", "4"]) == 2
    assert "EMBED_DIM" in capsys.readouterr().err
