"""Writers of tiny dataset files in the official on-disk formats, for the tests."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def write_cifar_binary(path: Path, images: np.ndarray, *label_columns: np.ndarray) -> None:
    """CIFAR's binary version: per image the label byte(s) (CIFAR-100: coarse then fine), then 3072
    pixel bytes, red plane, green plane, blue plane, each row-major (https://www.cs.toronto.edu/~kriz/cifar.html)."""
    n = len(images)
    columns = [np.asarray(c, dtype=np.uint8).reshape(n, 1) for c in label_columns]
    records = np.concatenate([*columns, np.asarray(images, dtype=np.uint8).reshape(n, 3 * 32 * 32)], axis=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    records.tofile(path)


def write_nmnist_bin(path: Path, x: np.ndarray, y: np.ndarray, t: np.ndarray, p: np.ndarray) -> None:
    """N-MNIST's .bin events (https://www.garrickorchard.com/datasets/n-mnist): 40 bits each, byte 0 x,
    byte 1 y, then bit 7 polarity and 23 bits of microsecond timestamp, most significant byte first."""
    t = np.asarray(t, dtype=np.uint32)
    if t.size and t.max() >= 2 ** 23:
        raise ValueError("timestamps must fit 23 bits")
    records = np.empty((len(t), 5), dtype=np.uint8)
    records[:, 0] = x
    records[:, 1] = y
    records[:, 2] = (np.asarray(p, dtype=np.uint32) << 7) | ((t >> 16) & 0x7F)
    records[:, 3] = (t >> 8) & 0xFF
    records[:, 4] = t & 0xFF
    path.parent.mkdir(parents=True, exist_ok=True)
    records.tofile(path)


def write_dvsgesture_npy(path: Path, x: np.ndarray, y: np.ndarray, p: np.ndarray, t_ms: np.ndarray) -> None:
    """tonic's DVSGesture release: one ``<label>.npy`` per sample, an ``[N, 4]`` array of x, y, p and
    t in milliseconds, in ``ibmGesture{Train,Test}/user<NN>_<lighting>/``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.stack([x, y, p, t_ms], axis=1).astype(np.int64))


def write_idx(path: Path, array: np.ndarray, *, magic: int | None = None) -> None:
    """An IDX file (http://yann.lecun.com/exdb/mnist/): bytes 0 0 0x08 <ndims>, the sizes as big-endian
    uint32, then the uint8 data; gzipped when ``path`` ends in .gz. ``magic`` overrides the first 4 bytes."""
    import gzip

    array = np.asarray(array, dtype=np.uint8)
    head = (0x0800 | array.ndim) if magic is None else magic
    data = b"".join(int(v).to_bytes(4, "big") for v in (head, *array.shape)) + array.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
