"""The short-training proxy of trained energy: each study architecture's energy after a few steps.

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python -m benchmarks.short_training_energy \
        --studies digits ndigits fashion-mnist --steps 20 40 [--limit-archs N]

For every architecture of the committed study ``benchmarks/results/correlate_energy_<name>``
and every ``--steps S``: a run of the study's own recipe (same dataset, batch size, seed, time
steps, energy model) for one epoch on the first ``S x batch`` training samples, i.e. S optimizer
steps with the cosine schedule over those steps, then the energy of its best checkpoint on the
first test batch, as ``train`` records the study's trained energy (``trained_energy_mj``), twice:
as ``train`` leaves it (``energy_mj``), and after BatchNorm's running statistics are recomputed
as a plain average over ``RECALIBRATION_BATCHES`` training batches (``recalibrated_mj``): after
so few steps the running statistics still hold most of their initial values (momentum 0.1:
0.9^20 = 12% left), and in eval mode the network can fall silent (every layer after the first
conv at rate 0); recomputed, they let the briefly trained network be evaluated in eval mode.
The studies themselves trained 120-125 steps (3 epochs of 640 samples, 2 of 1000 on
fashion-mnist, batch 16), so S = 20 and 40 are a sixth and a third of that.

Resumable: ``benchmarks/results/short_training_energy.json`` is rewritten (atomically) after
every architecture and a rerun skips what it holds. Run folders go to a temporary directory.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

from tqdm import tqdm

import torch
from torch import nn

from autost.arch import Arch
from autost.checkpoint import load_checkpoint
from autost.correlate import StudyConfig, geometry_of, train_config
from autost.model import build_model
from autost.train import load_splits, make_loader, train
from energy.measure import measure_network
from benchmarks.common import RESULTS, write_result

NAME = "short_training_energy"
RECALIBRATION_BATCHES = 20


def study_config(name: str) -> tuple[StudyConfig, list[dict]]:
    """The committed study ``name``'s settings (its space inline) and its table."""
    data = json.loads((RESULTS / f"correlate_energy_{name}" / "correlate.json").read_text())
    settings = dict(data["settings"])
    settings.pop("space")  # the content; train_config needs none of it
    settings["param_limits"] = tuple(settings["param_limits"]) if settings["param_limits"] else None
    return StudyConfig(space="", **settings), data["table"]


@torch.no_grad()
def recalibrated_energy(arch: Arch, config: StudyConfig, checkpoint: Path) -> float:
    """Energy (mJ per sample) of ``checkpoint`` on the study's first test batch, BatchNorm's running
    statistics recomputed over the first training batches of the study's split."""
    train_cfg = train_config(config, resume=False)
    model = build_model(arch, **geometry_of(config).model_kwargs())
    model.load_state_dict(load_checkpoint(checkpoint)["model"])
    for module in model.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.reset_running_stats()
            module.momentum = None  # a plain average over the batches below
    splits = load_splits(train_cfg, geometry_of(config))
    model.train()
    for i, (x, _) in enumerate(make_loader(splits["train"], train_cfg, torch.device("cpu"), shuffle_seed=None)):
        if i == RECALIBRATION_BATCHES:
            break
        model(x)
    model.eval()
    x, _ = next(iter(make_loader(splits["test"], train_cfg, torch.device("cpu"), shuffle_seed=None)))
    return measure_network(model, x, config.energy_model).total_mj


def short_energy(arch: Arch, config: StudyConfig, steps: int, work: Path) -> tuple[float, float, float]:
    """(energy as trained, energy recalibrated, both in mJ per sample; seconds) after ``steps``
    optimizer steps of ``config``'s recipe."""
    short = dataclasses.replace(config, epochs=1, limit=steps * config.train_batch_size)
    start = time.perf_counter()
    metrics = train(arch, train_config(short, resume=False), work)
    recalibrated = recalibrated_energy(arch, config, work / "best.pt")
    return metrics["energy_mj"], recalibrated, time.perf_counter() - start


def protocol() -> str:
    """The protocol paragraph of this docstring, as one line with its constants filled in."""
    text = __doc__.split("\n\n")[2].replace("\n", " ")
    return text.replace("``RECALIBRATION_BATCHES``", str(RECALIBRATION_BATCHES))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", nargs="+", default=["digits", "ndigits", "fashion-mnist"])
    parser.add_argument("--steps", type=int, nargs="+", default=[20, 40])
    parser.add_argument("--limit-archs", type=int, help="only the first N architectures of each study")
    args = parser.parse_args()
    path = RESULTS / f"{NAME}.json"
    result = json.loads(path.read_text()) if path.exists() else {"studies": {}}
    result["protocol"] = protocol()
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.studies:
            config, table = study_config(name)
            rows = table[: args.limit_archs] if args.limit_archs else table
            study = result["studies"].setdefault(name, {})
            for steps in args.steps:
                done = study.setdefault(str(steps), {"energy_mj": {}, "recalibrated_mj": {}, "seconds": {}})
                for row in tqdm(rows, desc=f"{name} {steps} steps", unit="arch"):
                    label = row["label"]
                    if label in done["energy_mj"]:
                        continue
                    work = Path(tmp) / f"{name}_{steps}_{row['index']:03d}"
                    arch = Arch.from_dict({"RETRAIN": row["arch"]})
                    energy, recalibrated, seconds = short_energy(arch, config, steps, work)
                    done["energy_mj"][label], done["recalibrated_mj"][label] = energy, recalibrated
                    done["seconds"][label] = seconds
                    write_result(NAME, result)
    print(f"-> {path}")


if __name__ == "__main__":
    main()
