"""The bad-input matrix (issue 29): every command on a table of bad inputs ends with exactly one
line on stderr, no traceback, a non-zero exit, and nothing written outside the run folder (no
run folder either: every one of these is refused before any work).

Cases that need a process of their own run ``run.py`` in a subprocess with one thread: the deep
and wide architectures (their peak RSS is measured, ``measured.py``: the resource guard must refuse
them before anything is allocated) and a raw pickle as a checkpoint or a state dict (torch warned about its
protocol on two lines before the refusal, and a warning shows as a real process prints it). The
others call the CLI's ``main`` in this process, which is faster; a Python warning there, which a
real run would print, counts as a line.
"""
import json
import os
import warnings
from dataclasses import dataclass

import pytest
import yaml

from autost import cli
from autost.arch import Arch
from conftest import ROOT
from measured import run_measured

DIGITS_SPACE = str(ROOT / "spaces" / "digits.yaml")
FLOPS = ["--input-shape", "1x16x16", "--num-classes", "10", "--patch-size", "4"]
TINY = Arch(1, 32, (2,), (2,))
DEEP = 10000
LONG = "x" * 300  # beyond the 255 bytes a file name may have
PEAK_BYTES = 10 ** 9  # torch alone is about 0.35 GB; a model being built would go far beyond
CPU_SECONDS = 10  # typically 3: importing torch and reading a 10000-block YAML


def _metrics(**changes) -> dict:
    metrics = {"arch": TINY.to_dict()["RETRAIN"], "dataset": "digits", "params": 1, "macs": 1,
               "epochs": [{"epoch": 1, "train_loss": 1.0, "val_acc": 0.5}], "test_acc": 0.5, "energy_mj": 0.1}
    return {**metrics, **changes}


def _space(**genes) -> dict:
    return {"SEARCH_SPACE": {"MLP_RATIO": [2], "NUM_HEADS": [1], "DEPTH": [1], "EMBED_DIM": [32], **genes}}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, str]:
    """Every input file of the table, in a folder of its own (outside the runs' working folders)."""
    folder = tmp_path_factory.mktemp("inputs")
    files = {
        "tiny": TINY.to_dict(),
        "deep": Arch(DEEP, 32, (2,) * DEEP, (1,) * DEEP).to_dict(),
        "wide": Arch(1, 1_000_000, (2,), (1,)).to_dict(),
        "tau1": {"RETRAIN": {**TINY.to_dict()["RETRAIN"], "TAU": 1.0}},
        "deep_space": _space(DEPTH=[DEEP]),
        "wide_space": _space(EMBED_DIM=[1_000_000]),
        "countless_space": _space(DEPTH=[1_000_000]),
        "tau1_space": _space(TAU=[1, 2]),
        "width_space": _space(WIDTH=[3]),
        "nested_set": {"search": {"space": DIGITS_SPACE, "dataset": "digits"}},
        "unknown_section": {"search": {"space": DIGITS_SPACE, "dataset": "digits"}, "searh": {}},
        "memory_key": {"search": {"space": DIGITS_SPACE, "dataset": "digits", "max_memory": "4G"}},
    }
    paths = {}
    for name, content in files.items():
        paths[name] = str(folder / f"{name}.yaml")
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(content, default_flow_style=None))
    (folder / "bad_yaml.yaml").write_text("RETRAIN:\n  DEPTH: 1\n  EMBED_DIM: [32\n")
    paths["bad_yaml"] = str(folder / "bad_yaml.yaml")
    (folder / "raw.pt").write_bytes(b"\x80\x04\x95\x0b\x00\x00\x00\x00\x00\x00\x00}\x94\x8c\x01a\x94K\x01s.")
    paths["raw_pickle"] = str(folder / "raw.pt")
    for name, content in (("firing_list", _metrics(firing_rates=[1])), ("energy_null", _metrics(energy_mj=None)),
                          ("acc_text", _metrics(test_acc="high")), ("good_run", _metrics())):
        (folder / name).mkdir()
        (folder / name / "metrics.json").write_text(json.dumps(content))
        paths[name] = str(folder / name)
    (folder / "broken_search").mkdir()
    (folder / "broken_search" / "search.json").write_text("{not json")
    paths["broken_search"] = str(folder / "broken_search")
    (folder / "a_file").write_text("x")
    paths["a_file"] = str(folder / "a_file")
    return paths


@dataclass(frozen=True)
class Case:
    argv: tuple[str, ...]  # "{name}" stands for the input file ``name``
    message: str  # part of the one line
    process: bool = False  # run.py in a subprocess, its peak RSS and time measured


