"""The search and training configs built from a mapping: a pipeline YAML section or the parsed
arguments of ``run.py search`` / ``run.py train`` (``autost.options`` has the reading rules).

``search_config(mapping, where)`` returns a ``SearchConfig``, ``train_config(mapping, where)`` a
``TrainConfig``; ``where`` is the YAML section the mapping came from (``None``: the command line),
so that an error names the key the user wrote. The tables also carry what is not part of the
config proper (``RUN`` options: where the work runs, which candidates to train).
"""
from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path
from typing import Any, Mapping

from autost import recipes
from autost.arch import Arch
from autost.backend import BACKENDS
from autost.errors import BadInput
from autost.geometry import resolve_geometry
from autost.memory import parse_size
from autost.options import Option, at_least, finite, fraction, non_negative, positive, read
from autost.scores import ENSEMBLE, SCORES, score_help
from autost.search.algorithms import ALGORITHMS
from autost.search.evaluate import Constraints
from autost.search.generational import EvolutionSettings
from autost.search.algorithms.nsga2 import OBJECTIVES
from autost.search.runner import ENERGY_METHODS, SearchConfig
from autost.train import DEVICES, TrainConfig
from energy.models import DEFAULT_MODEL

DATA_ROOT_HELP = ("folder holding the non-embedded datasets (fashion-mnist/nfashion default to /usr/share/datasets "
                  "where Debian's dataset-fashion-mnist is installed)")


def _default(field_name: str) -> Any:
    return next(f.default for f in fields(SearchConfig) if f.name == field_name)


def _objectives(name: str, value: Any) -> str:
    """``score,energy`` on the command line; a string or a list in YAML."""
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return ",".join(value)
    if not isinstance(value, str):
        raise BadInput(f"{name} must be a comma-separated string or a list of {', '.join(OBJECTIVES)}, got {value!r}")
    return value


def all_finite(name: str, values: list[float]) -> None:
    for value in values:
        finite(name, value)


