import pytest

from autost.arch import Arch


def test_round_trip_with_and_without_wrapper(tmp_path):
    arch = Arch(2, 64, (2, 3.5), (4, 8))
    path = tmp_path / "a.yaml"
    arch.to_yaml(path)
    assert Arch.from_yaml(path) == arch
    assert "RETRAIN:" in path.read_text()
    bare = arch.to_dict()["RETRAIN"]
    assert Arch.from_dict(bare) == arch


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(depth=2, embed_dim=64, mlp_ratio=(4,), num_heads=(4, 4)), "MLP_RATIO"),
        (dict(depth=2, embed_dim=64, mlp_ratio=(4, 4), num_heads=(4,)), "NUM_HEADS"),
        (dict(depth=1, embed_dim=60, mlp_ratio=(4,), num_heads=(4,)), "divisible by 8"),
        (dict(depth=1, embed_dim=64, mlp_ratio=(4,), num_heads=(3,)), "NUM_HEADS[0]=3"),
        (dict(depth=0, embed_dim=64, mlp_ratio=(), num_heads=()), "DEPTH"),
        (dict(depth=1, embed_dim=64, mlp_ratio=(-1,), num_heads=(4,)), "MLP_RATIO"),
        (dict(depth=1, embed_dim=-8, mlp_ratio=(1,), num_heads=(4,)), "EMBED_DIM"),
    ],
)
def test_invalid_arch_names_the_field(kwargs, field):
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        Arch(**kwargs)


def test_bad_yaml_files(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("RETRAIN: [unclosed")
    with pytest.raises(ValueError, match="not valid YAML"):
        Arch.from_yaml(bad)
    missing = tmp_path / "missing.yaml"
    missing.write_text("RETRAIN: {DEPTH: 1, EMBED_DIM: 64}")
    with pytest.raises(ValueError, match="MLP_RATIO, NUM_HEADS"):
        Arch.from_yaml(missing)
    with pytest.raises(ValueError, match="not found"):
        Arch.from_yaml(tmp_path / "nope.yaml")
    typed = tmp_path / "typed.yaml"
    typed.write_text("RETRAIN: {DEPTH: two, EMBED_DIM: 64, MLP_RATIO: [4], NUM_HEADS: [4]}")
    with pytest.raises(ValueError, match="DEPTH must be an integer"):
        Arch.from_yaml(typed)


def test_atomic_writes_replace_whole_files_with_usual_permissions(tmp_path):
    import os

    from autost.io import atomic_write_json

    path = tmp_path / "r.json"
    atomic_write_json(path, {"a": 1})
    atomic_write_json(path, {"a": 2})
    assert path.read_text().strip().endswith("}") and '"a": 2' in path.read_text()
    mask = os.umask(0)
    os.umask(mask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~mask
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left
