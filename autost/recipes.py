"""Augmentation recipes as data: one named recipe per dataset family, chosen from the dataset and
overridable key by key.

The values come from the papers' own training scripts (docs/data.md, "Training recipes", cites each):
``cifar`` is Spikformer's ``cifar10/cifar10.yml`` (which AutoST's CIFAR runs follow) and ``dvs``
is Spikformer's ``cifar10dvs/train.py``. ``embedded`` is ours: no augmentation (the embedded sets'
and the 28x28 sets' default). Which one a dataset gets is part of its registration
(``datasets.training``). ``autost.augment`` applies a
recipe to each training batch.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Iterable, Mapping

import yaml

from autost.errors import UsageError


@dataclass(frozen=True)
class AugRecipe:
    """What is done to a training batch. A probability or alpha of 0 switches that step off.

    Static images (``[B, C, H, W]``) get ``hflip``, ``randaugment_*`` and ``reprob``; event
    frames (``[B, T, 2, H, W]``) get ``hflip`` and ``event_ops``, each sample's draw shared by all
    its time steps. Both get mixup/cutmix, whose soft targets the loss smooths as timm does.
    """

    hflip: float = 0.0  # probability of a horizontal flip, per sample
    randaugment_n: int = 0  # RandAugment ops per image, drawn with replacement as timm does (0: off)
    randaugment_m: float = 9.0  # magnitude on timm's 0..10 scale
    randaugment_p: float = 0.5  # probability that a chosen op is applied (timm's AugmentOp prob)
    reprob: float = 0.0  # random erasing probability, per sample (erased to 0 = the mean pixel)
    event_ops: bool = False  # one op per sample: identity, rotate, shear, translate x/y or cutout
    mixup: float = 0.0  # mixup alpha: lambda ~ Beta(alpha, alpha), one per batch
    cutmix: float = 0.0  # cutmix alpha
    mix_prob: float = 1.0  # probability that a batch is mixed at all
    switch_prob: float = 0.5  # with mixup and cutmix both on: probability of cutmix
    mix_until: float = 1.0  # fraction of the run's epochs mixed; the rest train on clean labels

    def __post_init__(self) -> None:
        checks = [
            (all(0 <= getattr(self, k) <= 1 for k in ("hflip", "randaugment_p", "reprob", "mix_prob",
                                                       "switch_prob", "mix_until")),
             "probabilities and mix_until must be in [0, 1]"),
            (0 <= self.randaugment_n <= 10, "randaugment_n must be 0 (off) to 10 ops per image"),
            (0 < self.randaugment_m < 10, "randaugment_m must be in (0, 10), timm's magnitude scale"),
            (self.mixup >= 0 and self.cutmix >= 0, "mixup and cutmix alphas must be >= 0"),
        ]
        for ok, message in checks:
            if not ok:
                raise UsageError(f"augmentation recipe: {message}")

    @property
    def mixes(self) -> bool:
        return (self.mixup > 0 or self.cutmix > 0) and self.mix_prob > 0 and self.mix_until > 0

    def active(self, kind: str) -> bool:
        """Whether this recipe changes anything on data of ``kind`` ("static" or "neuromorphic")."""
        own = self.randaugment_n > 0 and self.randaugment_p > 0 or self.reprob > 0
        if kind == "neuromorphic":
            own = self.event_ops
        return self.hflip > 0 or own or self.mixes


KEYS = tuple(f.name for f in fields(AugRecipe))
STATIC_ONLY = ("randaugment_n", "reprob")
EVENT_ONLY = ("event_ops",)

AUGMENTATION_RECIPES: dict[str, AugRecipe] = {
    # Spikformer cifar10.yml: aa rand-m9-n1-mstd0.4-inc1 (its reduced op set), hflip 0.5 (timm's
    # default), reprob 0.25, mixup 0.5, cutmix 0, mixup_prob 1.0, mixup_off_epoch 200 of 300.
    "cifar": AugRecipe(hflip=0.5, randaugment_n=1, randaugment_m=9.0, reprob=0.25, mixup=0.5, mix_prob=1.0,
                       mix_until=200 / 300),
    # Spikformer cifar10dvs/train.py: RandomHorizontalFlip(0.5) and SNNAugmentWide per sample,
    # mixup 0.5 with prob 0.5, switched off from epoch 75 of 96.
    "dvs": AugRecipe(hflip=0.5, event_ops=True, mixup=0.5, mix_prob=0.5, mix_until=75 / 96),
    # Ours: the embedded sets' 20-epoch CPU runs, unaugmented (benchmarks/bench_recipe.py measures the
    # papers' augmentation on them).
    "embedded": AugRecipe(),
}

def parse_overrides(items: Iterable[str]) -> dict[str, Any]:
    """``["mixup=0", "reprob=0.1"]`` -> ``{"mixup": 0, "reprob": 0.1}`` (values read as YAML);
    an unknown key is a one-line ``UsageError``."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key:
            raise UsageError(f"--aug takes KEY=VALUE, got {item!r}")
        out[key] = yaml.safe_load(value)
    return out


def _coerce(key: str, value: Any) -> Any:
    kind = type(getattr(AugRecipe(), key))
    if kind is bool:
        if isinstance(value, bool):
            return value
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        if kind is float or float(value).is_integer():
            return kind(value)
    raise UsageError(f"augmentation key {key}: expected {kind.__name__}, got {value!r}")


def resolve(dataset: str, name: str = "auto", overrides: Mapping[str, Any] | None = None,
            kind: str | None = None) -> tuple[str, AugRecipe]:
    """The recipe named ``name`` ("auto": the dataset's default, with its dataset-specific keys)
    with ``overrides`` applied; returns ``(name, recipe)``. Unknown names or keys, bad values, and
    keys that do nothing on the dataset's ``kind`` of data are ``UsageError``s."""
    if name == "auto":  # the dataset's (its registration's ``training``), else CIFAR's for an unknown name
        from datasets import dataset_info

        try:
            defaults = dataset_info(dataset).training
            name, base = defaults.augmentation, dict(defaults.aug)
        except ValueError:
            name, base = "cifar", {}
    elif name in AUGMENTATION_RECIPES:
        base = {}
    else:
        raise UsageError(f"--recipe {name!r} is not a recipe; known: auto, {', '.join(AUGMENTATION_RECIPES)}")
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(KEYS))
    if unknown:
        raise UsageError(f"--aug {unknown[0]}: not an augmentation key; known: {', '.join(KEYS)}")
    if kind is not None:
        wrong = STATIC_ONLY if kind == "neuromorphic" else EVENT_ONLY
        for key in wrong:
            if overrides.get(key):
                raise UsageError(f"--aug {key}: does nothing on {dataset} ({kind} data)")
    values = {**base, **{k: _coerce(k, v) for k, v in overrides.items()}}
    return name, replace(AUGMENTATION_RECIPES[name], **values)


def describe(name: str, recipe: AugRecipe) -> dict[str, Any]:
    """The recipe as metrics.json records it."""
    return {"name": name, **asdict(recipe)}
