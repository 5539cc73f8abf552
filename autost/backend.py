"""Which implementation SpikingJelly 2.0 uses for LIF neurons on CUDA.

In SpikingJelly 2.0.0 a neuron has no ``backend`` argument: its LIF is a registered
torch operator that dispatches on the tensor's device. On the CPU it always runs the
torch reference; on CUDA it prefers native CUDA (source builds only), then triton, then
the torch reference. ``SJ_LIF_CUDA_IMPLEMENTATION`` forces one, but SpikingJelly reads it
once, when its LIF operator is first imported, so changing the backend later also
updates that operator's cached selection.
"""
from __future__ import annotations

import os
import sys

ENV_VAR = "SJ_LIF_CUDA_IMPLEMENTATION"

# Our names -> SpikingJelly's. "cuda" means SpikingJelly's GPU kernels; the PyPI wheel has
# no native build, so they are its triton kernels.
_SJ_NAMES = {"auto": "auto", "torch": "torch", "cuda": "triton"}
BACKENDS = tuple(_SJ_NAMES)


def select_lif_backend(backend: str) -> None:
    """Make LIF neurons on CUDA use ``backend`` ("auto", "torch" or "cuda").

    The CPU path is SpikingJelly's torch implementation whatever is chosen here.
    """
    if backend not in _SJ_NAMES:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    requested = _SJ_NAMES[backend]
    os.environ[ENV_VAR] = requested
    lif_ops = sys.modules.get("spikingjelly._ops.lif")
    selection = getattr(lif_ops, "_selection", None)
    if selection is not None and getattr(selection, "_requested", requested) != requested:
        selection._requested = requested
        selection._selections.clear()
        selection._compiled_selections.clear()
