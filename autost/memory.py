"""Memory a model will need, from the closed form, checked before the model is built.

An architecture that cannot fit (``DEPTH: 10000``, ``EMBED_DIM: 1000000``, ``MLP_RATIO: [1e300]``)
is refused in a fraction of a second with the estimate, instead of growing for minutes until the
allocator fails.

The estimate (float32 throughout):

* weights: 4 bytes per parameter (``autost.cost.analytic_cost``); training adds the gradient
  and AdamW's two moments, 16 bytes per parameter in all;
* training activations, the tensors autograd keeps for the backward pass, per sample over all
  T steps: ``STEM_FACTOR`` x the stem's conv outputs (before pooling), and per block
  ``BLOCK_TOKEN_FACTOR`` x L*D + ``BLOCK_HIDDEN_FACTOR`` x L*hidden + ``BLOCK_ATTENTION_FACTOR``
  x heads*L^2 values (for a block type with a token matrix, ``AttentionType.token_matrix``),
  with L tokens of width D. The factors are ours, fitted to the bytes
  that ``torch.autograd.graph.saved_tensors_hooks`` sees for small models of this family
  (within a few percent; tests/test_reliability.py checks the estimate against that count);
* inference activations (no autograd): ``INFERENCE_FACTOR`` x the largest single activation,
  for the few tensors alive at once.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from autost.arch import Arch
from autost.blocks import attention_type
from autost.cost import analytic_cost
from autost.errors import UsageError
from autost.geometry import Geometry
from autost.model import MAX_STEM_POOLS, stem_pools

FLOAT_BYTES = 4
STEM_FACTOR = 3.5
BLOCK_TOKEN_FACTOR = 24
BLOCK_HIDDEN_FACTOR = 4.2
BLOCK_ATTENTION_FACTOR = 1
INFERENCE_FACTOR = 6
TRAINING_BYTES_PER_PARAM = 16  # weight, gradient, AdamW's exp_avg and exp_avg_sq


@dataclass(frozen=True)
class MemoryEstimate:
    params: int
    weight_bytes: int  # weights (and for training gradients and optimizer state)
    activation_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.weight_bytes + self.activation_bytes


def _times(factor: float, values: int) -> int:
    """``factor * values`` in integers (to a tenth), so a size beyond any float stays a number."""
    return round(10 * factor) * values // 10


def _activation_values(arch: Arch, geometry: Geometry) -> tuple[int, int]:
    """(values autograd keeps per sample for training, the largest single activation per sample)."""
    t, d = arch.steps(geometry.time_steps), arch.embed_dim
    pools = stem_pools(geometry.img_size, geometry.patch_size)
    side = geometry.img_size
    saved, largest = t * geometry.in_channels * side * side, 0
    for i, width in enumerate((d // 8, d // 4, d // 2, d)):
        conv = t * side * side * width
        saved += _times(STEM_FACTOR, conv)
        largest = max(largest, conv)
        if i >= MAX_STEM_POOLS - pools:
            side = (side + 1) // 2
    tokens = side * side
    saved += _times(STEM_FACTOR, t * tokens * d)  # relative position conv
    for i in range(arch.depth):
        hidden = arch.hidden_dim(i)
        # SSA's attention matrix; a block type without one (sdsa, qk) keeps no L x L values
        matrix = arch.num_heads[i] * tokens * tokens if attention_type(arch.attention[i]).token_matrix else 0
        saved += t * (_times(BLOCK_TOKEN_FACTOR, tokens * d) + _times(BLOCK_HIDDEN_FACTOR, tokens * hidden)
                      + _times(BLOCK_ATTENTION_FACTOR, matrix))
        largest = max(largest, t * tokens * hidden, t * matrix)
    return saved, largest


def estimate(arch: Arch, geometry: Geometry, batch_size: int, *, training: bool) -> MemoryEstimate:
    """Bytes to run ``arch`` on batches of ``batch_size``: training (forward and backward with
    AdamW) or inference. Exact integer arithmetic, so absurd sizes give absurd numbers, not errors."""
    params = analytic_cost(arch, **geometry.model_kwargs()).params
    saved, largest = _activation_values(arch, geometry)
    if training:
        weights, activations = TRAINING_BYTES_PER_PARAM * params, saved * batch_size * FLOAT_BYTES
    else:
        weights, activations = FLOAT_BYTES * params, INFERENCE_FACTOR * largest * batch_size * FLOAT_BYTES
    return MemoryEstimate(params=params, weight_bytes=weights, activation_bytes=activations)


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def available_bytes(device: torch.device | None = None) -> int:
    """Memory this process can still take: free GPU memory on a CUDA device; otherwise the
    kernel's MemAvailable (/proc/meminfo), lowered to the room left under a cgroup v2 limit."""
    if device is not None and device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    available = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                available = int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if available is None:
        available = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    limit, used = _read_int("/sys/fs/cgroup/memory.max"), _read_int("/sys/fs/cgroup/memory.current")
    if limit is not None and used is not None:
        available = min(available, max(0, limit - used))
    return available


def _count(n: int) -> str:
    """A count of any size in a few characters (an int beyond a float's range has no ``:g``)."""
    return f"{n:.3g}" if n < 10 ** 300 else f"10^{len(str(n)) - 1}"


def _size(n: int) -> str:
    if n >= 10 ** 18:
        return f"{_count(n // 10 ** 15)} PB"
    x = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if x < 1000:
            return f"{x:.3g} {unit}"
        x /= 1000
    return f"{x:.3g} PB"


def check_fits(arch: Arch, geometry: Geometry, batch_size: int, *, training: bool,
               device: torch.device | None = None) -> MemoryEstimate:
    """Raise a one-line ``UsageError`` with the estimate when ``arch`` cannot fit in the memory
    available now; returns the estimate otherwise."""
    need = estimate(arch, geometry, batch_size, training=training)
    have = available_bytes(device)
    if need.total_bytes > have:
        what = "training" if training else "a forward pass"
        state = "weights, gradients and AdamW state" if training else "weights"
        label = arch.short() if arch.depth <= 8 else f"d{arch.depth}-D{arch.embed_dim}"
        raise UsageError(
            f"{label}: {what} needs about {_size(need.total_bytes)} ({_count(need.params)} params: "
            f"{_size(need.weight_bytes)} of {state}; {_size(need.activation_bytes)} of activations at batch "
            f"{batch_size}, T {geometry.time_steps}), but {_size(have)} of memory is available; "
            "use a smaller architecture, --batch-size or --time-steps")
    return need
