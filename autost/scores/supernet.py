"""`--score supernet --supernet DIR`: a candidate's validation accuracy with the weights it inherits
from the supernet trained into DIR (``autost.supernet``: leading slices of the largest network's
weights, BatchNorm recalibrated on a few training batches, one held-out validation batch)."""
from __future__ import annotations

from autost.errors import BadInput
from autost.scores import SCORES, Context, Score


def _compute(ctx: Context) -> float:
    from autost.supernet import load, rate

    if ctx.supernet is None:
        raise BadInput("--score supernet rates candidates with a trained supernet: give --supernet DIR "
                       "(run.py supernet train)")
    return rate(load(ctx.supernet), ctx.arch, ctx.geometry)


# study=False: a correlation study trains no supernet
SCORES.register(Score("supernet", "validation accuracy with weights inherited from --supernet DIR, BatchNorm "
                                  "recalibrated (one-shot; ours in the details)", _compute, study=False))
