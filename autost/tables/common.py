"""Options several commands share, each written once; a command that words one differently
takes it with ``dataclasses.replace``."""
from __future__ import annotations

from pathlib import Path
from autost.errors import BadInput
from autost.options import Option, at_least, finite, folder, parse_size
from autost.threads import ENV as THREADS_ENV


def dataset_names() -> str:
    from datasets import DATASETS

    return ", ".join(DATASETS.names())


def energy_model_names() -> str:
    from energy.models import model_names

    return "{" + ",".join(model_names()) + "}"


def energy_model_help() -> str:
    from energy.models import help_text

    return help_text()


def default_energy_model() -> str:
    from energy.models import DEFAULT_MODEL

    return DEFAULT_MODEL


def param_limits(name: str, values: list[float]) -> None:
    """``--param-limits MIN MAX``: finite, MIN at most MAX."""
    for value in values:
        finite(name, value)
    if values[0] > values[1]:
        raise BadInput(f"{name} MIN {values[0]} is larger than MAX {values[1]}")


DATA_ROOT_HELP = ("folder holding the non-embedded datasets (fashion-mnist/nfashion default to /usr/share/datasets "
                  "where Debian's dataset-fashion-mnist is installed)")

DATASET = Option("dataset", required=True,
                 help=lambda: f"dataset name ({dataset_names()}; digits and ndigits are embedded)")
DATA_ROOT = Option("data_root", Path, help=DATA_ROOT_HELP)
OUT = Option("out", folder, required=True, help="output folder")
ARCH = Option("arch", Path, required=True, help="architecture YAML (AutoST RETRAIN format)")
SPACE = Option("space", Path, required=True, help="search space YAML (AutoST SEARCH_SPACE format)")
TIME_STEPS = Option("time_steps", int, 4, "time steps T (default 4)", check=at_least(1))
SEED = Option("seed", int, 0, "random seed (default 0)")
PARAM_LIMITS = Option("param_limits", float, nargs=2, metavar=("MIN", "MAX"), check=param_limits,
                      help="keep architectures with MIN..MAX million parameters")
# the name is checked where it is used (``energy.models.get_model``): an unknown one is one line listing them
ENERGY_MODEL = Option("energy_model", str, default_energy_model(), metavar=energy_model_names,
                      help=energy_model_help)

# The input the models are built for: a dataset, or a shape with its classes and patch size.
GEOMETRY = (
    Option("dataset", group="input", required=True,
           help=lambda: f"dataset whose real batches feed energy and activation scores ({dataset_names()})"),
    Option("input_shape", group="input", metavar="CxHxW", help="input shape when no data is needed, e.g. 3x32x32"),
    Option("data_root", Path, help=DATA_ROOT_HELP),
    TIME_STEPS,
    Option("num_classes", int, help="classes (default: the dataset's; required with --input-shape)",
           check=at_least(1)),
    Option("patch_size", int, help="patch size (default: the dataset's; required with --input-shape)",
           check=at_least(1)),
)

MAX_MEMORY = Option(
    "max_memory", parse_size, metavar="SIZE",
    help="memory a run may take, e.g. 8G, 512M or 2GiB (default: what the machine has available now, free GPU "
         "memory on CUDA); an architecture whose closed-form estimate exceeds it is refused before anything is "
         "allocated (docs/reliability.md: resource guard)")
THREADS = Option("threads", int, metavar="N",  # checked by autost.threads.choose_threads
                 help=f"torch intra-op threads (default: ${THREADS_ENV}, else $OMP_NUM_THREADS, else the cores free to "
                      "this process; see docs/reliability.md)")
# Options of every command, added to each parser by the CLI; a pipeline config section has none of them.
EVERY_COMMAND = (THREADS, MAX_MEMORY)
