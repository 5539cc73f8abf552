"""Static image datasets: scikit-learn's bundled digits, the binary CIFAR-10/100 files and the IDX
files of MNIST and Fashion-MNIST.

Samples are ``(x, label)`` with ``x`` a float ``[C, H, W]`` tensor, normalized per channel.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from datasets import splits
from datasets.files import CIFAR

DIGITS_TEST_FRACTION = 0.2

# Per-channel mean and std of each training set's pixels in [0, 1] (the widely used values).
CIFAR_STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
CIFAR_PADDING = 4


class ImageDataset(Dataset):
    """Images in one tensor with integer labels; ``index`` holds each sample's position in the source
    (the dataset's file or array), and ``transform`` (if any) is applied per sample."""

    def __init__(self, images: torch.Tensor, labels: Sequence[int], index: np.ndarray,
                 transform: Callable[[torch.Tensor], torch.Tensor] | None = None):
        self.images = images
        self.labels = np.asarray(labels, dtype=np.int64)
        self.index = np.asarray(index, dtype=np.int64)
        self.transform = transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        x = self.images[index]
        if self.transform is not None:
            x = self.transform(x)
        return x, int(self.labels[index])


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize the last two dims of ``[..., H, W]`` to ``size`` (bilinear; antialiased when shrinking)."""
    if x.shape[-2:] == (size, size):
        return x
    lead = x.shape[:-2]
    flat = x.reshape(-1, 1, *x.shape[-2:]).float()
    out = F.interpolate(flat, size=(size, size), mode="bilinear", align_corners=False,
                        antialias=size < max(x.shape[-2:]))
    return out.reshape(*lead, size, size)


def load_digit_images(size: int) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1797 8x8 digits as float32 ``[N, size, size]`` in [0, 1], and their labels."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = torch.from_numpy(digits.images.astype(np.float32) / 16.0)
    return resize(images, size).clamp(0.0, 1.0).numpy(), digits.target.astype(np.int64)


def digits(split: str, *, img_size: int, seed: int) -> ImageDataset:
    """The digits at ``img_size``, normalized by the train part's mean and std; test is a seeded,
    stratified ``DIGITS_TEST_FRACTION`` of the 1797 images."""
    images, labels = load_digit_images(img_size)
    train, _ = splits.holdout(labels, DIGITS_TEST_FRACTION, seed)
    mean, std = images[train].mean(), images[train].std()
    index = splits.select(split, labels, seed, DIGITS_TEST_FRACTION)
    x = torch.from_numpy((images[index] - mean) / std).unsqueeze(1)
    return ImageDataset(x, labels[index], index)


def read_cifar(name: str, root: Path, train: bool) -> tuple[np.ndarray, np.ndarray]:
    """Read a CIFAR binary split with numpy: uint8 images ``[N, 3, 32, 32]`` and int64 labels
    (the fine label for CIFAR-100)."""
    files = CIFAR[name]
    paths = [root / files.folder / f for f in (files.train if train else files.test)]
    records = [np.fromfile(p, dtype=np.uint8).reshape(-1, files.record_bytes) for p in paths]
    for path, part in zip(paths, records):
        labels = part[:, files.label_index]
        if len(labels) and labels.max() >= files.classes:
            bad = int(np.argmax(labels >= files.classes))
            raise ValueError(f"{path}: record {bad} has label {labels[bad]}, but {name} has {files.classes} "
                             f"classes (0-{files.classes - 1}); the file is damaged, download it again")
    raw = np.concatenate(records)
    images = raw[:, files.label_bytes:].reshape(-1, 3, 32, 32)
    return np.ascontiguousarray(images), raw[:, files.label_index].astype(np.int64)


class CifarTransform:
    """uint8 ``[3, 32, 32]`` -> normalized float; with ``augment``, first a random 32x32 crop of
    the image zero-padded by 4 and a horizontal flip with probability 1/2 (the standard CIFAR
    augmentation), drawn from torch's global generator."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], augment: bool, size: int):
        self.mean = torch.tensor(mean).view(3, 1, 1)
        self.std = torch.tensor(std).view(3, 1, 1)
        self.augment = augment
        self.size = size

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        x = image.float() / 255.0
        if self.augment:
            p = CIFAR_PADDING
            x = F.pad(x, (p, p, p, p))
            i, j = torch.randint(0, 2 * p + 1, (2,)).tolist()
            x = x[:, i:i + 32, j:j + 32]
            if torch.rand(()) < 0.5:
                x = x.flip(-1)
        return resize((x - self.mean) / self.std, self.size)


def cifar(name: str, split: str, *, root: Path, img_size: int, seed: int) -> ImageDataset:
    """CIFAR-10/100 from the official binary files; train and trainval samples are augmented."""
    images, labels = read_cifar(name, root, train=split != "test")
    index = splits.select(split, labels, seed)
    mean, std = CIFAR_STATS[name]
    transform = CifarTransform(mean, std, augment=split in ("train", "trainval"), size=img_size)
    return ImageDataset(torch.from_numpy(images[index]), labels[index], index, transform)


class GreyTransform:
    """uint8 ``[1, H, W]`` -> ``(x / 255 - mean) / std`` resized to ``size``; no augmentation."""

    def __init__(self, mean: float, std: float, size: int):
        self.mean, self.std, self.size = mean, std, size

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        return resize((image.float() / 255.0 - self.mean) / self.std, self.size)


def pixel_stats(images: np.ndarray) -> tuple[float, float]:
    """Mean and std of ``images``' pixels scaled to [0, 1] (Fashion-MNIST's training set: 0.286, 0.353)."""
    counts = np.bincount(images.reshape(-1), minlength=256)  # uint8 pixels: exact, and no float copy
    levels = np.arange(256) / 255.0
    mean = float(counts @ levels / counts.sum())
    std = float(np.sqrt(counts @ (levels - mean) ** 2 / counts.sum()))
    return mean, max(std, 1e-6)


def idx_images(name: str, split: str, *, root: Path, img_size: int, seed: int) -> ImageDataset:
    """MNIST or Fashion-MNIST from the IDX files in ``root/<folder>``, normalized by the training
    file's pixel mean and std; "val" is carved from the 60,000 training images like every set's."""
    from datasets import idx
    from datasets.files import SOURCES

    folder = root / SOURCES[name].folder
    train = idx.read_part(folder, "train")
    part = idx.read_part(folder, "test") if split == "test" else train
    index = splits.select(split, part.labels, seed)
    images = torch.from_numpy(part.images[index].copy()).unsqueeze(1)
    mean, std = pixel_stats(train.images)
    return ImageDataset(images, part.labels[index], index, GreyTransform(mean, std, img_size))
