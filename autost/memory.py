"""The resource guard: memory a model will need, from the closed form, checked before anything is
allocated, by every path that builds models (train, energy, profile, a search's candidates and its
closed form's calibration, correlate, the pipeline's energy step, report --compare).

An architecture that cannot fit (``DEPTH: 10000``, ``EMBED_DIM: 1000000``, ``MLP_RATIO: [1e300]``)
is refused in a fraction of a second with the estimate, instead of growing for minutes until the
allocator fails. A search space is checked the same way through its largest architecture
(``check_space``) before any sampling, data loading or calibration. The limit is the memory
available now (``available_bytes``), or ``--max-memory`` (every subcommand; the environment
variable ``AUTOST_MAX_MEMORY``, which worker processes inherit).

The footprint (``footprint``; float32 throughout), for one of three uses (``USES``):

* weights: 4 bytes per parameter (``autost.cost.analytic_cost``); training adds the gradient
  and AdamW's two moments, 16 bytes per parameter in all;
* modules and runtime: ``MODULE_BYTES_PER_BLOCK`` per block for the Python objects of its modules
  (measured: 130-170 KB a block at D 32-64, so 2 GB for 10000 blocks before any tensor), and
  ``RUNTIME_BYTES`` for what a first pass takes beyond its tensors (thread pools, kernels, the
  autograd engine; measured: 25-35 MB for a forward pass, about 100 MB for a training step);
* training activations: ``TRAIN_PEAK_FACTOR`` x the tensors autograd keeps for the backward pass
  (the peak of a training step, measured as process RSS, was 2.0-2.6 x them: the backward's
  gradients of those tensors and the allocator's free blocks). The kept values, per sample over
  all T steps: ``STEM_FACTOR`` x the stem's conv outputs (before pooling), and per block
  ``BLOCK_TOKEN_FACTOR`` x L*D + ``BLOCK_HIDDEN_FACTOR`` x L*hidden + ``BLOCK_ATTENTION_FACTOR``
  x heads*L^2 values (for a block type with a token matrix, ``AttentionType.token_matrix``),
  with L tokens of width D. The factors are ours, fitted to the bytes that
  ``torch.autograd.graph.saved_tensors_hooks`` sees for small models of this family (within a few
  percent; tests/test_reliability.py checks ``saved_bytes`` against that count);
* a forward pass without autograd: every LIF neuron keeps its membrane potential until the next
  pass, as many values per sample as the closed form counts (``autost.cost.stem_part`` and
  ``block_part``, from what each block type declares; a type that declares nothing is counted
  with ``UNDECLARED_ATTENTION_LIFS`` x L*D for its attention), times ``STATE_FACTOR`` for the
  allocator's share (the peak RSS of an energy pass was 1.5-2.2 x those values), plus
  ``INFERENCE_FACTOR`` x the largest single activation for the few tensors alive at once;
* a forward pass that keeps every spike (NASWOT and SAHD's codes): the same plus every LIF
  output at every step.

Counting needs no model, but it walks every block: drawing, validating and costing an
architecture takes about 10 microseconds a block (measured at depth 10,000 and 100,000), so
``MAX_DEPTH`` keeps a candidate to about a second and a search's thousands of them practical.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import torch

from autost.arch import Arch
from autost.blocks import attention_type
from autost.cost import analytic_cost, block_part, stem_part
from autost.errors import UsageError
from autost.geometry import Geometry
from autost.options import parse_size
from autost.model import MAX_STEM_POOLS, stem_pools
from autost.space import SearchSpace

FLOAT_BYTES = 4
STEM_FACTOR = 3.5
BLOCK_TOKEN_FACTOR = 24
BLOCK_HIDDEN_FACTOR = 4.2
BLOCK_ATTENTION_FACTOR = 1
TRAIN_PEAK_FACTOR = 2.6
UNDECLARED_ATTENTION_LIFS = 4  # as many L x D LIFs as SSA's attention has (q, k, v and its own)
STATE_FACTOR = 2.5
INFERENCE_FACTOR = 6
MODULE_BYTES_PER_BLOCK = 200_000
RUNTIME_BYTES = {"forward": 40_000_000, "codes": 40_000_000, "train": 130_000_000}
TRAINING_BYTES_PER_PARAM = 16  # weight, gradient, AdamW's exp_avg and exp_avg_sq
MAX_DEPTH = 100_000
LIMIT_ENV = "AUTOST_MAX_MEMORY"
# what each use of a model runs, for the refusal
USES = {"forward": "a forward pass", "codes": "a forward pass keeping every spike (NASWOT, SAHD)",
        "train": "training"}


@dataclass(frozen=True)
class MemoryFootprint:
    params: int
    weight_bytes: int  # weights (and for training gradients and optimizer state)
    module_bytes: int  # the Python objects of the modules, and the runtime's own
    activation_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.weight_bytes + self.module_bytes + self.activation_bytes


@dataclass(frozen=True)
class _Values:
    """Activation values per sample."""

    saved: int  # what autograd keeps for the backward pass, all T steps
    largest: int  # the largest single activation, all T steps
    neurons: int  # LIF neurons (each keeps its membrane potential), one step


def _times(factor: float, values: int) -> int:
    """``factor * values`` in integers (to a tenth), so a size beyond any float stays a number."""
    return round(10 * factor) * values // 10


def _values(arch: Arch, geometry: Geometry) -> _Values:
    t, d = arch.steps(geometry.time_steps), arch.embed_dim
    pools = stem_pools(geometry.img_size, geometry.patch_size)
    side = geometry.img_size
    saved, largest = t * geometry.in_channels * side * side, 0
    for i, width in enumerate((d // 8, d // 4, d // 2, d)):
        conv = side * side * width
        saved += _times(STEM_FACTOR, t * conv)
        largest = max(largest, t * conv)
        if i >= MAX_STEM_POOLS - pools:
            side = (side + 1) // 2
    tokens = side * side
    stem, _ = stem_part(arch, in_channels=geometry.in_channels, img_size=geometry.img_size,
                        patch_size=geometry.patch_size)
    neurons = sum(stem.lifs.values())
    saved += _times(STEM_FACTOR, t * tokens * d)  # relative position conv
    for i in range(arch.depth):
        hidden = arch.hidden_dim(i)
        # SSA's attention matrix; a block type without one (sdsa, qk) keeps no L x L values
        matrix = arch.num_heads[i] * tokens * tokens if attention_type(arch.attention[i]).token_matrix else 0
        saved += t * (_times(BLOCK_TOKEN_FACTOR, tokens * d) + _times(BLOCK_HIDDEN_FACTOR, tokens * hidden)
                      + _times(BLOCK_ATTENTION_FACTOR, matrix))
        largest = max(largest, t * tokens * hidden, t * matrix)
        neurons += _block_neurons(arch, i, tokens)
    return _Values(saved, largest, neurons)


def _block_neurons(arch: Arch, i: int, tokens: int) -> int:
    """LIF neurons of block ``i`` per sample and step: the closed form's count where its attention
    type declares its layers, else as many as SSA's attention has, plus the block's own."""
    kind = attention_type(arch.attention[i])
    if kind.linears is not None and kind.lifs is not None:
        return sum(block_part(arch, i, tokens).lifs.values())
    return (UNDECLARED_ATTENTION_LIFS + 2) * tokens * arch.embed_dim + tokens * arch.hidden_dim(i)


def saved_bytes(arch: Arch, geometry: Geometry, batch_size: int) -> int:
    """Bytes autograd keeps for the backward pass of one training step (the fitted part of the estimate)."""
    return _values(arch, geometry).saved * batch_size * FLOAT_BYTES


def neuron_count(arch: Arch, geometry: Geometry) -> int:
    """LIF neurons per sample and step, each keeping its membrane potential after a pass."""
    return _values(arch, geometry).neurons


def _check_use(use: str) -> None:
    if use not in USES:
        raise ValueError(f"unknown use {use!r}; one of {', '.join(USES)}")


def scoring_use(backward: bool) -> str:
    """What a network built to score a candidate is checked for: a training step when a score runs a
    backward pass through it, else a forward pass that keeps every spike (NASWOT and SAHD keep them;
    an energy pass alone keeps less, so this is the cautious side)."""
    return "train" if backward else "codes"


def footprint(arch: Arch, geometry: Geometry, batch_size: int, *, use: str) -> MemoryFootprint:
    """Bytes to run ``arch`` on batches of ``batch_size`` for ``use`` (``USES``). Exact integer
    arithmetic, so absurd sizes give absurd numbers, not errors; nothing is allocated."""
    _check_use(use)
    params = analytic_cost(arch, **geometry.model_kwargs()).params
    values = _values(arch, geometry)
    if use == "train":
        weights, activations = TRAINING_BYTES_PER_PARAM * params, _times(TRAIN_PEAK_FACTOR, values.saved)
    else:
        weights = FLOAT_BYTES * params
        activations = INFERENCE_FACTOR * values.largest + _times(STATE_FACTOR, values.neurons)
        if use == "codes":
            activations += arch.steps(geometry.time_steps) * values.neurons
    return MemoryFootprint(params=params, weight_bytes=weights,
                          module_bytes=MODULE_BYTES_PER_BLOCK * arch.depth + RUNTIME_BYTES[use],
                          activation_bytes=activations * batch_size * FLOAT_BYTES)


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


@contextmanager
def memory_limit(size: int | None) -> Iterator[None]:
    """Within the block, ``size`` bytes replace the available memory as the guard's limit (in this
    process and the workers it starts, through ``AUTOST_MAX_MEMORY``); ``None`` changes nothing."""
    if size is None:
        yield
        return
    before = os.environ.get(LIMIT_ENV)
    os.environ[LIMIT_ENV] = str(size)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(LIMIT_ENV, None)
        else:
            os.environ[LIMIT_ENV] = before


def limit(device: torch.device | None = None) -> tuple[int, str]:
    """The guard's limit in bytes, and what it is, for the refusal."""
    text = os.environ.get(LIMIT_ENV, "").strip()
    if text:
        size = parse_size(f"${LIMIT_ENV}", text)
        return size, f"--max-memory allows {_size(size)}"
    have = available_bytes(device)
    return have, f"{_size(have)} of memory is available"


