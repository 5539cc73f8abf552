"""A real data batch for scoring and energy: a seeded sample of a dataset split."""
from __future__ import annotations

import torch


def labeled_batch(dataset: str, *, batch_size: int, time_steps: int, seed: int = 0, data_root: str | None = None,
                  img_size: int | None = None, split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """``batch_size`` (input, label) pairs drawn with ``seed`` from ``dataset``'s ``split``, stacked."""
    from datasets import get_dataset

    data = get_dataset(dataset, split, data_root=data_root, time_steps=time_steps, img_size=img_size, seed=seed)
    index = torch.randperm(len(data), generator=torch.Generator().manual_seed(seed))[:batch_size].tolist()
    samples = [data[i] for i in index]
    return (torch.stack([torch.as_tensor(x, dtype=torch.float32) for x, _ in samples]),
            torch.tensor([int(y) for _, y in samples]))


def real_batch(dataset: str, **kwargs) -> torch.Tensor:
    """The inputs of ``labeled_batch`` (same arguments, same draw)."""
    return labeled_batch(dataset, **kwargs)[0]


def step_batches(dataset: str | None, choices: tuple[int, ...], *, time_steps: int,
                 **kwargs) -> dict[int, torch.Tensor] | None:
    """On event data, the inputs of ``real_batch`` (same draw) binned at each T in ``choices`` other
    than ``time_steps`` (an architecture's TIME_STEPS gene): one event batch holds frames of one T.
    ``None`` on static data, whose images serve every T, and without other choices."""
    from datasets import dataset_info

    steps = set(choices) - {time_steps}
    if not dataset or not steps or dataset_info(dataset).kind == "static":
        return None
    return {t: real_batch(dataset, time_steps=t, **kwargs) for t in sorted(steps)}
