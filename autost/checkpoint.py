"""Training checkpoints: written atomically, read back with ``weights_only=True``, and checked
against the run that resumes from them.

A checkpoint holds only tensors and plain Python values (random generator states included),
so loading one never runs pickled code.
"""
from __future__ import annotations

import random
import warnings
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import torch

from autost.arch import Arch
from autost.errors import UsageError
from autost.fingerprint import differences
from autost.io import atomic_torch_save
from autost.model import token_grid

# 2: the stem applies log2(patch_size) max-pools, so tokens are img_size / patch_size a side.
# 1: it applied log2(img_size / patch_size), a grid patch_size a side; those weights load into
# the new stem without complaint but compute another network, so a format-1 checkpoint loads
# only where its grid equals the one its dataset gets now (digits; ndigits, whose patch went
# from 4 to 8 with the fix and so kept its 4x4 grid).
#
# 3: the SHORTCUT gene. Every network before it had the membrane shortcut and its architecture
# files no SHORTCUT key, which now means Spikformer's spike shortcut; so a format-1 or format-2
# checkpoint is read as ``SHORTCUT: membrane``, the network it was trained as, never as another.
FORMAT = 3
# The patch sizes of the datasets when format 1 was written (the old grid was patch_size a side).
FORMAT1_PATCH = {"dvsgesture": 16, "cifar10dvs": 16}
FORMAT1_DEFAULT_PATCH = 4
KEYS = ("format", "model", "optimizer", "scheduler", "scaler", "epoch", "rng", "arch", "dataset",
        "settings", "history")


class CheckpointError(UsageError):
    """A checkpoint that cannot be read, or that belongs to another architecture or run."""