def _count(n: int) -> str:
    """A count of any size in a few characters (an int beyond a float's range has no ``:g``, and
    Python refuses to write one of more than 4300 digits)."""
    return f"{n:.3g}" if n < 10 ** 300 else f"about 10^{_digits(n) - 1}"


def count_text(n: int) -> str:
    """A count as people read it: with thousands separators below 10^15, else as ``_count``."""
    return f"{n:,}" if n < 10 ** 15 else _count(n)


def _digits(n: int) -> int:
    """Decimal digits of a positive ``n``, without converting it to a string (which Python refuses
    beyond 4300 digits)."""
    digits = int(n.bit_length() * 0.30102999566398120) + 1
    return digits if n >= 10 ** (digits - 1) else digits - 1


def _size(n: int) -> str:
    if n >= 10 ** 18:
        return f"{_count(n // 10 ** 15)} PB"
    x = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if x < 1000:
            return f"{x:.3g} {unit}"
        x /= 1000
    return f"{x:.3g} PB"


def label(arch: Arch) -> str:
    """``arch.short()``, or for a deep one depth and width alone (a label of 10000 blocks helps nobody)."""
    return arch.short() if arch.depth <= 8 else f"d{arch.depth}-D{arch.embed_dim}"


def check_depth(depth: int, subject: str) -> None:
    """Refuse a depth whose mere counting is impractical (``MAX_DEPTH``)."""
    if depth > MAX_DEPTH:
        raise UsageError(f"{subject}: DEPTH {count_text(depth)} is beyond what can be counted in reasonable time "
                         f"(at most {MAX_DEPTH:,} blocks: each candidate costs about 10 microseconds a block); "
                         "use a shallower architecture")