def _aug(name: str, value: Any) -> dict[str, Any]:
    """``--aug KEY=VALUE ...`` on the command line, a mapping ``{mixup: 0}`` in YAML; the keys are
    checked against the recipe by ``TrainConfig``."""
    if isinstance(value, Mapping):
        return {str(k).strip().replace("-", "_"): v for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return recipes.parse_overrides(value)
    raise BadInput(f"{name} must be a mapping of augmentation keys (e.g. {{mixup: 0}}), got {value!r}")


GEOMETRY = (
    Option("dataset", help="dataset whose real batches feed energy and activation scores", cli=False),
    Option("input_shape", metavar="CxHxW", help="input shape when no data is needed, e.g. 3x32x32", cli=False),
    Option("data_root", Path, help=DATA_ROOT_HELP, cli=False),
    Option("time_steps", int, 4, "time steps T (default 4)", check=at_least(1), cli=False),
    Option("num_classes", int, help="classes (default: the dataset's; required with --input-shape)",
           check=at_least(1), cli=False),
    Option("patch_size", int, help="patch size (default: the dataset's; required with --input-shape)",
           check=at_least(1), cli=False),
)

SEARCH = (
    Option("space", Path, help="search space YAML (AutoST SEARCH_SPACE format)", cli=False),
    *GEOMETRY,
    Option("algorithm", str, "evolution", choices=lambda: ALGORITHMS.names(),
           help=lambda: "search algorithm: " + ALGORITHMS.help("evolution")),
    Option("objectives", _objectives, "score,energy",
           help="NSGA-II objectives, comma-separated from score (maximized), energy and params (minimized); also "
                "the objectives of the front reported in search.json (default score,energy)"),
    # no argparse choices: a removed score gets its own one-line message (autost.scores.get_score)
    Option("score", str, "flops", metavar=lambda: "{" + ",".join(SCORES.names()) + f",{ENSEMBLE}A+B}}",
           help=lambda: "the training-free score the search maximizes: " + score_help("flops")),
    Option("lambda", float, 0.0, "lambda of --score autost (default 0)", dest="lam", check=finite),
    Option("supernet", Path, metavar="DIR", help="the supernet of --score supernet (run.py supernet train --out DIR)"),
    Option("population", int, 50, "population per generation (default 50)", check=at_least(1)),
    Option("generations", int, 20, "generations (default 20)", check=at_least(1)),
    Option("select", int, 10, "top-k parents kept each generation (default 10)", check=at_least(1)),
    Option("mutation", int, 25, "mutants per generation (default 25)", check=at_least(0)),
    Option("crossover", int, 25, "crossover children per generation (default 25)", check=at_least(0)),
    Option("m_prob", float, 0.2, "per-block mutation probability (default 0.2)", check=fraction()),
    Option("s_prob", float, 0.4, "depth/width mutation probability (default 0.4)", check=fraction()),
    Option("param_limits", float, nargs=2, metavar=("MIN", "MAX"), check=all_finite,
           help="keep architectures with MIN..MAX million parameters"),
    Option("energy_limit", float, metavar="MJ", check=positive,
           help="keep architectures whose init-time energy per sample (under --energy-model) is at most MJ "
                "(needs --dataset)"),
    Option("match_baseline", Path, metavar="ARCH.yaml",
           help="search within this architecture's params and energy: --param-limits MAX and --energy-limit are "
                "filled from it, each obtained as a candidate's is (needs --dataset; giving either limit too is an "
                "error); search.json records both"),
    Option("energy_model", str, DEFAULT_MODEL, cli=False),
    Option("energy", str, _default("energy"), choices=lambda: ENERGY_METHODS,
           help="how each candidate's energy (--energy-limit, the NSGA-II objective, search.json) is obtained with "
                "--dataset. auto (default): closed-form under a rate-based --energy-model, else measure; "
                "closed-form: init-time firing rates per layer position calibrated once on a few architectures of "
                "the space (cached in $AUTOST_CACHE or ~/.cache/autost), then no forward pass; measure: a forward "
                "pass per candidate"),
    Option("top_k", int, 5, "best architectures of distinct cost (params, MACs) written to OUT/top (default 5)",
           check=at_least(1)),
    Option("batch_size", int, 32, "real batch size for energy and scores (default 32)", check=at_least(1)),
    Option("seed", int, 0, "random seed (default 0)"),
)
SEARCH_RUN = (
    Option("workers", int, metavar="N", check=at_least(1),
           help="with --dataset: score each generation on N local processes (one torch thread each); same "
                "result as a serial search"),
    Option("ray_address", metavar="ADDR",
           help="with --dataset: score each generation as Ray tasks on the cluster at ADDR ('local' starts one); "
                "same result as a serial search"),
)

TRAIN = (
    Option("dataset", help="dataset name (digits and ndigits are embedded)", cli=False),
    Option("data_root", Path, help=DATA_ROOT_HELP),
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
    Option("recipe", str, "auto", choices=lambda: ("auto", *recipes.RECIPES),
           help="augmentation recipe (default auto: cifar for CIFAR, dvs for event sets, embedded for "
                "digits/ndigits; see below)"),
    Option("aug", _aug, nargs="+", metavar="KEY=VALUE",
           help="override recipe keys, e.g. --aug mixup=0 reprob=0.1 (all off: --aug hflip=0 ...)"),
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
    Option("energy_model", str, DEFAULT_MODEL, cli=False),
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


MAX_MEMORY = Option(
    "max_memory", parse_size, metavar="SIZE",
    help="memory a run may take, e.g. 8G, 512M or 2GiB (default: what the machine has available now, free GPU "
         "memory on CUDA); an architecture whose closed-form estimate exceeds it is refused before anything is "
         "allocated (docs/reliability.md: resource guard)")
# Options of every subcommand, added to each parser by the CLI; a pipeline config section has none of them.
EVERY_COMMAND = (MAX_MEMORY,)


def read_search(mapping: Mapping[str, Any], where: str | None = None) -> dict[str, Any]:
    """The search options and its run options (``workers``, ``ray_address``), checked."""
    return read(SEARCH + SEARCH_RUN, mapping, where, "run.py search")


def read_train(mapping: Mapping[str, Any], where: str | None = None) -> dict[str, Any]:
    """The training options and its run options (``top_k``, ``workers``, ``ray_address``), checked."""
    return read(TRAIN + TRAIN_RUN, mapping, where, "run.py train")


def search_config(mapping: Mapping[str, Any], where: str | None = None) -> SearchConfig:
    """The ``SearchConfig`` that ``mapping`` describes (run options allowed and ignored)."""
    v = read_search(mapping, where)
    if not v["space"]:
        raise BadInput(f"{where}.space is required" if where else "--space is required")
    if where and not v["dataset"] and not v["input_shape"]:
        raise BadInput(f"{where}.dataset or {where}.input_shape is required (the input the models are built for)")
    geometry = resolve_geometry(dataset=v["dataset"], input_shape=v["input_shape"], num_classes=v["num_classes"],
                                patch_size=v["patch_size"], time_steps=v["time_steps"])
    limits = v["param_limits"] or (None, None)
    config = SearchConfig(
        space=v["space"], geometry=geometry, dataset=v["dataset"], data_root=v["data_root"],
        algorithm=v["algorithm"], score=v["score"], lam=v["lam"],
        settings=EvolutionSettings(population=v["population"], select=v["select"], mutation=v["mutation"],
                                   crossover=v["crossover"], generations=v["generations"], m_prob=v["m_prob"],
                                   s_prob=v["s_prob"]),
        constraints=Constraints(limits[0], limits[1], v["energy_limit"]),
        top_k=v["top_k"], seed=v["seed"], batch_size=v["batch_size"], objectives=tuple(v["objectives"].split(",")),
        energy_model=v["energy_model"], energy=v["energy"], supernet=v["supernet"])
    return with_baseline(config, _baseline_file(v["match_baseline"]), where) if v["match_baseline"] else config


def _key(key: str, where: str | None) -> str:
    return f"{where}.{key}" if where else "--" + key.replace("_", "-")


def with_baseline(config: SearchConfig, arch: Arch, where: str | None = None) -> SearchConfig:
    """``config`` searching within ``arch``'s params and energy (``SearchConfig.match_baseline``;
    the runner fills the limits). A limit given beside it is refused rather than silently replaced."""
    c = config.constraints
    given = [key for key, value in (("param_limits", c.param_max), ("energy_limit", c.energy_max_mj))
             if value is not None]
    if given:
        raise BadInput(f"{_key('match_baseline', where)} fills {_key('param_limits', where)} MAX and "
                       f"{_key('energy_limit', where)} from the baseline; remove {_key(given[0], where)}")
    return replace(config, match_baseline=arch.to_dict()["RETRAIN"])


def _baseline_file(path: str) -> Arch:
    try:
        return Arch.from_yaml(path)
    except ValueError as err:
        raise BadInput(f"--match-baseline: {err}") from None


def train_config(mapping: Mapping[str, Any], where: str | None = None) -> TrainConfig:
    """The ``TrainConfig`` that ``mapping`` describes, the dataset's recipe filled in (run options
    allowed and ignored). With ``resume``, a given ``lr`` replaces the checkpoint's."""
    v = read_train(mapping, where)
    if not v["dataset"]:
        raise BadInput(f"{where}.dataset is required" if where else "--dataset is required")
    settings = {o.name: v[o.name] for o in TRAIN if o.name != "dataset"}
    settings["aug"] = settings["aug"] or {}
    return TrainConfig.for_dataset(v["dataset"], **settings, change_lr=v["resume"] and v["lr"] is not None)
