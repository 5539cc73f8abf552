"""Training many candidates at once: one candidate per local worker process, or per Ray task.

Each job trains one architecture into its own folder with ``resume=True``, so a job that
is retried after its worker died continues from its last checkpoint, and a finished job
is only re-evaluated. Workers run torch with one thread each, whatever their number, so
``--workers 1`` and ``--workers 4`` compute bit-identical results.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable

from autost.arch import Arch
from autost.errors import UsageError

THREADS_PER_WORKER = 1


@dataclass(frozen=True)
class Job:
    """One candidate to train: plain data, so it pickles to any worker."""

    name: str
    arch: dict  # RETRAIN mapping
    config: dict  # TrainConfig fields
    out_dir: str


def make_jobs(archs: list[tuple[str, Arch]], config: Any, out_dir: str | Path) -> list[Job]:
    """Jobs for ``(name, arch)`` pairs trained with ``config`` (a TrainConfig) into ``out_dir/name``."""
    settings = asdict(replace(config, resume=True))
    return [Job(name, arch.to_dict()["RETRAIN"], settings, str(Path(out_dir) / name)) for name, arch in archs]


def run_job(job: Job) -> dict:
    """Train one job (in whatever process runs it) and return its metrics."""
    import torch

    from autost.train import TrainConfig, train

    torch.set_num_threads(THREADS_PER_WORKER)
    return train(Arch.from_dict(job.arch), TrainConfig(**job.config), job.out_dir)


def _run_local(jobs: list[Job], workers: int, retries: int, log: Callable[[str], None]) -> dict[str, dict]:
    results: dict[str, dict] = {}
    attempts = {job.name: 0 for job in jobs}
    pending = list(jobs)
    context = multiprocessing.get_context("spawn")  # no fork: torch's threads do not survive one
    while pending:
        for job in pending:
            attempts[job.name] += 1
            if attempts[job.name] > retries + 1:
                raise UsageError(f"candidate {job.name} failed {retries + 1} times (its worker died each time); "
                                 f"see {job.out_dir}")
        with cf.ProcessPoolExecutor(max_workers=min(workers, len(pending)), mp_context=context) as pool:
            futures = {pool.submit(run_job, job): job for job in pending}
            broken = []
            for future in cf.as_completed(futures):
                job = futures[future]
                try:
                    results[job.name] = future.result()
                    log(f"{job.name}: done")
                except cf.process.BrokenProcessPool:
                    broken.append(job)
        if broken:
            log(f"a worker died; retrying {', '.join(j.name for j in broken)} from their last checkpoints")
        pending = broken
    return results


def _run_ray(jobs: list[Job], address: str, retries: int, log: Callable[[str], None]) -> dict[str, dict]:
    try:
        import ray
    except ImportError:
        raise UsageError("--ray-address needs Ray: pip install ray") from None
    import torch

    ray.init(address=None if address == "local" else address, ignore_reinit_error=True)
    remote = ray.remote(num_gpus=1 if torch.cuda.is_available() else 0, max_retries=retries)(run_job)
    refs = {job.name: remote.remote(job) for job in jobs}
    results = {}
    for name, ref in refs.items():
        results[name] = ray.get(ref)
        log(f"{name}: done")
    return results


def run_jobs(jobs: list[Job], *, workers: int = 1, ray_address: str | None = None, retries: int = 2,
             log: Callable[[str], None] = lambda message: None) -> dict[str, dict]:
    """Train every job, ``workers`` at a time locally or on the Ray cluster at ``ray_address``
    ("local" starts one in-process); a job whose worker dies is retried up to ``retries``
    times. Returns metrics by job name, in job order. Output folders must be visible to
    every worker (a shared file system on a real cluster)."""
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    results = _run_ray(jobs, ray_address, retries, log) if ray_address else _run_local(jobs, workers, retries, log)
    return {job.name: results[job.name] for job in jobs}
