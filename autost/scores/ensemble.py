"""Rank ensembles of scores: ``--score ensemble:flops+zico`` (two or more registered scores).

White et al. 2022 ("A Deeper Look at Zero-Cost Proxies") and Li et al.'s survey of zero-shot NAS
recommend combining proxies by rank: within a set of candidates each member score ranks them,
and a candidate's ensemble score is the sum of its ranks.

A search scores candidates one at a time, and a candidate must get the same score whenever and
wherever the search meets it (a resumed run, another worker). So the ranks are taken against a
fixed reference set (our choice): ``REFERENCE_ARCHS`` architectures drawn from the space with the
run seed (within ``--param-limits``), scored by every member once before the search. A
candidate's rank under a member is the number of reference architectures it beats plus half the
number it ties, and the ensemble is the sum over members. The score therefore depends only on the
candidate, the space, the seed and the batch, which keeps a search reproducible and resumable.
In ``run.py correlate`` the reference set is the study's own architectures, and the ensemble is
exactly the within-set rank sum (every midrank lowered by 1/2, which changes no ranking).
"""
from __future__ import annotations

import bisect
import random
from typing import Callable, Iterable, Mapping, Sequence

from autost.arch import Arch
from autost.errors import BadInput
from autost.scores import ENSEMBLE, FAMILIES, SCORES, Context, Score, get_score
from autost.space import SearchSpace

REFERENCE_ARCHS = 32  # the reference set of a search
MAX_DRAWS = 100  # per reference architecture, before the parameter limits count as too narrow


def members(name: str) -> tuple[str, ...]:
    """The member scores of the ensemble ``name`` (``ensemble:A+B``), checked: registered, distinct,
    at least two, no ensembles."""
    names = tuple(name[len(ENSEMBLE):].split("+"))
    if len(names) < 2 or len(set(names)) != len(names) or any(n.startswith(ENSEMBLE) for n in names):
        raise BadInput(f"--score {name}: an ensemble names two or more distinct registered scores, e.g. "
                       f"{ENSEMBLE}flops+zico")
    for member in names:
        SCORES.get(member)
    return names


def midrank(value: float, reference: Sequence[float]) -> float:
    """How many of the sorted ``reference`` values ``value`` beats, plus half the ties."""
    below = bisect.bisect_left(reference, value)
    return below + 0.5 * (bisect.bisect_right(reference, value) - below)


def rank_sum(values: Mapping[str, float], reference: Mapping[str, Sequence[float]]) -> float:
    """The sum over members of ``values[m]``'s midrank among the sorted ``reference[m]``."""
    return sum(midrank(value, reference[m]) for m, value in values.items())


def reference_values(name: str, contexts: Iterable[Context]) -> dict[str, list[float]]:
    """Each member's sorted values over the reference set's ``contexts``."""
    names = members(name)
    columns: dict[str, list[float]] = {m: [] for m in names}
    for ctx in contexts:
        for m in names:
            columns[m].append(ctx.score(m))
    return {m: sorted(column) for m, column in columns.items()}


def reference_archs(space: SearchSpace, seed: int, params_ok: Callable[[Arch], bool],
                    n: int = REFERENCE_ARCHS) -> list[Arch]:
    """``n`` architectures of ``space`` drawn with ``seed``, each passing ``params_ok``."""
    rng = random.Random(seed)
    archs: list[Arch] = []
    for _ in range(MAX_DRAWS * n):
        arch = space.sample(rng)
        if params_ok(arch):
            archs.append(arch)
            if len(archs) == n:
                return archs
    raise BadInput(f"found only {len(archs)} of the {n} reference architectures of an ensemble score within "
                   "--param-limits; widen them")


def ensemble(name: str) -> Score:
    """The ``Score`` of the ensemble ``name``; it needs data if a member does."""
    names = members(name)
    scores = [get_score(m) for m in names]

    def compute(ctx: Context) -> float:
        if ctx.reference is None or any(m not in ctx.reference for m in names):
            raise BadInput(f"--score {name} ranks against a reference set, and none was given")
        return rank_sum({m: ctx.score(m) for m in names}, ctx.reference)

    return Score(name, f"the sum of the ranks of {', '.join(names)}", compute,
                 data=lambda lam: any(s.needs_data(lam) for s in scores), backward=any(s.backward for s in scores))


FAMILIES[ENSEMBLE] = ensemble
