"""Time of the energy estimate under each energy model against a plain forward pass.

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python -m benchmarks.bench_energy_models [--repeats 15]

One small freshly initialized architecture (as a search meets it: BatchNorm on the batch's
statistics) at the digits shape (real digits batch) and the CIFAR shape (a seeded random batch
of the same size), T 4. In each repeat the forward pass and every model run back to back, so
all see the same machine load; the medians over the repeats and each model's ratio to the
forward pass go to benchmarks/results/energy_models.json.
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch

from autost.arch import Arch
from autost.batches import real_batch
from autost.geometry import Geometry
from autost.model import build_model
from benchmarks.common import write_result
from autost.batchnorm import batchnorm_mode
from energy.measure import measure_network
from energy.models import MODELS

ARCH = Arch(2, 64, (4, 4), (4, 4))
SHAPES = {"digits": Geometry(1, 16, 4, 10, 4), "cifar": Geometry(3, 32, 4, 10, 4)}


def _batch(shape: str, geometry: Geometry, size: int) -> torch.Tensor:
    if shape == "digits":
        return real_batch("digits", batch_size=size, time_steps=geometry.time_steps, seed=0)
    return torch.rand(size, geometry.in_channels, geometry.img_size, geometry.img_size,
                      generator=torch.Generator().manual_seed(0))


def _seconds(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def bench_shape(shape: str, batch_size: int, repeats: int) -> dict:
    geometry = SHAPES[shape]
    torch.manual_seed(0)
    model = build_model(ARCH, **geometry.model_kwargs())
    x = _batch(shape, geometry, batch_size)

    def forward():
        with batchnorm_mode(model, use_batch_stats=True), torch.no_grad():
            model(x)

    runs = {"forward": forward, **{name: (lambda name=name: measure_network(model, x, name)) for name in MODELS}}
    for fn in runs.values():  # warm-up: first calls pay for dispatch tables and allocations
        fn()
    times: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, fn in runs.items():
            times[name].append(_seconds(fn))
    medians = {name: statistics.median(t) for name, t in times.items()}
    return {
        "geometry": geometry.model_kwargs(), "batch_size": batch_size,
        "median_s": medians,
        "ratio_to_forward": {name: medians[name] / medians["forward"] for name in MODELS},
        "seconds": times,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32, help="the search's default batch")
    args = parser.parse_args()
    torch.set_num_threads(1)
    result = {"arch": ARCH.short(), "repeats": args.repeats, "target": "spikformer-45nm within 1.3x a forward pass",
              "note": "shared 2-core machine (other jobs running); ratios come from one interleaved run",
              "shapes": {shape: bench_shape(shape, args.batch_size, args.repeats) for shape in SHAPES}}
    path = write_result("energy_models", result)
    for shape, r in result["shapes"].items():
        ratios = ", ".join(f"{name} {ratio:.2f}x" for name, ratio in r["ratio_to_forward"].items())
        print(f"{shape}: forward {1e3 * r['median_s']['forward']:.1f} ms; {ratios}")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
