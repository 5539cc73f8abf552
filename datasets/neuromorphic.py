"""Neuromorphic datasets as ``[T, 2, H, W]`` float frames: the embedded ``ndigits`` (digits through
the event-camera emulator), ``nfashion`` (Fashion-MNIST through the same emulator) and tonic's
N-MNIST, DVSGesture and CIFAR10-DVS.

A frame is tonic's ``ToFrame`` with ``n_time_bins=T``: event counts per time bin and polarity
(channel 0 OFF, channel 1 ON), the bins spanning first to last event. Counts are kept as they are
(not clipped, not log-scaled); a frame resized to ``img_size`` is area-averaged when shrunk, so it
then holds mean counts per sensor pixel.
"""
from __future__ import annotations

import json
from dataclasses import asdict, fields
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset
from tqdm import tqdm

from datasets import emulator, splits
from datasets.cache import cache_dir, digest, write_atomic
from datasets.emulator import EmulatorConfig, EventBatch
from datasets.static import DIGITS_TEST_FRACTION, load_digit_images

NDIGITS_CONFIG = EmulatorConfig()
NDIGITS_DIGIT_SIZE = 28  # MNIST's digit size, as N-MNIST showed it to the sensor
NDIGITS_CACHE_FORMAT = "ndigits-events-1"
CIFAR10DVS_TEST_FRACTION = 0.1
NFASHION_CACHE_FORMAT = "nfashion-events-1"
# Images emulated (and cached) together: ~7 s and ~6 M events (~45 MB) each on one CPU thread.
NFASHION_CHUNK = 2000
EVENT_FIELDS = tuple(f.name for f in fields(EventBatch))
# On disk x and y fit a byte (the sensor is 34 px), which keeps the 70,000 recordings near 1.5 GB.
STORED_DTYPES = {"x": np.uint8, "y": np.uint8, "t": np.int32, "p": np.uint8, "offsets": np.int64}


def fit_frames(frames: torch.Tensor, size: int) -> torch.Tensor:
    """Resize ``[T, C, H, W]`` frames to ``size x size``: area-averaging to shrink, bilinear to grow."""
    if frames.shape[-2:] == (size, size):
        return frames
    if size < max(frames.shape[-2:]):
        return F.interpolate(frames, size=(size, size), mode="area")
    return F.interpolate(frames, size=(size, size), mode="bilinear", align_corners=False)


def to_frames(events: np.ndarray, sensor_size: tuple[int, int, int], time_steps: int, img_size: int) -> torch.Tensor:
    from tonic.transforms import ToFrame

    frames = ToFrame(sensor_size=sensor_size, n_time_bins=time_steps)(events)
    return fit_frames(torch.from_numpy(np.asarray(frames, dtype=np.float32)), img_size)


class EventFrames(Dataset):
    """Samples ``index`` of an event dataset as frames. Subclasses say how recording ``j`` is read and
    where, if anywhere, its frames are cached (one ``.npy`` file per recording)."""

    def __init__(self, labels: Sequence[int], index: np.ndarray, *, sensor_size: tuple[int, int, int],
                 time_steps: int, img_size: int):
        self.index = np.asarray(index, dtype=np.int64)
        self.labels = np.asarray(labels, dtype=np.int64)[self.index]
        self.sensor_size = sensor_size
        self.time_steps = time_steps
        self.img_size = img_size

    def read(self, j: int) -> np.ndarray:
        raise NotImplementedError

    def cache_path(self, j: int) -> Path | None:
        return None

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        j = int(self.index[i])
        path = self.cache_path(j)
        if path is not None and path.is_file():
            frames = torch.from_numpy(np.load(path))
        else:
            frames = to_frames(self.read(j), self.sensor_size, self.time_steps, self.img_size)
            if path is not None:
                write_atomic(path, lambda f: np.save(f, frames.numpy()))
        return frames, int(self.labels[i])


class NDigitFrames(EventFrames):
    """Frames of emulated recordings (an ``EventBatch`` or ``ChunkedEvents``), binned on each read
    (binning is cheap)."""

    def __init__(self, batch: "EventBatch | ChunkedEvents", labels: Sequence[int], index: np.ndarray, **frame_args):
        super().__init__(labels, index, **frame_args)
        self.batch = batch

    def read(self, j: int) -> np.ndarray:
        return self.batch.events(j)


class TonicFrames(EventFrames):
    """Frames of a tonic dataset's recordings, cached under ``folder`` by file path, size and mtime."""

    def __init__(self, base, index: np.ndarray, folder: Path, **frame_args):
        super().__init__(base.targets, index, **frame_args)
        self.base = base
        self.folder = folder

    def read(self, j: int) -> np.ndarray:
        return self.base[j][0]

    def cache_path(self, j: int) -> Path:
        source = Path(self.base.data[j]).resolve()
        stat = source.stat()
        return self.folder / f"{digest(str(source), str(stat.st_size), str(stat.st_mtime_ns))}.npy"


def ndigits_source() -> tuple[np.ndarray, np.ndarray]:
    """The emulator's input: the digits upsampled to ``NDIGITS_DIGIT_SIZE``, and their labels."""
    return load_digit_images(NDIGITS_DIGIT_SIZE)


