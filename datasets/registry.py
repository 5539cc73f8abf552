"""The dataset registry: each dataset's name, default shape and loader, and ``get_dataset``."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from autost.registry import Registry

from datasets import training
from datasets.files import check_files
from datasets.splits import check_split
from datasets.training import TrainingDefaults

if TYPE_CHECKING:  # torch only where a split is loaded: the CLI lists the datasets in --help without it
    from torch.utils.data import Dataset


@dataclass(frozen=True)
class DatasetInfo:
    """A dataset's sample shape and defaults: ``img_size`` square pixels, cut by the model's stem into
    ``(img_size / patch_size)**2`` tokens. Static samples are ``[in_channels, H, W]``, neuromorphic ones
    ``[T, in_channels, H, W]`` (the two polarities). ``load`` builds a split (``Loader``); an
    ``embedded`` dataset needs no files, the others are looked for under the data root first."""

    name: str
    in_channels: int
    img_size: int
    num_classes: int
    kind: str
    patch_size: int
    load: "Loader | None" = field(default=None, compare=False, repr=False)
    embedded: bool = False
    # its training and augmentation defaults, stated by every registration (none inherits another's)
    training: TrainingDefaults = field(kw_only=True)


class Loader(Protocol):
    def __call__(self, info: DatasetInfo, split: str, *, data_root: str | Path | None, time_steps: int,
                 img_size: int, seed: int) -> Dataset: ...


def _digits(info, split, *, data_root, time_steps, img_size, seed):
    from datasets.static import digits

    return digits(split, img_size=img_size, seed=seed)


def _ndigits(info, split, *, data_root, time_steps, img_size, seed):
    from datasets.neuromorphic import ndigits

    return ndigits(split, data_root=data_root, time_steps=time_steps, img_size=img_size, seed=seed)


def _idx(info, split, *, data_root, time_steps, img_size, seed):
    from datasets.static import idx_images

    return idx_images(info.name, split, root=check_files(info.name, data_root), img_size=img_size, seed=seed)


def _nfashion(info, split, *, data_root, time_steps, img_size, seed):
    from datasets.neuromorphic import nfashion

    # the cache goes under the data root the user gave, never into Debian's system folder
    return nfashion(split, root=check_files(info.name, data_root), cache_root=data_root, time_steps=time_steps,
                    img_size=img_size, seed=seed)


def _cifar(info, split, *, data_root, time_steps, img_size, seed):
    from datasets.static import cifar

    return cifar(info.name, split, root=check_files(info.name, data_root), img_size=img_size, seed=seed)


def _tonic(info, split, *, data_root, time_steps, img_size, seed):
    from datasets.neuromorphic import tonic_dataset

    return tonic_dataset(info.name, split, root=check_files(info.name, data_root), time_steps=time_steps,
                         img_size=img_size, seed=seed)


# Every dataset, by name. A new one is ``DATASETS.register(DatasetInfo(..., load=...))`` (its files,
# when it reads any, described in ``datasets.files``).
DATASETS: Registry[DatasetInfo] = Registry("dataset")
for _info in (
    DatasetInfo("digits", 1, 16, 10, "static", 4, _digits, embedded=True, training=training.EMBEDDED),
    # 8x8 patches: 16 tokens, as many as digits, so the embedded event set trains in seconds per
    # epoch on a CPU (patch 4 would give 64 tokens and epochs about ten times slower).
    DatasetInfo("ndigits", 2, 32, 10, "neuromorphic", 8, _ndigits, embedded=True, training=training.EMBEDDED),
    DatasetInfo("cifar10", 3, 32, 10, "static", 4, _cifar, training=training.CIFAR),
    DatasetInfo("cifar100", 3, 32, 100, "static", 4, _cifar, training=training.CIFAR),
    DatasetInfo("dvsgesture", 2, 128, 11, "neuromorphic", 16, _tonic, training=training.EVENTS),
    DatasetInfo("cifar10dvs", 2, 128, 10, "neuromorphic", 16, _tonic, training=training.SPIKFORMER_DVS),
    DatasetInfo("nmnist", 2, 32, 10, "neuromorphic", 4, _tonic, training=training.EVENTS),
    # 28x28 grey images, patch 4: 7x7 tokens
    DatasetInfo("mnist", 1, 28, 10, "static", 4, _idx, training=training.SMALL),
    DatasetInfo("fashion-mnist", 1, 28, 10, "static", 4, _idx, training=training.SMALL),
    # the emulator's 34x34 sensor area-averaged to 32x32, as ndigits: 8x8 tokens
    DatasetInfo("nfashion", 2, 32, 10, "neuromorphic", 4, _nfashion, training=training.SMALL),
):
    DATASETS.register(_info)
KNOWN = DATASETS.names()  # the built-in datasets
EMBEDDED = tuple(name for name, info in DATASETS.items() if info.embedded)


def dataset_info(name: str) -> DatasetInfo:
    return DATASETS.get(name)


def check_available(name: str, data_root: str | Path | None) -> None:
    """Raise ``DatasetNotFoundError`` now if ``name``'s files are missing under ``data_root``
    (cheap: file sizes and directory listings only). The embedded datasets are always available."""
    if not dataset_info(name).embedded:
        check_files(name, data_root)


def get_dataset(name: str, split: str, *, data_root: str | Path | None = None, time_steps: int = 4,
                img_size: int | None = None, seed: int = 0) -> Dataset:
    """Dataset of ``(x, label)``: ``x`` a float ``[C, H, W]`` tensor (static) or ``[T, 2, H, W]`` event
    counts (neuromorphic), ``label`` an int.

    Splits: "train", "val", "test", and "trainval" (train before the val carve). "val" is a seeded,
    stratified 10% of the training part and "train" the remaining 90%, so the two never overlap.
    ``data_root`` may be left out for ``fashion-mnist`` and ``nfashion`` where Debian's
    dataset-fashion-mnist is installed (``datasets.files.DEFAULT_ROOTS``).
    ``seed`` fixes every carved split (val; the test part of digits, ndigits and cifar10dvs).
    ``time_steps`` is the number of frames of a neuromorphic sample (static ones have no time axis);
    ``img_size`` defaults to ``dataset_info(name).img_size``. The real datasets are read from
    ``data_root``; caches (ndigits' and nfashion's events, tonic sets' frames) go under ``data_root`` when given, else
    under ``$AUTOST_CACHE`` or ``~/.cache/autost``.
    """
    info = dataset_info(name)
    check_split(split)
    size = info.img_size if img_size is None else img_size
    if size < 1 or time_steps < 1:
        raise ValueError(f"img_size and time_steps must be positive, got {size} and {time_steps}")
    return info.load(info, split, data_root=data_root, time_steps=time_steps, img_size=size, seed=seed)
