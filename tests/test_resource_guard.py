"""Issue 29: the resource guard's estimate, against what the models really hold.

The refusals themselves (every command on the deep and wide architectures, in one line, with a
bounded peak RSS) are cases of the bad-input matrix, tests/test_bad_inputs.py.
"""
import json
import subprocess
import sys

import pytest
import torch
from spikingjelly.activation_based import neuron

from autost import cli, memory
from autost.arch import Arch
from autost.blocks import attention_names
from autost.errors import BadInput, UsageError
from autost.geometry import Geometry
from autost.model import build_model
from autost.space import SearchSpace
from conftest import ROOT

DIGITS = Geometry(1, 16, 4, 10, 4)
NDIGITS = Geometry(2, 32, 8, 10, 4)
ENV = {"PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}


@pytest.mark.parametrize("attention", attention_names())
@pytest.mark.parametrize("geometry", [DIGITS, NDIGITS])
def test_the_neuron_count_is_every_lif_of_every_block_type(attention, geometry):
    """Every LIF keeps its membrane potential after a pass (and its spikes for NASWOT): the estimate
    counts them from the closed form, exactly for a type that declares its layers."""
    arch = Arch(2, 64, (2, 4), (2, 4), (attention,) * 2)
    model = build_model(arch, **geometry.model_kwargs())
    counted = []
    for m in model.modules():
        if isinstance(m, neuron.LIFNode):
            m.register_forward_hook(lambda mod, args, out: counted.append(out[0].numel()))  # one step
    batch = 3
    model(torch.rand(batch, geometry.in_channels, geometry.img_size, geometry.img_size))
    lif_values = sum(counted) // batch
    assert memory.neuron_count(arch, geometry) == lif_values


PEAK = """
import json, sys
import torch
from autost.arch import Arch
from autost.model import build_model
from autost.scores.codes import activation_scores
from energy.measure import measure_network
def status(key):  # VmRSS now, VmHWM the peak (ru_maxrss would start at the parent's peak)
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith(key))
use, depth = sys.argv[1], int(sys.argv[2])
arch = Arch(depth, 32, (2,) * depth, (2,) * depth)
x = torch.rand(16, 1, 16, 16)
base = status("VmRSS:")
model = build_model(arch, in_channels=1, img_size=16, patch_size=4, num_classes=10, time_steps=4)
if use == "forward":
    measure_network(model, x)
elif use == "codes":
    activation_scores(model, x)
else:
    optimizer = torch.optim.AdamW(model.parameters())
    for _ in range(2):
        model(x).sum().backward()
        optimizer.step()
        optimizer.zero_grad()
print(json.dumps(status("VmHWM:") - base))
"""


@pytest.mark.parametrize("use, depth", [("forward", 120), ("codes", 120), ("train", 12)])
def test_the_estimate_covers_the_measured_peak(use, depth):
    """The process's peak RSS above what it held before building the model (every module imported
    by then, so that no import counts), against the estimate: never above it, and not far below
    (a guard that refuses what fits is no guard either)."""
    done = subprocess.run([sys.executable, "-c", PEAK, use, str(depth)], env=ENV, capture_output=True, text=True,
                          timeout=120, check=True)
    measured = json.loads(done.stdout)
    estimated = memory.footprint(Arch(depth, 32, (2,) * depth, (2,) * depth), DIGITS, 16, use=use).total_bytes
    assert measured <= estimated <= 2.5 * measured, (measured, estimated)


@pytest.mark.parametrize("text, size", [("4G", 4 * 10 ** 9), ("512M", 512 * 10 ** 6), ("2GiB", 2 * 2 ** 30),
                                        ("1.5gb", 15 * 10 ** 8), ("1000", 1000)])
def test_max_memory_sizes(text, size):
    assert memory.parse_size("--max-memory", text) == size


@pytest.mark.parametrize("text", ["0", "-1G", "4X", "G", "", "1e9"])
def test_bad_max_memory_sizes_name_the_option(text):
    with pytest.raises(BadInput, match=r"--max-memory must be a memory size above 0 such as 4G"):
        memory.parse_size("--max-memory", text)


def test_the_limit_is_max_memory_when_given_and_restored_after(monkeypatch):
    monkeypatch.delenv(memory.LIMIT_ENV, raising=False)
    arch = Arch(4, 64, (4,) * 4, (4,) * 4)
    assert memory.check_fits(arch, DIGITS, 64, use="train").total_bytes < 10 ** 9
    with memory.memory_limit(10 ** 6):
        with pytest.raises(UsageError, match=r"training needs about .* but --max-memory allows 1 MB"):
            memory.check_fits(arch, DIGITS, 64, use="train")
    assert memory.LIMIT_ENV not in __import__("os").environ


def test_a_space_is_checked_through_its_largest_architecture():
    space = SearchSpace((2, 4), (1, 2, 3), (1, 5), (24, 48), name="s.yaml", attention=("sdsa", "ssa"),
                        time_steps=(2, 6))
    largest = memory.largest_arch(space)
    assert (largest.depth, largest.embed_dim, largest.mlp_ratio[0], largest.num_heads[0]) == (5, 48, 4, 3)
    assert largest.attention[0] == "ssa" and largest.time_steps == 6  # the token matrix; the most steps
    with memory.memory_limit(10 ** 6):
        with pytest.raises(UsageError, match=r"s.yaml: its largest architecture d5-D48-m\[4,4,4,4,4\]-h\[3,3,3,3,3\]"):
            memory.check_space(space, DIGITS, 32, use="forward")
        memory.check_space(space, DIGITS, 32, use=None)  # counting needs no model


def _search_json(arch: Arch) -> dict:
    candidate = {"arch": arch.to_dict()["RETRAIN"], "params": 1, "macs": 1, "energy_mj": None, "score": 1.0}
    return {"dataset": "digits", "algorithm": "random", "candidates": [candidate], "pareto": None,
            "settings": {"geometry": vars(DIGITS), "batch_size": 4, "seed": 0, "top_k": 1, "constraints": {}}}


@pytest.mark.parametrize("path", ["calibration", "measure", "compare"])
def test_the_library_paths_that_build_models_go_through_the_guard(path, monkeypatch):
    """The closed form's calibration, the pipeline's energy step and report --compare, below the CLI."""
    from energy.closed_form import calibrate
    from autost.report.compare import compare_searches
    from energy.measure import measure_energy

    built = []
    monkeypatch.setattr("energy.closed_form.build_model", lambda *a, **k: built.append(1))
    monkeypatch.setattr("energy.measure.build_model", lambda *a, **k: built.append(1))
    monkeypatch.setattr("autost.report.compare.build_model", lambda *a, **k: built.append(1))
    arch, batch = Arch(2, 32, (2, 2), (2, 2)), torch.rand(4, 1, 16, 16)
    run = {"calibration": lambda: calibrate([arch], DIGITS, batch, seed=0),
           "measure": lambda: measure_energy(arch, DIGITS, batch),
           "compare": lambda: compare_searches(_search_json(arch), _search_json(arch))}[path]
    with memory.memory_limit(10 ** 6), pytest.raises(UsageError, match="but --max-memory allows 1 MB"):
        run()
    assert not built


@pytest.mark.parametrize("dataset, score, energy, use", [
    (None, "flops", "auto", None),  # counting only
    ("digits", "flops", "auto", "forward"),  # the closed form's calibration
    ("digits", "flops", "measure", "codes"),  # each candidate's network, for its energy
    ("digits", "naswot", "auto", "codes"),  # NASWOT keeps every spike
    ("digits", "synflow", "auto", "train"),  # a backward pass
])
def test_a_search_checks_its_space_for_what_it_will_run(dataset, score, energy, use):
    from autost.search.runner import SearchConfig, model_use

    config = SearchConfig(space=str(ROOT / "spaces" / "digits.yaml"), geometry=DIGITS, dataset=dataset, score=score,
                          energy=energy)
    assert model_use(config) == use


def test_a_depth_too_deep_to_count_is_refused_before_any_sampling():
    space = SearchSpace((2,), (1,), (10 ** 9,), (32,), name="deep.yaml")
    with pytest.raises(UsageError, match=r"deep.yaml: DEPTH 1,000,000,000 is beyond what can be counted"):
        memory.check_space(space, DIGITS, 1, use=None)


def test_sample_prints_a_space_beyond_python_s_4300_digits(tmp_path, capsys):
    """A 10000-block space has 6^20000 architectures: Python refuses to write such an int."""
    space = tmp_path / "deep.yaml"
    space.write_text("SEARCH_SPACE: {MLP_RATIO: [2, 3, 4], NUM_HEADS: [1, 2], DEPTH: [10000], EMBED_DIM: [32]}\n")
    assert cli.main(["sample", "--space", str(space), "--n", "1"]) == 0
    head, arch = capsys.readouterr().out.splitlines()
    assert head == f"{space}: about 10^7781 architectures (sizes for 1x16x16 input, T 4, 10 classes)"
    assert arch.split()[0] == "d10000-D32" and "M params" in arch


def test_counts_of_any_size_print():
    assert memory.count_text(1234567) == "1,234,567"
    assert memory.count_text(6 ** 100) == "6.53e+77"
    assert memory.count_text(6 ** 100000) == "about 10^77815"
    assert memory.count_text(10 ** 5000) == "about 10^5000"
