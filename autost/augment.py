"""A recipe (``autost.recipes``) applied to a training batch on its device with kornia.

``BatchAugment(recipe, kind, num_classes, epochs)(x, y, epoch)`` returns ``(x, target)``: ``target``
is ``y`` itself (class indices) for an unmixed batch, or soft targets ``[B, num_classes]`` that sum
to 1 for a mixed one. The loss applies label smoothing to either (``F.cross_entropy``'s
``label_smoothing``), which for soft targets equals timm's smoothed-one-hot-then-mix: smoothing is
affine and the mix weights sum to 1. Every draw comes from torch's global generator, which the
training checkpoints save, so a fixed seed gives the same batch and a resumed run the same result
(kornia draws its parameters on the CPU, as do the choices here, whatever the batch's device).

Event frames ``[B, T, C, H, W]`` are augmented as ``[B, T*C, H, W]`` images: a flip, affine or
erased box drawn for a sample then covers all its time steps and polarities alike.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from autost.recipes import AugRecipe

# Spikformer's RandAugment op set (cifar10/aa_snn.py's _RAND_INCREASING_TRANSFORMS) with timm's
# maximum magnitudes: rotate 30 degrees, translate 0.45 of the side. timm's shear is a factor
# (0.3 at magnitude 10), kornia's an angle whose tangent is that factor: atan(0.3) in kornia's unit
# (degrees / 180) gives tan(0.9 * 16.7 deg) = 0.269 at m 9, against timm's 0.27.
SPIKFORMER_OPS = [
    [("equalize", 0, 1)],
    [("rotate", -30.0, 30.0)],
    [("shear_x", -math.degrees(math.atan(0.3)) / 180, math.degrees(math.atan(0.3)) / 180)],
    [("translate_x", -0.45, 0.45)],
    [("translate_y", -0.45, 0.45)],
]
# timm's RandomErasing area and aspect ranges (min_area 0.02, max_area 1/3, aspect 0.3 .. 1/0.3).
ERASE_SCALE, ERASE_RATIO = (0.02, 1 / 3), (0.3, 1 / 0.3)
# Spikformer's cifar10dvs SNNAugmentWide magnitudes: shear 0.3 rad (as an angle, 17.2 degrees),
# translate 5 px (of its 128 px frames, here a fraction of the side), rotate 30 degrees, and a cutout
# of 0.1-11% of the frame, square.
EVENT_SHEAR_DEG, EVENT_SHIFT, EVENT_ROTATE_DEG = math.degrees(0.3), 5 / 128, 30.0
CUTOUT_SCALE = (0.001, 0.11)


def one_hot(y: torch.Tensor, num_classes: int) -> torch.Tensor:
    return F.one_hot(y.long(), num_classes).float()


class BatchAugment:
    """The recipe's batch pipeline for one run: ``kind`` is "static" or "neuromorphic"."""

    def __init__(self, recipe: AugRecipe, kind: str, num_classes: int, epochs: int):
        import kornia.augmentation as K  # here, so that runs without augmentation never load kornia
        from kornia.augmentation.auto import RandAugment

        self.K = K
        self.recipe, self.kind, self.num_classes = recipe, kind, num_classes
        # Mixed epochs: timm's ``epoch >= mixup_off_epoch`` (0-based) switch, scaled to this run.
        self.mixed_epochs = round(recipe.mix_until * epochs)
        self.flip = K.RandomHorizontalFlip(p=recipe.hflip)
        self.randaugment = RandAugment(n=1, m=3 * recipe.randaugment_m, policy=SPIKFORMER_OPS)  # kornia: 0..30
        self.erase = K.RandomErasing(scale=ERASE_SCALE, ratio=ERASE_RATIO, value=0.0, p=recipe.reprob)
        self.event_ops = [
            K.RandomAffine(degrees=EVENT_ROTATE_DEG, resample="nearest", p=1.0),
            K.RandomAffine(degrees=0.0, shear=(-EVENT_SHEAR_DEG, EVENT_SHEAR_DEG, 0.0, 0.0), resample="nearest",
                           p=1.0),
            K.RandomAffine(degrees=0.0, translate=(EVENT_SHIFT, 0.0), resample="nearest", p=1.0),
            K.RandomAffine(degrees=0.0, translate=(0.0, EVENT_SHIFT), resample="nearest", p=1.0),
            K.RandomErasing(scale=CUTOUT_SCALE, ratio=(1.0, 1.0), value=0.0, p=1.0),
        ]

    def __call__(self, x: torch.Tensor, y: torch.Tensor, epoch: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Augment a batch in epoch ``epoch`` (1-based); ``x`` keeps its shape and dtype."""
        shape, dtype = x.shape, x.dtype
        x = x.reshape(shape[0], -1, *shape[-2:]).float()  # events: [B, T*C, H, W]
        r = self.recipe
        with torch.no_grad():
            if r.hflip > 0:
                x = self.flip(x)
            if self.kind == "neuromorphic":
                if r.event_ops:
                    x = self._event_ops(x)
            else:
                for _ in range(r.randaugment_n):
                    x = self._randaugment(x)
                if r.reprob > 0:
                    x = self.erase(x)
            target: torch.Tensor = y
            if r.mixes and epoch <= self.mixed_epochs and torch.rand(()) < r.mix_prob:
                x, target = self._mix(x, y)
        return x.reshape(shape).to(dtype), target

    def _randaugment(self, x: torch.Tensor) -> torch.Tensor:
        """One RandAugment op (kornia draws it once per batch, its sign per sample), applied to each
        sample with probability ``randaugment_p``. kornia's ops expect [0, 1]: the batch is rescaled by
        its per-channel range, which for CIFAR and digits batches is the pixel range (normalization is
        affine), so areas that ops shift in are black."""
        lo = x.amin(dim=(0, 2, 3), keepdim=True)
        span = (x.amax(dim=(0, 2, 3), keepdim=True) - lo).clamp_min(1e-12)
        out = self.randaugment(((x - lo) / span).clamp(0, 1)) * span + lo
        keep = (torch.rand(len(x)) >= self.recipe.randaugment_p).to(x.device)
        return torch.where(keep.view(-1, 1, 1, 1), x, out)

    def _event_ops(self, x: torch.Tensor) -> torch.Tensor:
        """SNNAugmentWide's choice: per sample, identity or one of the ops, uniformly."""
        choice = torch.randint(len(self.event_ops) + 1, (len(x),)).to(x.device)
        out = x.clone()
        for k, op in enumerate(self.event_ops, 1):
            rows = (choice == k).nonzero().flatten()
            if len(rows):
                out[rows] = op(x[rows])
        return out

    def _mix(self, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r = self.recipe
        use_cutmix = r.cutmix > 0 and (r.mixup == 0 or torch.rand(()) < r.switch_prob)
        if use_cutmix:
            # Per sample: a Beta(alpha, alpha) box from a random partner; the label column is the
            # original's share of the pixels (use_correct_lambda).
            cutmix = self.K.RandomCutMixV2(beta=r.cutmix, use_correct_lambda=True, data_keys=["input", "class"])
            mixed, labels = cutmix(x, y)
            labels = labels[0]
            own = labels[:, 2]
        else:
            # timm's batch mode: one lambda ~ Beta(alpha, alpha) for the batch, the images' own share;
            # kornia's label column is the partner's.
            lam = float(torch.distributions.Beta(r.mixup, r.mixup).sample())
            mixup = self.K.RandomMixUpV2(lambda_val=(1 - lam, 1 - lam), data_keys=["input", "class"])
            mixed, labels = mixup(x, y)
            own = 1 - labels[:, 2]
        own = own.view(-1, 1)
        soft = own * one_hot(labels[:, 0], self.num_classes) + (1 - own) * one_hot(labels[:, 1], self.num_classes)
        return mixed, soft


def make_augment(recipe: AugRecipe, kind: str, num_classes: int, epochs: int) -> BatchAugment | None:
    """The batch pipeline, or ``None`` when the recipe changes nothing on this kind of data (then
    training takes exactly the unaugmented path)."""
    return BatchAugment(recipe, kind, num_classes, epochs) if recipe.active(kind) else None
