import os
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]  # the checkout; pyproject.toml puts it on pytest's pythonpath
# The test models are tiny, so intra-op threads buy nothing; on a busy machine a second thread
# that waits for a core slows every op many times over. Subprocesses inherit the variable.
os.environ["OMP_NUM_THREADS"] = "1"
torch.set_num_threads(1)
# Ray instances started by the tests stay on the loopback interface (Ray otherwise advertises
# the machine's external IP); Ray reads this once, when it is first imported.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

SPACES = sorted((ROOT / "spaces").glob("*.yaml"))


@pytest.fixture
def root() -> Path:
    return ROOT