def rng_state() -> dict[str, Any]:
    """The python, numpy, torch (and CUDA, if any) generator states as tensors and numbers."""
    version, mt, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    state = {
        "python": {"version": version, "mt": torch.tensor(mt, dtype=torch.int64), "gauss": gauss},
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore what ``rng_state`` recorded. CUDA states are restored only when the device count
    matches; a run resumed on other hardware draws fresh CUDA randomness."""
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["mt"].tolist()), py["gauss"]))
    npy = state["numpy"]
    # .cpu(): a checkpoint loaded with map_location="cuda" has its generator states on the GPU too
    np.random.set_state((npy["kind"], npy["keys"].cpu().numpy().astype(np.uint32), npy["pos"], npy["has_gauss"],
                         npy["cached"]))
    torch.set_rng_state(state["torch"].cpu())
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in cuda])


def save_checkpoint(path: str | Path, payload: Mapping[str, Any]) -> None:
    missing = [k for k in KEYS if k != "format" and k not in payload]
    if missing:
        raise ValueError(f"checkpoint payload lacks {', '.join(missing)}")
    atomic_torch_save(path, {"format": FORMAT, **payload})


def load_weights_only(path: str | Path, map_location: str | torch.device = "cpu") -> Any:
    """``torch.load(path, weights_only=True)``, without the warning torch prints about a raw pickle's
    protocol before it refuses the file: the caller's one-line refusal says all there is to say."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
        return torch.load(path, map_location=map_location, weights_only=True)


def load_checkpoint(path: str | Path, *, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint``; anything else is a ``CheckpointError``."""
    path = Path(path)
    try:
        data = load_weights_only(path, map_location)
    except FileNotFoundError:
        raise
    except Exception as err:  # torch raises many types for a damaged file; all mean "unreadable"
        raise CheckpointError(
            f"{path}: not a readable checkpoint ({type(err).__name__}); delete it or train into another --out"
        ) from None
    if not isinstance(data, dict) or data.get("format") not in (1, 2, FORMAT) or any(k not in data for k in KEYS):
        raise CheckpointError(f"{path}: not an AutoST training checkpoint (format {FORMAT})")
    if data["format"] == 1:
        _check_old_grid(data, path)
    if data["format"] < 3:
        data["arch"] = as_membrane(data["arch"])
    return data


def as_membrane(arch: Any) -> Any:
    """An architecture mapping written before the SHORTCUT gene, with the shortcut it was built
    with (membrane) made explicit; anything else is returned as it is, for ``Arch.from_dict`` to judge."""
    if not isinstance(arch, Mapping):
        return arch
    if isinstance(arch.get("RETRAIN"), Mapping):
        return {**arch, "RETRAIN": as_membrane(arch["RETRAIN"])}
    return {"SHORTCUT": "membrane", **arch}


def _check_old_grid(data: Mapping[str, Any], path: Path) -> None:
    """Refuse a format-1 checkpoint whose token grid differs under the fixed stem."""
    from datasets import dataset_info

    try:
        info = dataset_info(data["dataset"])
    except ValueError:
        raise CheckpointError(f"{path}: a format-1 checkpoint of unknown dataset {data['dataset']!r}; "
                              "retrain it") from None
    old_side = FORMAT1_PATCH.get(info.name, FORMAT1_DEFAULT_PATCH)  # log2(img / patch) halvings leave patch
    new_side = token_grid(info.img_size, info.patch_size)
    if old_side != new_side:
        raise CheckpointError(f"{path} was trained with the old stem ({old_side}x{old_side} tokens for "
                              f"{data['dataset']}; the fixed stem makes {new_side}x{new_side}): its weights "
                              "would compute another network, so retrain it")


def check_compatible(data: Mapping[str, Any], path: str | Path, *, arch: Arch, dataset: str,
                     settings: Mapping[str, Any], must_match: Iterable[str]) -> None:
    """Raise ``CheckpointError`` unless ``data`` was written by a run of ``arch`` on ``dataset``
    with the same values for the ``must_match`` settings."""
    try:
        saved = Arch.from_dict(data["arch"])
    except ValueError as err:
        raise CheckpointError(f"{path}: its architecture is unreadable ({err})") from None
    if saved != arch:
        raise CheckpointError(f"{path} is a checkpoint of {saved.short()}, not of {arch.short()}; "
                              "resume with the architecture it was trained for, or use another --out")
    if data["dataset"] != dataset:
        raise CheckpointError(f"{path} was trained on {data['dataset']!r}, not {dataset!r}; "
                              "resume on the same dataset, or use another --out")
    saved_settings = data["settings"]
    changed = differences({key: saved_settings.get(key) for key in must_match},
                          {key: settings[key] for key in must_match})
    if changed:
        hint = " (a new --lr is taken when given with --resume)" if any(c.startswith("lr ") for c in changed) else ""
        raise CheckpointError(f"--resume: {'; '.join(changed)} (since {path} was written){hint}; "
                              "repeat the original settings to resume, or use another --out")


def describe(err: BaseException, limit: int = 240) -> str:
    """An exception as one short line: torch's state-dict errors put the missing and unexpected
    keys on the lines after their first, so those are joined in rather than dropped."""
    text = " ".join(line.strip() for line in str(err).splitlines() if line.strip())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def nonfinite_tensors(state: Any, prefix: str = "") -> list[str]:
    """Names of the floating-point tensors in ``state`` (a state dict, possibly nested in dicts
    and lists, as an optimizer's is) that hold a NaN or an infinity."""
    named = list(_float_tensors(state, prefix))
    if not named:
        return []
    flags = [torch.isfinite(t).all() for _, t in named]
    # An optimizer on a GPU keeps its step counts on the CPU: the flags meet on the GPU (only the
    # CPU's few move), so the whole state still costs one sync.
    device = next((f.device for f in flags if f.device.type != "cpu"), flags[0].device)
    finite = torch.stack([f.to(device) for f in flags])
    if bool(finite.all()):
        return []
    return [name for (name, _), ok in zip(named, finite.tolist()) if not ok]


def _float_tensors(obj: Any, prefix: str) -> Iterable[tuple[str, torch.Tensor]]:
    if isinstance(obj, torch.Tensor):
        if obj.is_floating_point() and obj.numel():
            yield prefix.rstrip("."), obj
    elif isinstance(obj, Mapping):
        for key, value in obj.items():
            yield from _float_tensors(value, f"{prefix}{key}.")
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            yield from _float_tensors(value, f"{prefix}{i}.")


def load_weights(path: str | Path, arch: Arch) -> dict[str, torch.Tensor]:
    """The finite model weights of a checkpoint of ours (a training run's, or ``run.py import``'s),
    which must be of ``arch``; anything else is a one-line ``CheckpointError``."""
    data = load_checkpoint(path)
    try:
        saved = Arch.from_dict(data["arch"])
    except ValueError as err:
        raise CheckpointError(f"{path}: its architecture is unreadable ({err})") from None
    if saved != arch:
        raise CheckpointError(f"{path} holds {saved.short()}, not {arch.short()}; give the matching architecture")
    require_finite(data, path)
    return data["model"]


def require_finite(data: Mapping[str, Any], path: str | Path) -> None:
    """Refuse a checkpoint whose weights hold NaN or infinite values (a diverged run's), whose
    accuracy and energy would be numbers from a broken network."""
    bad = nonfinite_tensors(data["model"])
    if bad:
        raise CheckpointError(f"{path}: {len(bad)} weight tensor(s) hold NaN or infinite values ({bad[0]} first), "
                              "a diverged run's; use an earlier checkpoint or retrain with a lower --lr")
