"""Run a command in a child process and measure it: exit status, output, wall time and peak RSS.

The peak is the child's own (``os.wait4``): ``resource.getrusage(RUSAGE_CHILDREN).ru_maxrss`` is
the largest peak of every child this process has ever waited for, earlier tests' included.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_bytes: int


def run_measured(args: list[str], *, cwd: str | Path, env: dict[str, str], timeout: float = 60) -> Finished:
    """``args`` run in ``cwd``; killed after ``timeout`` seconds (a return code of -9)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        timer = threading.Timer(timeout, proc.kill)
        timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: Popen must not wait again
        seconds = time.perf_counter() - start
        out.seek(0)
        err.seek(0)
        return Finished(proc.returncode, out.read().decode(errors="replace"), err.read().decode(errors="replace"),
                        seconds, usage.ru_maxrss * 1024)
