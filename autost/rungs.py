"""The pieces of successive halving that both schedulers share (``autost.halving`` in-process,
``autost.asha`` on Ray Tune): its settings and rung epochs, training a candidate up to a rung,
its score there, and one rung of ``rungs.json``.

``rungs.json``: ``{"scheduler": "in-process"|"asha", "eta": 2, "rungs": [{"rung": 0, "epochs": E,
"candidates": [{"name", "arch" (Arch.short()), "val_acc", "kept"}, ...]}, ...]}``.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from autost.arch import Arch
from autost.checkpoint import check_compatible, load_checkpoint
from autost.errors import UsageError
from autost.train import LAST, MUST_MATCH, TrainConfig, train

RUNGS = "rungs.json"
Log = Callable[[str], None]


@dataclass(frozen=True)
class Halving:
    """Successive halving's settings: the first rung's epochs, the reduction factor and how many
    candidates the in-process scheduler trains to the end."""

    rung_epochs: int
    eta: int = 2
    survivors: int = 1

    def __post_init__(self) -> None:
        for flag, value, least in (("--rung-epochs", self.rung_epochs, 1), ("--eta", self.eta, 2),
                                   ("--survivors", self.survivors, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < least:
                raise UsageError(f"{flag} must be an integer of at least {least}, got {value!r}")

    def milestones(self, epochs: int) -> list[int]:
        """The epochs at which rungs end: ``rung_epochs * eta**r`` below ``epochs``, then ``epochs``."""
        if self.rung_epochs >= epochs:
            raise UsageError(f"--rung-epochs {self.rung_epochs} must be below --epochs ({epochs}): a rung stops "
                             "candidates before the end of their schedule")
        ends, epoch = [], self.rung_epochs
        while epoch < epochs:
            ends.append(epoch)
            epoch *= self.eta
        return [*ends, epochs]


def val_acc_at(history: list[dict[str, Any]], epoch: int) -> float:
    """The best validation accuracy of the epochs up to ``epoch``."""
    return max(record["val_acc"] for record in history if record["epoch"] <= epoch)


def advance(arch: Arch, config: TrainConfig, folder: Path, epoch: int, log: Log | None = None) -> float:
    """Train ``arch`` into ``folder`` until ``epoch``, before the end of its schedule (from its
    checkpoint, which is only read when it is there already), and return its rung score."""
    last = folder / LAST
    if last.exists():
        data = load_checkpoint(last)
        settings = replace(config, time_steps=arch.time_steps or config.time_steps).to_dict()
        check_compatible(data, last, arch=arch, dataset=config.dataset, settings=settings, must_match=MUST_MATCH)
        if data["epoch"] >= epoch:
            return val_acc_at(data["history"]["epochs"], epoch)
    return val_acc_at(train(arch, config, folder, stop_after_epoch=epoch, log=log)["epochs"], epoch)


def rung_record(rung: int, epoch: int, archs: list[tuple[str, Arch]], scores: dict[str, float],
                kept: set[str]) -> dict[str, Any]:
    """One rung of rungs.json."""
    return {"rung": rung, "epochs": epoch,
            "candidates": [{"name": name, "arch": arch.short(), "val_acc": scores[name], "kept": name in kept}
                           for name, arch in archs]}
