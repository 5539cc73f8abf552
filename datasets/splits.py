"""Seeded, stratified train / val / test splits.

Indices come in a stratified random order: every prefix of a split holds each class in about its
share of the split, so the first n samples of any split are a fair small sample.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

SPLITS = ("train", "val", "test", "trainval")
VAL_FRACTION = 0.1


def check_split(split: str) -> None:
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known splits: {', '.join(SPLITS)}")


def stratified_order(labels: Sequence[int], seed: int, stream: int = 0) -> np.ndarray:
    """A seeded permutation of ``range(len(labels))``: each member of a class of size m gets a random key
    in its own stratum ``[j/m, (j+1)/m)`` (j a random rank), and indices are sorted by key."""
    labels = np.asarray(labels)
    rng = np.random.default_rng([seed, stream])
    key = np.empty(len(labels))
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        key[members] = (rng.permutation(len(members)) + rng.random(len(members))) / len(members)
    return np.argsort(key, kind="stable")


def holdout(labels: Sequence[int], fraction: float, seed: int, stream: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(len(labels))`` into (rest, held out) with ``round(fraction * n)`` held out,
    each class giving about ``fraction`` of its members."""
    order = stratified_order(labels, seed, stream)
    n_held = int(round(fraction * len(labels)))
    return order[n_held:], order[:n_held]


def select(split: str, labels: Sequence[int], seed: int, test_fraction: float | None = None) -> np.ndarray:
    """Indices of ``split``.

    With ``test_fraction``, ``labels`` cover the whole dataset and test is that seeded fraction of it.
    Without, the dataset has its own test set and ``labels`` are those of the part asked for (the test
    set's for "test", the training set's otherwise). "val" is ``VAL_FRACTION`` of the training part,
    "train" the rest of it (they never overlap) and "trainval" all of it.
    """
    check_split(split)
    labels = np.asarray(labels)
    if test_fraction is None:
        part = stratified_order(labels, seed, stream=2)
    else:
        train, test = holdout(labels, test_fraction, seed)
        part = test if split == "test" else train
    if split in ("test", "trainval"):
        return part
    rest, val = holdout(labels[part], VAL_FRACTION, seed, stream=1)
    return part[rest] if split == "train" else part[val]
