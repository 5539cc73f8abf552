import json
import re
import shutil
import subprocess

import pytest

from autost.cli import main
from autost.pareto import non_dominated
from conftest import ROOT
from autost.report.run import load_run, write_report


def test_non_dominated_matches_brute_force():
    import random

    rng = random.Random(0)
    points = [(rng.randint(0, 20), rng.randint(0, 20)) for _ in range(200)]
    front = non_dominated(points, [lambda p: p[0], lambda p: -p[1]])
    for p in points:
        dominated = any(q[0] <= p[0] and q[1] >= p[1] and q != p for q in points)
        assert (p in front) == (not dominated)


@pytest.fixture(scope="module")
def search_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    assert main(["search", "--space", str(ROOT / "spaces" / "digits.yaml"), "--dataset", "digits",
                 "--time-steps", "2", "--population", "6", "--select", "2", "--mutation", "2", "--crossover", "2",
                 "--generations", "2", "--batch-size", "8", "--top-k", "3", "--out", str(out / "search")]) == 0
    return out


def test_report_of_a_search_has_its_numbers_and_images(search_run, tmp_path):
    page = write_report(load_run(search_run), tmp_path)
    md = (tmp_path / "report.md").read_text()
    result = json.loads((search_run / "search" / "search.json").read_text())
    rows = [line for line in md.splitlines() if re.match(r"\| 0\d ", line)]
    assert len(rows) == 3
    for row, cand in zip(rows, result["candidates"]):
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert int(cells[2].replace(",", "")) == cand["params"]
        assert int(cells[3].replace(",", "")) == cand["macs"]
        assert float(cells[4]) == pytest.approx(cand["energy_mj"], rel=1e-5)
    for image in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (tmp_path / image).stat().st_size > 1000
    assert page.read_text().count("data:image/png;base64,") == len(re.findall(r"!\[", md)) == 3


def test_the_report_says_which_sections_are_missing_and_why(search_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(search_run, run)
    (run / "search" / "history.csv").unlink()
    unfinished = run / "train" / "digits" / "02"
    unfinished.mkdir(parents=True)
    (unfinished / "last.pt").write_bytes(b"")  # a training killed before its metrics.json
    assert main(["report", "--run", str(run)]) == 0
    out = capsys.readouterr().out
    md = (run / "report" / "report.md").read_text()
    notes = md.split("## Not in this report")[1]
    for note in (f"Search progress: no {run / 'search' / 'history.csv'}",
                 f"Training of {unfinished}: it has last.pt but no metrics.json, so it did not finish",
                 f"Training and trained energy: no metrics.json under {run / 'train'}"):
        assert note in notes and f"not in the report: {note}" in out
    assert "search_history.png" not in md


def test_report_cli_errors(tmp_path, capsys):
    assert main(["report", "--run", str(tmp_path / "nope")]) == 2
    assert "run folder not found" in capsys.readouterr().err
    assert main(["report", "--run", str(tmp_path)]) == 2
    assert "no search.json" in capsys.readouterr().err


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium is not installed (apt-get install chromium)")
def test_report_renders_every_image_in_chromium(search_run, tmp_path):
    page = write_report(load_run(search_run), tmp_path)
    script = ("<script>window.onload=()=>{const imgs=[...document.images];document.title="
              "'IMAGES:'+imgs.length+':'+imgs.filter(i=>i.complete&&i.naturalWidth>0).length;}</script>")
    probe = tmp_path / "probe.html"
    probe.write_text(page.read_text().replace("</body>", script + "</body>"))
    dom = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                          probe.as_uri()], capture_output=True, text=True, timeout=120).stdout
    total, loaded = re.search(r"IMAGES:(\d+):(\d+)", dom).groups()
    assert int(total) >= 3 and loaded == total


def _trained(dataset, seed, name, acc, energy, depth=1):
    arch = {"DEPTH": depth, "EMBED_DIM": 32, "MLP_RATIO": [4] * depth, "NUM_HEADS": [1] * depth}
    label = f"{dataset}/{name}" if seed is None else f"{dataset}/seed{seed}/{name}"
    return label, {"arch": arch, "dataset": dataset, "test_acc": acc, "energy_mj": energy, "params": 1000 * depth,
                   "macs": 5000 * depth, "settings": {"seed": 7 if seed is None else seed}}


def test_comparison_rows_against_scipy():
    from scipy import stats

    from autost.report.comparison import comparison_rows

    base, better, cheaper = [0.90, 0.93, 0.91], [0.95, 0.96, 0.97], [0.80, 0.85, 0.90]
    trained = [_trained("digits", s, "baseline", a, 1.0) for s, a in enumerate(base)]
    trained += [_trained("digits", s, "01", a, 0.9, depth=2) for s, a in enumerate(better)]
    trained += [_trained("digits", s, "02", a, 0.5, depth=3) for s, a in enumerate(cheaper)]
    trained += [_trained("ndigits", 0, "01", 0.7, 0.9, depth=2)]
    rows = comparison_rows(trained)
    assert [(r[0], r[1].split(":")[0]) for r in rows] == [("digits", "baseline"), ("digits", "01"), ("digits", "02"),
                                                         ("ndigits", "01")]

    def interval(values):
        low, high = stats.t.interval(0.95, len(values) - 1, loc=sum(values) / len(values), scale=stats.sem(values))
        return f"[{low:.2f}, {high:.2f}]"

    acc = [100 * a for a in base]
    assert rows[0][2:5] == ["0, 1, 2", f"{sum(acc) / 3:.2f}", interval(acc)]
    assert rows[0][5:] == ["–", "–", "1", "1,000", "5,000", "baseline"]
    for row, values, verdict in ((rows[1], better, "dominates"), (rows[2], cheaper, "trades accuracy for energy")):
        diffs = [100 * (v - b) for v, b in zip(values, base)]
        assert row[5] == f"{sum(diffs) / 3:+.2f}" and row[6] == interval(diffs)
        assert row[10] == verdict
    assert rows[3][4] == "none (1 seed)" and rows[3][10] == "no baseline trained on ndigits"


def test_comparison_pairs_by_seed_and_a_single_seed_cannot_dominate():
    from autost.report.comparison import comparison_rows

    trained = [_trained("digits", None, "baseline", 0.5, 1.0), _trained("digits", None, "01", 0.9, 0.9, depth=2)]
    rows = comparison_rows(trained)
    assert rows[1][2] == "7" and rows[1][5] == "+40.00" and rows[1][6] == "none (1 seed)"
    assert rows[1][10] == "trades accuracy for energy"
    trained = [_trained("digits", 0, "baseline", 0.5, 1.0), _trained("digits", 1, "baseline", 0.6, 1.0),
               _trained("digits", 1, "01", 0.9, 1.0, depth=2)]
    assert comparison_rows(trained)[1][5] == "+30.00"  # seed 1 against seed 1 only
