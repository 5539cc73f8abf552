import json
import re
import shutil
import subprocess

import pytest

from autost.cli import main
from autost.pareto import non_dominated
from conftest import ROOT
from energy.report import load_run, write_report


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
