"""A weight-entangled supernet of a search space (the one-shot scheme of AutoFormer, which
Auto-Spikformer, Che et al. 2024, applies to spiking transformers).

One network, the largest of the space (greatest depth and width, greatest MLP ratio in every
block), holds all the weights. A candidate inherits the leading slices of them: its block ``i``
takes block ``i``'s weights, and every weight tensor its first rows and columns (the stem's
D/8..D channels, the first ``D`` embedding channels, the first ``D * ratio`` hidden units).
Head counts only split the same channels differently, and tau and threshold carry no weights, so
those genes share too. T, the attention type and the shortcut change what the weights compute
(a different number of steps, different weight layers, LIFs in other places), so a space with
more than one choice of any of them is refused.

Training (``train_supernet``) follows the sandwich rule: every step runs the largest, the
smallest and two random candidates on one batch, sums their gradients into the shared weights
and takes one AdamW step. A candidate's batch, its draws and its step are all seeded from the
seed and the step number, so a resumed run continues exactly. Files in ``--out``:
``supernet.pt`` (weights, optimizer, step; atomic, every ``save_every`` steps and at the end) and
``supernet.json`` (settings, steps done, time).

Rating a candidate (``rate``): its inherited weights, BatchNorm statistics recalibrated on a few
training batches (the shared running statistics belong to no one candidate), then its accuracy on
``validation_images`` held-out validation images (256 by default: one batch of 32 would give
only 33 possible scores, and many candidates would tie).
"""
from __future__ import annotations

import json
import random
import sys
import time
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from autost import memory
from autost.arch import Arch
from autost.errors import BadInput
from autost.fingerprint import refuse_changes
from autost.geometry import Geometry, resolve_geometry
from autost.io import atomic_torch_save, atomic_write_json
from autost.model import NETWORK, build_model
from autost.options import check_fields, default
from autost.rundir import claim
from autost.space import SearchSpace
from autost.tables.commands import SUPERNET

WEIGHTS = "supernet.pt"
SUMMARY = "supernet.json"
RANDOM_PER_STEP = 2  # the sandwich rule's random candidates per step, besides the largest and the smallest


@dataclass(frozen=True)
class SupernetConfig:
    space: str
    dataset: str
    steps: int = default(SUPERNET, "steps")
    batch_size: int = default(SUPERNET, "batch_size")
    lr: float = default(SUPERNET, "lr")
    weight_decay: float = 0.01
    time_steps: int = default(SUPERNET, "time_steps")
    seed: int = default(SUPERNET, "seed")
    limit: int | None = None  # the first N training samples only
    save_every: int = default(SUPERNET, "save_every")
    calibration_batches: int = default(SUPERNET, "calibration_batches")  # BatchNorm recalibration when rated
    validation_images: int = default(SUPERNET, "validation_images")  # what a candidate is rated on
    data_root: str | None = None

    def __post_init__(self) -> None:
        check_fields(self, SUPERNET)  # each setting's check, from its option

    def geometry(self) -> Geometry:
        return resolve_geometry(dataset=self.dataset, input_shape=None, num_classes=None, patch_size=None,
                                time_steps=self.time_steps)

    def to_dict(self) -> dict[str, Any]:
        """What identifies a supernet (a resumed one must match it): not the data root, which may
        move, nor the steps and the checkpoint interval (a constant learning rate: a resumed run
        may train on for more steps, and ends where one run of that many steps would), nor the
        validation images, which only the rating uses (supernet.json records them)."""
        data = asdict(self)
        for key in ("data_root", "steps", "save_every", "validation_images"):
            data.pop(key)
        return data


def check_space(space: SearchSpace) -> None:
    """One line naming the genes whose choices cannot share weights, when the space varies any."""
    unshared = [gene for gene, choices in (("TIME_STEPS", space.time_steps), ("ATTENTION", space.attention),
                                           ("SHORTCUT", space.shortcut)) if len(choices) > 1]
    if unshared:
        raise BadInput(f"{space.name}: a supernet's weights cannot serve more than one choice of "
                       f"{', '.join(unshared)}; give the space one choice of each")


def _network_genes(space: SearchSpace) -> dict[str, Any]:
    return dict(time_steps=space.time_steps[0] if space.time_steps else None, tau=space.tau[0],
                threshold=space.threshold[0], shortcut=space.shortcut[0])


def largest(space: SearchSpace) -> Arch:
    depth, dim = max(space.depth), max(space.embed_dim)
    return Arch(depth, dim, (max(space.mlp_ratio),) * depth, (max(space.heads_for(dim)),) * depth,
                (space.attention[0],) * depth, **_network_genes(space))


def smallest(space: SearchSpace) -> Arch:
    depth, dim = min(space.depth), min(space.embed_dim)
    return Arch(depth, dim, (min(space.mlp_ratio),) * depth, (min(space.heads_for(dim)),) * depth,
                (space.attention[0],) * depth, **_network_genes(space))


