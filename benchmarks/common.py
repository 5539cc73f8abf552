"""Shared bits of the benchmarks: medians of repeated timings and JSON results with context."""
from __future__ import annotations

import os
import platform
import statistics
import time
from pathlib import Path
from typing import Callable

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
