"""How many intra-op threads torch uses in this process.

Two of our processes that each take every core slow each other far more than twice (measured
in issue 14: two 17-second trainings on 2 cores took 47 s with 2 threads each, 21 s with one),
so by default a process takes only the cores that are free when it starts. In order:

1. ``--threads N`` of any subcommand,
2. the environment variable ``AUTOST_THREADS``,
3. ``OMP_NUM_THREADS`` (the usual OpenMP setting, honoured as torch would),
4. the cores this process may run on (``os.sched_getaffinity``) minus those busy: the larger of
   the 1-minute load average and the processes runnable right now (``/proc/loadavg``, this
   one left out), at least 1.

Floating-point sums are split differently with another thread count, so trained accuracies
can differ between thread counts; metrics.json and search.json record the count used.
"""
from __future__ import annotations

import os

from autost.errors import UsageError

ENV = "AUTOST_THREADS"


def usable_cores() -> int:
    """Cores this process may be scheduled on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def busy_cores() -> int:
    """Cores other processes keep busy: the larger of the 1-minute load average and the count
    of processes runnable now, this one left out (0 where /proc/loadavg cannot be read)."""
    try:
        fields = open("/proc/loadavg").read().split()
        return max(round(float(fields[0])), int(fields[3].split("/")[0]) - 1)
    except (OSError, ValueError, IndexError):
        return 0


def _from_env(name: str) -> int | None:
    text = os.environ.get(name, "").strip()
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"{name}={text!r} must be a whole number of threads of at least 1")
    return int(text)


def choose_threads(requested: int | None = None) -> int:
    """The thread count by the rules in the module docstring."""
    if requested is not None:
        if isinstance(requested, bool) or not isinstance(requested, int) or requested < 1:
            raise UsageError(f"--threads must be an integer of at least 1, got {requested!r}")
        return requested
    for name in (ENV, "OMP_NUM_THREADS"):
        value = _from_env(name)
        if value is not None:
            return value
    return max(1, usable_cores() - busy_cores())


def apply_threads(requested: int | None = None) -> int:
    """Set torch's intra-op thread count by ``choose_threads``; returns it."""
    import torch  # here: the CLI imports this module before it knows whether a command needs torch

    threads = choose_threads(requested)
    torch.set_num_threads(threads)
    return threads


def current_threads() -> int:
    """The intra-op thread count in use (recorded with results that depend on it)."""
    import torch

    return torch.get_num_threads()
