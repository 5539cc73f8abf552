"""`run.py train`: train one architecture, or a search's top-k, and write their metrics."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autost import recipes
from autost.arch import Arch
from autost.backend import BACKENDS
from autost.commands.energy import add_energy_model_argument
from autost.distributed import is_main_process
from autost.errors import UsageError
from autost.space import SearchSpace
from autost.parallel import train_top
from autost.train import AUTOST_RECIPE, DEVICES, RECIPES, Recipe, TrainConfig, train


def _recipe_line(name: str, r: Recipe) -> str:
    return (f"  {name:10s} epochs {r.epochs}, batch {r.batch_size}, lr {r.lr:g}, weight decay {r.weight_decay:g}, "
            f"warm-up {r.warmup_epochs}, label smoothing {r.label_smoothing:g}, T {r.time_steps}")


def _epilog() -> str:
    lines = ["Defaults per dataset (AdamW, linear warm-up then cosine decay, stepped per batch):"]
    lines += [_recipe_line(name, recipe) for name, recipe in RECIPES.items()]
    lines.append(_recipe_line("others", AUTOST_RECIPE) + "  (AutoST's CIFAR recipe)")
    lines.append("Augmentation recipes (--recipe; auto picks one from the dataset; --aug KEY=VALUE overrides a key):")
    for name, recipe in recipes.RECIPES.items():
        changed = [f"{k} {v}" if isinstance(v, bool) else f"{k} {v:g}" for k, v in vars(recipe).items()
                   if v != getattr(recipes.AugRecipe(), k)]
        lines.append(f"  {name:10s} {', '.join(changed) or 'no augmentation'}")
    lines.append("  dvsgesture and nmnist run dvs with hflip 0 (a flip swaps left- and right-hand gestures, "
                 "and mirrors digits)")
    lines.append(f"  keys: {', '.join(recipes.KEYS)}")
    lines.append("Accuracies in metrics.json are fractions in [0, 1].")
    return "\n".join(lines)


def _summary(name: str, metrics: dict, out: Path) -> str:
    return (f"{name}: {Arch.from_dict(metrics['arch']).short()}  best val {metrics['best_val_acc']:.2%} "
            f"(epoch {metrics['best_epoch']})  test {metrics['test_acc']:.2%}  "
            f"{metrics['energy_mj']:.4g} mJ/sample ({metrics.get('energy_model', 'spikformer-45nm')})  "
            f"-> {out / 'metrics.json'}")


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig that `run.py train`'s options describe (the dataset's recipe filled in)."""
    return TrainConfig.for_dataset(
        args.dataset, data_root=args.data_root, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        weight_decay=args.weight_decay, warmup_epochs=args.warmup_epochs, label_smoothing=args.label_smoothing,
        time_steps=args.time_steps, device=args.device, backend=args.backend, amp=args.amp, seed=args.seed,
        limit=args.limit, num_workers=args.num_workers, energy_model=args.energy_model, resume=args.resume,
        change_lr=args.resume and args.lr is not None, recipe=args.recipe, aug=recipes.parse_overrides(args.aug or ()))


def run(args: argparse.Namespace) -> int:
    if args.top_k is not None and args.arch:
        raise UsageError("--top-k goes with --from-search, not --arch")
    if (args.workers or args.ray_address) and args.arch:
        raise UsageError("--workers and --ray-address go with --from-search (one candidate per worker)")
    config = config_from_args(args)

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
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--arch", type=Path, help="architecture YAML (AutoST's RETRAIN format)")
    source.add_argument("--from-search", type=Path, metavar="DIR", help="a search's output folder: trains DIR/top/*.yaml")
    p.add_argument("--space", type=Path, help="with --arch: refuse an architecture outside this search space")
    p.add_argument("--top-k", type=int, help="with --from-search: train the first K (default: all)")
    p.add_argument("--dataset", required=True, help="dataset name (digits and ndigits are embedded)")
    p.add_argument("--data-root", type=Path, help="folder holding the non-embedded datasets (fashion-mnist/nfashion default to /usr/share/datasets where Debian's dataset-fashion-mnist is installed)")
    p.add_argument("--out", type=Path, required=True, help="output folder")
    p.add_argument("--epochs", type=int, help="training epochs (default: per dataset, below)")
    p.add_argument("--batch-size", type=int, help="batch size (default: per dataset)")
    p.add_argument("--lr", type=float,
                   help="peak learning rate (default: per dataset); with --resume it replaces the checkpoint's, "
                        "so a diverged run goes on from its last finite weights at a lower rate")
    p.add_argument("--weight-decay", type=float, help="AdamW weight decay, not applied to biases and BatchNorm")
    p.add_argument("--warmup-epochs", type=int,
                   help="epochs of linear warm-up (default: per dataset, at most half of --epochs)")
    p.add_argument("--label-smoothing", type=float, help="label smoothing (default: per dataset)")
    p.add_argument("--time-steps", type=int, help="time steps T (default: per dataset)")
    p.add_argument("--recipe", choices=("auto", *recipes.RECIPES), default="auto",
                   help="augmentation recipe (default auto: cifar for CIFAR, dvs for event sets, embedded for "
                        "digits/ndigits; see below)")
    p.add_argument("--aug", nargs="+", metavar="KEY=VALUE",
                   help="override recipe keys, e.g. --aug mixup=0 reprob=0.1 (all off: --aug hflip=0 ...)")
    p.add_argument("--device", choices=DEVICES, default="auto", help="auto: CUDA when available (default)")
    p.add_argument("--backend", choices=BACKENDS, default="auto",
                   help="LIF implementation on CUDA: SpikingJelly's GPU kernels (cuda), its torch reference (torch), "
                        "or auto (default); the CPU always runs torch")
    p.add_argument("--amp", action="store_true", help="fp16 mixed precision with a GradScaler (CUDA only)")
    p.add_argument("--seed", type=int, default=0, help="seed of initialization and data order (default 0)")
    p.add_argument("--limit", type=int, help="use only the first N samples of each split (quick trials)")
    p.add_argument("--num-workers", type=int, default=0, help="data-loading worker processes (default 0)")
    p.add_argument("--workers", type=int, metavar="N",
                   help="with --from-search: train N candidates at once in local processes (one torch thread each)")
    p.add_argument("--ray-address", metavar="ADDR",
                   help="with --from-search: one candidate per Ray task on the cluster at ADDR ('local' starts one; "
                        "one GPU per task when GPUs exist; --out must be on a shared file system)")
    p.add_argument("--resume", action="store_true",
                   help="continue from --out's last.pt (settings must match; a finished run is only re-evaluated)")
    add_energy_model_argument(p)
    p.set_defaults(func=run)
