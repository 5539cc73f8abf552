"""Training a found architecture: AdamW, warm-up + cosine schedule, label smoothing, the dataset's
augmentation recipe (``autost.recipes``), fp16 AMP on CUDA, resumable checkpoints, and the trained
network's accuracy and spike energy.

``train(arch, TrainConfig.for_dataset("digits"), out_dir)`` writes ``last.pt`` and ``best.pt`` (by
validation accuracy) into ``out_dir`` after every epoch and ``metrics.json`` at the end, and
returns the metrics. Accuracies are fractions in [0, 1]. On the CPU a resumed run ends with exactly the metrics of an
uninterrupted one: the data order depends only on (seed, epoch) and every random generator's
state travels in the checkpoint.
"""
from __future__ import annotations

import math
import random
import sys
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from spikingjelly.activation_based.functional import neuron_implementation
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm import tqdm

from autost import distributed, recipes
from autost.arch import Arch
from autost.augment import BatchAugment, make_augment
from autost.checkpoint import (CheckpointError, check_compatible, describe, load_checkpoint, load_weights,
                               nonfinite_tensors, require_finite, rng_state, save_checkpoint, set_rng_state)
from autost.cost import analytic_cost, count_params
from autost.errors import BadInput, UsageError
from autost.geometry import Geometry, resolve_geometry
from autost.io import atomic_write_json
from autost.memory import check_fits
from autost.model import build_model
from autost.options import check_fields, default
from autost.rundir import claim
from autost.schedule import warmup_cosine
from autost.tables.train import TRAIN
from autost.threads import current_threads
from datasets import dataset_info, get_dataset
from datasets import training as training_defaults
from energy.measure import measure_network
from energy.record import EnergyRecord
from energy.models import DEFAULT_MODEL, get_model

LAST, BEST, METRICS = "last.pt", "best.pt", "metrics.json"


class TrainingError(UsageError):
    """Training cannot go on (the loss diverged); the last good checkpoint is kept."""


# A TrainConfig built without a dataset's defaults (``TrainConfig(dataset=...)``) has AutoST's CIFAR
# recipe; ``TrainConfig.for_dataset`` starts from the dataset's own (``datasets.training``).
AUTOST_DEFAULTS = training_defaults.CIFAR
# The settings a dataset's defaults give a run (its augmentation is resolved by autost.recipes).
SCHEDULE = ("epochs", "batch_size", "lr", "weight_decay", "warmup_epochs", "label_smoothing", "time_steps",
            "drop_path")


