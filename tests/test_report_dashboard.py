"""The report as a dashboard: summary first, a table of contents whose links resolve, figures in
a grid, one self-contained HTML file (checked by parsing it, and in headless Chromium where it is
installed), and the successive-halving section from a hand-written rungs.json."""
import html
import json
import shutil
import subprocess
import threading
from html.parser import HTMLParser
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from autost.cli import main
from autost.report.page import slug
from autost.report.run import load_run, write_report

ARCH = {"DEPTH": 1, "EMBED_DIM": 32, "MLP_RATIO": [4], "NUM_HEADS": [1]}
BASELINE = {"DEPTH": 2, "EMBED_DIM": 32, "MLP_RATIO": [4, 4], "NUM_HEADS": [1, 1]}
# seed -> (baseline, 01) test accuracies; 01 is cheaper, so with both differences positive it dominates
ACCURACY = {0: (0.80, 0.90), 1: (0.82, 0.93)}
RUNGS = {"scheduler": "in-process", "eta": 2, "rungs": [
    {"rung": 0, "epochs": 1, "candidates": [
        {"name": "01", "arch": "d1-D32-m[4]-h[1]", "val_acc": 0.5, "kept": True},
        {"name": "02", "arch": "d2-D32-m[4,4]-h[1,1]", "val_acc": 0.25, "kept": False},
        {"name": "03", "arch": "d1-D48-m[4]-h[1]", "val_acc": 0.625, "kept": True},
        {"name": "04", "arch": "d1-D32-m[2]-h[1]", "val_acc": 0.125, "kept": False}]},
    {"rung": 1, "epochs": 2, "candidates": [
        {"name": "01", "arch": "d1-D32-m[4]-h[1]", "val_acc": 0.75, "kept": True},
        {"name": "03", "arch": "d1-D48-m[4]-h[1]", "val_acc": 0.7, "kept": False}]}]}


def _metrics(arch, acc, energy, seed):
    epochs = [{"epoch": e, "train_loss": 2.0 / e, "val_acc": acc * e / 2} for e in (1, 2)]
    return {"arch": arch, "dataset": "digits", "params": 1000 * arch["DEPTH"], "macs": 5000 * arch["DEPTH"],
            "epochs": epochs, "test_acc": acc, "energy_mj": energy, "settings": {"seed": seed}}


def _candidate(arch, score, energy):
    return {"arch": arch, "params": 1000 * arch["DEPTH"], "macs": 5000 * arch["DEPTH"], "energy_mj": energy,
            "score": score}


@pytest.fixture
def run_dir(tmp_path):
    """A pipeline folder written by hand: a search, a baseline and one architecture over two
    seeds, an unfinished training, and successive halving's rungs."""
    run = tmp_path / "run"
    (run / "search").mkdir(parents=True)
    candidates = [_candidate(ARCH, 3.0, 0.5), _candidate(BASELINE, 2.0, 1.0),
                  _candidate({**ARCH, "EMBED_DIM": 48}, 1.0, 0.7)]
    (run / "search" / "search.json").write_text(json.dumps({
        "space": "spaces/digits.yaml", "algorithm": "evolution", "score": "naswot", "seed": 0,
        "settings": {"top_k": 1}, "candidates": candidates, "elapsed_s": 1.5}))
    (run / "search" / "history.csv").write_text("generation,best,mean\n0,2.0,1.5\n1,3.0,2.0\n")
    for seed, (base, ours) in ACCURACY.items():
        for name, arch, acc, energy in (("baseline", BASELINE, base, 1.0), ("01", ARCH, ours, 0.5)):
            folder = run / "train" / "digits" / f"seed{seed}" / name
            folder.mkdir(parents=True)
            (folder / "metrics.json").write_text(json.dumps(_metrics(arch, acc, energy, seed)))
    (run / "train" / "digits" / "seed0" / "02").mkdir()
    (run / "train" / "digits" / "seed0" / "02" / "last.pt").write_bytes(b"")
    (run / "train" / "digits" / "rungs.json").write_text(json.dumps(RUNGS))
    return run


class Page(HTMLParser):
    """Every element as (tag, attributes, ancestors' tags and classes), and the text of each id."""

    def __init__(self, text):
        super().__init__()
        self.elements, self.stack, self.styles, self._in_style = [], [], [], False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.elements.append((tag, attrs, [(t, a.get("class"), a.get("id")) for t, a in self.stack]))
        if tag not in ("img", "meta", "br", "link"):
            self.stack.append((tag, attrs))
        self._in_style = tag == "style"

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop()[0] != tag:
            pass
        self._in_style = False

    def handle_data(self, data):
        if self._in_style:
            self.styles.append(data)

    def find(self, tag):
        return [(attrs, parents) for t, attrs, parents in self.elements if t == tag]


