"""Training many candidates at once: a search's top-k one after another, one candidate per local
worker process, or one per Ray task.

Each job trains one architecture into its own folder with ``resume=True``, so a job that
is retried after its worker died continues from its last checkpoint, and a finished job
is only re-evaluated. Workers run torch with one thread each, whatever their number, so
``--workers 1`` and ``--workers 4`` compute bit-identical results.

Ray is an optional extra (requirements-ray.txt); ``ray_session`` is how every command
reaches it, so a missing install is one line naming the fix.
"""
from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import socket
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterator

from autost.arch import Arch
from autost.errors import UsageError
from autost.train import LAST, TrainConfig, train

THREADS_PER_WORKER = 1
ROOT = Path(__file__).resolve().parents[1]  # the checkout: autost, datasets and energy live here
RAY_MISSING = "--ray-address needs Ray, which is not installed: pip install -r requirements-ray.txt"


def require_ray() -> Any:
    """The ``ray`` module, or a ``UsageError`` that says how to install it."""
    try:
        import ray
    except ImportError:
        raise UsageError(RAY_MISSING) from None
    return ray


@contextmanager
def ray_session(address: str) -> Iterator[Any]:
    """Ray, connected to the cluster at ``address`` ("local": a new single-machine instance)
    for the duration of the block. A session this process already holds is reused and left
    open (a test or a notebook that called ``ray.init`` itself keeps it)."""
    if address == "local":
        # A single-machine instance needs no routable address: keep it on the loopback
        # interface (Ray otherwise advertises the machine's external IP). Read when Ray is imported.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    ray = require_ray()
    if ray.is_initialized():
        yield ray
        return
    if address == "local":
        ray.init(include_dashboard=False)
    else:
        _check_reachable(address)
        ray.init(address=address)
    try:
        yield ray
    finally:
        ray.shutdown()


def _check_reachable(address: str) -> None:
    """Fail in one line, at once, when nothing listens at a HOST:PORT address (``ray.init``
    would wait minutes for it); other forms ("auto", "ray://...") are left to Ray."""
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or "/" in address:
        return
    try:
        socket.create_connection((host, int(port)), timeout=10).close()
    except OSError as err:
        raise UsageError(f"--ray-address {address}: no Ray cluster answers there ({err.strerror or err}); start "
                         "one with `ray start --head` or pass 'local'") from None


def ray_task_options() -> dict[str, Any]:
    """Options of every Ray task: one CPU, one torch thread, and this checkout importable (a
    real cluster needs it, and the virtual environment, at the same path on every node)."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    return {"num_cpus": 1, "runtime_env": {"env_vars": {"PYTHONPATH": path, "OMP_NUM_THREADS": "1"}}}


def ray_result(ray: Any, ref: Any, what: str) -> Any:
    """``ray.get(ref)``, with our own errors (bad input, diverged training) raised as they
    are and a task whose workers kept dying reported in one line naming ``what``."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as err:
        if isinstance(err.cause, UsageError):
            raise UsageError(str(err.cause)) from None
        raise
    except (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError) as err:
        raise UsageError(f"{what}: its Ray worker died on every try ({type(err).__name__})") from None


@dataclass(frozen=True)
class Job:
    """One candidate to train: plain data, so it pickles to any worker."""

    name: str
    arch: dict  # RETRAIN mapping
    config: dict  # TrainConfig fields
    out_dir: str


def make_jobs(archs: list[tuple[str, Arch]], config: TrainConfig, out_dir: str | Path) -> list[Job]:
    """Jobs for ``(name, arch)`` pairs trained with ``config`` (a TrainConfig) into ``out_dir/name``."""
    settings = asdict(replace(config, resume=True))
    return [Job(name, arch.to_dict()["RETRAIN"], settings, str(Path(out_dir) / name)) for name, arch in archs]


def run_job(job: Job) -> dict:
    """Train one job (in whatever process runs it) and return its metrics."""
    import torch

    torch.set_num_threads(THREADS_PER_WORKER)
    return train(Arch.from_dict(job.arch), TrainConfig(**job.config), job.out_dir)


def _run_local(jobs: list[Job], workers: int, retries: int, log: Callable[[str], None],
               on_result: Callable[[str, dict], None]) -> dict[str, dict]:
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
                    on_result(job.name, results[job.name])
                except cf.process.BrokenProcessPool:
                    broken.append(job)
        if broken:
            log(f"a worker died; retrying {', '.join(j.name for j in broken)} from their last checkpoints")
        pending = broken
    return results


