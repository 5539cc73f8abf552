"""How long `run.py --help` and each `run.py COMMAND --help` take, in a fresh process each time.

    PYTHONPATH=. .venv/bin/python -m benchmarks.bench_help [--runs 5]

Each help runs ``--runs`` times as ``python run.py ... --help`` with one thread; the median wall
time per command, and whether the process imported torch (it must not), go to
benchmarks/results/help_time.json. The interpreter's own start (``python -c pass``) is measured
the same way, for comparison.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from autost import cli
from benchmarks.common import write_result

ROOT = Path(__file__).resolve().parent.parent

# what the process imported, printed after the help (``run.py`` exits through SystemExit)
PROBE = ("import runpy, sys; sys.argv = ['run.py', *sys.argv[1:], '--help']\n"
         "try:\n    runpy.run_path('run.py', run_name='__main__')\n"
         "except SystemExit:\n    pass\n"
         "print('torch' in sys.modules, file=sys.stderr)")


def _seconds(argv: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, check=True, capture_output=True,
                       env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
        times.append(time.perf_counter() - start)
    return times


def _imports_torch(command: list[str]) -> bool:
    done = subprocess.run([sys.executable, "-c", PROBE, *command], cwd=ROOT, check=True, capture_output=True,
                          text=True, env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    return done.stderr.strip().splitlines()[-1] == "True"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per command (default 5)")
    args = parser.parse_args()
    commands = [[]] + [leaf.prog.split()[1:] for leaf in cli._leaves(cli.build_parser())]
    rows = {}
    for command in commands:
        times = _seconds([sys.executable, "run.py", *command, "--help"], args.runs)
        name = " ".join(["run.py", *command])
        rows[name] = {"median_s": round(statistics.median(times), 3), "max_s": round(max(times), 3),
                      "imports_torch": _imports_torch(command)}
        print(f"{name:24s} median {rows[name]['median_s']:.3f} s  torch {rows[name]['imports_torch']}")
    python = statistics.median(_seconds([sys.executable, "-c", "pass"], args.runs))
    path = write_result("help_time", {"runs": args.runs, "python_start_s": round(python, 3), "commands": rows,
                                      "slowest_median_s": max(r["median_s"] for r in rows.values())})
    print(f"python itself {python:.3f} s; -> {path}")


if __name__ == "__main__":
    main()
