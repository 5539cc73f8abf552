"""Where each on-disk dataset lives under ``--data-root``, where its files come from, and a cheap
check that they are there (no file is read beyond its size and a directory listing)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from datasets import idx
from datasets.errors import DatasetNotFoundError

CIFAR_PAGE = "https://www.cs.toronto.edu/~kriz/cifar.html"
CIFAR_PIXELS = 3 * 32 * 32


@dataclass(frozen=True)
class CifarFiles:
    """The binary version of a CIFAR set: records of label bytes then 3072 pixel bytes
    (1024 red, 1024 green, 1024 blue, each row-major), as described on ``CIFAR_PAGE``."""

    folder: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    label_bytes: int
    label_index: int
    classes: int  # labels are 0 .. classes - 1

    @property
    def record_bytes(self) -> int:
        return self.label_bytes + CIFAR_PIXELS


CIFAR = {
    "cifar10": CifarFiles("cifar-10-batches-bin", tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
                          ("test_batch.bin",), label_bytes=1, label_index=0,
                          classes=10),
    # CIFAR-100 records hold the coarse label, then the fine label.
    "cifar100": CifarFiles("cifar-100-binary", ("train.bin",), ("test.bin",), label_bytes=2, label_index=1,
                           classes=100),
}

# Folder names are tonic 1.7.0's (a tonic dataset reads from <data-root>/<its class name>).
NMNIST_SPLITS = ("Train", "Test")
DVSGESTURE_SPLITS = ("ibmGestureTrain", "ibmGestureTest")
# Debian's dataset-fashion-mnist installs the four gzipped IDX files in DEBIAN_ROOT/fashion-mnist,
# so that folder is fashion-mnist's data root when none is given (and nfashion's source).
DEBIAN_ROOT = Path("/usr/share/datasets")
DEFAULT_ROOTS = {"fashion-mnist": DEBIAN_ROOT, "nfashion": DEBIAN_ROOT}
# Datasets read from another's files: nfashion is Fashion-MNIST through the event-camera emulator.
FILES_OF = {"nfashion": "fashion-mnist"}
IDX_FILES = "train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte"
CIFAR10DVS_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


@dataclass(frozen=True)
class Source:
    folder: str
    what: str
    url: str


SOURCES = {
    "cifar10": Source(CIFAR["cifar10"].folder, "CIFAR-10 binary version (cifar-10-binary.tar.gz)", CIFAR_PAGE),
    "cifar100": Source(CIFAR["cifar100"].folder, "CIFAR-100 binary version (cifar-100-binary.tar.gz)", CIFAR_PAGE),
    "nmnist": Source("NMNIST", "N-MNIST Train/ and Test/ folders (train.zip, test.zip extracted)",
                     "https://www.garrickorchard.com/datasets/n-mnist"),
    # tonic reads its own .npy conversion of DVS128 Gesture (ibmGestureTrain/Test.tar.gz, as tonic 1.7.0's
    # DVSGesture.train_url/test_url on figshare), not IBM's original .aedat release.
    "dvsgesture": Source("DVSGesture", "tonic's .npy conversion of DVS128 Gesture, ibmGestureTrain.tar.gz and "
                         "ibmGestureTest.tar.gz from https://figshare.com/ndownloader/files/38022171 and "
                         "https://figshare.com/ndownloader/files/38020584, extracted",
                         "https://research.ibm.com/interactive/dvsgesture/"),
    "mnist": Source("mnist", f"the IDX files {IDX_FILES}, each raw or .gz", "http://yann.lecun.com/exdb/mnist/"),
    "fashion-mnist": Source("fashion-mnist", f"the IDX files {IDX_FILES}, each raw or .gz; on Debian/Ubuntu "
                            "`apt-get install dataset-fashion-mnist` puts them in /usr/share/datasets/fashion-mnist",
                            "https://github.com/zalandoresearch/fashion-mnist"),
    "cifar10dvs": Source("CIFAR10DVS", "CIFAR10-DVS (CIFAR10DVS.zip and its per-class .zip files extracted "
                         "to one folder per class of .aedat4 files)", "https://figshare.com/ndownloader/files/38023437"),
}


def not_found(name: str, data_root: str | Path | None, missing: Path | str | None = None) -> DatasetNotFoundError:
    """The one-line error for a missing (or, with ``missing``, incomplete) dataset."""
    source = SOURCES[FILES_OF.get(name, name)]
    if data_root is None:
        return DatasetNotFoundError(
            f"dataset {name!r} is read from disk: pass --data-root (expected <data-root>/{source.folder}; "
            f"files: {source.what}; source: {source.url})")
    where = missing if missing is not None else Path(data_root) / source.folder
    return DatasetNotFoundError(f"dataset {name!r} not found or incomplete: expected {where} "
                                f"(files: {source.what}; source: {source.url})")


def _has_file(folder: Path, suffix: str, depth: int = 1) -> bool:
    """Whether ``folder`` holds a ``*suffix`` file ``depth`` levels down; stops at the first one."""
    if not folder.is_dir():
        return False
    with os.scandir(folder) as entries:
        for entry in entries:
            if depth == 1 and entry.is_file() and entry.name.endswith(suffix):
                return True
            if depth > 1 and entry.is_dir() and _has_file(Path(entry.path), suffix, depth - 1):
                return True
    return False


def _missing_cifar(name: str, root: Path) -> Path | None:
    files = CIFAR[name]
    for filename in files.train + files.test:
        path = root / files.folder / filename
        if not path.is_file() or path.stat().st_size == 0 or path.stat().st_size % files.record_bytes:
            return path
    return None


def _missing_nmnist(root: Path) -> Path | None:
    for split in NMNIST_SPLITS:
        for digit in range(10):
            folder = root / SOURCES["nmnist"].folder / split / str(digit)
            if not _has_file(folder, ".bin"):
                return folder / "*.bin"
    return None


def _missing_dvsgesture(root: Path) -> Path | None:
    for split in DVSGESTURE_SPLITS:
        folder = root / SOURCES["dvsgesture"].folder / split
        if not _has_file(folder, ".npy", depth=2):
            return folder / "user*_*" / "<label>.npy"
    return None


def _missing_cifar10dvs(root: Path) -> Path | None:
    for cls in CIFAR10DVS_CLASSES:
        folder = root / SOURCES["cifar10dvs"].folder / cls
        if not _has_file(folder, ".aedat4"):
            return folder / "*.aedat4"
    return None


def _missing_idx(name: str, root: Path) -> Path | None:
    folder = root / SOURCES[name].folder
    for stems in idx.PARTS.values():
        for stem in stems:
            path = idx.find(folder, stem)
            if path is None or path.stat().st_size == 0:
                return folder / f"{stem}[.gz]"
    return None


_CHECKS: dict[str, Callable[[Path], Path | None]] = {
    "cifar10": lambda root: _missing_cifar("cifar10", root),
    "cifar100": lambda root: _missing_cifar("cifar100", root),
    "nmnist": _missing_nmnist,
    "dvsgesture": _missing_dvsgesture,
    "cifar10dvs": _missing_cifar10dvs,
    "mnist": lambda root: _missing_idx("mnist", root),
    "fashion-mnist": lambda root: _missing_idx("fashion-mnist", root),
}


def default_root(name: str) -> Path | None:
    """The data root used when none is given: Debian's folder for Fashion-MNIST when installed."""
    root = DEFAULT_ROOTS.get(name)
    if root is not None and (root / SOURCES[FILES_OF.get(name, name)].folder).is_dir():
        return root
    return None


def check_files(name: str, data_root: str | Path | None) -> Path:
    """Return the resolved data root (``default_root(name)`` when ``data_root`` is None), or raise
    ``DatasetNotFoundError`` naming the first missing path."""
    if data_root is None:
        data_root = default_root(name)
    if data_root is None:
        raise not_found(name, None)
    root = Path(data_root).expanduser()
    missing = _CHECKS[FILES_OF.get(name, name)](root)
    if missing is not None:
        raise not_found(name, root, missing)
    return root
