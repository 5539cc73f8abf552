"""Activation-code scores of an untrained spiking network, and AutoST's combined score.

NASWOT (Mellor et al., ICML 2021): the binary codes of a mini-batch define a kernel
``K[i, j] = N - hamming(c_i, c_j)`` (agreements on ones plus agreements on zeros); the
score is ``log|det K|``. In a spiking network the codes are the spikes of every LIF layer
at every time step.

SAHD (Kim et al., ECCV 2022, SNASNet): spike codes are sparse, so agreements on zeros swamp
the kernel. The sparsity-aware Hamming kernel weights each layer's agreements on ones by
``1 - r`` and on zeros by ``r``, where ``r`` is that layer's firing rate in the batch, so
that rare events (spikes) count more than the common silence. (Our reading of the paper.)
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from spikingjelly.activation_based import neuron
from torch import nn

from energy.estimate import batchnorm_mode


@dataclass(frozen=True)
class CodeScores:
    naswot: float
    sahd: float


def kernel_terms(codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Agreements on ones and on zeros between every pair of rows of binary ``codes [B, N]``."""
    c = codes.double()
    ones = c @ c.T
    counts = c.sum(dim=1)
    zeros = c.shape[1] - counts[:, None] - counts[None, :] + ones
    return ones, zeros


def logdet(kernel: torch.Tensor) -> float:
    return float(torch.linalg.slogdet(kernel).logabsdet)


def code_scores(layer_codes: list[torch.Tensor]) -> CodeScores:
    """NASWOT and SAHD from per-layer binary codes, each ``[B, N_layer]``."""
    batch = layer_codes[0].shape[0]
    plain = torch.zeros(batch, batch, dtype=torch.float64)
    sparse = torch.zeros(batch, batch, dtype=torch.float64)
    for codes in layer_codes:
        ones, zeros = kernel_terms(codes)
        rate = float(codes.float().mean())
        plain += ones + zeros
        sparse += (1.0 - rate) * ones + rate * zeros
    return CodeScores(naswot=logdet(plain), sahd=logdet(sparse))


@torch.no_grad()
def activation_scores(model: nn.Module, inputs: torch.Tensor) -> CodeScores:
    """NASWOT and SAHD of ``model`` on the batch ``inputs``; BatchNorm uses batch statistics
    (the network is untrained) and nothing in the model changes."""
    codes: list[torch.Tensor] = []

    def record(module, args, out):
        codes.append(out.transpose(0, 1).reshape(out.shape[1], -1))  # [T, B, ...] -> [B, T*...]

    handles = [m.register_forward_hook(record) for m in model.modules() if isinstance(m, neuron.LIFNode)]
    try:
        with batchnorm_mode(model, use_batch_stats=True):
            model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return code_scores(codes)


def autost_score(macs: int, naswot: float | None, lam: float = 0.0) -> float:
    """AutoST's combined score ``MACs in G + lambda / NASWOT``; ``lambda = 0`` is plain FLOPs."""
    if lam == 0.0:
        return macs / 1e9
    if not naswot:
        raise ValueError("the AutoST score with lambda != 0 needs a non-zero NASWOT score (give a dataset)")
    return macs / 1e9 + lam / naswot