def sandwich(space: SearchSpace, seed: int, step: int) -> list[Arch]:
    """The candidates of training step ``step``: the largest, the smallest and two random ones."""
    rng = random.Random(f"{seed}:{step}")
    return [largest(space), smallest(space), *(space.sample(rng) for _ in range(RANDOM_PER_STEP))]


def inherited(supernet: nn.Module, network: nn.Module) -> dict[str, torch.Tensor]:
    """``network``'s parameters and buffers as the leading slices (views) of ``supernet``'s."""
    shared = dict(supernet.named_parameters()) | dict(supernet.named_buffers())
    state = {}
    for name, tensor in list(network.named_parameters()) + list(network.named_buffers()):
        whole = shared[name]
        state[name] = whole[tuple(slice(0, n) for n in tensor.shape)]
    return state


def check_candidate(arch: Arch, top: Arch) -> None:
    """One line when ``arch`` needs weights the supernet of largest network ``top`` does not hold."""
    if (arch.depth > top.depth or arch.embed_dim > top.embed_dim or max(arch.mlp_ratio) > top.mlp_ratio[0]
            or set(arch.attention) != {top.attention[0]} or arch.time_steps != top.time_steps
            or arch.shortcut != top.shortcut):
        raise BadInput(f"{arch.short()} is not a candidate of the supernet of {top.short()} (deeper, wider, "
                       "or another T, attention or shortcut); train a supernet of its space")