def _check_dashboard(page: Page):
    """What every report page must be: summary first, contents that resolve, figures in a grid,
    nothing loaded from outside the file. Returns the section ids in document order."""
    assert not page.find("script") and not page.find("link") and not page.find("iframe")
    assert len(page.styles) == 1 and "url(" not in page.styles[0] and "@import" not in page.styles[0]
    for tag, attrs, _ in page.elements:
        for key in ("src", "href", "srcset", "poster", "data"):
            if key in attrs:
                assert attrs[key].startswith(("data:", "#")), f"<{tag} {key}={attrs[key][:60]!r}> leaves the file"
    sections = [attrs["id"] for attrs, _ in page.find("section")]
    ids = [attrs["id"] for _, attrs, _ in page.elements if "id" in attrs]
    assert len(ids) == len(set(ids))
    contents = [attrs["href"][1:] for attrs, parents in page.find("a") if ("nav", None, "contents") in parents]
    assert contents == sections  # every section listed, in order, and every link lands on one
    main_sections = [attrs["id"] for attrs, parents in page.find("section") if parents[-1][0] == "main"]
    assert main_sections[0] == "summary"
    images = page.find("img")
    assert images and all(("div", "figures", None) in parents for _, parents in images)
    return sections


def test_the_report_is_a_dashboard_in_one_file(run_dir, tmp_path):
    html_path = write_report(load_run(run_dir), tmp_path / "report")
    text = html_path.read_text()
    page = Page(text)
    sections = _check_dashboard(page)
    assert sections == ["summary", "against-the-baseline", "chosen-architectures", "search", "training",
                        "successive-halving", "not-in-this-report"]
    md = (tmp_path / "report" / "report.md").read_text()
    assert len(page.find("img")) == md.count("![") == 4  # history, candidates, Pareto front, training curves
    # the two-panel training curves span the grid's row; the others take one cell each
    assert [attrs.get("class") for attrs, _ in page.find("figure")] == [None, None, None, "wide"]
    # the summary holds the comparison, with a verdict line per architecture, and the chosen architectures
    summary = text[text.index('<section id="summary">'):text.index('<section id="search">')]
    assert summary.index("<th>verdict</th>") < summary.index("Chosen architectures")
    diffs = [100 * (ours - base) for base, ours in ACCURACY.values()]
    assert (f"digits, 01: d1-D32-m[4]-h[1]: dominates (paired accuracy difference {sum(diffs) / 2:+.2f} points"
            in summary)
    assert "trained energy 0.5 mJ against the baseline's 1 mJ)" in summary
    # the Markdown has the same sections, its contents linking to its headings
    headings = [line.lstrip("#").strip() for line in md.splitlines() if line.startswith(("## ", "### "))]
    assert headings[0] == "Summary" and [slug(h) for h in headings] == sections
    links = [line.split("](#")[1].rstrip(")") for line in md.splitlines() if line.lstrip().startswith("- [")]
    assert links == sections


def test_anchors_of_repeated_titles_are_unique():
    from autost.report.page import Section, anchors

    sections = [Section("Energy", subsections=[Section("Energy")]), Section("Energy: compared, A/B")]
    assert sorted(anchors(sections).values()) == ["energy", "energy-1", "energy-compared-ab"]


def test_successive_halving_has_a_table_per_rung(run_dir, tmp_path):
    write_report(load_run(run_dir), tmp_path)
    md = (tmp_path / "report.md").read_text()
    halving = md.split("## Successive halving")[1].split("\n## ")[0]
    assert ("digits: successive halving (in-process scheduler, eta 2) over 4 candidates in 2 rungs; after rung 1 "
            "01 kept.") in halving
    tables = [block for block in halving.split("\n\n") if block.startswith("| name |")]
    assert len(tables) == len(RUNGS["rungs"])
    for table, rung in zip(tables, RUNGS["rungs"]):
        rows = [[c.strip() for c in line.strip("|").split("|")] for line in table.splitlines()[2:]]
        expected = sorted(rung["candidates"], key=lambda c: -c["val_acc"])
        assert rows == [[c["name"], c["arch"], f"{100 * c['val_acc']:.2f}", "yes" if c["kept"] else "no"]
                        for c in expected]
    assert "digits: rung 0 (1 epoch), 2 of 4 kept" in halving and "digits: rung 1 (2 epochs), 1 of 2 kept" in halving


