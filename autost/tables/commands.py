"""The options of the commands that take no config section: ``profile``, ``energy``, ``sample``,
``supernet train``, ``report``, ``import`` and ``pipeline``."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from autost.options import Option, at_least, positive
from autost.tables.common import ARCH, DATA_ROOT, DATASET, ENERGY_MODEL, GEOMETRY, OUT, SEED, SPACE, TIME_STEPS

SPIKINGJELLY_MODELS = ("spikformer_cifar10", "spikformer_s", "spikformer_ti")  # autost.convert.CONSTRUCTORS' keys

PROFILE = (
    ARCH,
    *GEOMETRY,
    Option("batch_size", int, 32, "real batch size for energy and scores (default 32)", check=at_least(1)),
    replace(SEED, help="seed for the weights and the batch (default 0)"),
    Option("json", bool, False, "print one JSON object instead of tables"),
    ENERGY_MODEL,
)
ENERGY = (
    ARCH,
    replace(DATASET, help="dataset for the real batch"),
    DATA_ROOT,
    Option("checkpoint", Path, help="best.pt or last.pt of `run.py train` (default: at init)"),
    OUT,
    replace(TIME_STEPS, help="time steps T (default 4; match the training run)"),
    Option("batch_size", int, 64, "test samples in the batch (default 64)", check=at_least(1)),
    replace(SEED, help="seed of the batch and of the init weights (default 0)"),
    ENERGY_MODEL,
)
SAMPLE = (
    replace(SPACE, type=Path, default=Path("spaces/digits.yaml"), required=False, help="search space YAML"),
    Option("n", int, 5, "how many to sample (default 5)"),
    SEED,
)
# ``SupernetConfig``'s fields and checks, and the command's own
SUPERNET = (
    replace(SPACE, help="search space YAML"),
    replace(DATASET, help="dataset to train on (digits and ndigits are embedded)"),
    DATA_ROOT,
    Option("steps", int, 200, "training steps (default 200)", check=at_least(1)),
    Option("batch_size", int, 32, "batch size (default 32)", check=at_least(1)),
    Option("lr", float, 1e-3, "AdamW learning rate (default 1e-3)", check=positive),
    TIME_STEPS,
    replace(SEED, help="seed of weights, batches and sampled candidates (default 0)"),
    Option("limit", int, check=at_least(1), help="train on the first N samples only"),
    Option("save_every", int, 50, "checkpoint every N steps (default 50)", check=at_least(1)),
    Option("calibration_batches", int, 4, check=at_least(1),
           help="training batches that recalibrate BatchNorm when --score supernet rates a candidate (default 4)"),
    Option("validation_images", int, 256, check=at_least(1),
           help="held-out validation images --score supernet rates a candidate on (default 256, or the whole split "
                "if smaller); only the rating uses it, so --resume may change it without training"),
)
SUPERNET_COMMAND = (*SUPERNET, OUT, Option("resume", bool, False, "continue the supernet in OUT"))
REPORT = (
    Option("run", Path, required=True, help="run folder (a pipeline's --out, or a search's --out)"),
    replace(OUT, required=False, help="where to write the report (default RUN/report)"),
    Option("compare", Path, metavar="RUN_B",
           help="a second run (same dataset) searched under another energy model: RUN's top-k and RUN_B's front (or "
                "top-k) are measured under both models (table, plot, energy_models.json)"),
    replace(DATA_ROOT, help="with --compare: folder holding the non-embedded datasets"),
)
IMPORT = (
    Option("spikingjelly", str, required=True, choices=lambda: SPIKINGJELLY_MODELS,
           help="SpikingJelly's constructor (spikformer_cifar10: 3x32x32, patch 4; spikformer_ti/s: patch 16 at the "
                "dataset's size)"),
    Option("checkpoint", Path, help="a state dict saved from that model (torch.save(model.state_dict())), read with "
                                    "weights_only=True"),
    replace(DATASET, help="the dataset the model is for (its geometry must match)"),
    replace(TIME_STEPS, help=f"T of the model (default {TIME_STEPS.default}; another is written as TIME_STEPS)"),
    replace(OUT, help="folder for arch.yaml, model.pt and import.json"),
)
PIPELINE = (
    Option("config", Path, required=True, help="pipeline YAML, e.g. configs/demo.yaml"),
    replace(OUT, required=False, help="output folder (default runs/CONFIG-NAME)"),
    Option("resume", bool, False, "continue a killed or finished run in OUT"),
    replace(DATA_ROOT, help="folder holding real datasets (overrides the config)"),
    Option("set", str, repeat=True, metavar="SECTION.KEY=VALUE",
           help="override one config value, e.g. --set train.epochs=5 (repeatable)"),
)