def check_fits(arch: Arch, geometry: Geometry, batch_size: int, *, use: str, device: torch.device | None = None,
               subject: str | None = None) -> MemoryFootprint:
    """The guard: raise a one-line ``UsageError`` with the estimate when running ``arch`` for
    ``use`` (``USES``) on batches of ``batch_size`` cannot fit under the limit (``limit``); returns
    the estimate otherwise. ``subject`` names the architecture in the message (its label by default)."""
    subject = subject or label(arch)
    check_depth(arch.depth, subject)
    need = footprint(arch, geometry, batch_size, use=use)
    have, source = limit(device)
    if need.total_bytes > have:
        state = "weights, gradients and AdamW state" if use == "train" else "weights"
        raise UsageError(
            f"{subject}: {USES[use]} needs about {_size(need.total_bytes)} ({_count(need.params)} params: "
            f"{_size(need.weight_bytes)} of {state}, {_size(need.module_bytes)} of modules and runtime; "
            f"{_size(need.activation_bytes)} of activations at batch {batch_size}, T "
            f"{arch.steps(geometry.time_steps)}), but {source}; use a smaller architecture, --batch-size or "
            "--time-steps (or a larger --max-memory where the estimate is too cautious)")
    return need


def largest_arch(space: SearchSpace) -> Arch:
    """The architecture of ``space`` that needs the most memory: every gene at its largest (the
    deepest and widest, the widest MLPs, the most heads that divide the width, an attention type
    with a token matrix if the space has one, the most time steps)."""
    depth, dim = max(space.depth), max(space.embed_dim)
    attention = next((a for a in space.attention if attention_type(a).token_matrix), space.attention[0])
    return Arch(depth, dim, (max(space.mlp_ratio),) * depth, (max(space.heads_for(dim)),) * depth,
                (attention,) * depth, max(space.time_steps) if space.time_steps else None)


def check_space(space: SearchSpace, geometry: Geometry, batch_size: int, *, use: str | None,
                device: torch.device | None = None) -> None:
    """The guard for a whole space, before anything is sampled or loaded: its depth must be countable
    and, for ``use`` (``None``: counting only), its largest architecture must fit."""
    check_depth(max(space.depth), space.name)
    if use is not None:
        arch = largest_arch(space)
        check_fits(arch, geometry, batch_size, use=use, device=device,
                   subject=f"{space.name}: its largest architecture {label(arch)}")
