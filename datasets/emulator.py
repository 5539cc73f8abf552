"""An event-camera (DVS) emulator that turns still images into event streams, N-MNIST style.

N-MNIST (Orchard et al., "Converting static image datasets to spiking neuromorphic datasets
using saccades", Front. Neurosci. 9:437, 2015) was recorded by moving an ATIS sensor in three
~100 ms saccades along a triangle in front of MNIST digits, cropped to 34x34 pixels. Here the
image moves instead of the sensor, over the same kind of path (``saccade_path``); each pixel keeps
a reference log intensity and emits an ON (p=1) or OFF (p=0) event when the log intensity has
moved by its contrast threshold since its last event, after which the reference is reset to the
current level. Thresholds vary a little from pixel to pixel (a fixed, seeded mismatch map, like a
real sensor's). Event times are interpolated linearly inside the emulator time step at which the
crossing happens.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

# The event dtype of tonic 1.7.0's NMNIST dataset (fields x, y, t, p; t in microseconds).
EVENT_DTYPE = np.dtype([("x", int), ("y", int), ("t", int), ("p", int)])


@dataclass(frozen=True)
class EmulatorConfig:
    """Emulator settings. The saccades follow N-MNIST's timing (tonic's N-MNIST ``stabilize`` undoes
    three 105 ms legs of 3.5-7 px); the 6 px extent keeps a 28 px digit inside the 34 px sensor. With
    these defaults a digit gives about 2,000-3,700 events (mean about 2,900)."""

    sensor: int = 34                 # square sensor side in pixels (N-MNIST's 34x34)
    saccade_us: int = 100_000        # duration of each of the three saccades
    amplitude: float = 6.0           # path extent in pixels: (0,0) -> (A/2, A) -> (A, 0) -> (0,0)
    step_us: int = 1_000             # emulator time step
    threshold: float = 0.3           # contrast threshold on log intensity
    threshold_mismatch: float = 0.05  # relative std of the per-pixel thresholds
    dark_level: float = 0.4          # intensity added before the log (black is not zero light)
    seed: int = 0                    # seeds the threshold mismatch map

    @property
    def duration_us(self) -> int:
        return 3 * self.saccade_us

    @property
    def sensor_size(self) -> tuple[int, int, int]:
        """tonic's (x, y, polarities) sensor size."""
        return (self.sensor, self.sensor, 2)


@dataclass(frozen=True)
class EventBatch:
    """Events of many recordings packed in flat arrays; recording i is ``[offsets[i], offsets[i+1])``,
    sorted by time."""

    x: np.ndarray
    y: np.ndarray
    t: np.ndarray
    p: np.ndarray
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def counts(self) -> np.ndarray:
        return np.diff(self.offsets)

    def events(self, i: int) -> np.ndarray:
        """Recording ``i`` as a tonic structured array (``EVENT_DTYPE``)."""
        lo, hi = self.offsets[i], self.offsets[i + 1]
        out = np.empty(hi - lo, dtype=EVENT_DTYPE)
        for name in EVENT_DTYPE.names:
            out[name] = getattr(self, name)[lo:hi]
        return out


def saccade_path(config: EmulatorConfig) -> np.ndarray:
    """Image offset ``(dx, dy)`` in pixels at each emulator step, shape ``[steps + 1, 2]``: three
    straight saccades along a triangle, each taking ``saccade_us``."""
    a = config.amplitude
    vertices = np.array([[0.0, 0.0], [a / 2, a], [a, 0.0], [0.0, 0.0]])
    position = np.arange(config.duration_us // config.step_us + 1) * config.step_us / config.saccade_us
    leg = np.minimum(position.astype(int), 2)
    frac = (position - leg)[:, None]
    return vertices[leg] + frac * (vertices[leg + 1] - vertices[leg])


def render(images: torch.Tensor, offset: np.ndarray, sensor: int) -> torch.Tensor:
    """Intensity seen by the sensor: ``images`` ``[N, h, w]`` placed at sub-pixel ``offset`` (x, y) on a
    black ``sensor x sensor`` field, by bilinear interpolation."""
    n, h, w = images.shape
    (ix, fx), (iy, fy) = ((int(np.floor(v)), float(v - np.floor(v))) for v in offset)
    canvas = images.new_zeros((n, sensor, sensor))
    for ox, oy, weight in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)),
                           (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        if weight:
            canvas[:, iy + oy:iy + oy + h, ix + ox:ix + ox + w].add_(images, alpha=weight)
    return canvas


def emulate(images: np.ndarray, config: EmulatorConfig = EmulatorConfig()) -> EventBatch:
    """Record ``images`` (``[N, h, w]`` intensities in [0, 1]) moving along ``saccade_path``.

    All images are simulated together, one emulator step at a time, with torch on one thread: each
    step's tensors are small (N x 34 x 34), and a second thread slowed generation several-fold
    whenever another process shared the cores."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _emulate(images, config)
    finally:
        torch.set_num_threads(previous)


def _emulate(images: np.ndarray, config: EmulatorConfig) -> EventBatch:
    n, h, w = np.shape(images)
    if max(h, w) + int(np.ceil(config.amplitude)) > config.sensor:
        raise ValueError(f"{h}x{w} images moving {config.amplitude} px do not fit a {config.sensor}px sensor")
    images = torch.as_tensor(np.asarray(images, dtype=np.float32))
    side = config.sensor
    rng = np.random.default_rng(config.seed)
    threshold = torch.from_numpy((config.threshold * np.clip(
        1 + config.threshold_mismatch * rng.standard_normal(side * side), 0.5, None)).astype(np.float32))
    path = saccade_path(config)

    def log_intensity(offset: np.ndarray) -> torch.Tensor:
        return torch.log(render(images, offset, side).add_(config.dark_level)).view(-1)

    pixels = side * side
    threshold = threshold.repeat(n)
    log_prev = log_intensity(path[0])
    reference = log_prev.clone()
    chunks = []
    for step in range(1, len(path)):
        log_now = log_intensity(path[step])
        flat = torch.nonzero((log_now - reference).abs_() >= threshold).squeeze(1)
        if len(flat):
            ref, now = reference[flat], log_now[flat]
            before, now = log_prev[flat] - ref, now - ref
            # |before| < threshold <= |now|, so the crossing lies inside this step
            frac = ((torch.sign(now) * threshold[flat] - before) / (now - before)).clamp_(0.0, 1.0 - 1e-6)
            t = ((step - 1 + frac.double()) * config.step_us).long()
            sample, pixel = flat // pixels, flat % pixels
            chunks.append(tuple(a.numpy() for a in (sample, pixel % side, pixel // side, t, now > 0)))
            reference[flat] = log_now[flat]
        log_prev = log_now
    return _pack(chunks, n)


def _pack(chunks: list[tuple[np.ndarray, ...]], n: int) -> EventBatch:
    if not chunks:
        chunks = [tuple(np.zeros(0, dtype=np.int64) for _ in range(5))]
    sample, x, y, t, p = (np.concatenate(parts) for parts in zip(*chunks))
    order = np.lexsort((t, sample))
    offsets = np.searchsorted(sample[order], np.arange(n + 1))
    return EventBatch(x=x[order].astype(np.uint16), y=y[order].astype(np.uint16), t=t[order].astype(np.int32),
                      p=p[order].astype(np.uint8), offsets=offsets.astype(np.int64))