CASES = {
    # the resource guard: each path that builds models, on the deep and the wide architecture
    "profile-deep": Case(("profile", "--arch", "{deep}", "--dataset", "digits", "--max-memory", "2G"),
                         f"d{DEEP}-D32: a forward pass keeping every spike (NASWOT, SAHD) needs about", True),
    "profile-wide": Case(("profile", "--arch", "{wide}", "--dataset", "digits"),
                         "d1-D1000000-m[2]-h[1]: a forward pass keeping every spike", True),
    "energy-deep": Case(("energy", "--arch", "{deep}", "--dataset", "digits", "--out", "out", "--max-memory", "2G"),
                        f"d{DEEP}-D32: a forward pass needs about", True),
    "energy-wide": Case(("energy", "--arch", "{wide}", "--dataset", "digits", "--out", "out"),
                        "d1-D1000000-m[2]-h[1]: a forward pass needs about", True),
    "search-data-deep": Case(("search", "--space", "{deep_space}", "--dataset", "digits", "--out", "out",
                              "--max-memory", "2G"), f"its largest architecture d{DEEP}-D32: a forward pass", True),
    "search-data-wide": Case(("search", "--space", "{wide_space}", "--dataset", "digits", "--out", "out"),
                             "its largest architecture d1-D1000000-m[2]-h[1]: a forward pass needs about", True),
    "search-too-deep-to-count": Case(("search", "--space", "{countless_space}", *FLOPS, "--out", "out"),
                                     "DEPTH 1,000,000 is beyond what can be counted", True),
    "sample-too-deep-to-count": Case(("sample", "--space", "{countless_space}"),
                                     "DEPTH 1,000,000 is beyond what can be counted", True),
    "train-deep": Case(("train", "--arch", "{deep}", "--dataset", "digits", "--out", "out", "--max-memory", "2G"),
                       f"d{DEEP}-D32: training needs about", True),
    "train-wide": Case(("train", "--arch", "{wide}", "--dataset", "digits", "--out", "out"),
                       "d1-D1000000-m[2]-h[1]: training needs about", True),
    "supernet-deep": Case(("supernet", "train", "--space", "{deep_space}", "--dataset", "digits", "--out", "out",
                           "--max-memory", "2G"), f"its largest architecture d{DEEP}-D32: training needs", True),
    "supernet-out-empty": Case(("supernet", "train", "--space", DIGITS_SPACE, "--dataset", "digits", "--out", ""),
                               "argument --out: must be a non-empty path"),
    "correlate-deep": Case(("correlate", "--space", "{deep_space}", "--dataset", "digits", "--out", "out",
                            "--max-memory", "2G"), f"its largest architecture d{DEEP}-D32: training needs", True),
    "energy-raw-pickle": Case(("energy", "--arch", "{tiny}", "--dataset", "digits", "--checkpoint", "{raw_pickle}",
                               "--out", "out"), "not a readable checkpoint (UnpicklingError)", True),
    "import-raw-pickle": Case(("import", "--spikingjelly", "spikformer_cifar10", "--dataset", "cifar10",
                               "--checkpoint", "{raw_pickle}", "--out", "out"), "not a readable state dict", True),
    # TAU 1: SpikingJelly's LIF asserts tau > 1
    "train-tau1": Case(("train", "--arch", "{tau1}", "--dataset", "digits", "--out", "out"),
                       "TAU must be greater than 1 (SpikingJelly's LIF requires tau > 1), got 1"),
    "profile-tau1": Case(("profile", "--arch", "{tau1}", "--dataset", "digits"), "TAU must be greater than 1"),
    "energy-tau1": Case(("energy", "--arch", "{tau1}", "--dataset", "digits", "--out", "out"),
                        "TAU must be greater than 1"),
    "search-tau1": Case(("search", "--space", "{tau1_space}", *FLOPS, "--out", "out"),
                        "SEARCH_SPACE.TAU must be a non-empty list of numbers greater than 1"),
    "correlate-tau1": Case(("correlate", "--space", "{tau1_space}", "--dataset", "digits", "--out", "out"),
                           "SEARCH_SPACE.TAU must be a non-empty list of numbers greater than 1"),
    # report trusts nothing it reads
    "report-firing-list": Case(("report", "--run", "{firing_list}"), "firing_rates must be a mapping, got [1]"),
    "report-energy-null": Case(("report", "--run", "{energy_null}"), "energy_mj must be a finite number of mJ"),
    "report-acc-text": Case(("report", "--run", "{acc_text}"), "test_acc must be a fraction in [0, 1], got 'high'"),
    "report-broken-search": Case(("report", "--run", "{broken_search}"), "search.json: not valid JSON"),
    "report-out-file": Case(("report", "--run", "{good_run}", "--out", "{a_file}"), "is a file, not a folder"),
    "report-no-run": Case(("report", "--run", "nowhere"), "nowhere: run folder not found"),
    # odd paths
    "train-out-empty": Case(("train", "--arch", "{tiny}", "--dataset", "digits", "--out", ""),
                            "argument --out: must be a non-empty path"),
    "import-out-empty": Case(("import", "--spikingjelly", "spikformer_cifar10", "--dataset", "cifar10", "--out", ""),
                             "argument --out: must be a non-empty path"),
    "energy-out-empty": Case(("energy", "--arch", "{tiny}", "--dataset", "digits", "--out", ""),
                             "argument --out: must be a non-empty path"),
    "train-out-long": Case(("train", "--arch", "{tiny}", "--dataset", "digits", "--out", LONG),
                           "cannot hold results (File name too long); choose a shorter path"),
    "search-out-long": Case(("search", "--space", DIGITS_SPACE, *FLOPS, "--out", LONG),
                            "cannot hold results (File name too long); choose a shorter path"),
    "pipeline-out-long": Case(("pipeline", "--config", "{nested_set}", "--out", LONG),
                              "cannot hold results (File name too long); choose a shorter path"),
    # the pipeline's config
    "pipeline-nested-set": Case(("pipeline", "--config", "{nested_set}", "--out", "out", "--set",
                                 "train.per_dataset.ndigits.epochs=0"), "nested keys cannot be set"),
    "pipeline-unknown-section": Case(("pipeline", "--config", "{unknown_section}", "--out", "out"),
                                     "unknown section 'searh'; the sections are search, baseline, train, energy, report"),
    "pipeline-memory-key": Case(("pipeline", "--config", "{memory_key}", "--out", "out"),
                                "search.max_memory is not a config key; pass --max-memory to run.py pipeline"),
    # argparse's own errors, and the earlier cases
    "train-batch-not-a-number": Case(("train", "--arch", "{tiny}", "--dataset", "digits", "--out", "out",
                                      "--batch-size", "abc"), "argument --batch-size: invalid int value: 'abc'"),
    "search-unknown-flag": Case(("search", "--space", DIGITS_SPACE, *FLOPS, "--out", "out", "--populaton", "3"),
                                "unrecognized arguments: --populaton 3"),
    "train-max-memory-bad": Case(("train", "--arch", "{tiny}", "--dataset", "digits", "--out", "out",
                                  "--max-memory", "lots"), "--max-memory must be a memory size above 0"),
    "train-lr-nan": Case(("train", "--arch", "{tiny}", "--dataset", "digits", "--out", "out", "--lr", "nan"),
                         "--lr must be a finite number above 0"),
    "train-bad-yaml": Case(("train", "--arch", "{bad_yaml}", "--dataset", "digits", "--out", "out"),
                           "not valid YAML (line 4, column 1"),
    "search-unknown-space-key": Case(("search", "--space", "{width_space}", *FLOPS, "--out", "out"),
                                     "unknown key 'WIDTH'"),
    "search-energy-limit-without-data": Case(("search", "--space", DIGITS_SPACE, *FLOPS, "--out", "out",
                                              "--energy-limit", "1"), "--energy-limit needs --dataset"),
    "profile-bad-shape": Case(("profile", "--arch", "{tiny}", "--input-shape", "1x16", "--num-classes", "10",
                               "--patch-size", "4"), "--input-shape must look like CxHxW"),
    "energy-batch-zero": Case(("energy", "--arch", "{tiny}", "--dataset", "digits", "--out", "out",
                               "--batch-size", "0"), "--batch-size must be an integer of at least 1"),
    "correlate-n-two": Case(("correlate", "--space", DIGITS_SPACE, "--dataset", "digits", "--out", "out", "--n", "2"),
                            "--n must be at least 3"),
    "sample-no-space": Case(("sample", "--space", "nowhere.yaml"), "nowhere.yaml: search space file not found"),
}


