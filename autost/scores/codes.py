"""The activation-code scores of an untrained spiking network: NASWOT and SAHD (one forward
pass serves both).

NASWOT (Mellor et al., ICML 2021): the binary codes of a mini-batch define a kernel
``K[i, j] = N - hamming(c_i, c_j)`` (agreements on ones plus agreements on zeros); the
score is ``log|det K|``. In a spiking network the codes are the spikes of every LIF layer
at every time step.

SAHD (Kim et al., "Neural Architecture Search for Spiking Neural Networks", ECCV 2022,
SNASNet, Sec. 3.2): spike codes are sparse, so a plain Hamming distance mostly measures how
many spikes two codes have. SNASNet builds the kernel per LIF layer AND per time step, and
divides each pair's Hamming distance ``H`` by the distance expected between two random codes
of the same sparsities, ``N e`` with ``e = r_i (1 - r_j) + (1 - r_i) r_j`` (``r_i``: the
fraction of the layer's ``N`` neurons that sample ``i`` fires at that step):

    K[i, j] = sum over layers l and steps t of  N_l - 0.5 * H / (N_l e + 1e-3)

and scores ``log|det K|``. The factor 0.5 and the 1e-3 guard (it keeps two silent codes
finite) are the values of SNASNet's public implementation.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from spikingjelly.activation_based import neuron
from torch import nn

from autost.batchnorm import batchnorm_mode
from autost.scores import SCORES, Context, Score


@dataclass(frozen=True)
class CodeScores:
    naswot: float
    sahd: float


SAHD_EPS = 1e-3


def _pair_terms(codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """For binary ``codes [..., B, N]``: agreements on ones, Hamming distances and each row's
    count of ones, for every pair of rows."""
    c = codes.double()
    ones = c @ c.transpose(-2, -1)
    counts = c.sum(dim=-1)
    hamming = counts[..., :, None] + counts[..., None, :] - 2 * ones
    return ones, hamming, counts


def naswot_kernel(layer_codes: list[torch.Tensor]) -> torch.Tensor:
    """NASWOT's ``K[i, j] = sum of (N - hamming)`` over every layer's codes ``[T, B, N]``
    (the same as one code of all layers and steps concatenated)."""
    kernel = 0
    for codes in layer_codes:
        _, hamming, _ = _pair_terms(codes)
        kernel = kernel + (codes.shape[-1] - hamming).sum(dim=0)
    return kernel


def sahd_kernel(layer_codes: list[torch.Tensor]) -> torch.Tensor:
    """SNASNet's sparsity-aware Hamming kernel (module docstring) over ``[T, B, N]`` codes."""
    kernel = 0
    for codes in layer_codes:
        n = codes.shape[-1]
        _, hamming, counts = _pair_terms(codes)
        r = counts / n
        expected = r[..., :, None] * (1 - r[..., None, :]) + (1 - r[..., :, None]) * r[..., None, :]
        kernel = kernel + (n - 0.5 * hamming / (n * expected + SAHD_EPS)).sum(dim=0)
    return kernel


def logdet(kernel: torch.Tensor) -> float:
    return float(torch.linalg.slogdet(kernel).logabsdet)


def code_scores(layer_codes: list[torch.Tensor]) -> CodeScores:
    """NASWOT and SAHD from per-layer binary codes, each ``[T, B, N_layer]``."""
    return CodeScores(naswot=logdet(naswot_kernel(layer_codes)), sahd=logdet(sahd_kernel(layer_codes)))


@torch.no_grad()
def activation_scores(model: nn.Module, inputs: torch.Tensor) -> CodeScores:
    """NASWOT and SAHD of ``model`` on the batch ``inputs``; BatchNorm uses batch statistics
    (the network is untrained) and nothing in the model changes."""
    codes: list[torch.Tensor] = []

    def record(module, args, out):
        codes.append(out.reshape(out.shape[0], out.shape[1], -1))  # [T, B, ...] -> [T, B, N]

    handles = [m.register_forward_hook(record) for m in model.modules() if isinstance(m, neuron.LIFNode)]
    try:
        with batchnorm_mode(model, use_batch_stats=True):
            model(inputs)
    finally:
        for handle in handles:
            handle.remove()
    return code_scores(codes)


def _codes(ctx: Context, score: str) -> CodeScores:
    inputs = ctx.inputs(score)
    return ctx.shared("codes", lambda: activation_scores(ctx.network, inputs))


SCORES.register(Score("naswot", "log|det K| of the spikes' Hamming kernel (Mellor et al. 2021)",
                      lambda ctx: _codes(ctx, "naswot").naswot, data=True))
SCORES.register(Score("sahd", "SNASNet's sparsity-aware Hamming distance kernel (Kim et al. 2022)",
                      lambda ctx: _codes(ctx, "sahd").sahd, data=True))
