"""Training benchmarks: accuracy on the embedded datasets, and training throughput against
SpikingJelly's own Spikformer.

    .venv/bin/python -m benchmarks.bench_train accuracy [--datasets digits ndigits]
    .venv/bin/python -m benchmarks.bench_train throughput [--device cpu|cuda]

``accuracy`` trains one architecture of spaces/digits.yaml with each dataset's default recipe
and writes benchmarks/results/train_accuracy.json. ``throughput`` times training steps
(forward, backward, AdamW step) of our model and of
``spikingjelly.activation_based.model.spikformer.Spikformer`` at the same configuration, side
by side and interleaved, and writes train_throughput_<device>.json; on CUDA each model runs
with SpikingJelly's GPU LIF kernels and with its torch reference backend, and each one's peak
GPU memory is recorded. The issue's GPU figure (Spikformer-4-384 against SpikingJelly's
``spikformer_cifar10()``, batch 128, T 4, fp32 and AMP):

    python -m benchmarks.bench_train throughput --device cuda --depth 4 --dims 384 --heads 12 \
        --batch-size 128 --precisions fp32 amp [--tf32]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from autost.arch import Arch
from autost.backend import select_lif_backend
from autost.cost import count_params
from autost.layers import fp32_lif_input
from autost.model import build_model
from autost.space import SearchSpace
from autost.train import TrainConfig, lif_implementation, train
from benchmarks.common import write_result
from datasets import dataset_info

# From spaces/digits.yaml: reaches ~99% validation accuracy on digits within ten epochs.
ACCURACY_ARCH = Arch(2, 64, (4, 4), (4, 4))
CIFAR_SHAPE = dict(in_channels=3, img_size=32, patch_size=4, num_classes=10)


def accuracy(args: argparse.Namespace) -> None:
    if not SearchSpace.from_yaml("spaces/digits.yaml").contains(ACCURACY_ARCH):
        raise SystemExit(f"{ACCURACY_ARCH.short()} is not in spaces/digits.yaml")
    runs = []
    for dataset in args.datasets:
        config = TrainConfig.for_dataset(dataset, epochs=args.epochs, device="cpu")
        load_before = os.getloadavg()
        start, cpu_start = time.perf_counter(), time.process_time()
        with tempfile.TemporaryDirectory() as out:
            metrics = train(ACCURACY_ARCH, config, out, log=lambda line: print(line, file=sys.stderr, flush=True))
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        runs.append({
            "dataset": dataset, "arch": metrics["arch"], "arch_short": ACCURACY_ARCH.short(),
            "epochs": config.epochs, "test_acc": metrics["test_acc"], "best_val_acc": metrics["best_val_acc"],
            "best_epoch": metrics["best_epoch"], "chance": 1 / dataset_info(dataset).num_classes, "wall_s": wall,
            "cpu_s": cpu,
            "epoch_s_median": statistics.median(e["time_s"] for e in metrics["epochs"]),
            "energy_mj": metrics["energy_mj"], "params": metrics["params"], "settings": config.to_dict(),
            # other work on a shared machine slows the wall time; cpu_s and the load say how much
            "load_average_1min": {"before": load_before[0], "after": os.getloadavg()[0]},
        })
        print(f"{dataset}: test {metrics['test_acc']:.2%} after {config.epochs} epochs in {wall:.0f} s")
    path = write_result("train_accuracy", {"device": "cpu", "runs": runs})
    print(f"-> {path}")


def _our_model(depth: int, dim: int, heads: int, mlp: float, time_steps: int, backend: str) -> nn.Module:
    return build_model(Arch(depth, dim, (mlp,) * depth, (heads,) * depth), backend=backend, time_steps=time_steps,
                       **CIFAR_SHAPE)


# spikingjelly.activation_based.model.spikformer.spikformer_cifar10(): Spikformer-4-384 at CIFAR shape
SJ_CIFAR10 = dict(depth=4, dim=384, heads=12, mlp=4.0)


class _SpikingJellySpikformer(nn.Module):
    """SpikingJelly's Spikformer as a classifier of ``[B, C, H, W]`` images: state reset per
    batch (ours resets in its forward) and the head's output averaged over time (ours does too).
    At Spikformer-4-384 it is SpikingJelly's own ``spikformer_cifar10()``."""

    def __init__(self, depth: int, dim: int, heads: int, mlp: float, time_steps: int):
        super().__init__()
        from spikingjelly.activation_based import neuron
        from spikingjelly.activation_based.model.spikformer import Spikformer, spikformer_cifar10

        if dict(depth=depth, dim=dim, heads=heads, mlp=mlp) == SJ_CIFAR10:
            self.net = spikformer_cifar10(T=time_steps, num_classes=CIFAR_SHAPE["num_classes"])
        else:
            self.net = Spikformer(T=time_steps, in_channels=CIFAR_SHAPE["in_channels"], img_size_h=32,
                                  img_size_w=32, patch_size=CIFAR_SHAPE["patch_size"],
                                  num_classes=CIFAR_SHAPE["num_classes"], embed_dims=dim, num_heads=heads,
                                  mlp_ratio=mlp, depths=depth)
        # Under AMP its LIF neurons integrate in float32 as ours do: SpikingJelly 2.0.0's LIF kernels
        # refuse an fp16 membrane when a backend is forced (autost.model.fp32_lif_input)
        for module in self.net.modules():
            if isinstance(module, neuron.LIFNode):
                module.register_forward_pre_hook(fp32_lif_input)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from spikingjelly.activation_based import functional

        functional.reset_net(self.net)
        return self.net(x).mean(0)


