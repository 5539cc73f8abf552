"""The weight seed of a candidate: the same wherever and whenever it is built."""
from __future__ import annotations

import hashlib

from autost.arch import Arch


def arch_seed(seed: int, arch: Arch) -> int:
    """A weight seed that depends only on the run seed and the architecture."""
    digest = hashlib.sha256(f"{seed}:{arch.to_dict()}".encode()).digest()
    return int.from_bytes(digest[:4], "little")
