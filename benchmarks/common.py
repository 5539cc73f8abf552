"""Shared bits of the benchmarks: medians of repeated timings and JSON results with context."""
from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Callable

import torch

from autost.io import atomic_write_json

RESULTS = Path(__file__).resolve().parent / "results"


def median_seconds(fn: Callable[[], object], repeats: int) -> tuple[float, list[float]]:
    """Median wall time of ``fn`` over ``repeats`` calls, and every timing."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times


def machine() -> dict:
    return {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        # other work on a shared machine slows every wall time: the load when the result was written
        "load_average_1min": os.getloadavg()[0],
    }


def write_result(name: str, data: dict) -> Path:
    path = RESULTS / f"{name}.json"
    atomic_write_json(path, {"machine": machine(), **data})
    return path


def train_step_seconds(model: Any, geometry: Any, batch: int, clock: Callable[[], float] = time.perf_counter) -> float:
    """One training step of ``model`` (AdamW, cross-entropy, a random batch of ``batch`` images of
    ``geometry``) by ``clock``: the median of the three steps after a warm-up one. On a shared
    machine ``time.process_time`` (this process's CPU time, on one torch thread) is the steadier clock."""
    from spikingjelly.activation_based import functional

    shape = (batch, geometry.in_channels, geometry.img_size, geometry.img_size)
    x, y = torch.rand(shape), torch.randint(0, geometry.num_classes, (batch,))
    optimizer = torch.optim.AdamW(model.parameters(), 1e-3)
    times = []
    for _ in range(4):
        start = clock()
        loss = torch.nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        functional.reset_net(model)
        times.append(clock() - start)
    return sorted(times[1:])[1]
