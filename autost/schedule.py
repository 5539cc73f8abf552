"""Learning-rate schedule: linear warm-up, then cosine decay to zero, stepped once per batch."""
from __future__ import annotations

import math

import torch
from torch.optim.lr_scheduler import LambdaLR


class WarmupCosine:
    """The factor on the base learning rate after ``step`` optimizer steps.

    A class rather than a closure so that ``LambdaLR.state_dict()`` records its settings as
    plain numbers (a checkpoint loads with ``weights_only=True``).
    """

    def __init__(self, warmup_steps: int, total_steps: int):
        if total_steps <= 0 or not 0 <= warmup_steps <= total_steps:
            raise ValueError(f"need 0 <= warmup_steps ({warmup_steps}) <= total_steps ({total_steps}), total > 0")
        self.warmup_steps = warmup_steps
        self.total_steps = total_steps

    def __call__(self, step: int) -> float:
        if step < self.warmup_steps:
            return (step + 1) / self.warmup_steps
        decay = self.total_steps - self.warmup_steps
        progress = min(1.0, (step - self.warmup_steps) / decay) if decay else 1.0
        return 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_cosine(optimizer: torch.optim.Optimizer, *, warmup_steps: int, total_steps: int) -> LambdaLR:
    """A per-step scheduler: call ``step()`` after every optimizer step."""
    return LambdaLR(optimizer, WarmupCosine(warmup_steps, total_steps))
