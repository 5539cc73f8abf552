"""``run.py train`` and the pipeline's ``train`` section: the training options (``TRAIN``), which
candidates and where (``TRAIN_RUN``) and the command's own (``TRAIN_COMMAND``). ``TrainConfig``
checks itself with ``TRAIN``."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Mapping

from autost import recipes
from autost.backend import BACKENDS
from autost.errors import BadInput
from autost.options import Option, at_least, fraction, non_negative, positive
from autost.tables.common import ARCH, DATA_ROOT, DATASET, ENERGY_MODEL, OUT

DEVICES = ("auto", "cpu", "cuda")


def aug(name: str, value: Any) -> dict[str, Any]:
    """``--aug KEY=VALUE ...`` on the command line, a mapping ``{mixup: 0}`` in YAML; the keys are
    checked against the recipe by ``TrainConfig``."""
    if isinstance(value, Mapping):
        return {str(k).strip().replace("-", "_"): v for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return recipes.parse_overrides(value)
    raise BadInput(f"{name} must be a mapping of augmentation keys (e.g. {{mixup: 0}}), got {value!r}")


TRAIN = (
    DATASET,
    DATA_ROOT,
    Option("epochs", int, help="training epochs (default: per dataset, below)", check=at_least(1)),
    Option("batch_size", int, help="batch size (default: per dataset)", check=at_least(1)),
    Option("lr", float, check=positive,
           help="peak learning rate (default: per dataset); with --resume it replaces the checkpoint's, so a "
                "diverged run goes on from its last finite weights at a lower rate"),
    Option("weight_decay", float, check=non_negative, help="AdamW weight decay, not applied to biases and BatchNorm"),
    Option("warmup_epochs", int, check=at_least(0),
           help="epochs of linear warm-up (default: per dataset, at most half of --epochs)"),
    Option("label_smoothing", float, check=fraction(upper_open=True), help="label smoothing (default: per dataset)"),
    Option("time_steps", int, check=at_least(1), help="time steps T (default: per dataset)"),
    Option("drop_path", float, check=fraction(upper_open=True),
           help="stochastic depth: the last block's residual branches are dropped with this probability per "
                "sample in training, the earlier ones linearly less (default: per dataset, 0)"),
    Option("init_weights", Path, metavar="FILE",
           help="start from the weights of this checkpoint (a run's best.pt, or run.py import's model.pt) "
                "instead of a fresh initialization; it must hold the same architecture"),
    # augmentation only: the schedule's defaults come with the dataset (datasets.training)
    Option("recipe", str, "auto", choices=lambda: ("auto", *recipes.AUGMENTATION_RECIPES),
           help="augmentation recipe (default auto: cifar for CIFAR, dvs for event sets, embedded for "
                "digits/ndigits; see below); the schedule (epochs, lr, ...) is the dataset's"),
    Option("aug", aug, nargs="+", metavar="KEY=VALUE",
           help="override augmentation recipe keys, e.g. --aug mixup=0 reprob=0.1 (all off: --aug hflip=0 ...)"),
    Option("device", str, "auto", choices=lambda: DEVICES, help="auto: CUDA when available (default)"),
    Option("backend", str, "auto", choices=lambda: BACKENDS,
           help="LIF implementation on CUDA: SpikingJelly's GPU kernels (cuda), its torch reference (torch), or "
                "auto (default); the CPU always runs torch"),
    Option("amp", bool, False, "fp16 mixed precision with a GradScaler (CUDA only)"),
    Option("seed", int, 0, "seed of initialization and data order (default 0)"),
    Option("limit", int, check=at_least(1), help="use only the first N samples of each split (quick trials)"),
    Option("num_workers", int, 0, "data-loading worker processes (default 0)", check=at_least(0)),
    Option("patience", int, check=at_least(1), metavar="EPOCHS",
           help="stop once validation accuracy has not improved for this many epochs (default: train every epoch); "
                "the learning-rate schedule still spans --epochs"),
    ENERGY_MODEL,
    Option("resume", bool, False, "continue from --out's last.pt (settings must match; a finished run is only "
                                  "re-evaluated)"),
)
TRAIN_RUN = (
    Option("top_k", int, check=at_least(1), help="with --from-search: train the first K (default: all)"),
    Option("workers", int, metavar="N", check=at_least(1),
           help="with --from-search: train N candidates at once in local processes (one torch thread each)"),
    Option("ray_address", metavar="ADDR",
           help="with --from-search: one candidate per Ray task on the cluster at ADDR ('local' starts one; one GPU "
                "per task when GPUs exist; --out must be on a shared file system)"),
)
# Successive halving of the top-k (autost.halving).
HALVING = (
    Option("halving", bool, False,
           "with --from-search: spend the training by successive halving (train all for --rung-epochs, keep the "
           "best 1/--eta by validation accuracy, continue them; rungs.json records every rung); on Ray Tune's ASHA "
           "scheduler with --ray-address"),
    Option("rung_epochs", int, metavar="E", check=at_least(1),
           help="with --halving: epochs of the first rung (rung r ends at E * eta^r; required)"),
    Option("eta", int, metavar="ETA", check=at_least(2),
           help="with --halving: keep the best 1/ETA per rung (default 2)"),
    Option("survivors", int, metavar="N", check=at_least(1),
           help="with --halving, in-process: train the last N to the full --epochs (default 1)"),
)
TRAIN_COMMAND = (
    replace(ARCH, group="source", help="architecture YAML (AutoST's RETRAIN format)"),
    Option("from_search", Path, group="source", metavar="DIR",
           help="a search's output folder: trains DIR/top/*.yaml"),
    Option("space", Path, help="with --arch: refuse an architecture outside this search space"),
    OUT,
    *TRAIN,
    *TRAIN_RUN,
    *HALVING,
)