def _argv(case: Case, inputs: dict[str, str]) -> list[str]:
    return [arg.format(**inputs) if arg.startswith("{") else arg for arg in case.argv]


def _in_process(argv: list[str], capfd) -> tuple[int, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            status = cli.main(argv)
        except SystemExit as exit_:  # argparse
            status = exit_.code
    lines = capfd.readouterr().err.splitlines() + [f"warning: {w.message}" for w in caught]
    return status, lines


@pytest.mark.parametrize("name", CASES)
def test_a_bad_input_is_one_line_and_writes_nothing(name, inputs, tmp_path, monkeypatch, capfd):
    case = CASES[name]
    work = tmp_path / "work"
    work.mkdir()
    before = sorted(os.listdir(os.path.dirname(inputs["tiny"])))
    cache = str(work / ".cache")  # a calibration's rate table would land here, and be seen
    if case.process:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "AUTOST_CACHE": cache}
        env.pop("AUTOST_MAX_MEMORY", None)
        done = run_measured(ROOT / "run.py", [*_argv(case, inputs), "--threads", "1"], cwd=work, env=env, timeout=120)
        status, lines = done.returncode, done.stderr.splitlines()
        assert done.cpu_seconds < CPU_SECONDS and done.peak_bytes < PEAK_BYTES, (done.cpu_seconds, done.peak_bytes)
    else:
        monkeypatch.chdir(work)
        monkeypatch.setenv("AUTOST_CACHE", cache)
        monkeypatch.delenv("AUTOST_MAX_MEMORY", raising=False)
        status, lines = _in_process(_argv(case, inputs), capfd)
    assert status != 0 and len(lines) == 1, lines
    assert lines[0].startswith("error: ") and "Traceback" not in lines[0] and case.message in lines[0], lines
    assert os.listdir(work) == []  # no run folder, no cache, nothing else
    assert sorted(os.listdir(os.path.dirname(inputs["tiny"]))) == before
