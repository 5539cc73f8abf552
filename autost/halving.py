"""Successive halving for the train stage: train a search's top-k briefly, keep the best by
validation accuracy, continue the survivors, and record every rung in ``rungs.json``.

Rung ``r`` ends at epoch ``rung_epochs * eta**r`` (the milestones of Ray Tune's ASHA with
``grace_period=rung_epochs`` and ``reduction_factor=eta``); the last rung ends at the full
``epochs``, which every candidate is configured with, so a survivor's warm-up and cosine
schedule are those of one uninterrupted run and a rung only stops it early
(``train(..., stop_after_epoch=...)``). A candidate's rung score is its best validation accuracy
up to the rung's epoch (what best.pt would hold). In-process, each rung keeps the best
``len(alive) // eta`` (at least ``survivors``; ties keep the search's order); once ``survivors``
remain, they go straight to the full epochs. On Ray (``--ray-address``) ASHA decides instead
(``autost.asha``).

Resuming recomputes every decision from the candidates' checkpoints: a candidate already past
a rung's epoch is read, not trained, and training on the CPU is deterministic, so an interrupted
run ends with the survivors, rungs and metrics of an uninterrupted one.

``rungs.json``'s format is in ``autost.rungs``.
"""
from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from tqdm import tqdm

from autost.arch import Arch
from autost.errors import UsageError
from autost.io import atomic_write_json
from autost.rungs import RUNGS, Halving, Log, advance, rung_record
from autost.train import LAST, TrainConfig, train


def check(archs: list[tuple[str, Arch]], config: TrainConfig, out_dir: Path, halving: Halving) -> None:
    """One line when the settings leave nothing to halve, or ``out_dir`` holds runs not to be resumed."""
    halving.milestones(config.epochs)
    taken = [name for name, _ in archs if (out_dir / name / LAST).exists()]
    if taken and not config.resume:
        raise UsageError(f"{out_dir} already holds training runs ({', '.join(taken)}); pass --resume to continue "
                         "the halving or use another --out")
    if halving.survivors >= len(archs):
        raise UsageError(f"--survivors {halving.survivors} leaves nothing to halve among {len(archs)} candidates; "
                         "pass a lower --survivors or a larger --top-k")


def successive_halving(archs: list[tuple[str, Arch]], config: TrainConfig, out_dir: str | Path, halving: Halving,
                       log: Log | None = None, *, ray_address: str | None = None) -> dict[str, dict[str, Any]]:
    """Train ``archs`` (``(name, arch)``, in the search's order) into ``out_dir/<name>`` by
    successive halving, in-process or with ASHA on the Ray cluster at ``ray_address``; write
    ``out_dir/rungs.json``; return the metrics of the candidates trained to the end."""
    out_dir = Path(out_dir)
    check(archs, config, out_dir, halving)
    config = replace(config, resume=True)  # every rung continues a candidate from its last checkpoint
    if ray_address:
        from autost.asha import run_asha

        return run_asha(archs, config, out_dir, halving, ray_address, log)
    return _in_process(archs, config, out_dir, halving, log)


def _in_process(archs: list[tuple[str, Arch]], config: TrainConfig, out_dir: Path, halving: Halving,
                log: Log | None) -> dict[str, dict[str, Any]]:
    milestones = halving.milestones(config.epochs)
    record: dict[str, Any] = {"scheduler": "in-process", "eta": halving.eta, "rungs": []}
    alive, rung = list(archs), 0
    with tqdm(total=len(milestones), desc="halving", unit="rung", disable=None, file=sys.stderr) as bar:
        while True:
            final = len(alive) <= halving.survivors or rung == len(milestones) - 1
            epoch = config.epochs if final else milestones[rung]
            bar.set_postfix(candidates=len(alive), epochs=epoch, refresh=True)
            if final:
                finished = {name: train(arch, config, out_dir / name, log=log) for name, arch in alive}
                scores = {name: metrics["best_val_acc"] for name, metrics in finished.items()}
                kept = set(scores)
            else:
                scores = {name: advance(arch, config, out_dir / name, epoch, log) for name, arch in alive}
                ranked = sorted(alive, key=lambda item: -scores[item[0]])  # stable: ties keep the search's order
                kept = {name for name, _ in ranked[:max(halving.survivors, len(alive) // halving.eta)]}
            record["rungs"].append(rung_record(rung, epoch, alive, scores, kept))
            atomic_write_json(out_dir / RUNGS, record)
            if log:
                cut = [name for name, _ in alive if name not in kept]
                log(f"rung {rung} ({epoch} epochs): kept {', '.join(n for n, _ in alive if n in kept)}"
                    + (f"; stopped {', '.join(cut)}" if cut else ""))
            bar.update(len(milestones) - bar.n if final else 1)
            if final:
                return finished
            alive = [item for item in alive if item[0] in kept]
            rung += 1

