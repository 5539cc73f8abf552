"""``run.py correlate``: the study's options (``STUDY``, ``StudyConfig``'s fields and checks) and the
command's own (``STUDY_COMMAND``)."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from autost.errors import BadInput
from autost.options import Option, at_least, finite
from autost.tables.common import DATA_ROOT, DATASET, ENERGY_MODEL, OUT, PARAM_LIMITS, SEED, SPACE, TIME_STEPS


def at_least_with(minimum: int, why: str):
    """``at_least(minimum)`` with the reason in the message."""
    def check(name: str, value: int) -> None:
        if value < minimum:
            raise BadInput(f"{name} must be at least {minimum} ({why}), got {value}")
    return check


def ensemble_names(name: str, values: list[str]) -> None:
    """Each ``--ensemble`` a rank ensemble of registered scores (``ensemble:A+B``)."""
    from autost.scores import ENSEMBLE
    from autost.scores.ensemble import members

    for value in values:
        if not value.startswith(ENSEMBLE):
            raise BadInput(f"{name} {value}: name it as {ENSEMBLE}A+B, e.g. {ENSEMBLE}flops+zico")
        members(value)


STUDY = (
    SPACE,
    replace(DATASET, help="dataset to score and train on (digits and ndigits are embedded)"),
    DATA_ROOT,
    Option("n", int, 30, "architectures to sample and train (default 30)",
           check=at_least_with(3, "a rank correlation needs three points")),
    Option("epochs", int, 3, "training epochs per architecture (default 3)", check=at_least(1)),
    replace(SEED, help="seed of sampling, weights, batch and training (default 0)"),
    replace(PARAM_LIMITS, help="sample architectures with MIN..MAX million parameters"),
    replace(TIME_STEPS, help="time steps T for scoring and training (default 4)"),
    Option("batch_size", int, 32, "real batch for energy, NASWOT/SAHD and grad-norm (default 32)",
           check=at_least_with(2, "NASWOT compares samples")),
    Option("train_batch_size", int, 16, check=at_least(1),
           help="training batch size (default 16: a short run needs about 100 optimizer steps before "
                "BatchNorm's running statistics, and so test accuracy, mean anything)"),
    Option("limit", int, check=at_least(1), help="train and test on the first N samples of each split (quick runs)"),
    Option("lambda", float, 1.0, "lambda of the AutoST proxy MACs + lambda/NASWOT (default 1; 0 would make it MACs)",
           dest="lam", check=finite),
    Option("ensemble", str, dest="ensembles", repeat=True, metavar="ensemble:A+B", check=ensemble_names,
           help="also record this rank ensemble of registered scores (repeatable)"),
    Option("supernet", Path, metavar="DIR",
           help="also record the score of the supernet trained into DIR (run.py supernet train on this space and "
                "dataset), and its cost"),
    Option("patience", int, check=at_least(1), metavar="EPOCHS",
           help="stop a network's training once validation accuracy has not improved for this many epochs "
                "(--epochs is then the most it trains)"),
    Option("resamples", int, 1000, "bootstrap resamples (default 1000)", check=at_least(1)),
    ENERGY_MODEL,
)
STUDY_COMMAND = (
    *STUDY,
    OUT,
    Option("workers", int, metavar="N", check=at_least(1),
           help="train N architectures at once in local processes (one torch thread each)"),
    Option("ray_address", metavar="ADDR",
           help="one architecture per Ray task on the cluster at ADDR ('local' starts one)"),
    Option("resume", bool, False, "continue the study in OUT"),
    Option("rescore", bool, False,
           help="with --resume: score the study's architectures again with the current proxies, keeping their "
                "training results (after a proxy's definition changed, or to add --ensemble or --supernet)"),
    Option("verbose", bool, False, "print the training's per-epoch lines"),
)
