"""AutoST's combined score ``MACs in G + lambda / NASWOT``; at ``lambda = 0`` it is plain FLOPs and
needs no data."""
from __future__ import annotations

from autost.scores import SCORES, Context, Score


def autost_score(macs: int, naswot: float | None, lam: float = 0.0) -> float:
    """AutoST's combined score ``MACs in G + lambda / NASWOT``; ``lambda = 0`` is plain FLOPs."""
    if lam == 0.0:
        return macs / 1e9
    if not naswot:
        raise ValueError("the AutoST score with lambda != 0 needs a non-zero NASWOT score (give a dataset)")
    return macs / 1e9 + lam / naswot


def _compute(ctx: Context) -> float:
    return autost_score(ctx.cost.macs, ctx.score("naswot") if ctx.lam != 0 else None, ctx.lam)


SCORES.register(Score("autost", "MACs in G + lambda / NASWOT (AutoST; --lambda)", _compute,
                      data=lambda lam: lam != 0))
