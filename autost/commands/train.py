"""`run.py train`: train one architecture, or a search's top-k, and write their metrics."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from autost import recipes
from autost.commands.arguments import add_options, mapping
from autost.errors import UsageError
from autost.tables.train import HALVING, TRAIN, TRAIN_COMMAND, TRAIN_RUN
from datasets.training import TrainingDefaults

if TYPE_CHECKING:
    from autost.train import TrainConfig

OPTIONS = TRAIN_COMMAND


def _recipe_line(name: str, r: TrainingDefaults) -> str:
    aug = r.augmentation + "".join(f", {k} {v:g}" for k, v in r.aug.items())
    return (f"  {name:13s} epochs {r.epochs}, batch {r.batch_size}, lr {r.lr:g}, weight decay {r.weight_decay:g}, "
            f"warm-up {r.warmup_epochs}, label smoothing {r.label_smoothing:g}, T {r.time_steps}, augmentation {aug}")


def _epilog() -> str:
    from datasets import DATASETS

    lines = ["Defaults per dataset (AdamW, linear warm-up then cosine decay, stepped per batch):"]
    lines += [_recipe_line(name, info.training) for name, info in DATASETS.items()]
    lines.append("Augmentation recipes (--recipe; auto picks one from the dataset; --aug KEY=VALUE overrides a key):")
    for name, recipe in recipes.AUGMENTATION_RECIPES.items():
        changed = [f"{k} {v}" if isinstance(v, bool) else f"{k} {v:g}" for k, v in vars(recipe).items()
                   if v != getattr(recipes.AugRecipe(), k)]
        lines.append(f"  {name:10s} {', '.join(changed) or 'no augmentation'}")
    lines.append("  dvsgesture and nmnist run dvs with hflip 0 (a flip swaps left- and right-hand gestures, "
                 "and mirrors digits)")
    lines.append(f"  keys: {', '.join(recipes.KEYS)}")
    lines.append("Accuracies in metrics.json are fractions in [0, 1].")
    return "\n".join(lines)


def _summary(name: str, metrics: dict, out: Path) -> str:
    from autost.arch import Arch

    return (f"{name}: {Arch.from_dict(metrics['arch']).short()}  best val {metrics['best_val_acc']:.2%} "
            f"(epoch {metrics['best_epoch']})  test {metrics['test_acc']:.2%}  "
            f"{metrics['energy_mj']:.4g} mJ/sample ({metrics.get('energy_model', 'spikformer-45nm')})  "
            f"-> {out / 'metrics.json'}")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig that `run.py train`'s options describe (``autost.configs.train_config``)."""
    from autost.configs import train_config

    return train_config(mapping(args, TRAIN + TRAIN_RUN))


def run(args: argparse.Namespace) -> int:
    from autost.arch import Arch
    from autost.distributed import is_main_process
    from autost.configs import halving_from, read_train
    from autost.halving import successive_halving
    from autost.parallel import top_architectures, train_top
    from autost.space import SearchSpace
    from autost.train import train

    if args.top_k is not None and args.arch:
        raise UsageError("--top-k goes with --from-search, not --arch")
    if (args.workers or args.ray_address) and args.arch:
        raise UsageError("--workers and --ray-address go with --from-search (one candidate per worker)")
    config = config_from_args(args)
    halving = halving_from(read_train(mapping(args, TRAIN + TRAIN_RUN + HALVING)))
    if halving and args.arch:
        raise UsageError("--halving goes with --from-search, not --arch")

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    if args.arch:
        arch = Arch.from_yaml(args.arch)
        if args.space:
            SearchSpace.from_yaml(args.space).check(arch)
        metrics = train(arch, config, args.out, log=log)
        if is_main_process():  # under torchrun, one line for the whole group
            print(_summary(args.arch.stem, metrics, args.out))
        return 0
    if halving:  # the candidates trained to the end
        results = successive_halving(top_architectures(args.from_search, args.top_k), config, args.out, halving,
                                     log=log, ray_address=args.ray_address)
    else:
        results = train_top(args.from_search, args.top_k, config, args.out, log=log, workers=args.workers,
                            ray_address=args.ray_address)
    for name, metrics in results.items():
        print(_summary(name, metrics, args.out / name))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train an architecture (or a search's top-k) and measure accuracy and energy",
        description="Train architectures with AdamW, warm-up + cosine schedule and label smoothing; write last.pt, "
                    "best.pt (by validation accuracy) and metrics.json (test accuracy, trained-network energy and "
                    "firing rates of the best checkpoint) into --out, or into --out/NN per architecture with "
                    "--from-search. Data-parallel on one candidate: torchrun --nproc_per_node N run.py train ... "
                    "(gloo on the CPU, nccl on GPUs; rank 0 writes).",
        epilog=_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    add_options(p, OPTIONS)
    p.set_defaults(func=run, options=OPTIONS)
