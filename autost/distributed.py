"""Data-parallel training of one candidate under torchrun (DistributedDataParallel).

``torchrun --nproc_per_node N run.py train ...`` starts N processes with RANK, WORLD_SIZE
and LOCAL_RANK set; each trains on its shard of every epoch's shuffled order, gradients are
averaged by DDP (gloo on the CPU, nccl on GPUs), and only rank 0 writes checkpoints and
metrics. Without those variables everything here is a no-op for a single process.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler


@dataclass(frozen=True)
class Group:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def from_env() -> Group:
    """The process group torchrun describes, joined on first use; a single process otherwise."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Group()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return Group(dist.get_rank(), world_size, int(os.environ.get("LOCAL_RANK", "0")))


def is_main_process() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def device_for(group: Group, device: torch.device) -> torch.device:
    """One GPU per process under torchrun."""
    if group.active and device.type == "cuda":
        device = torch.device("cuda", group.local_rank)
        torch.cuda.set_device(device)
    return device


def wrap(model: nn.Module, group: Group, device: torch.device) -> nn.Module:
    if not group.active:
        return model
    return nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def shard_loader(data: Dataset, batch_size: int, seed: int, group: Group, *, num_workers: int,
                 pin_memory: bool) -> DataLoader:
    """This rank's share of an epoch shuffled by ``seed`` (the same order on every rank)."""
    sampler = DistributedSampler(data, num_replicas=group.world_size, rank=group.rank, shuffle=True, seed=seed)
    return DataLoader(data, batch_size=batch_size, sampler=sampler, num_workers=num_workers, pin_memory=pin_memory)


def sum_over_ranks(values: tuple[float, ...], group: Group, device: torch.device) -> tuple[float, ...]:
    if not group.active:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return tuple(tensor.tolist())


def finish(group: Group) -> None:
    if group.active and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()