# Settings a resumed run must share with the checkpoint: they shape the result. Device,
# backend, AMP, workers and the data root may change between sessions; so may the learning
# rate when it is given anew (``TrainConfig.change_lr``: a diverged run continues slower).
MUST_MATCH = ("epochs", "batch_size", "lr", "weight_decay", "warmup_epochs", "label_smoothing",
              "time_steps", "seed", "limit", "recipe", "aug", "drop_path", "init_weights")


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run needs besides the architecture. Field defaults are AutoST's
    recipe; ``for_dataset`` starts from the dataset's own recipe instead."""

    dataset: str
    epochs: int = AUTOST_DEFAULTS.epochs
    batch_size: int = AUTOST_DEFAULTS.batch_size
    lr: float = AUTOST_DEFAULTS.lr
    weight_decay: float = AUTOST_DEFAULTS.weight_decay
    warmup_epochs: int = AUTOST_DEFAULTS.warmup_epochs
    label_smoothing: float = AUTOST_DEFAULTS.label_smoothing
    time_steps: int = AUTOST_DEFAULTS.time_steps
    drop_path: float = AUTOST_DEFAULTS.drop_path
    data_root: str | None = None
    device: str = default(TRAIN, "device")  # auto: CUDA when available
    backend: str = default(TRAIN, "backend")  # LIF implementation on CUDA (autost.backend)
    amp: bool = False  # fp16 autocast + GradScaler; CUDA only
    seed: int = default(TRAIN, "seed")
    limit: int | None = None  # train/evaluate on the first N samples of each split
    num_workers: int = default(TRAIN, "num_workers")
    # stop once validation accuracy has not improved for this many epochs (None: run every epoch)
    patience: int | None = None
    energy_model: str = DEFAULT_MODEL  # the model of the final energy (energy.models)
    resume: bool = False
    change_lr: bool = False  # on resume, ``lr`` replaces the checkpoint's (recorded in metrics.json)
    init_weights: str | None = None  # a checkpoint of ours (run.py import's too) to start from
    recipe: str = default(TRAIN, "recipe")  # augmentation recipe (autost.recipes); auto: the dataset's
    aug: dict[str, Any] = field(default_factory=dict)  # recipe keys overridden

    @classmethod
    def for_dataset(cls, dataset: str, **overrides: Any) -> "TrainConfig":
        """The dataset's training defaults (its registration's) with ``overrides`` applied; a ``None``
        override keeps the default. A warm-up shrinks to at most half of fewer ``epochs`` unless it
        is given too. An unknown dataset starts from AutoST's CIFAR recipe (and is refused later,
        naming the datasets)."""
        try:
            defaults = dataset_info(dataset).training
        except ValueError:
            defaults = AUTOST_DEFAULTS
        values = {name: getattr(defaults, name) for name in SCHEDULE}
        given = {k: v for k, v in overrides.items() if v is not None}
        values.update(given)
        if "warmup_epochs" not in given:
            values["warmup_epochs"] = min(values["warmup_epochs"], values["epochs"] // 2)
        return cls(dataset=dataset, **values)

    def __post_init__(self) -> None:
        for name in ("data_root", "init_weights"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, str(getattr(self, name)))
        check_fields(self, TRAIN)  # each setting's check, from its option
        if self.warmup_epochs > self.epochs:
            raise BadInput(f"--warmup-epochs must be between 0 and --epochs ({self.epochs}), got {self.warmup_epochs}")
        get_model(self.energy_model)
        object.__setattr__(self, "aug", dict(self.aug))
        self.augmentation()  # an unknown recipe or key fails now, before any work

    def augmentation(self) -> tuple[str, recipes.AugRecipe]:
        """The augmentation recipe's name and values for this run."""
        try:
            kind = dataset_info(self.dataset).kind
        except ValueError:
            kind = None
        return recipes.resolve(self.dataset, self.recipe, self.aug, kind)

    def to_dict(self) -> dict[str, Any]:
        """The settings as recorded in checkpoints and metrics.json (``resume`` and ``change_lr``
        say how a session started, not a setting of the run)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("resume", "change_lr")}


class _Diverged(Exception):
    """Raised inside an epoch; ``train`` turns it into a ``TrainingError`` that names the checkpoint kept.
    ``before_step``: the loss was non-finite before the epoch's first optimizer step."""

    def __init__(self, message: str, *, before_step: bool = False):
        super().__init__(message)
        self.before_step = before_step


def pick_device(config: TrainConfig) -> torch.device:
    cuda = torch.cuda.is_available()
    if config.device == "cuda" and not cuda:
        raise UsageError("--device cuda: no CUDA device is available (use --device cpu or auto)")
    device = torch.device("cuda" if config.device == "cuda" or (config.device == "auto" and cuda) else "cpu")
    if device.type != "cuda" and config.amp:
        raise UsageError("--amp needs a CUDA device (mixed precision here is fp16 with a GradScaler)")
    if device.type != "cuda" and config.backend == "cuda":
        raise UsageError("--backend cuda needs a CUDA device; the CPU always runs the torch backend")
    return device


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def epoch_seed(seed: int, epoch: int) -> int:
    """The shuffling seed of one epoch: a function of (seed, epoch) only, so resuming replays it."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def load_splits(config: TrainConfig, geometry: Geometry) -> dict[str, Dataset]:
    """The dataset's train, val and test splits, cut to their first ``config.limit`` samples."""
    splits = {}
    for split in ("train", "val", "test"):
        data = get_dataset(config.dataset, split, data_root=config.data_root, time_steps=config.time_steps,
                           img_size=geometry.img_size)
        if config.limit is not None and config.limit < len(data):
            data = Subset(data, range(config.limit))
        if len(data) == 0:
            raise UsageError(f"dataset {config.dataset!r} has an empty {split} split")
        splits[split] = data
    return splits


def make_loader(data: Dataset, config: TrainConfig, device: torch.device, *, shuffle_seed: int | None) -> DataLoader:
    """Batches of ``data``, shuffled by ``shuffle_seed`` (``None``: in order). The loader's own
    generator also seeds its workers, so the global torch generator is never drawn from."""
    generator = torch.Generator().manual_seed(0 if shuffle_seed is None else shuffle_seed)
    return DataLoader(data, batch_size=config.batch_size, shuffle=shuffle_seed is not None, generator=generator,
                      num_workers=config.num_workers, pin_memory=device.type == "cuda")


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.AdamW:
    """AdamW without weight decay on biases and BatchNorm parameters (timm's rule, which the
    Spikformer / AutoST training scripts use)."""
    decay = [p for p in model.parameters() if p.ndim > 1]
    no_decay = [p for p in model.parameters() if p.ndim <= 1]
    return torch.optim.AdamW([{"params": decay, "weight_decay": config.weight_decay},
                              {"params": no_decay, "weight_decay": 0.0}], lr=config.lr)


def train_epoch(model: nn.Module, loader: DataLoader, optimizer: torch.optim.Optimizer,
                scheduler: torch.optim.lr_scheduler.LRScheduler, scaler: torch.amp.GradScaler,
                config: TrainConfig, device: torch.device, epoch: int,
                group: distributed.Group = distributed.Group(),
                augment: BatchAugment | None = None) -> tuple[float, float, float]:
    """One pass over ``loader``; returns (mean loss, accuracy, learning rate of the last step),
    over every rank's shard under torchrun. A non-finite loss raises before it can reach the
    weights; so does any non-finite value in the model's state after a step (weights can diverge
    while BatchNorm still keeps the loss finite), before a checkpoint could store it. ``augment``
    transforms each batch on the device and may return soft (mixed) targets, whose accuracy
    counts their largest class."""
    model.train()
    total_loss, correct, seen, lr = 0.0, 0, 0, 0.0
    with tqdm(loader, desc=f"epoch {epoch}/{config.epochs}", unit="batch", leave=False, disable=None,
              file=sys.stderr) as bar:
        for step, (x, y) in enumerate(bar, 1):
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            target = y
            if augment is not None:
                x, target = augment(x, y, epoch)
                y = target.argmax(1) if target.ndim > 1 else target
            with torch.autocast(device.type, dtype=torch.float16, enabled=config.amp):
                logits = model(x)
            loss = F.cross_entropy(logits.float(), target, label_smoothing=config.label_smoothing)
            value = loss.item()
            if not math.isfinite(value):
                raise _Diverged(f"loss is {value} at epoch {epoch}, step {step} of {len(loader)}",
                                before_step=step == 1)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            lr = optimizer.param_groups[0]["lr"]
            scaler.step(optimizer)
            scaler.update()
            scheduler.step()
            bad = nonfinite_tensors(model.state_dict())
            if bad:
                raise _Diverged(f"{len(bad)} tensor(s) of the model turned non-finite ({bad[0]} first) at epoch "
                                f"{epoch}, step {step} of {len(loader)}, with loss {value:.4g}")
            total_loss += value * len(y)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
            bar.set_postfix(loss=f"{total_loss / seen:.4f}", acc=f"{correct / seen:.3f}", refresh=False)
    total_loss, correct, seen = distributed.sum_over_ranks((total_loss, correct, seen), group, device)
    return total_loss / seen, correct / seen, lr


@torch.no_grad()
def evaluate(model: nn.Module, loader: DataLoader, device: torch.device, amp: bool = False) -> float:
    """Top-1 accuracy of ``model`` (in eval mode) over ``loader``."""
    model.eval()
    correct = total = 0
    for x, y in loader:
        with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
            logits = model(x.to(device, non_blocking=True))
        correct += int((logits.argmax(1).cpu() == y).sum())
        total += len(y)
    return correct / total


class _Run:
    """The state that a checkpoint saves and restores."""

    def __init__(self, arch: Arch, config: TrainConfig, geometry: Geometry, device: torch.device,
                 steps_per_epoch: int):
        self.arch, self.config = arch, config
        self.model = build_model(arch, backend=config.backend, drop_path=config.drop_path,
                                 **geometry.model_kwargs()).to(device)
        self.optimizer = make_optimizer(self.model, config)
        # Stepped per batch so a short run's warm-up is smooth, not a staircase.
        self.scheduler = warmup_cosine(self.optimizer, warmup_steps=config.warmup_epochs * steps_per_epoch,
                                       total_steps=config.epochs * steps_per_epoch)
        self.scaler = torch.amp.GradScaler(device.type, enabled=config.amp)
        self.epoch = 0
        self.history: dict[str, Any] = {"epochs": [], "best_epoch": None, "best_val_acc": None, "lr_changes": []}

    def payload(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(), "scaler": self.scaler.state_dict(),
                "epoch": self.epoch, "rng": rng_state(), "arch": self.arch.to_dict(),
                "dataset": self.config.dataset, "settings": self.config.to_dict(), "history": self.history}

    def end_epoch(self, record: dict[str, Any]) -> None:
        """Record a finished epoch; a strictly better validation accuracy makes it the best."""
        self.epoch = record["epoch"]
        self.history["epochs"].append(record)
        if self.history["best_val_acc"] is None or record["val_acc"] > self.history["best_val_acc"]:
            self.history["best_epoch"], self.history["best_val_acc"] = self.epoch, record["val_acc"]

    def plateaued(self) -> bool:
        """Whether the run has stopped improving: ``config.patience`` epochs since the best one."""
        best = self.history["best_epoch"]
        return self.config.patience is not None and best is not None and self.epoch - best >= self.config.patience

    def check_finite(self, epoch: int) -> None:
        """Raise ``_Diverged`` if a weight, buffer or optimizer moment is non-finite: such a state
        is never checkpointed, so last.pt and best.pt keep the last finite one."""
        bad = nonfinite_tensors({"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()})
        if bad:
            raise _Diverged(f"{len(bad)} tensor(s) of the training state are non-finite ({bad[0]} first) "
                            f"after epoch {epoch}")

    def save(self, last_path: Path, best_path: Path) -> None:
        """Checkpoint the finished epoch into ``last_path``, then into ``best_path`` if it is the best.
        last.pt first, so the most recent state survives a full disk or a kill between the two
        writes; best.pt may then lag behind the best epoch that last.pt records, which is last.pt's
        own, and a resume rewrites it from there (``restore_best``). A failed write (a full disk,
        any OSError) is one line saying what each file still holds and how to go on."""
        payload = self.payload()
        try:
            save_checkpoint(last_path, payload)
        except OSError as err:
            kept = (f"{last_path.name} still holds epoch {self.epoch - 1}" if self.epoch > 1 and last_path.exists()
                    else "no checkpoint was written before it")
            raise TrainingError(f"cannot write {last_path} ({err.strerror}): epoch {self.epoch} was not saved and "
                                f"{kept}; make room and rerun the same command plus --resume") from None
        if self.history["best_epoch"] != self.epoch:
            return
        try:
            save_checkpoint(best_path, payload)
        except OSError as err:
            raise TrainingError(f"cannot write {best_path} ({err.strerror}): {last_path.name} holds epoch "
                                f"{self.epoch}, the best so far, and {best_path.name} an earlier one; make room and "
                                f"rerun the same command plus --resume, which rewrites {best_path.name} from "
                                f"{last_path.name}") from None

    def restore(self, data: dict[str, Any], path: Path) -> None:
        try:
            self.model.load_state_dict(data["model"])
            self.optimizer.load_state_dict(data["optimizer"])
            self.scheduler.load_state_dict(data["scheduler"])
            if data["scaler"]:  # empty when saved without AMP; a GradScaler rejects an empty state
                self.scaler.load_state_dict(data["scaler"])
            set_rng_state(data["rng"])
            self.epoch = int(data["epoch"])
            self.history = {"lr_changes": [], **data["history"]}
        except (RuntimeError, KeyError, ValueError, TypeError) as err:
            raise CheckpointError(f"{path}: does not fit this run ({type(err).__name__}: "
                                  f"{describe(err)})") from None

    def change_lr(self, lr: float) -> None:
        """Continue with peak rate ``lr`` instead of the checkpoint's: the schedule keeps its
        shape and position (the rate now is ``lr`` times the schedule's factor at this step)."""
        old = self.scheduler.base_lrs[0]
        if old == lr:
            return
        factor = self.scheduler.lr_lambdas[0](self.scheduler.last_epoch)
        self.scheduler.base_lrs = [lr for _ in self.optimizer.param_groups]
        for group in self.optimizer.param_groups:
            group["initial_lr"], group["lr"] = lr, lr * factor
        self.history["lr_changes"].append({"after_epoch": self.epoch, "from": old, "to": lr})


def restore_best(data: dict[str, Any], best_path: Path, log: Callable[[str], None]) -> None:
    """Rewrite ``best_path`` from a resumed ``last.pt`` (``data``) whose own epoch is the best one
    but which ``best_path`` does not hold: a session stopped between an epoch's two writes."""
    if data["history"]["best_epoch"] != data["epoch"]:
        return
    try:
        if best_path.exists() and load_checkpoint(best_path)["epoch"] == data["epoch"]:
            return
    except CheckpointError:
        pass  # a damaged best.pt is rewritten too
    save_checkpoint(best_path, {key: value for key, value in data.items() if key != "format"})
    log(f"{best_path}: rewritten from {LAST} (epoch {data['epoch']}, the best; the last session stopped before "
        "writing it)")


def lif_implementation(device: torch.device) -> str:
    """Which SpikingJelly LIF implementation runs on ``device`` ("torch-reference" on the CPU,
    "triton" for its GPU kernels, ...); a backend it cannot provide is a ``UsageError``."""
    try:
        return str(neuron_implementation("lif", device)["implementation"])
    except RuntimeError as err:
        raise UsageError(f"--backend: SpikingJelly cannot run the requested LIF kernels on {device} "
                         f"({str(err).splitlines()[0]})") from None


def _metrics(run: _Run, geometry: Geometry, device: torch.device, final: dict[str, Any] | None) -> dict[str, Any]:
    """metrics.json's content; without ``final`` (a session stopped early) its test and energy fields are ``None``."""
    cost = analytic_cost(run.arch, **geometry.model_kwargs())
    final = final or {}
    return {
        "arch": run.arch.to_dict()["RETRAIN"],
        "dataset": run.config.dataset,
        "settings": run.config.to_dict(),
        "recipe": recipes.describe(*run.config.augmentation()),
        "device": device.type,
        "lif_implementation": lif_implementation(device),
        "params": count_params(run.model),
        "macs": cost.macs,
        "epochs": run.history["epochs"],
        "best_epoch": run.history["best_epoch"],
        "best_val_acc": run.history["best_val_acc"],
        "stopped_early": run.epoch < run.config.epochs and run.plateaued(),
        "lr_changes": run.history["lr_changes"],
        "threads": current_threads(),
        **{key: final.get(key) for key in ("test_acc", "energy_model", "energy_source", "energy_mj", "compute_mj",
                                           "memory_mj", "mac_mj", "ac_mj", "ann_mj", "ann_int8_mj", "firing_rates",
                                           "energy_layers", "energy_samples")},
    }


def test_set_energy(model: nn.Module, loader: DataLoader, device: torch.device, energy_model: str) -> dict[str, Any]:
    """The energy summary (``energy.record.EnergyRecord.to_dict``) per sample over every batch of
    ``loader``: each batch measured on its own, the records averaged with the batch sizes as
    weights, so the result is the mean over the test set's samples (``samples`` says how many)."""
    records, sizes = [], []
    for x, _ in loader:
        records.append(measure_network(model, x.to(device), energy_model))
        sizes.append(len(x))
    return {**EnergyRecord.weighted_mean(records, sizes).to_dict(), "batches": len(sizes), "samples": sum(sizes)}


def _final(run: _Run, best_path: Path, test_loader: DataLoader, device: torch.device) -> dict[str, Any]:
    """Test accuracy and spike energy of the best checkpoint, both over the whole test split (as
    ``limit`` cuts it). Firing rates are those of the spike-driven (AC) layers: a layer fed real
    values has none."""
    data = load_checkpoint(best_path, map_location=device)
    # best.pt may predate a learning-rate change that the history records
    must_match = [k for k in MUST_MATCH if k != "lr" or not run.history["lr_changes"]]
    check_compatible(data, best_path, arch=run.arch, dataset=run.config.dataset, settings=run.config.to_dict(),
                     must_match=must_match)
    require_finite(data, best_path)
    run.model.load_state_dict(data["model"])
    test_acc = evaluate(run.model, test_loader, device, run.config.amp)
    summary = test_set_energy(run.model, test_loader, device, run.config.energy_model)
    return {
        "test_acc": test_acc,
        "energy_model": summary["energy_model"],
        "energy_source": summary["energy_source"],
        "energy_mj": summary["energy_mj"],
        "compute_mj": summary["compute_mj"],
        "memory_mj": summary["memory_mj"],
        "mac_mj": summary["mac_mj"],
        "ac_mj": summary["ac_mj"],
        "ann_mj": summary["ann_mj"],
        "ann_int8_mj": summary["ann_int8_mj"],
        "firing_rates": {layer["name"]: layer["firing_rate"] for layer in summary["layers"] if layer["kind"] == "AC"},
        "energy_layers": summary["layers"],
        "energy_samples": summary["samples"],
    }


def train(arch: Arch, config: TrainConfig, out_dir: str | Path, *, stop_after_epoch: int | None = None,
          log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Train ``arch`` as ``config`` says, checkpointing into ``out_dir``; returns metrics.json's content.

    ``stop_after_epoch`` ends the session after that epoch, as a time-limited session would:
    checkpoints are written, metrics.json is not (it appears once a run is complete), and the
    returned metrics have ``None`` test and energy fields. ``config.resume`` continues from ``last.pt``.
    ``log`` receives one line per event (resume, epoch summary). ``out_dir`` is held for the
    run (``autost.rundir.claim``): a second run into it is refused. An architecture with a
    TIME_STEPS gene trains (and its data is binned) at that T, whatever ``config.time_steps`` says.
    """
    if arch.time_steps is not None:
        config = replace(config, time_steps=arch.time_steps)
    group = distributed.from_env()  # several processes under torchrun: only rank 0 writes and logs
    with claim(out_dir) if group.is_main else nullcontext(Path(out_dir)) as out:
        return _train(arch, config, out, group, stop_after_epoch, log)


def _diverged(err: _Diverged, run: _Run, last_path: Path, best_path: Path, first_of_session: bool) -> TrainingError:
    """The one-line stop after a divergence: what diverged, what the checkpoints hold, how to go on.
    A loss that is non-finite before the session's first step comes from the weights it started
    with, whatever the learning rate: resuming them at a lower --lr cannot help."""
    lr = run.config.lr
    if err.before_step and first_of_session:
        return _diverged_from_the_start(err, run, last_path, best_path)
    if not run.epoch:
        return TrainingError(f"training diverged: {err}; stopped before any checkpoint was written; "
                             f"rerun with a lower --lr (below {lr:g})")
    return TrainingError(
        f"training diverged: {err}; stopped: {last_path} holds the finite weights of epoch {run.epoch} and "
        f"{best_path.name} those of epoch {run.history['best_epoch']}; to go on from there with a lower rate, "
        f"rerun the same command plus --resume --lr X (X below {lr:g}; metrics.json records the change)")


def _diverged_from_the_start(err: _Diverged, run: _Run, last_path: Path, best_path: Path) -> TrainingError:
    if not run.epoch:
        return TrainingError(f"training diverged: {err}, before any optimizer step: the freshly initialized network "
                             "already gives a non-finite loss, so no --lr can help; check the data and the "
                             "architecture (its TAU and THRESHOLD)")
    best = run.history["best_epoch"]
    earlier = (f", or copy {best_path.name} (epoch {best}) over {last_path.name} and rerun with --resume --lr X"
               if best is not None and best < run.epoch else "")
    return TrainingError(f"training diverged: {err}, before any optimizer step: the finite weights in {last_path} "
                         f"(epoch {run.epoch}) already give a non-finite loss, so resuming them at a lower --lr "
                         f"cannot help; start again into another --out with a lower --lr{earlier}")


def _train(arch: Arch, config: TrainConfig, out_dir: Path, group: distributed.Group, stop_after_epoch: int | None,
           log: Callable[[str], None] | None) -> dict[str, Any]:
    last_path, best_path = out_dir / LAST, out_dir / BEST
    if not config.resume and (last_path.exists() or best_path.exists()):
        raise UsageError(f"{out_dir} already holds a training run; pass --resume to continue it or use another --out")
    say = log if log and group.is_main else (lambda message: None)
    device = distributed.device_for(group, pick_device(config))
    geometry = resolve_geometry(dataset=config.dataset, input_shape=None, num_classes=None, patch_size=None,
                                time_steps=config.time_steps)
    check_fits(arch, geometry, config.batch_size, use="train", device=device)
    splits = load_splits(config, geometry)
    steps_per_epoch = math.ceil(len(splits["train"]) / (config.batch_size * group.world_size))
    augment = make_augment(config.augmentation()[1], dataset_info(config.dataset).kind, geometry.num_classes,
                           config.epochs)
    seed_everything(config.seed)
    run = _Run(arch, config, geometry, device, steps_per_epoch)
    if config.init_weights is not None:  # a resumed run replaces them with its own below
        try:
            run.model.load_state_dict(load_weights(config.init_weights, arch))
        except RuntimeError as err:
            raise CheckpointError(f"--init-weights {config.init_weights}: its weights do not fit {arch.short()} on "
                                  f"{config.dataset} ({describe(err)})") from None
    trained_model = distributed.wrap(run.model, group, device)
    say(f"{out_dir}: {arch.short()} on {config.dataset}, {device.type}, LIF {lif_implementation(device)}")
    if config.resume and last_path.exists():
        data = load_checkpoint(last_path, map_location=device)
        must_match = [k for k in MUST_MATCH if k != "lr" or not config.change_lr]
        check_compatible(data, last_path, arch=arch, dataset=config.dataset, settings=config.to_dict(),
                         must_match=must_match)
        require_finite(data, last_path)
        run.restore(data, last_path)
        if group.is_main:
            restore_best(data, best_path, say)
        say(f"{out_dir}: resuming after epoch {run.epoch} of {config.epochs}")
        if config.change_lr and data["settings"]["lr"] != config.lr:
            run.change_lr(config.lr)
            say(f"{out_dir}: peak learning rate changed from {data['settings']['lr']:g} to {config.lr:g}")
    elif config.resume:
        say(f"{out_dir}: no {LAST} to resume from; starting from scratch")
    val_loader = make_loader(splits["val"], config, device, shuffle_seed=None)
    first_epoch = run.epoch + 1
    for epoch in range(first_epoch, config.epochs + 1):
        if run.plateaued():
            say(f"{out_dir}: stopped after epoch {run.epoch}: validation accuracy has not improved since epoch "
                f"{run.history['best_epoch']} (--patience {config.patience})")
            break
        start = time.perf_counter()
        if group.active:
            train_loader = distributed.shard_loader(splits["train"], config.batch_size, epoch_seed(config.seed, epoch),
                                                    group, num_workers=config.num_workers,
                                                    pin_memory=device.type == "cuda")
        else:
            train_loader = make_loader(splits["train"], config, device, shuffle_seed=epoch_seed(config.seed, epoch))
        try:
            loss, acc, lr = train_epoch(trained_model, train_loader, run.optimizer, run.scheduler, run.scaler, config,
                                        device, epoch, group, augment)
            run.check_finite(epoch)
        except _Diverged as err:
            raise _diverged(err, run, last_path, best_path, epoch == first_epoch) from None
        val_acc = evaluate(run.model, val_loader, device, config.amp)
        run.end_epoch({"epoch": epoch, "train_loss": loss, "train_acc": acc, "val_acc": val_acc, "lr": lr,
                       "threads": current_threads(), "time_s": time.perf_counter() - start})
        if group.is_main:
            run.save(last_path, best_path)
        say(f"epoch {epoch}/{config.epochs}  loss {loss:.4f}  train {acc:.1%}  val {val_acc:.1%}  "
            f"lr {lr:.2e}  {run.history['epochs'][-1]['time_s']:.1f}s")
        if stop_after_epoch is not None and epoch >= stop_after_epoch and epoch < config.epochs:
            return _metrics(run, geometry, device, None)
    distributed.finish(group)  # rank 0's best.pt is complete before anyone reads it
    test_loader = make_loader(splits["test"], config, device, shuffle_seed=None)
    metrics = _metrics(run, geometry, device, _final(run, best_path, test_loader, device))
    if group.is_main:
        try:
            atomic_write_json(out_dir / METRICS, metrics)
        except OSError as err:
            raise TrainingError(f"cannot write {out_dir / METRICS} ({err.strerror}): the training is complete in "
                                f"{LAST} and {BEST}; make room and rerun the same command plus --resume, which only "
                                "evaluates it again") from None
    return metrics
