"""The CUDA path: SpikingJelly's GPU LIF kernels against its torch reference, and training with AMP.

SpikingJelly reads ``SJ_LIF_CUDA_IMPLEMENTATION`` when its LIF operator is imported, so each
backend runs in a fresh interpreter that selects it first and saves outputs and gradients.
"""
import json
import os
import subprocess
import sys

import pytest
import torch

from autost import cli
from autost.arch import Arch
from autost.checkpoint import load_checkpoint, nonfinite_tensors, rng_state, set_rng_state
from autost.geometry import Geometry
from autost.search.evaluate import Evaluator
from conftest import ROOT

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

FORWARD_BACKWARD = """
import sys
from autost.backend import select_lif_backend
select_lif_backend(sys.argv[1])  # before SpikingJelly is imported

import torch
from spikingjelly.activation_based.functional import neuron_implementation
from autost.arch import Arch
from autost.blocks import attention_names
from autost.model import build_model

results = {"implementation": neuron_implementation("lif", torch.device("cuda"))["implementation"]}
for kind in attention_names():  # every block type: each builds its own neurons and products
    torch.manual_seed(0)
    model = build_model(Arch(2, 64, (4, 4), (4, 4), attention=(kind, kind)), backend=sys.argv[1], in_channels=3,
                        img_size=32, patch_size=4, time_steps=4, num_classes=10).cuda()
    x = torch.randn(8, 3, 32, 32, device="cuda")
    out = model(x)
    torch.nn.functional.cross_entropy(out, torch.arange(8, device="cuda") % 10).backward()
    results[kind] = {"out": out.detach().cpu(), "grads": {n: p.grad.cpu() for n, p in model.named_parameters()}}
torch.save(results, sys.argv[2])
"""


def _run_backend(backend: str, path):
    # ROOT first, keeping the caller's path (where packages may live outside site-packages)
    path_var = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    subprocess.run([sys.executable, "-c", FORWARD_BACKWARD, backend, str(path)], cwd=ROOT, check=True,
                   env={**os.environ, "PYTHONPATH": path_var})
    return torch.load(path, weights_only=True)


def test_cuda_backend_matches_torch_backend(tmp_path):
    pytest.importorskip("triton", reason="SpikingJelly's GPU kernels for pip installs are triton's")
    kernels = _run_backend("cuda", tmp_path / "cuda.pt")
    reference = _run_backend("torch", tmp_path / "torch.pt")
    assert kernels.pop("implementation") == "triton" and reference.pop("implementation") == "torch"
    assert set(reference) == {"ssa", "sdsa", "qk"} <= set(kernels)
    for kind, ref in reference.items():
        # Float32 either way; a few ulps of difference may flip a spike sitting on its threshold,
        # so the comparison allows a little more than rounding.
        torch.testing.assert_close(kernels[kind]["out"], ref["out"], rtol=1e-3, atol=1e-3, msg=kind)
        # A bias followed by BatchNorm has a zero gradient up to rounding; relative to it, rounding
        # noise looks large, so each difference is relative to at least 1e-4 of the largest gradient.
        floor = 1e-4 * max(grad.norm() for grad in ref["grads"].values())
        for name, grad in ref["grads"].items():
            difference = (kernels[kind]["grads"][name] - grad).norm() / grad.norm().clamp_min(floor)
            assert difference < 1e-2, f"{kind} {name}: relative gradient difference {difference:.2e}"


def test_training_on_cuda_with_amp_checkpoints_and_resumes(tmp_path, capsys):
    pytest.importorskip("triton", reason="SpikingJelly's GPU kernels for pip installs are triton's")
    arch = tmp_path / "arch.yaml"
    # the new block types and neuron genes on the GPU kernels under AMP
    Arch(2, 32, (2, 2), (2, 2), attention=("sdsa", "qk"), tau=1.5, threshold=0.75).to_yaml(arch)
    args = ["train", "--arch", str(arch), "--dataset", "digits", "--out", str(tmp_path / "run"), "--epochs", "2",
            "--limit", "128", "--batch-size", "32", "--warmup-epochs", "1", "--device", "cuda", "--backend", "cuda",
            "--amp"]
    assert cli.main(args) == 0
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["device"] == "cuda" and metrics["lif_implementation"] == "triton" and metrics["energy_mj"] > 0
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert last["scaler"] and "cuda" in last["rng"]
    assert cli.main(args + ["--resume"]) == 0
    capsys.readouterr()


def test_search_evaluator_on_cuda_matches_cpu():
    """A CUDA batch scores each candidate on the GPU (a model left on the CPU would fail on it)
    with the same seeded weights as on the CPU: the same closed-form cost and, up to spikes
    flipped by float rounding, the same energy."""
    geometry = Geometry(in_channels=3, img_size=32, patch_size=4, num_classes=10, time_steps=4)
    batch = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    arch = Arch(2, 64, (4, 4), (4, 4))
    on_cpu = Evaluator("flops", geometry, batch=batch).evaluate(arch)
    on_cuda = Evaluator("flops", geometry, batch=batch.cuda()).evaluate(arch)
    assert (on_cuda["params"], on_cuda["macs"]) == (on_cpu["params"], on_cpu["macs"])
    assert on_cuda["energy_mj"] == pytest.approx(on_cpu["energy_mj"], rel=2e-2)


def test_nonfinite_tensors_of_a_cuda_optimizer_state():
    """AdamW on a GPU keeps its step counts on the CPU, beside moments on the GPU."""
    model = torch.nn.Linear(4, 2).cuda()
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.randn(3, 4, device="cuda")).sum().backward()
    optimizer.step()
    state = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
    assert nonfinite_tensors(state) == []
    with torch.no_grad():
        model.bias[1] = float("nan")
    assert nonfinite_tensors(state) == ["model.bias"]


def test_rng_state_loaded_onto_cuda_restores(tmp_path):
    """A checkpoint read with map_location="cuda" (as --resume on a GPU reads it) restores the generators."""
    import random

    import numpy as np

    torch.save(rng_state(), tmp_path / "rng.pt")
    expected = (random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, device="cuda").item())
    set_rng_state(torch.load(tmp_path / "rng.pt", map_location="cuda", weights_only=True))
    assert (random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, device="cuda").item()) == expected