def _batch(data, indices: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    samples = [data[i] for i in indices.tolist()]
    return (torch.stack([torch.as_tensor(x, dtype=torch.float32) for x, _ in samples]),
            torch.tensor([int(y) for _, y in samples]))


def _split(config: SupernetConfig, split: str):
    from datasets import get_dataset

    geometry = config.geometry()
    data = get_dataset(config.dataset, split, data_root=config.data_root, time_steps=config.time_steps,
                       img_size=geometry.img_size, seed=config.seed)
    if config.limit is not None and split == "train":
        data = torch.utils.data.Subset(data, range(min(config.limit, len(data))))
    return data


def train_supernet(config: SupernetConfig, out: str | Path, *, resume: bool = False,
                   progress: bool = True) -> dict[str, Any]:
    """Train (or, with ``resume``, continue) the supernet of ``config.space`` into ``out``;
    returns supernet.json's content."""
    space = SearchSpace.from_yaml(config.space)
    check_space(space)  # the settings' own checks ran when the config was built (check_fields)
    from datasets import check_available

    check_available(config.dataset, config.data_root)
    # every step trains the space's largest network (and the supernet holds its weights)
    memory.check_space(space, config.geometry(), config.batch_size, use="train")
    with claim(out) as out:
        return _train(config, space, out, resume, progress)


def _fingerprint(config: SupernetConfig, space: SearchSpace) -> dict[str, Any]:
    return {**config.to_dict(), "space": space.to_dict()["SEARCH_SPACE"], "network": NETWORK}


def _train(config: SupernetConfig, space: SearchSpace, out: Path, resume: bool, progress: bool) -> dict[str, Any]:
    geometry = config.geometry()
    top = largest(space)
    torch.manual_seed(config.seed)
    supernet = build_model(top, **geometry.model_kwargs())
    optimizer = torch.optim.AdamW(supernet.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    step, elapsed = 0, 0.0
    if (out / WEIGHTS).exists():
        if not resume:
            raise BadInput(f"{out} already holds a supernet; pass --resume to continue it or choose another --out")
        saved = torch.load(out / WEIGHTS, map_location="cpu", weights_only=True)
        refuse_changes(json.loads(saved["settings"]), _fingerprint(config, space), out / WEIGHTS)
        supernet.load_state_dict(saved["model"])
        optimizer.load_state_dict(saved["optimizer"])
        step, elapsed = saved["step"], saved["elapsed_s"]
    data = _split(config, "train")
    supernet.train()
    resumed_at, start = step, time.perf_counter() - elapsed
    bar = tqdm(total=config.steps, initial=step, desc="supernet", unit="step", disable=not progress, file=sys.stderr)
    while step < config.steps:
        g = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
        x, y = _batch(data, torch.randint(len(data), (config.batch_size,), generator=g))
        optimizer.zero_grad(set_to_none=True)
        losses = []
        for arch in sandwich(space, config.seed, step):
            network = build_model(arch, **geometry.model_kwargs())
            loss = F.cross_entropy(torch.func.functional_call(network, inherited(supernet, network), (x,)), y)
            loss.backward()
            losses.append(float(loss.detach()))
        optimizer.step()
        step += 1
        bar.update(1)
        bar.set_postfix(loss=f"{losses[0]:.3f}", refresh=False)
        if step % config.save_every == 0 or step == config.steps:
            _save(out, config, space, supernet, optimizer, step, time.perf_counter() - start)
    bar.close()
    if step == resumed_at:  # nothing left to train: the summary still takes the rating's settings
        _write_summary(out, config, space, step, elapsed)
    return json.loads((out / SUMMARY).read_text())


def _save(out: Path, config: SupernetConfig, space: SearchSpace, supernet: nn.Module,
          optimizer: torch.optim.Optimizer, step: int, elapsed_s: float) -> None:
    atomic_torch_save(out / WEIGHTS, {"settings": json.dumps(_fingerprint(config, space)),
                                      "model": supernet.state_dict(), "optimizer": optimizer.state_dict(),
                                      "step": step, "elapsed_s": elapsed_s})
    _write_summary(out, config, space, step, elapsed_s)


def _write_summary(out: Path, config: SupernetConfig, space: SearchSpace, step: int, elapsed_s: float) -> None:
    atomic_write_json(out / SUMMARY, {"settings": _fingerprint(config, space), "data_root": config.data_root,
                                      "steps_done": step, "elapsed_s": round(elapsed_s, 3),
                                      "validation_images": config.validation_images,
                                      "largest": largest(space).short(), "smallest": smallest(space).short(),
                                      "passes_per_step": 2 + RANDOM_PER_STEP})


def validation_images(summary: dict[str, Any]) -> int:
    """The validation images a supernet's candidates are rated on: as its supernet.json says, the
    default for one written before the setting existed."""
    return summary.get("validation_images", default(SUPERNET, "validation_images"))


def fingerprint_of(summary: dict[str, Any]) -> dict[str, Any]:
    """What a search or a study that rates with a supernet records of it, in place of its folder
    (a resumed one must match it): its settings, the steps it trained and the validation images
    its ratings use."""
    return {**summary["settings"], "steps_done": summary["steps_done"], "validation_images": validation_images(summary)}


def read_summary(folder: str | Path) -> dict[str, Any]:
    """The supernet.json of the supernet trained into ``folder``; one line if there is none."""
    path = Path(folder) / SUMMARY
    if not (Path(folder) / WEIGHTS).exists() or not path.exists():
        raise BadInput(f"--supernet {folder} holds no trained supernet ({WEIGHTS} and {SUMMARY}); train one with "
                       f"run.py supernet train --out {folder}")
    return json.loads(path.read_text())


@dataclass
class Loaded:
    """A trained supernet ready to rate candidates: its weights, and its seeded batches for
    BatchNorm recalibration and validation."""

    config: SupernetConfig
    top: Arch
    supernet: nn.Module
    calibration: list[torch.Tensor]
    validation: list[tuple[torch.Tensor, torch.Tensor]]  # batches of held-out images and their labels


def load(folder: str) -> Loaded:
    """The supernet trained into ``folder`` (read once per process, and again after it changes)."""
    read_summary(folder)  # one line if it is not there
    return _load(folder, (Path(folder) / WEIGHTS).stat().st_mtime_ns, (Path(folder) / SUMMARY).stat().st_mtime_ns)


@lru_cache(maxsize=2)
def _load(folder: str, weights_mtime_ns: int, summary_mtime_ns: int) -> Loaded:
    path = Path(folder) / WEIGHTS
    saved = torch.load(path, map_location="cpu", weights_only=True)
    settings = json.loads(saved["settings"])
    summary = json.loads((Path(folder) / SUMMARY).read_text())
    fields = {k: v for k, v in settings.items() if k not in ("space", "network")}
    config = SupernetConfig(**{**fields, "space": "", "data_root": summary["data_root"],
                               "validation_images": validation_images(summary)})
    top = largest(SearchSpace.from_dict({"SEARCH_SPACE": settings["space"]}))
    supernet = build_model(top, **config.geometry().model_kwargs())
    supernet.load_state_dict(saved["model"])
    train_data, val_data = _split(config, "train"), _split(config, "val")
    g = torch.Generator().manual_seed(config.seed)
    calibration = [_batch(train_data, torch.randint(len(train_data), (config.batch_size,), generator=g))[0]
                   for _ in range(config.calibration_batches)]
    order = torch.randperm(len(val_data), generator=g)[:config.validation_images]
    validation = [_batch(val_data, chunk) for chunk in order.split(config.batch_size)]
    return Loaded(config, top, supernet, calibration, validation)


@torch.no_grad()
def rate(loaded: Loaded, arch: Arch, geometry: Geometry) -> float:
    """``arch``'s validation accuracy with the supernet's weights, after recalibrating its
    BatchNorm statistics (a cumulative average over the calibration batches)."""
    if geometry != loaded.config.geometry():
        raise BadInput(f"the supernet was trained on {loaded.config.dataset} at T {loaded.config.time_steps}; "
                       "search with the same --dataset and --time-steps")
    check_candidate(arch, loaded.top)
    network = build_model(arch, **geometry.model_kwargs())
    network.load_state_dict({k: v.clone() for k, v in inherited(loaded.supernet, network).items()})
    for m in network.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.reset_running_stats()
            m.momentum = None
    network.train()
    for x in loaded.calibration:
        network(x)
    network.eval()
    correct = sum(int((network(x).argmax(dim=1) == y).sum()) for x, y in loaded.validation)
    return correct / sum(len(y) for _, y in loaded.validation)
