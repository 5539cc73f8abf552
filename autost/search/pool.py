"""Scoring a generation's candidates in parallel: local worker processes or Ray tasks.

Only scores that run the network (init-time energy, NASWOT, SAHD: a search with a real
batch) are worth spreading out; the closed-form MACs of a data-free search take
microseconds. A generation is cut into one batch of candidates per worker, balanced by
their closed-form MACs (a deep, wide candidate costs many shallow ones), and each batch is
one task. Every candidate's weights are seeded from the run seed and the architecture alone
(``arch_seed``) and every worker runs torch on one thread, so a parallel search returns the
records of a serial one, in the same order, and resumes per generation as a serial one does.
"""
from __future__ import annotations

import concurrent.futures as cf
import heapq
import multiprocessing
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import torch

from autost.arch import Arch
from autost.errors import UsageError
from autost.parallel import THREADS_PER_WORKER, ray_result, ray_session, ray_task_options
from autost.search.evaluate import Evaluator

# score(archs, on_candidate) -> one record per arch, in order; on_candidate() after each.
Scorer = Callable[[list[Arch], Callable[[], None]], list[dict]]


def balanced_batches(costs: list[int], n: int) -> list[list[int]]:
    """Indices of ``costs`` split into at most ``n`` non-empty batches of similar total cost:
    the costliest first, each to the batch with the least so far (Graham's LPT rule), each
    batch in ascending index order. Deterministic: ties go to the lower batch."""
    batches: list[list[int]] = [[] for _ in range(min(n, len(costs)))]
    heap = [(0, b) for b in range(len(batches))]
    for i in sorted(range(len(costs)), key=lambda i: (-costs[i], i)):
        total, b = heapq.heappop(heap)
        batches[b].append(i)
        heapq.heappush(heap, (total + costs[i], b))
    return [sorted(batch) for batch in batches]


def score_batch(evaluator: Evaluator, mappings: list[dict]) -> list[dict]:
    """Records of the architectures ``mappings`` (RETRAIN form), scored in this process on one thread."""
    torch.set_num_threads(THREADS_PER_WORKER)
    return [evaluator.evaluate(Arch.from_dict(m)) for m in mappings]


_worker_evaluator: Evaluator | None = None


def _init_worker(evaluator: Evaluator) -> None:
    global _worker_evaluator
    _worker_evaluator = evaluator


def _score_in_worker(mappings: list[dict]) -> list[dict]:
    assert _worker_evaluator is not None, "worker started without _init_worker"
    return score_batch(_worker_evaluator, mappings)


def _scatter(evaluator: Evaluator, archs: list[Arch], workers: int,
             submit: Callable[[list[dict]], Any], gather: Callable[[list[Any]], Iterator[tuple[Any, list[dict]]]],
             on_candidate: Callable[[], None]) -> list[dict]:
    """Submit one balanced batch per worker, then put the records back in ``archs`` order."""
    batches = balanced_batches([evaluator.cost(a)[1] for a in archs], workers)
    handles = {}
    for batch in batches:
        handles[submit([archs[i].to_dict()["RETRAIN"] for i in batch])] = batch
    records: list[dict | None] = [None] * len(archs)
    for handle, batch_records in gather(list(handles)):
        for i, record in zip(handles[handle], batch_records):
            records[i] = record
            on_candidate()
    return records  # type: ignore[return-value]  # every slot is filled once all batches are back


def serial_scorer(evaluator: Evaluator) -> Scorer:
    """Score in this process, one candidate after another."""
    def score(archs: list[Arch], on_candidate: Callable[[], None]) -> list[dict]:
        records = []
        for arch in archs:
            records.append(evaluator.evaluate(arch))
            on_candidate()
        return records
    return score


@contextmanager
def _local(evaluator: Evaluator, workers: int) -> Iterator[Scorer]:
    context = multiprocessing.get_context("spawn")  # no fork: torch's threads do not survive one
    with cf.ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init_worker,
                                initargs=(evaluator,)) as pool:
        def gather(futures: list[cf.Future]) -> Iterator[tuple[cf.Future, list[dict]]]:
            for future in cf.as_completed(futures):
                try:
                    yield future, future.result()
                except cf.process.BrokenProcessPool:
                    raise UsageError("a scoring worker died; the search keeps its last finished generation: "
                                     "rerun with --resume to continue") from None

        yield lambda archs, on_candidate: _scatter(evaluator, archs, workers, lambda m: pool.submit(
            _score_in_worker, m), gather, on_candidate)


@contextmanager
def _ray(evaluator: Evaluator, address: str) -> Iterator[Scorer]:
    with ray_session(address) as ray:
        shared = ray.put(evaluator)  # the batch travels to the object store once, not with every task
        remote = ray.remote(score_batch).options(**ray_task_options(), max_retries=2)
        workers = max(1, int(ray.cluster_resources().get("CPU", 1)))

        def gather(refs: list[Any]) -> Iterator[tuple[Any, list[dict]]]:
            pending = list(refs)
            while pending:
                [ref], pending = ray.wait(pending, num_returns=1)
                yield ref, ray_result(ray, ref, "a batch of search candidates")

        yield lambda archs, on_candidate: _scatter(evaluator, archs, workers, lambda m: remote.remote(shared, m),
                                                   gather, on_candidate)


@contextmanager
def scoring_pool(evaluator: Evaluator, *, workers: int | None = None,
                 ray_address: str | None = None) -> Iterator[Scorer]:
    """A ``Scorer`` for the duration of a search: in this process (neither option), on
    ``workers`` local processes, or one task per CPU of the Ray cluster at ``ray_address``."""
    if workers is not None and workers < 1:
        raise UsageError(f"--workers must be at least 1, got {workers}")
    if (workers is not None or ray_address) and evaluator.batch is None:
        raise UsageError("--workers and --ray-address spread the forward passes of a search with --dataset "
                         "(energy, NASWOT, SAHD); a search from --input-shape has none to spread")
    if ray_address:
        with _ray(evaluator, ray_address) as score:
            yield score
    elif workers is not None:
        with _local(evaluator, workers) as score:
            yield score
    else:
        yield serial_scorer(evaluator)