def _run_ray(jobs: list[Job], address: str, retries: int, log: Callable[[str], None],
             on_result: Callable[[str, dict], None]) -> dict[str, dict]:
    import torch

    with ray_session(address) as ray:
        # A task whose worker dies (killed, out of memory, lost node) is rerun by Ray up to
        # ``retries`` times; it resumes from the job folder's last checkpoint.
        remote = ray.remote(run_job).options(**ray_task_options(), max_retries=retries,
                                             num_gpus=1 if torch.cuda.is_available() else 0)
        names = {remote.remote(job): job for job in jobs}
        results, pending = {}, list(names)
        while pending:
            [ref], pending = ray.wait(pending, num_returns=1)
            job = names[ref]
            results[job.name] = ray_result(ray, ref, f"candidate {job.name} (see {job.out_dir})")
            log(f"{job.name}: done")
            on_result(job.name, results[job.name])
    return results


def run_jobs(jobs: list[Job], *, workers: int = 1, ray_address: str | None = None, retries: int = 2,
             log: Callable[[str], None] = lambda message: None,
             on_result: Callable[[str, dict], None] = lambda name, metrics: None) -> dict[str, dict]:
    """Train every job, ``workers`` at a time locally or on the Ray cluster at ``ray_address``
    ("local" starts one in-process); a job whose worker dies is retried up to ``retries``
    times. ``on_result(name, metrics)`` is called in this process as each job finishes (a
    study records it at once). Returns metrics by job name, in job order. Output folders must
    be visible to every worker (a shared file system on a real cluster)."""
    if workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    results = (_run_ray(jobs, ray_address, retries, log, on_result) if ray_address
               else _run_local(jobs, workers, retries, log, on_result))
    return {job.name: results[job.name] for job in jobs}


def top_architectures(search_dir: str | Path, top_k: int | None) -> list[tuple[str, Arch]]:
    """``(name, arch)`` for the first ``top_k`` (default: all) YAML files in ``search_dir/top``,
    in file-name order (the search writes them ranked as 01.yaml, 02.yaml, ...)."""
    if top_k is not None and top_k < 1:
        raise UsageError(f"--top-k must be at least 1, got {top_k}")
    top = Path(search_dir) / "top"
    files = sorted(top.glob("*.yaml"))
    if not files:
        raise UsageError(f"{top}: no architecture YAML files (a search writes 01.yaml, 02.yaml, ... there)")
    if top_k is not None:
        if top_k > len(files):
            raise UsageError(f"--top-k {top_k}: {top} holds only {len(files)} architectures")
        files = files[:top_k]
    return [(path.stem, Arch.from_yaml(path)) for path in files]


def train_top(search_dir: str | Path, top_k: int | None, config: TrainConfig, out_dir: str | Path,
              log: Callable[[str], None] | None = None, *, workers: int | None = None,
              ray_address: str | None = None) -> dict[str, dict[str, Any]]:
    """Train the search's top architectures, each into ``out_dir/<name>`` (``train_archs``)."""
    return train_archs(top_architectures(search_dir, top_k), config, out_dir, log, workers=workers,
                       ray_address=ray_address)


def train_archs(archs: list[tuple[str, Arch]], config: TrainConfig, out_dir: str | Path,
                log: Callable[[str], None] | None = None, *, workers: int | None = None,
                ray_address: str | None = None) -> dict[str, dict[str, Any]]:
    """Train each ``(name, arch)`` into ``out_dir/<name>``: one after another, or with
    ``workers``/``ray_address`` one per worker (``run_jobs``)."""
    if workers is not None or ray_address:
        taken = [name for name, _ in archs if (Path(out_dir) / name / LAST).exists()]
        if taken and not config.resume:
            raise UsageError(f"{out_dir} already holds training runs ({', '.join(taken)}); pass --resume to "
                             "continue them or use another --out")
        return run_jobs(make_jobs(archs, config, out_dir), workers=workers or 1, ray_address=ray_address,
                        log=log or (lambda message: None))
    results = {}
    for name, arch in archs:
        if log:
            log(f"training {name}: {arch.short()}")
        results[name] = train(arch, config, Path(out_dir) / name, log=log)
    return results
