"""The hand-designed network a pipeline compares its search with: the ``baseline`` section.

The section names the baseline in one of three ways, and optionally the train datasets it is
trained on (default: every one)::

    baseline: {arch: path/to/arch.yaml}
    baseline: {RETRAIN: {DEPTH: 2, EMBED_DIM: 64, MLP_RATIO: [4, 4], NUM_HEADS: [2, 2]}}
    baseline: {reference: spikformer, datasets: [digits]}

``reference: spikformer`` is Spikformer-4-384's arrangement (Zhou et al., ICLR 2023: depth 4,
width 384, MLP ratio 4 in every block, 12 heads of width 32, SSA, the spike shortcut, tau 2,
threshold 1) scaled to the search space by a rule of ours: the space's depth nearest to 4 and
width nearest to 384 (ties: the smaller), MLP ratio 4 in every block, and per block the head
count that divides the width with the head width nearest to 32 (ties: the wider heads). The
result need not be in the space (a space without MLP ratio 4 cannot hold it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from autost.arch import Arch
from autost.errors import BadInput
from autost.space import SearchSpace

WAYS = ("arch", "RETRAIN", "reference")
KEYS = (*WAYS, "datasets")
SPIKFORMER = {"depth": 4, "embed_dim": 384, "mlp_ratio": 4, "head_width": 32}


@dataclass(frozen=True)
class Baseline:
    arch: Arch
    source: str  # how the config named it, e.g. "reference spikformer" or "arch configs/x.yaml"
    datasets: tuple[str, ...]  # the train datasets it is trained on


def _nearest(choices: Sequence[int], target: float) -> int:
    """The choice nearest to ``target``; ties: the smaller."""
    return min(sorted(choices), key=lambda c: abs(c - target))


def _heads(width: int, head_width: int) -> int:
    """The head count dividing ``width`` whose head width is nearest ``head_width``; ties: wider heads."""
    counts = [h for h in range(1, width + 1) if width % h == 0]
    return min(counts, key=lambda h: (abs(width / h - head_width), h))


def spikformer(space: SearchSpace) -> Arch:
    """Spikformer-4-384's arrangement scaled to ``space`` (the rule in the module's docstring)."""
    depth = _nearest(space.depth, SPIKFORMER["depth"])
    width = _nearest(space.embed_dim, SPIKFORMER["embed_dim"])
    heads = _heads(width, SPIKFORMER["head_width"])
    return Arch(depth, width, (SPIKFORMER["mlp_ratio"],) * depth, (heads,) * depth)


REFERENCES: dict[str, Callable[[SearchSpace], Arch]] = {"spikformer": spikformer}


def _arch(section: Mapping[str, Any], space_path: str) -> tuple[Arch, str]:
    given = [way for way in WAYS if way in section]
    if len(given) != 1:
        raise BadInput("the baseline section needs exactly one of baseline.arch (a file), baseline.RETRAIN (a "
                       f"mapping) or baseline.reference ({', '.join(REFERENCES)}), got "
                       f"{', '.join('baseline.' + g for g in given) or 'none'}")
    way = given[0]
    value = section[way]
    if way == "reference":
        if value not in REFERENCES:
            raise BadInput(f"baseline.reference {value!r} is not a known reference; use one of {', '.join(REFERENCES)}")
        return REFERENCES[value](SearchSpace.from_yaml(space_path)), f"reference {value}"
    try:
        if way == "arch":
            if not isinstance(value, str):
                raise BadInput(f"baseline.arch must be the path of an architecture file, got {value!r}")
            return Arch.from_yaml(value), f"arch {value}"
        return Arch.from_dict({"RETRAIN": value}), "inline RETRAIN"
    except ValueError as err:
        raise BadInput(f"baseline.{way}: {err}") from None


def read_baseline(section: Mapping[str, Any], space_path: str, train_datasets: Sequence[str]) -> Baseline | None:
    """The baseline the pipeline's ``baseline`` section names (``None`` for an empty section),
    checked: an unknown key, two ways of naming it, a bad architecture or a dataset the pipeline
    does not train on is one line naming the key."""
    if not section:
        return None
    unknown = [str(k) for k in section if k not in KEYS]
    if unknown:
        raise BadInput(f"baseline.{unknown[0]} is not a key of the baseline section; its keys are {', '.join(KEYS)}")
    arch, source = _arch(section, space_path)
    datasets = section.get("datasets", list(train_datasets))
    if isinstance(datasets, str):
        datasets = [datasets]
    if not isinstance(datasets, list) or not datasets:
        raise BadInput(f"baseline.datasets must be a list of train datasets, got {datasets!r}")
    outside = [d for d in datasets if d not in train_datasets]
    if outside:
        raise BadInput(f"baseline.datasets: {outside[0]!r} is not trained on by this pipeline (train.dataset is "
                       f"{', '.join(train_datasets)}); remove it or add it to train.dataset")
    return Baseline(arch, source, tuple(datasets))
