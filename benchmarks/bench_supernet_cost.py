"""The supernet's cost against training one network: wall time of `run.py supernet train` at its
default settings, and of training the space's largest and median networks for the same number
of epochs on the same data, one torch thread, one after another in one process.

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_supernet_cost [--space spaces/digits.yaml]

The supernet's default run (200 steps of batch 32, T 4) draws 6,400 training samples per
candidate pass, four passes a step (the sandwich rule: largest, smallest, two random); a network
is trained at the same batch size and T for the whole epochs nearest to those 6,400 samples
(``autost.train.train``: the project's training loop, validation after every epoch and the final
test and energy included, as `run.py train` runs it). The median network is the one of median
closed-form MACs among 101 seeded samples of the space. Each is timed by the process's CPU time
(one thread: the time on one core, which other work on a shared machine barely changes) and by
the wall clock (which it does: ``machine.load_average_1min``). Writes
benchmarks/results/supernet_cost.json; ``supernet_over_network`` holds the ratios.
"""
from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import torch

from autost.arch import Arch
from autost.cost import analytic_cost
from autost.space import SearchSpace
from autost.supernet import RANDOM_PER_STEP, SupernetConfig, largest, train_supernet
from autost.train import TrainConfig, load_splits, train
from benchmarks.common import write_result

SAMPLES_FOR_MEDIAN = 101


def median_network(space: SearchSpace, config: SupernetConfig) -> Arch:
    """The arch of median closed-form MACs among ``SAMPLES_FOR_MEDIAN`` seeded samples of ``space``."""
    rng = random.Random(0)
    kwargs = config.geometry().model_kwargs()
    archs = sorted((space.sample(rng) for _ in range(SAMPLES_FOR_MEDIAN)),
                   key=lambda arch: analytic_cost(arch, **kwargs).macs)
    return archs[len(archs) // 2]


def timed(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    """``fn()``, its wall time and its process CPU time in seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def train_one(arch: Arch, config: TrainConfig, space: SearchSpace, kwargs: dict) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as out:
        metrics, wall, cpu = timed(lambda: train(arch, config, Path(out)))
    return {"arch": arch.short(), "macs": analytic_cost(arch, **kwargs).macs, "params": metrics["params"],
            "epochs": config.epochs, "batch_size": config.batch_size, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "epoch_time_s": round(sum(e["time_s"] for e in metrics["epochs"]), 2),
            "best_val_acc": metrics["best_val_acc"], "in_space": space.contains(arch)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--space", default="spaces/digits.yaml", help="search space (default spaces/digits.yaml)")
    parser.add_argument("--dataset", default="digits", help="dataset (default digits)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    config = SupernetConfig(space=args.space, dataset=args.dataset)  # `run.py supernet train`'s defaults
    space = SearchSpace.from_yaml(args.space)
    kwargs = config.geometry().model_kwargs()
    train_config = TrainConfig.for_dataset(args.dataset, batch_size=config.batch_size, time_steps=config.time_steps,
                                           device="cpu")
    train_size = len(load_splits(train_config, config.geometry())["train"])
    samples = config.steps * config.batch_size
    epochs = max(1, round(samples / train_size))
    train_config = TrainConfig.for_dataset(args.dataset, epochs=epochs, batch_size=config.batch_size,
                                           time_steps=config.time_steps, device="cpu")
    with tempfile.TemporaryDirectory() as out:
        summary, wall, cpu = timed(lambda: train_supernet(config, Path(out), progress=False))
    supernet = {"steps": config.steps, "batch_size": config.batch_size, "passes_per_step": 2 + RANDOM_PER_STEP,
                "samples_per_pass": samples, "epochs_equivalent": round(samples / train_size, 3),
                "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "elapsed_s": summary["elapsed_s"],
                "largest": summary["largest"], "smallest": summary["smallest"]}
    networks = {"largest": train_one(largest(space), train_config, space, kwargs),
                "median": train_one(median_network(space, config), train_config, space, kwargs)}
    ratios = {clock: {name: round(supernet[clock] / net[clock], 2) for name, net in networks.items()}
              for clock in ("cpu_s", "wall_s")}
    path = write_result("supernet_cost", {
        "command": "OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.bench_supernet_cost"
                   + ("" if args.space == "spaces/digits.yaml" else f" --space {args.space}"),
        "space": args.space, "dataset": args.dataset, "train_samples": train_size, "time_steps": config.time_steps,
        "supernet": supernet, "networks": networks,
        "supernet_over_network": ratios})
    print(f"CPU time: supernet {supernet['cpu_s']:.0f} s; largest {networks['largest']['arch']} "
          f"{networks['largest']['cpu_s']:.0f} s (supernet x{ratios['cpu_s']['largest']}); median "
          f"{networks['median']['arch']} {networks['median']['cpu_s']:.0f} s (x{ratios['cpu_s']['median']}) -> {path}")


if __name__ == "__main__":
    main()
