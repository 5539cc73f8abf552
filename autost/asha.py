"""Successive halving on Ray Tune's ASHA scheduler (``run.py train --halving --ray-address``).

One Tune trial per candidate (one CPU, one torch thread; one GPU when there is one) trains it
rung by rung (``autost.halving.advance``) into the same folders as the in-process scheduler and
reports ``{"epoch", "val_acc"}`` at every rung's epoch; ``ASHAScheduler(time_attr="epoch",
grace_period=rung_epochs, reduction_factor=eta, max_t=epochs)`` stops a trial whose score is
below the top ``1/eta`` of those already recorded at that rung. ASHA is asynchronous: it
decides as results arrive, so which candidates survive can depend on the order in which trials
finish, unlike the in-process scheduler. rungs.json is written when Tune is done, from what each
trial last reported and from the candidates' checkpoints. A rerun resumes every candidate from
its checkpoints (Tune also retries a trial whose worker died), but ASHA decides anew.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from autost.arch import Arch
from autost.checkpoint import load_checkpoint
from autost.errors import UsageError
from autost.io import atomic_write_json
from autost.parallel import Job, make_jobs, ray_session
from autost.rungs import RUNGS, Halving, Log, advance, rung_record, val_acc_at
from autost.train import LAST, METRICS, TrainConfig, train
from autost.validate import load_json

TUNE_MISSING = ("--halving with --ray-address needs Ray Tune, which is not installed: "
                "pip install -r requirements-ray.txt")
FAILURES = 2  # retries of a trial whose worker died; each resumes from the candidate's last checkpoint


def require_tune() -> Any:
    """``ray.tune``, or a ``UsageError`` that says how to install it."""
    try:
        from ray import tune
    except ImportError:
        raise UsageError(TUNE_MISSING) from None
    return tune


def _trial(params: dict[str, Any], *, jobs: dict[str, Job], milestones: list[int]) -> None:
    """One Tune trial: train one candidate rung by rung, reporting its score at each rung's end."""
    import torch
    from ray import tune

    torch.set_num_threads(1)
    job = jobs[params["name"]]
    arch, config, folder = Arch.from_dict(job.arch), TrainConfig(**job.config), Path(job.out_dir)
    for epoch in milestones:
        score = (train(arch, config, folder)["best_val_acc"] if epoch == config.epochs
                 else advance(arch, config, folder, epoch))
        tune.report({"epoch": epoch, "val_acc": score})


def run_asha(archs: list[tuple[str, Arch]], config: TrainConfig, out_dir: Path, halving: Halving, address: str,
             log: Log | None = None) -> dict[str, dict[str, Any]]:
    """Successive halving of ``archs`` by ASHA on the Ray cluster at ``address`` ("local" starts
    one); writes ``out_dir/rungs.json`` and returns the metrics of the candidates trained to the end."""
    import torch

    tune = require_tune()
    from ray.tune.schedulers import ASHAScheduler

    out_dir = out_dir.resolve()  # a Tune trial runs in a folder of its own
    milestones = halving.milestones(config.epochs)
    jobs = {job.name: job for job in make_jobs(archs, config, out_dir)}
    scheduler = ASHAScheduler(time_attr="epoch", metric="val_acc", mode="max", max_t=config.epochs,
                              grace_period=halving.rung_epochs, reduction_factor=halving.eta)
    resources = {"cpu": 1, "gpu": 1 if torch.cuda.is_available() else 0}
    with ray_session(address):
        trainable = tune.with_resources(tune.with_parameters(_trial, jobs=jobs, milestones=milestones), resources)
        tuner = tune.Tuner(trainable, param_space={"name": tune.grid_search(list(jobs))},
                           tune_config=tune.TuneConfig(scheduler=scheduler),
                           run_config=tune.RunConfig(name="asha", storage_path=str(out_dir / "tune"), verbose=1,
                                                     failure_config=tune.FailureConfig(max_failures=FAILURES)))
        grid = tuner.fit()
    reached = {}
    for result in grid:
        name = result.config["name"]
        if result.error is not None:
            cause = getattr(result.error, "cause", None)
            raise UsageError(f"candidate {name} (see {jobs[name].out_dir}): "
                             f"{cause if isinstance(cause, UsageError) else result.error}")
        reached[name] = result.metrics["epoch"]
    _write_rungs(archs, out_dir, halving, milestones, reached, config.epochs)
    if log:
        log(f"ASHA: {', '.join(n for n, e in reached.items() if e == config.epochs)} trained to the end")
    return {name: load_json(out_dir / name / METRICS, "training metrics")
            for name, _ in archs if reached[name] == config.epochs}


def _write_rungs(archs: list[tuple[str, Arch]], out_dir: Path, halving: Halving, milestones: list[int],
                 reached: dict[str, int], epochs: int) -> None:
    """rungs.json from the last epoch each trial reported (a trial ASHA stopped at a rung reported
    that rung's epoch last) and the validation accuracies in its checkpoint."""
    history = {name: load_checkpoint(out_dir / name / LAST)["history"]["epochs"] for name, _ in archs}
    rungs = []
    for rung, epoch in enumerate(milestones):
        there = [(name, arch) for name, arch in archs if reached[name] >= epoch]
        if not there:
            break
        scores = {name: val_acc_at(history[name], epoch) for name, _ in there}
        kept = {name for name, _ in there if reached[name] > epoch or epoch == epochs}
        rungs.append(rung_record(rung, epoch, there, scores, kept))
    atomic_write_json(out_dir / RUNGS, {"scheduler": "asha", "eta": halving.eta, "rungs": rungs})
