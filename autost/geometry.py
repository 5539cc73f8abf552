"""The input geometry a model is built for: from a dataset's description or an input shape."""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from autost.errors import UsageError
from autost.validate import at_least


@dataclass(frozen=True)
class Geometry:
    in_channels: int
    img_size: int
    patch_size: int
    num_classes: int
    time_steps: int

    def __post_init__(self) -> None:
        for flag, value in (("--num-classes", self.num_classes), ("--patch-size", self.patch_size),
                            ("--time-steps", self.time_steps), ("input channels", self.in_channels),
                            ("image size", self.img_size)):
            at_least(flag, value)

    def model_kwargs(self) -> dict:
        """Keyword arguments for ``build_model`` and ``analytic_cost``."""
        return asdict(self)

    def for_arch(self, arch) -> "Geometry":
        """This geometry at the time steps ``arch`` runs (its TIME_STEPS gene overrides --time-steps),
        so that data is binned and batches are drawn at the network's T."""
        return replace(self, time_steps=arch.steps(self.time_steps))


def parse_input_shape(text: str) -> tuple[int, int]:
    """``"3x32x32"`` -> ``(3, 32)``; square images only, as the stem's token grid is square."""
    try:
        c, h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise UsageError(f"--input-shape must look like CxHxW (e.g. 3x32x32), got {text!r}") from None
    if h != w or min(c, h) <= 0:
        raise UsageError(f"--input-shape must be positive and square (H == W), got {text!r}")
    return c, h


def resolve_geometry(*, dataset: str | None, input_shape: str | None, num_classes: int | None,
                     patch_size: int | None, time_steps: int, img_size: int | None = None) -> Geometry:
    """Geometry from ``--dataset`` (its defaults, overridable) or from ``--input-shape`` with
    ``--num-classes`` and ``--patch-size``."""
    if dataset:
        from datasets import dataset_info

        info = dataset_info(dataset)
        return Geometry(info.in_channels, img_size or info.img_size, patch_size or info.patch_size,
                        num_classes or info.num_classes, time_steps)
    if not input_shape:
        raise UsageError("give --dataset NAME or --input-shape CxHxW")
    channels, size = parse_input_shape(input_shape)
    if num_classes is None or patch_size is None:
        raise UsageError("--input-shape needs --num-classes and --patch-size too")
    return Geometry(channels, size, patch_size, num_classes, time_steps)