def ndigits_events(data_root: str | Path | None = None,
                   config: EmulatorConfig = NDIGITS_CONFIG) -> tuple[EventBatch, np.ndarray]:
    """All 1797 digits' event recordings and labels, generated once and then read from the cache
    (``cache_dir("ndigits", data_root)``), keyed by the emulator settings and the source images."""
    images, labels = ndigits_source()
    key = digest(NDIGITS_CACHE_FORMAT, json.dumps(asdict(config), sort_keys=True), images.tobytes())
    path = cache_dir("ndigits", data_root) / f"events-{key}.npz"
    names = [f.name for f in fields(EventBatch)]
    if path.is_file():
        with np.load(path) as stored:
            return EventBatch(**{name: stored[name] for name in names}), labels
    batch = emulator.emulate(images, config)
    write_atomic(path, lambda f: np.savez(f, **{name: getattr(batch, name) for name in names}))
    return batch, labels


def ndigits(split: str, *, data_root: str | Path | None, time_steps: int, img_size: int, seed: int) -> NDigitFrames:
    """The emulated digits, split like ``digits`` (same seed, same samples)."""
    batch, labels = ndigits_events(data_root)
    index = splits.select(split, labels, seed, DIGITS_TEST_FRACTION)
    return NDigitFrames(batch, labels, index, sensor_size=NDIGITS_CONFIG.sensor_size,
                        time_steps=time_steps, img_size=img_size)


class ChunkedEvents:
    """Event recordings stored as chunks of ``chunk`` recordings, one folder of ``.npy`` files per
    chunk, memory-mapped: recording ``j`` lives in chunk ``j // chunk``."""

    def __init__(self, folders: Sequence[Path], chunk: int):
        self.chunk = chunk
        self.parts = [{name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in EVENT_FIELDS}
                      for folder in folders]

    def __len__(self) -> int:
        return sum(len(part["offsets"]) - 1 for part in self.parts)

    def events(self, j: int) -> np.ndarray:
        part = self.parts[j // self.chunk]
        lo, hi = part["offsets"][j % self.chunk], part["offsets"][j % self.chunk + 1]
        out = np.empty(hi - lo, dtype=emulator.EVENT_DTYPE)
        for name in emulator.EVENT_DTYPE.names:
            out[name] = part[name][lo:hi]
        return out


def _write_chunk(folder: Path, batch: EventBatch) -> None:
    """Each field as ``folder/<field>.npy``; ``offsets.npy`` last, so its presence marks a whole chunk."""
    for name in EVENT_FIELDS:
        array = getattr(batch, name).astype(STORED_DTYPES[name])
        write_atomic(folder / f"{name}.npy", lambda f, a=array: np.save(f, a))


def chunked_events(images: np.ndarray, folder: Path, config: EmulatorConfig = NDIGITS_CONFIG,
                   chunk: int = NFASHION_CHUNK, desc: str = "emulating events") -> ChunkedEvents:
    """The emulator's recordings of ``images`` (``[N, h, w]`` in [0, 1]), cached in ``folder``
    chunk by chunk: an interrupted run keeps its finished chunks and resumes after them."""
    n_chunks = -(-len(images) // chunk)
    chunks = [folder / f"chunk-{k:04d}" for k in range(n_chunks)]
    todo = [k for k, path in enumerate(chunks) if not (path / "offsets.npy").is_file()]
    for k in tqdm(todo, desc=desc, unit="chunk", disable=None if todo else True):
        _write_chunk(chunks[k], emulator.emulate(images[k * chunk:(k + 1) * chunk], config))
    return ChunkedEvents(chunks, chunk)


def nfashion_events(part: str, *, root: Path, cache_root: str | Path | None = None,
                    config: EmulatorConfig = NDIGITS_CONFIG, chunk: int = NFASHION_CHUNK
                    ) -> tuple[ChunkedEvents, np.ndarray]:
    """Events and labels of Fashion-MNIST's ``part`` ("train" or "test", read from
    ``root/fashion-mnist``), emulated once into ``cache_dir("nfashion", cache_root)``: the cache
    key covers the emulator settings, the chunk size and the source images."""
    from datasets import idx
    from datasets.files import SOURCES

    source = idx.read_part(root / SOURCES["fashion-mnist"].folder, part)
    key = digest(NFASHION_CACHE_FORMAT, json.dumps(asdict(config), sort_keys=True), str(chunk),
                 source.images.tobytes())
    folder = cache_dir("nfashion", cache_root) / f"{part}-{key}"
    images = source.images.astype(np.float32) / 255.0
    return chunked_events(images, folder, config, chunk, desc=f"nfashion: emulating the {part} images"), source.labels


def nfashion(split: str, *, root: Path, cache_root: str | Path | None, time_steps: int, img_size: int,
             seed: int) -> NDigitFrames:
    """Fashion-MNIST through the emulator (N-MNIST's recipe, like ``ndigits``), split like ``fashion-mnist``."""
    events, labels = nfashion_events("test" if split == "test" else "train", root=root, cache_root=cache_root)
    index = splits.select(split, labels, seed)
    return NDigitFrames(events, labels, index, sensor_size=NDIGITS_CONFIG.sensor_size,
                        time_steps=time_steps, img_size=img_size)


def tonic_dataset(name: str, split: str, *, root: Path, time_steps: int, img_size: int, seed: int) -> TonicFrames:
    """One of tonic's sets read from ``root``; frames are cached under ``cache_dir("frames-<name>", root)``."""
    from datasets import tonic_sets

    reader = tonic_sets.READERS[name]
    if name == "cifar10dvs":
        tonic_sets.require_aedat()
        base = reader(str(root))
        index = splits.select(split, base.targets, seed, CIFAR10DVS_TEST_FRACTION)
    else:
        base = reader(str(root), train=split != "test")
        index = splits.select(split, base.targets, seed)
    folder = cache_dir(f"frames-{name}", root) / f"T{time_steps}-S{img_size}"
    return TonicFrames(base, index, folder, sensor_size=reader.sensor_size, time_steps=time_steps, img_size=img_size)
