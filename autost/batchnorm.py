"""BatchNorm's state during a measuring pass: which statistics it normalizes with, and whether
a network has ever been trained (the energy counters and the scores that run a network use both)."""
from __future__ import annotations

import contextlib
from typing import Iterator

from torch import nn


@contextlib.contextmanager
def batchnorm_mode(model: nn.Module, use_batch_stats: bool) -> Iterator[None]:
    """Eval mode throughout; with ``use_batch_stats`` BatchNorm normalizes with the batch's
    statistics without touching its running statistics. Restores everything on exit."""
    modes = {m: (m.training, getattr(m, "track_running_stats", None)) for m in model.modules()}
    model.eval()
    if use_batch_stats:
        for m in modes:
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.train()
                m.track_running_stats = False
    try:
        yield
    finally:
        for m, (training, track) in modes.items():
            m.training = training
            if track is not None:
                m.track_running_stats = track


def is_fresh(model: nn.Module) -> bool:
    """True when no BatchNorm of ``model`` has ever been updated (an untrained network)."""
    return all(int(m.num_batches_tracked) == 0 for m in model.modules()
               if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.num_batches_tracked is not None)
