"""`run.py --help` and every command's `--help` answer without importing torch (the parsers come from
the option tables, the commands import their work when they run), and what the help shows without
torch matches the registries it stands for."""
import json
import subprocess
import sys

import pytest

from autost import cli
from autost.tables import catalog
from autost.tables.commands import SPIKINGJELLY_MODELS
from conftest import ROOT

# run.py itself and each command's parser (``supernet train`` for ``supernet``'s action)
COMMANDS = [[]] + [leaf.prog.split()[1:] for leaf in cli._leaves(cli.build_parser())]
CHECK = ("import runpy, sys; sys.argv = ['run.py', *sys.argv[1:], '--help']\n"
         "try:\n    runpy.run_path('run.py', run_name='__main__')\n"
         "except SystemExit as e:\n    assert e.code == 0, e.code\n"
         "print(sorted(m for m in ('torch', 'spikingjelly', 'matplotlib', 'scipy') if m in sys.modules), "
         "file=sys.stderr)")


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "run.py")
def test_help_imports_no_torch(command):
    done = subprocess.run([sys.executable, "-c", CHECK, *command], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert "usage: run.py" in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "[]", done.stderr


def test_the_stored_score_help_is_the_registrys():
    assert catalog.stored() == catalog.current(), (
        "a score was added or its help changed: run `python -m autost.tables.catalog` to refresh "
        f"{catalog.FILE.relative_to(ROOT)}")
    assert json.loads(catalog.FILE.read_text()) == catalog.stored()


def test_the_import_choices_are_the_converters():
    from autost.convert import CONSTRUCTORS

    assert sorted(SPIKINGJELLY_MODELS) == sorted(CONSTRUCTORS)
