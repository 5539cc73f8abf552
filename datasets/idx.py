"""The IDX format of MNIST and Fashion-MNIST, read with numpy (gzipped or not).

An IDX file (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS") is a 4-byte magic number,
``0x00 0x00 <type> <ndims>``, then ``ndims`` big-endian uint32 sizes, then the data in C order.
Both datasets use type 0x08 (unsigned byte): images ``[N, 28, 28]`` (magic 2051) and labels
``[N]`` (magic 2049). Every defect a file can have (wrong magic, wrong dims, too few or too many
bytes, counts that disagree) is an ``IdxFormatError`` whose one-line message names the file.
"""
from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

IMAGE_MAGIC, LABEL_MAGIC = 0x0803, 0x0801  # 2051 and 2049: unsigned bytes, 3 and 1 dims
SIDE = 28
PARTS = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
         "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


class IdxFormatError(ValueError):
    """An IDX file is truncated, mislabeled or does not match its partner file."""


@dataclass(frozen=True)
class IdxSet:
    """One part (train or test) of an IDX dataset: uint8 images ``[N, 28, 28]`` and int64 labels."""

    images: np.ndarray
    labels: np.ndarray


def find(folder: Path, stem: str) -> Path | None:
    """``folder/stem`` or ``folder/stem.gz``, whichever exists (the raw file first)."""
    for path in (folder / stem, folder / f"{stem}.gz"):
        if path.is_file():
            return path
    return None


def _raw_bytes(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:  # gzip raises these on a damaged or cut stream
        raise IdxFormatError(f"{path}: not a readable gzip file ({err}); reinstall or re-download it") from None


def read_idx(path: Path, magic: int, shape_tail: tuple[int, ...]) -> np.ndarray:
    """The uint8 array in IDX file ``path``, checked: magic number ``magic`` and every size after
    the first equal to ``shape_tail``, with exactly as many data bytes as the header promises."""
    data = _raw_bytes(path)
    ndims = magic & 0xFF
    header = 4 + 4 * ndims
    if len(data) < header:
        raise IdxFormatError(f"{path}: only {len(data)} bytes, shorter than an IDX header; the file is truncated")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise IdxFormatError(f"{path}: magic number {found:#010x}, expected {magic:#010x} "
                             f"(unsigned bytes, {ndims} dims); not the IDX file it is named after")
    dims = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndims))
    if dims[1:] != shape_tail:
        raise IdxFormatError(f"{path}: sizes {'x'.join(map(str, dims))}, expected N"
                             f"{''.join('x' + str(s) for s in shape_tail)}")
    expected = int(np.prod(dims))
    if len(data) - header != expected:
        raise IdxFormatError(f"{path}: {len(data) - header} data bytes, the header promises {expected} "
                             f"({'x'.join(map(str, dims))}); the file is truncated or damaged")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def read_part(folder: Path, part: str, num_classes: int = 10) -> IdxSet:
    """The train or test part of the IDX dataset in ``folder`` (names as on the MNIST page,
    each raw or ``.gz``). Missing files are the caller's check (``datasets.files``). Reads are
    cached per process while the files keep their size and modification time (every split
    needs the training file's pixel statistics; decompressing it takes about a second)."""
    image_stem, label_stem = PARTS[part]
    image_path, label_path = find(folder, image_stem), find(folder, label_stem)
    if image_path is None or label_path is None:
        raise FileNotFoundError(f"{folder / (image_stem if image_path is None else label_stem)}[.gz] is missing")
    stamps = tuple((p.stat().st_size, p.stat().st_mtime_ns) for p in (image_path, label_path))
    return _read_pair(image_path, label_path, num_classes, stamps)


@lru_cache(maxsize=4)
def _read_pair(image_path: Path, label_path: Path, num_classes: int, stamps: tuple) -> IdxSet:
    images = read_idx(image_path, IMAGE_MAGIC, (SIDE, SIDE))
    labels = read_idx(label_path, LABEL_MAGIC, ())
    if len(images) != len(labels):
        raise IdxFormatError(f"{label_path}: {len(labels)} labels for the {len(images)} images of {image_path}; "
                             "the two files do not belong together")
    if len(labels) and labels.max() >= num_classes:
        raise IdxFormatError(f"{label_path}: label {int(labels.max())} outside 0-{num_classes - 1}")
    return IdxSet(images, labels.astype(np.int64))
