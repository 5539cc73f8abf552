"""Run a Python script in a child process and measure it: exit status, output, CPU time and peak RSS.

CPU time (user and system, from ``RUSAGE_CHILDREN`` before and after, which adds up every child
waited for) says how much work the child did whatever else the machine runs; its wall time on a
busy 2-core machine was up to 4 times longer.

The peak is the child's ``VmHWM`` (``/proc/self/status``), written by a wrapper when the script
exits. ``getrusage``'s ``ru_maxrss`` cannot say it, neither ``RUSAGE_CHILDREN`` nor ``os.wait4``'s:
on Linux a forked child starts from its parent's peak and keeps it across ``exec``, so a child of
a test process that has grown to 0.4 GB reports at least 0.4 GB whatever it did itself, and
``RUSAGE_CHILDREN`` is moreover the largest of every child ever waited for.
"""
from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# argv: the file for the peak, the script, its arguments; the peak is written however the script exits
WRAPPER = """
import atexit, runpy, sys
def peak(path):
    with open("/proc/self/status") as status:
        kb = next(line.split()[1] for line in status if line.startswith("VmHWM:"))
    with open(path, "w") as out:
        out.write(kb)
atexit.register(peak, sys.argv[1])
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str
    cpu_seconds: float
    peak_bytes: int  # 0 when the script was killed before it could say


def run_measured(script: str | Path, args: list[str], *, cwd: str | Path, env: dict[str, str],
                 timeout: float = 60) -> Finished:
    """``python script *args`` in ``cwd``; killed after ``timeout`` seconds."""
    with tempfile.TemporaryDirectory() as folder:
        peak = Path(folder) / "peak"
        before = _children_cpu()
        done = subprocess.run([sys.executable, "-c", WRAPPER, str(peak), str(script), *args], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        cpu = _children_cpu() - before
        kb = int(peak.read_text()) if peak.exists() else 0
    return Finished(done.returncode, done.stdout, done.stderr, cpu, kb * 1024)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
