import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("OMP_NUM_THREADS", "2")

SPACES = sorted((ROOT / "spaces").glob("*.yaml"))


@pytest.fixture
def root() -> Path:
    return ROOT