def test_no_rungs_json_no_halving_section(run_dir, tmp_path):
    (run_dir / "train" / "digits" / "rungs.json").unlink()
    write_report(load_run(run_dir), tmp_path)
    assert "Successive halving" not in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize("change, message", [
    (lambda r: r["rungs"][0]["candidates"][1].update(kept="no"), "rungs[0].candidates[1].kept must be true or false"),
    (lambda r: r.update(scheduler="ray"), "scheduler must be one of in-process, asha, got 'ray'"),
    (lambda r: r["rungs"][1].update(epochs=-1), "rungs[1].epochs must be a whole number >= 0"),
    (lambda r: r["rungs"][0]["candidates"][0].update(val_acc=62.5),
     "rungs[0].candidates[0].val_acc must be a fraction"),
    (lambda r: r.pop("rungs"), "lacks rungs"),
])
def test_a_bad_rungs_json_is_one_line(run_dir, capsys, change, message):
    rungs = json.loads(json.dumps(RUNGS))
    change(rungs)
    path = run_dir / "train" / "digits" / "rungs.json"
    path.write_text(json.dumps(rungs))
    assert main(["report", "--run", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and message in err and err.count("\n") == 1


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


# Runs in the browser after load: what the page fetched from outside itself, whether each contents
# link lands on an element, which section comes first, and whether every image decoded.
PROBE = """<script>const probe = document.currentScript; window.addEventListener('load', () => {
  const fetched = performance.getEntriesByType('resource').map(e => e.name).filter(n => !n.startsWith('data:'));
  const links = [...document.querySelectorAll('nav#contents a')].map(a => a.getAttribute('href'));
  const images = [...document.images];
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify({fetched, links,
    unresolved: links.filter(h => !h.startsWith('#') || !document.getElementById(h.slice(1))),
    first: document.querySelector('main > section').id,
    images: images.length, decoded: images.filter(i => i.complete && i.naturalWidth > 0).length,
    grid: getComputedStyle(document.querySelector('.figures')).display});
  document.body.appendChild(out);
  probe.remove();  // so the dumped DOM is the report's own, plus the result
});</script>"""


class _Server:
    """A local HTTP server for a folder that logs every path the browser asks for (a file:// page's
    fetches are not in its resource timing; an http:// page's are, and reach this log)."""

    def __init__(self, folder):
        log = self.log = []

        class Handler(SimpleHTTPRequestHandler):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, directory=str(folder), **kwargs)

            def log_message(self, *args):
                log.append(self.path)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, name):
        return f"http://127.0.0.1:{self.server.server_address[1]}/{name}"

    def requested(self):
        return [path for path in self.log if path != "/favicon.ico"]  # the browser's own, not the page's


def _probe(page_text, path):
    """Load the page with the probe from a local server in headless Chromium: the probe's result,
    the DOM Chromium built, and every path the page asked the server for."""
    path.write_text(page_text.replace("</body>", PROBE + "</body>"))
    server = _Server(path.parent)
    try:
        dom = subprocess.run([_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
                              server.url(path.name)], capture_output=True, text=True, timeout=120).stdout
    finally:
        server.server.shutdown()
        server.server.server_close()
    assert '<pre id="probe">' in dom, f"the probe did not run in Chromium; its DOM began {dom[:200]!r}"
    text = dom.split('<pre id="probe">')[1].split("</pre>")[0]
    return json.loads(html.unescape(text)), Page(dom), server.requested()


@pytest.mark.skipif(_chromium() is None, reason="headless Chromium is not installed (CI has none; apt-get install "
                                                "chromium to run this check)")
def test_the_dashboard_in_headless_chromium(run_dir, tmp_path):
    page = write_report(load_run(run_dir), tmp_path / "report")
    result, dom, requested = _probe(page.read_text(), tmp_path / "probe.html")
    assert requested == ["/probe.html"] and result["fetched"] == [] and result["unresolved"] == []
    assert result["first"] == "summary" and result["grid"] == "grid"
    assert result["images"] == result["decoded"] == 4
    assert [h[1:] for h in result["links"]] == _check_dashboard(dom)  # the DOM Chromium built, checked as above
    # the check sees a fetch from outside the file: the same page with one image beside it instead of inlined
    shutil.copy(tmp_path / "report" / "training_curves.png", tmp_path / "beside.png")
    leaky, _, requested = _probe(page.read_text().replace("</main>", '<img src="beside.png"></main>'),
                                 tmp_path / "leaky.html")
    assert requested == ["/leaky.html", "/beside.png"]
    assert [name.rsplit("/", 1)[1] for name in leaky["fetched"]] == ["beside.png"]
