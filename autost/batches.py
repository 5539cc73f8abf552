"""A real data batch for scoring and energy: a seeded sample of a dataset split."""
from __future__ import annotations

import torch


def real_batch(dataset: str, *, batch_size: int, time_steps: int, seed: int = 0, data_root: str | None = None,
               img_size: int | None = None, split: str = "train") -> torch.Tensor:
    """``batch_size`` inputs drawn with ``seed`` from ``dataset``'s ``split``, stacked."""
    from datasets import get_dataset

    data = get_dataset(dataset, split, data_root=data_root, time_steps=time_steps, img_size=img_size, seed=seed)
    gen = torch.Generator().manual_seed(seed)
    index = torch.randperm(len(data), generator=gen)[:batch_size].tolist()
    return torch.stack([torch.as_tensor(data[i][0], dtype=torch.float32) for i in index])