def _step_fn(model: nn.Module, batch: int, device: torch.device, amp: bool) -> Callable[[], None]:
    """One training step (forward, loss, backward, AdamW step) on a fixed random batch."""
    model.to(device).train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-4, weight_decay=6e-2)
    scaler = torch.amp.GradScaler(device.type, enabled=amp)
    x = torch.randn(batch, 3, 32, 32, device=device)
    y = torch.randint(0, 10, (batch,), device=device)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.float16, enabled=amp):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y, label_smoothing=0.1)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        if device.type == "cuda":
            torch.cuda.synchronize()

    return step


def _timed(step: Callable[[], None], steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps


Variant = tuple[str, str, Callable[[int], nn.Module]]  # (label, LIF backend selected before its steps, factory)


def _variants(args: argparse.Namespace, device: torch.device) -> list[Variant]:
    """Our model and SpikingJelly's; on CUDA each with SpikingJelly's GPU LIF kernels and with its
    torch reference (on the CPU both always run the reference)."""
    def ours(backend: str) -> Callable[[int], nn.Module]:
        return lambda dim: _our_model(args.depth, dim, args.heads, args.mlp_ratio, args.time_steps, backend)

    def theirs(dim: int) -> nn.Module:
        return _SpikingJellySpikformer(args.depth, dim, args.heads, args.mlp_ratio, args.time_steps)

    if device.type != "cuda":
        return [("autost", "auto", ours("auto")), ("spikingjelly_spikformer", "auto", theirs)]
    return [("autost", "cuda", ours("cuda")), ("spikingjelly_spikformer", "cuda", theirs),
            ("autost_torch_backend", "torch", ours("torch")), ("spikingjelly_torch_backend", "torch", theirs)]


def _bench_config(args: argparse.Namespace, device: torch.device, variants: list[Variant], dim: int,
                  amp: bool) -> dict:
    """Samples/s of every variant at one width and precision, interleaved; on CUDA also each one's
    peak GPU memory in a steady-state step (its weights, gradients, AdamW state, batch and
    activations: the peak allocated during that step less what was allocated before the
    variant was built, so the other resident models do not count)."""
    torch.manual_seed(0)
    models, steps, peak_mib = {}, {}, {}
    for label, backend, factory in variants:
        select_lif_backend(backend)
        before = torch.cuda.memory_allocated(device) if device.type == "cuda" else 0
        models[label] = factory(dim)
        steps[label] = _step_fn(models[label], args.batch_size, device, amp)
        for _ in range(args.warmup):  # the first step also creates AdamW's state
            steps[label]()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
            steps[label]()
            peak_mib[label] = (torch.cuda.max_memory_allocated(device) - before) / 2 ** 20
    times: dict[str, list[float]] = {label: [] for label in models}
    for _ in range(args.repeats):  # interleaved, so drifting load hits every variant alike
        for label, backend, _ in variants:
            select_lif_backend(backend)
            times[label].append(_timed(steps[label], args.steps))
    rates = {label: args.batch_size / statistics.median(t) for label, t in times.items()}
    entry = {
        "embed_dim": dim, "precision": "amp-fp16" if amp else "fp32",
        "params": {label: count_params(model) for label, model in models.items()},
        "samples_per_s": rates, "step_seconds": times,
        "ratio_autost_over_spikingjelly": rates["autost"] / rates["spikingjelly_spikformer"],
    }
    if device.type == "cuda":
        entry["peak_memory_mib"] = peak_mib
        entry["ratio_cuda_kernels_over_torch_backend"] = {
            "autost": rates["autost"] / rates["autost_torch_backend"],
            "spikingjelly_spikformer": rates["spikingjelly_spikformer"] / rates["spikingjelly_torch_backend"]}
    del models, steps
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return entry


def throughput(args: argparse.Namespace) -> None:
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        print("skipped: --device cuda needs a CUDA device; nothing written")
        return
    if "amp" in args.precisions and device.type != "cuda":
        raise SystemExit("--precisions amp needs --device cuda")
    if args.tf32:
        if device.type != "cuda":
            raise SystemExit("--tf32 needs --device cuda")
        # torch's default leaves fp32 matmuls (our Linear layers) in full fp32, while cuDNN's
        # convolutions (SpikingJelly's 1x1 convs) already use TF32
        torch.backends.cuda.matmul.allow_tf32 = True
    variants = _variants(args, device)
    implementations = {}
    for label, backend, _ in variants:
        select_lif_backend(backend)
        implementations[label] = lif_implementation(device)
    configs = []
    for dim in args.dims:
        for precision in args.precisions:
            entry = _bench_config(args, device, variants, dim, precision == "amp")
            configs.append(entry)
            memory = entry.get("peak_memory_mib", {})
            print(f"D {dim} {entry['precision']}: " + ", ".join(
                f"{label} {rate:.1f} samples/s" + (f" ({memory[label]:.0f} MiB)" if label in memory else "")
                for label, rate in entry["samples_per_s"].items())
                + f"; autost / spikingjelly = {entry['ratio_autost_over_spikingjelly']:.2f}", flush=True)
    select_lif_backend("auto")
    result = {
        "device": device.type, "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "precisions": args.precisions, "depth": args.depth, "num_heads": args.heads,
        "mlp_ratio": args.mlp_ratio, "time_steps": args.time_steps, "batch_size": args.batch_size,
        "input": "3x32x32, patch 4 (CIFAR shape), random data", "repeats": args.repeats,
        "amp": "fp16 autocast and a GradScaler; every LIF neuron (both models) integrates in float32",
        "steps_per_repeat": args.steps, "statistic": "median over repeats of the mean step time",
        "lif_implementation": implementations, "load_average_1min": os.getloadavg()[0], "configs": configs,
    }
    if device.type == "cuda":
        result["tf32"] = {"matmul": torch.backends.cuda.matmul.allow_tf32, "cudnn": torch.backends.cudnn.allow_tf32}
    path = write_result(f"train_throughput_{device.type}" + ("_tf32" if args.tf32 else ""), result)
    print(f"-> {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    acc = sub.add_parser("accuracy", help="train on the embedded datasets with their default recipes")
    acc.add_argument("--datasets", nargs="+", default=["digits", "ndigits"])
    acc.add_argument("--epochs", type=int, help="override the recipes' epochs")
    acc.set_defaults(func=accuracy)
    thr = sub.add_parser("throughput", help="training samples/s: ours vs SpikingJelly's Spikformer")
    thr.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    thr.add_argument("--precisions", nargs="+", choices=("fp32", "amp"), default=["fp32"],
                     help="fp32 and/or amp (fp16 autocast with a GradScaler; CUDA)")
    thr.add_argument("--tf32", action="store_true",
                     help="fp32 matmuls on TF32 tensor cores too (CUDA); writes train_throughput_cuda_tf32.json")
    thr.add_argument("--dims", type=int, nargs="+", default=[128, 256])
    thr.add_argument("--depth", type=int, default=2)
    thr.add_argument("--heads", type=int, default=8)
    thr.add_argument("--mlp-ratio", type=float, default=4.0)
    thr.add_argument("--time-steps", type=int, default=4)
    thr.add_argument("--batch-size", type=int, default=32)
    thr.add_argument("--warmup", type=int, default=2, help="untimed steps per variant")
    thr.add_argument("--repeats", type=int, default=5)
    thr.add_argument("--steps", type=int, default=2, help="steps per timed repeat")
    thr.set_defaults(func=throughput)
    args = parser.parse_args()
    args.func(args)


if __name__ == "__main__":
    main()
