"""Mixed precision: LIF neurons integrate in float32 whatever autocast gives them.

SpikingJelly 2.0.0's GPU LIF kernels take float32 only; under fp16 autocast a forced backend
refused to run (found on an H200, see tests/test_gpu.py). The CPU's bf16 autocast makes the
same low-precision inputs, so the cast is checked here without a GPU.
"""
import torch
from spikingjelly.activation_based import neuron

from autost.arch import Arch
from autost.model import build_model


def _lif_dtypes(model: torch.nn.Module, x: torch.Tensor) -> tuple[set, set, set]:
    """The dtypes each LIF is handed, the dtypes it integrates, and its membranes' dtypes."""
    handed, integrated, membranes = set(), set(), set()

    def before(module, args):
        handed.add(args[0].dtype)

    def after(module, args, out):
        integrated.add(args[0].dtype)
        membranes.add(module.v.dtype)

    hooks = []
    for module in model.modules():
        if isinstance(module, neuron.LIFNode):
            hooks += [module.register_forward_pre_hook(before, prepend=True), module.register_forward_hook(after)]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x)
    for hook in hooks:
        hook.remove()
    assert torch.isfinite(out).all()
    return handed, integrated, membranes


def test_lif_neurons_integrate_in_float32_under_autocast():
    torch.manual_seed(0)
    model = build_model(Arch(1, 32, (2,), (2,)), in_channels=3, img_size=32, patch_size=4, time_steps=2,
                        num_classes=10)
    handed, integrated, membranes = _lif_dtypes(model, torch.rand(2, 3, 32, 32))
    assert torch.bfloat16 in handed  # autocast is on: the layers before the neurons give bf16
    assert integrated == membranes == {torch.float32}


def test_training_step_under_autocast_reaches_every_weight():
    torch.manual_seed(0)
    model = build_model(Arch(1, 32, (2,), (2,)), in_channels=3, img_size=32, patch_size=4, time_steps=2,
                        num_classes=10)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(torch.rand(4, 3, 32, 32))
    torch.nn.functional.cross_entropy(logits.float(), torch.arange(4)).backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    assert any(g.abs().sum() > 0 for g in grads)
