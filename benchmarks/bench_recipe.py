"""The papers' augmentation on the embedded datasets: accuracy with and without it, and its cost.

    PYTHONPATH=. .venv/bin/python -m benchmarks.bench_recipe [--datasets digits ndigits] [--epochs 10] [--seeds 0 1]

For each dataset and seed, one architecture is trained twice at the same epochs and seed: with no
augmentation (the ``embedded`` recipe, the default) and with the papers' recipe adapted to the data
(digits: ``cifar`` without its flip, as digits are not mirror-symmetric; ndigits: ``dvs`` without its
flip). The augmentation's share of a training epoch is the time of the batch pipeline alone over
one epoch's batches, against the augmented run's median epoch time (both on one CPU thread).
Writes benchmarks/results/recipe_cpu.json (recipe_cpu_TAG.json with --tag).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import torch
from torch.utils.data import DataLoader

from autost.arch import Arch
from autost.augment import make_augment
from autost.train import TrainConfig, train
from benchmarks.common import write_result
from datasets import dataset_info, get_dataset

ARCH = Arch(1, 32, (4,), (4,))
RECIPE = {"digits": ("cifar", {"hflip": 0.0}), "ndigits": ("dvs", {"hflip": 0.0})}


def augmentation_seconds(config: TrainConfig, repeats: int) -> float:
    """Median seconds that the batch pipeline alone takes over one epoch of the train split."""
    _, recipe = config.augmentation()
    kind = dataset_info(config.dataset).kind
    augment = make_augment(recipe, kind, dataset_info(config.dataset).num_classes, config.epochs)
    data = get_dataset(config.dataset, "train", time_steps=config.time_steps, seed=config.seed)
    batches = list(DataLoader(data, batch_size=config.batch_size))
    times = []
    torch.manual_seed(0)
    for _ in range(repeats):
        start = time.perf_counter()
        for x, y in batches:
            augment(x, y, 1)  # epoch 1: mixing is on, the costliest case
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(dataset: str, recipe: str, aug: dict, epochs: int, seed: int) -> dict:
    config = TrainConfig.for_dataset(dataset, epochs=epochs, seed=seed, device="cpu", recipe=recipe, aug=aug)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as out:
        metrics = train(ARCH, config, out, log=lambda line: print(line, file=sys.stderr, flush=True))
    return {"recipe": metrics["recipe"], "test_acc": metrics["test_acc"], "best_val_acc": metrics["best_val_acc"],
            "final_train_acc": metrics["epochs"][-1]["train_acc"],
            "epoch_s_median": statistics.median(e["time_s"] for e in metrics["epochs"]),
            "wall_s": time.perf_counter() - start, "config": config}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["digits", "ndigits"], choices=sorted(RECIPE))
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--repeats", type=int, default=3, help="timings of the augmentation pass")
    parser.add_argument("--tag", help="write recipe_cpu_TAG.json (keeps other runs' results)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    results = []
    for dataset in args.datasets:
        name, aug = RECIPE[dataset]
        for seed in args.seeds:
            plain = run(dataset, "embedded", {}, args.epochs, seed)
            augmented = run(dataset, name, aug, args.epochs, seed)
            aug_s = augmentation_seconds(augmented.pop("config"), args.repeats)
            plain.pop("config")
            entry = {"dataset": dataset, "seed": seed, "epochs": args.epochs, "without": plain, "with": augmented,
                     "augment_s_per_epoch": aug_s, "augment_share_of_epoch": aug_s / augmented["epoch_s_median"]}
            results.append(entry)
            print(f"{dataset} seed {seed}: test {plain['test_acc']:.2%} without, {augmented['test_acc']:.2%} with "
                  f"{name}{aug}; augmentation {aug_s:.2f} s of a {augmented['epoch_s_median']:.1f} s epoch "
                  f"({entry['augment_share_of_epoch']:.1%})", flush=True)
    path = write_result("recipe_cpu" + (f"_{args.tag}" if args.tag else ""), {
        "arch": ARCH.short(), "device": "cpu", "torch_threads": 1, "runs": results,
        "note": "shared 2-core machine: epoch times are noisy; accuracy runs are deterministic on the CPU",
        "load_average_1min": os.getloadavg()[0],
    })
    print(f"-> {path}")


if __name__ == "__main__":
    main()
