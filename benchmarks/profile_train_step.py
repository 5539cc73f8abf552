"""Where a Spikformer-4-384 training step spends its time on a GPU, ours vs SpikingJelly's
``spikformer_cifar10()`` (fp32 with torch's default TF32 settings, SpikingJelly's triton LIF,
batch 128, T 4): torch.profiler's table of each, 3 steps after 3 warm-ups.

    python -m benchmarks.profile_train_step > benchmarks/results/train_step_profile_cuda.txt
"""
import torch
from torch.profiler import ProfilerActivity, profile

from autost.backend import select_lif_backend
from benchmarks.bench_train import _SpikingJellySpikformer, _our_model, _step_fn


def main() -> None:
    if not torch.cuda.is_available():
        raise SystemExit("needs a CUDA device")
    select_lif_backend("cuda")
    device = torch.device("cuda")
    for label, model in (("autost", _our_model(4, 384, 12, 4.0, 4, "cuda")),
                         ("spikingjelly", _SpikingJellySpikformer(4, 384, 12, 4.0, 4))):
        step = _step_fn(model, 128, device, amp=False)
        for _ in range(3):
            step()
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for _ in range(3):
                step()
        print(f"===== {label}")
        print(prof.key_averages().table(sort_by="self_device_time_total", row_limit=25, max_name_column_width=70))
        del model, step
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
