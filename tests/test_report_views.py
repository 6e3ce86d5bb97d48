"""The report model and its three views: they agree, they fit, and the HTML holds up in a browser.

One results.json (a dashboard-like run: three adapters, a failure, an error, a documented deviation,
a family one adapter does not declare, benchmarks with and without a roofline) is rendered by the
terminal, Markdown and HTML writers; each must carry the model's scores and statuses. The terminal
must fit 80 and 120 columns without cutting a name. The HTML is opened in headless Chromium
(Debian's `chromium`; the test is skipped, saying so, where it is not installed) at 1280x1024:
no horizontal overflow with every <details> open, no console message, no network request, and a
screenshot of the summary, a family grid with an opened failure and a benchmark chart is saved
under the test's temporary directory (showcase.png).
"""

from __future__ import annotations

import html
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from rich.console import Console

from specformer.conformance.cli import build_parser, main
from specformer.conformance.report import (
    build_report,
    compare_runs,
    render_comparison_markdown,
    render_html,
    render_markdown,
    render_terminal,
)
from specformer.conformance.report.common import symbol
from specformer.conformance.report.markdown import md_text
from specformer.conformance.report.model import status_totals
from specformer.conformance.report.plots import matplotlib_available
from specformer.conformance.results import (
    STATUSES,
    AdapterResult,
    BenchmarkResult,
    ClauseResult,
    Expectation,
    RunResult,
)
from specformer.conformance.results import TestResult as OneTest  # not a pytest class

LONG_NAME = "a-third-party-adapter-with-a-long-name"


def _clause(cid: str, family: str, status: str, **fields) -> ClauseResult:
    test = OneTest(nodeid=f"suite/test_{family}.py::test_{cid.lower()}", status=status, **fields)
    return ClauseResult(id=cid, family=family, title=f"title of {cid}", status=status, tests=[test])


def _bench(name: str, family: str, median_s: float, size: int, ceiling: str = "", rate: float | None = None):
    return BenchmarkResult(
        name=name,
        family=family,
        device="cpu",
        params={"batch": 4, "length": size, "dtype": "float32"},
        samples_s=[median_s * 0.95, median_s, median_s * 1.1],
        median_s=median_s,
        iqr_s=median_s * 0.1,
        calls_per_sample=10,
        size=size,
        achieved_bytes_per_s=rate,
        ceiling=ceiling,
        ceiling_fraction=None if rate is None or not ceiling else rate / 5e10,
    )


def dashboard_run() -> RunResult:
    """Three adapters over sampling and tokenizers; the third declares tokenizers only."""
    failing = _clause(
        "SAMP-TOPP-01",
        "sampling",
        "fail",
        message="kept 3 tokens, expected 4 <b>not bold</b>",
        evidence={"error": 0.5, "tolerance": 1e-6, "ratio": 5e5, "seed": 7},
        reproduce="pytest conformance/suite/test_sampling.py::test_top_p --specformer-adapter=hf",
    )
    deviation = _clause("SAMP-TEMP-03", "sampling", "deviates", message="accepted inf")
    deviation.expectation = Expectation("SAMP-TEMP-03", "checks only temperature > 0", "https://example.invalid/1")
    error = _clause("TOK-BPE-01", "tokenizers", "error", message="RuntimeError: boom")

    def clauses(*overrides: ClauseResult) -> list[ClauseResult]:
        by_id = {c.id: c for c in overrides}
        ids = [("SAMP-TOPK-01", "sampling"), ("SAMP-TOPP-01", "sampling"), ("SAMP-TEMP-03", "sampling")]
        ids += [("TOK-BPE-01", "tokenizers"), ("TOK-BPE-02", "tokenizers")]
        return [by_id.get(cid) or _clause(cid, family, "pass") for cid, family in ids]

    def top_p(median_s: float, rate: float) -> list[BenchmarkResult]:
        return [
            _bench("sampling.top_p", "sampling", median_s * n / 256, n, "copy", rate * 256 / n) for n in (256, 1024)
        ]

    reference = AdapterResult(
        name="reference",
        capabilities={"families": ["sampling", "tokenizers"]},
        clauses=clauses(),
        benchmarks=[*top_p(2e-4, 4e9), _bench("tokenizers.bpe_encode", "tokenizers", 3e-3, 256, rate=2e6)],
        wall_s={"suite": 30.0, "sampling": 12.5, "tokenizers": 9.0},
    )
    hf = AdapterResult(
        name="hf",
        capabilities={"families": ["sampling", "tokenizers"]},
        clauses=clauses(failing, deviation, error),
        benchmarks=[*top_p(2e-6, 4e11), _bench("tokenizers.bpe_encode", "tokenizers", 3e-5, 256, rate=2e8)],
        wall_s={"suite": 40.0, "sampling": 31.0, "tokenizers": 4.0},
    )
    third = AdapterResult(
        name=LONG_NAME,
        capabilities={"families": ["tokenizers"]},
        clauses=[c if c.family == "tokenizers" else _clause(c.id, c.family, "unsupported") for c in clauses()],
        wall_s={"tokenizers": 2.0},
    )
    ceilings = {"copy": {"value": 5e10, "unit": "B/s", "params": {"bytes": 2**28}}}
    return RunResult(
        environment={"python": "3.11.7", "torch": "2.13.0", "device": "cpu"},
        profile="quick",
        adapters=[reference, hf, third],
        ceilings=ceilings,
    )


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunResult:
    """The dashboard run, through results.json and back: the views read what a user would have."""
    path = tmp_path_factory.mktemp("views") / "results.json"
    dashboard_run().write_json(path)
    return RunResult.read_json(path)


@pytest.fixture(scope="module")
def page(run: RunResult) -> str:
    """The HTML report (its charts take seconds to draw: drawn once for the module)."""
    return render_html(run)


def terminal(run: RunResult, width: int, tty: bool) -> str:
    console = Console(record=True, width=width, force_terminal=tty, file=io.StringIO())
    render_terminal(run, console)
    return console.export_text()


# --- the model -------------------------------------------------------------------------------


def test_model_scores_passed_over_applicable_and_undeclared_families_are_na(run: RunResult) -> None:
    report = build_report(run)
    assert report.adapter_names == ("reference", "hf", LONG_NAME)
    sampling, tokenizers, total = report.scores
    assert [s.text() for s in sampling.scores] == ["3/3 100%", "1/3 33%", "n/a"]
    assert [s.text() for s in tokenizers.scores] == ["2/2 100%", "1/2 50%", "2/2 100%"]
    assert total.family == "all" and [s.text() for s in total.scores] == ["5/5 100%", "2/5 40%", "2/2 100%"]
    hf = sampling.scores[1]
    assert (hf.counts["fail"], hf.counts["deviates"], hf.problems) == (1, 1, 1)
    grid = report.grids[0]
    assert [c.status for c in grid.rows[0].cells] == ["pass", "pass", "n/a"]
    failing = grid.rows[1].cells[1]
    assert failing.opens and failing.ratio == 5e5 and failing.tests[0].reproduce.startswith("pytest ")
    assert [(w.adapter, w.family) for w in report.slowest][:2] == [("hf", "sampling"), ("reference", "sampling")]


def test_ceilings_only_where_the_operations_roofline_applies(run: RunResult) -> None:
    charts = {c.operation: c for c in build_report(run).charts}
    assert charts["sampling.top_p"].roofline == "copy"
    assert charts["tokenizers.bpe_encode"].roofline == ""  # a rate, but no ceiling applies
    assert charts["sampling.top_p"].common == {"batch": 4, "dtype": "float32"}  # parameters once per chart
    assert [r.adapter for r in charts["sampling.top_p"].rows] == ["reference", "reference", "hf", "hf"]


def test_baseline_adapter_is_chosen_and_checked(run: RunResult) -> None:
    assert build_report(run).speedups.baseline == "reference"
    assert build_report(run, baseline_adapter="hf").speedups.baseline == "hf"
    with pytest.raises(ValueError, match="baseline_adapter='nobody'"):
        build_report(run, baseline_adapter="nobody")
    no_bench = RunResult.from_dict(json.loads(json.dumps(run.to_dict())))
    for adapter in no_bench.adapters:  # --no-bench: nothing to compare, so no baseline to complain about
        adapter.benchmarks = []
    assert build_report(no_bench, baseline_adapter="reference").speedups.rows == []


# --- three views, one model ------------------------------------------------------------------


def test_three_views_carry_the_same_scores_and_statuses(run: RunResult, page: str) -> None:
    """Terminal, Markdown and HTML from one results.json: every score and every grid status agree."""
    report = build_report(run)
    text, markdown = terminal(run, 120, tty=False), render_markdown(run)
    expected_scores = {
        (name, row.family): score.text()
        for row in report.scores
        for name, score in zip(report.adapter_names, row.scores, strict=True)
    }
    # terminal: "score ADAPTER FAMILY 1/3 33% ..." per (adapter, family)
    shown = {(m[1], m[2]): m[3] for m in re.finditer(r"^score (\S+) (\S+) (n/a|\d+/\d+ \d+%)", text, re.M)}
    assert shown == expected_scores
    # Markdown and HTML: the summary table, one row per family, one cell per adapter
    md_rows = [line for line in markdown.split("## Summary", 1)[1].split("\n\n")[1].splitlines()[2:]]
    md_scores = {}
    for line in md_rows:
        family, *cells = (cell.strip() for cell in line.strip("|").split("|"))
        for name, cell in zip(report.adapter_names, cells, strict=True):
            md_scores[name, family.strip("*")] = re.match(r"\**(n/a|\d+/\d+ \d+%)", cell)[1]
    assert md_scores == expected_scores
    summary = page.split("id='summary'", 1)[1].split("</table>", 1)[0]
    cells = re.findall(r"<td class='s-na'[^>]*>n/a</td>|<span class='score[^']*'>([^<]+)</span>", summary)
    assert [c or "n/a" for c in cells] == list(expected_scores.values())
    # statuses: every grid cell of each view, counted per status
    totals = status_totals(report)
    md_cells = [
        re.sub(r"^\[(.*)\]\(#[a-z0-9-]+\)$", r"\1", cell.strip())  # a failing cell links to its details
        for line in markdown.split("## Clauses", 1)[1].splitlines()
        if line.startswith("| ") and not line.startswith("| clause") and not line.startswith("| ---")
        for cell in line.strip("|").split("|")
    ]
    grid_html = page.split("id='clauses'", 1)[1]
    clause_lines = "\n".join(line for line in text.splitlines() if line.startswith("clause "))
    for status in STATUSES:
        in_model = sum(t[status] for t in totals.values())
        assert md_cells.count(md_text(f"{symbol(status)} {status}")) == in_model, status
        assert len(re.findall(rf"<td class='s-{status}[ ']", grid_html)) == in_model, status
        if status in ("fail", "error", "deviates"):  # the terminal lists the clauses to act on
            assert clause_lines.count(f"={status}") == in_model, status


def test_markdown_grid_cells_open_to_their_details(run: RunResult) -> None:
    """Each failing, erring or deviating cell of the Markdown grid links to a <details> block under
    its table with the message, evidence, headroom and reproduce line; passing cells link nowhere."""
    clauses = render_markdown(run).split("## Clauses", 1)[1]
    links = re.findall(r"\| \[([^]]+)\]\(#([a-z0-9-]+)\)", clauses)
    assert sorted(label for label, _ in links) == sorted(["✗ fail", "\\~ deviates", "! error"])
    for _label, anchor in links:
        assert clauses.count(f'<a name="{anchor}"></a>') == 1
    block = clauses.split('<a name="samp-topp-01-hf"></a>', 1)[1].split("</details>", 1)[0]
    assert block.startswith("✗ fail · hf · SAMP-TOPP-01 title of SAMP-TOPP-01</summary>\n\n")
    assert "kept 3 tokens, expected 4 <b>not bold</b>" in block  # in a fenced block: shown, not rendered
    assert "Evidence: error=0.5 tolerance=1e-06 ratio=5e+05 seed=7" in block
    assert "Headroom: largest error/tolerance 5e+05×" in block
    assert "Reproduce: `pytest conformance/suite/test_sampling.py::test_top_p --specformer-adapter=hf`" in block
    deviation = clauses.split('<a name="samp-temp-03-hf"></a>', 1)[1].split("</details>", 1)[0]
    # The reason is said once, in the Deviates table, which the block links to and which links back.
    assert "Documented: the reason and link are in [Deviates (documented)](#deviation-samp-temp-03-hf)" in deviation
    markdown = render_markdown(run)
    assert markdown.count("checks only temperature &gt; 0") == 1  # escaped as Markdown text, once
    row = next(line for line in markdown.splitlines() if "checks only temperature" in line)
    assert row.startswith('| `hf` | <a name="deviation-samp-temp-03-hf"></a>[SAMP-TEMP-03](#samp-temp-03-hf) |')
    assert "[example.invalid … 1](https://example.invalid/1)" in row
    assert "| [SAMP-TOPP-01](../../spec/sampling.md#" in clauses  # the clause id links to the spec


@pytest.mark.parametrize("width", [80, 120])
def test_terminal_fits_its_width_without_cutting_names(run: RunResult, width: int) -> None:
    text = terminal(run, width, tty=True)
    lines = text.splitlines()
    # A reproduce line stays one line however wide, to be copied and pasted.
    assert max(len(line.rstrip()) for line in lines if not line.startswith("    reproduce: ")) <= width
    assert any(LONG_NAME in line for line in lines)  # the score table splits rather than cut the name
    assert "n/a" in text and "1/3 33%" in text


COMMITTED = Path(__file__).resolve().parents[1] / "reports" / "cpu" / "results.json"


@pytest.fixture(scope="module")
def committed_report():
    """The report of the committed CPU run (13 families, 7 adapters): the sizes a user sees."""
    return build_report(RunResult.read_json(COMMITTED))


@pytest.mark.parametrize("width", [80, 120])
def test_committed_run_fits_the_terminal_without_cutting_names(committed_report, width: int) -> None:
    console = Console(record=True, width=width, force_terminal=True, file=io.StringIO())
    render_terminal(committed_report, console)
    text = console.export_text()
    lines = [line.rstrip() for line in text.splitlines() if not line.startswith("    reproduce: ")]
    assert max(len(line) for line in lines) <= width
    assert "…" not in text  # rich cuts a cell with an ellipsis: nothing may be cut
    for name in committed_report.adapter_names:
        assert re.search(rf"^ {re.escape(name)} +\S", text, re.M), name  # a table row starts with each adapter
    words = " ".join(text.split())  # a title may wrap at a word: wrapped is not cut
    for table in committed_report.generation:  # the serving metrics, in the terminal too
        assert f"generation · {table.title}" in words
    # cache memory against the formula: the weights' size depends on the benchmark model, the cache's on the formula
    assert re.search(r"^ hf +1024 +\d+\.\d MiB +8\.00 MiB +8\.00 MiB +✓", text, re.M)
    # a decode-step row: exponent [interval], then the time at the smallest context (values change per run)
    assert re.search(r"^ reference +no cache +\d\.\d+ \[\d\.\d+, \d\.\d+\] +128: \d+(\.\d+)? m?s *$", text, re.M)


def test_committed_run_generation_lines_without_a_tty(committed_report) -> None:
    console = Console(record=True, width=80, force_terminal=False, file=io.StringIO())
    render_terminal(committed_report, console)
    text = console.export_text()
    ttft = r"^generation hf context: 1024; new tokens: 8; TTFT \(median ± IQR/2\): \d+(\.\d+)? m?s"
    assert re.search(ttft, text, re.M)
    assert re.search(r"^generation torch no cache|^generation torch decode step: no cache", text, re.M)
    assert not re.search(r"^bench \S+ generation\.ttft", text, re.M)  # shown once, in its table


def test_terminal_without_a_tty_prints_greppable_lines(run: RunResult) -> None:
    text = terminal(run, 80, tty=False)
    assert f"score {LONG_NAME} sampling n/a (family not declared)" in text
    assert "clause SAMP-TOPP-01 reference=pass hf=fail" in text
    assert "wall hf sampling 31.0 s" in text
    assert re.search(r"^bench hf sampling\.top_p +length=256 +median 2\.00 µs", text, re.M)
    assert "┃" not in text and "│" not in text  # no table borders in a log


# --- the HTML in a real browser ----------------------------------------------------------------

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)

# Runs first in <head>: records errors (a failed resource load included) and console calls.
_PROBE_HEAD = """<script>
window.__problems = [];
addEventListener('error', e => __problems.push('error: ' + (e.message || (e.target && e.target.outerHTML))), true);
for (const level of ['error', 'warn', 'log', 'info']) {
  const original = console[level];
  console[level] = (...args) => { __problems.push('console.' + level + ': ' + args.join(' ')); original(...args); };
}
</script>"""
# Runs last: opens every <details>, then measures. The verdict lands in the DOM that --dump-dom prints.
_PROBE_TAIL = """<script>
const scrolling = () => [...document.querySelectorAll('.wide')].filter(w => w.scrollWidth > w.clientWidth + 1).length;
const tablesScrollingClosed = scrolling();  // a table wider than the page scrolls inside its box: none may
const details = [...document.querySelectorAll('details')];
details.forEach(d => { d.open = true; });
const tablesScrollingOpen = scrolling();  // nor with every cell of a row opened at once
const hidden = details.filter(d => ![...d.children].filter(c => c.tagName !== 'SUMMARY')
  .every(c => c.getClientRects().length > 0)).length;
const verdict = {
  scrollWidth: document.documentElement.scrollWidth, tablesScrollingClosed, tablesScrollingOpen,
  details: details.length, closedOrEmpty: hidden,
  opened: details.filter(d => d.open).length,
  resources: performance.getEntriesByType('resource').map(e => e.name),
  problems: __problems,
};
document.body.setAttribute('data-verdict', JSON.stringify(verdict));
</script>"""
# For the screenshot: the summary, the sampling grid with its failing cell opened, and the first
# benchmark chart, one under the other (everything else hidden), so one browser start shows all three.
_SHOWCASE = """<script>
const keep = new Set();
for (const id of ['summary', 'family-sampling', 'benchmarks']) {
  const heading = document.getElementById(id);
  keep.add(heading); keep.add(heading.nextElementSibling);
}
keep.add(document.querySelector('figure.plot'));
document.querySelector('td.cell details').open = true;
for (const node of [...document.body.children]) if (!keep.has(node)) node.style.display = 'none';
</script>"""


def _every_adapter_failing_grid() -> str:
    """A clause grid (the page's own markup, no charts) where one clause fails for every adapter with
    long messages and evidence: opened at once, the cells must share the page's width, not widen it
    (the committed run's tokenizers grid was 2,011 px wide so)."""
    from specformer.conformance.report.html import _clause_grids

    run = dashboard_run()
    for index, adapter in enumerate(run.adapters):
        long = f"{'x' * 60} {'evidence_' * 8}" * 3
        adapter.clauses[-1] = _clause(
            "TOK-BPE-02",
            "tokenizers",
            "fail",
            message=f"adapter {index}: got {long}, expected something else\n{long}",
            evidence={"got": long, "expected": "ab", "ids": list(range(40))},
            reproduce=f"python -m pytest '/a/long/path/{'deep/' * 12}test_tokenizers.py::test_x[{adapter.name}]'",
        )
    return _clause_grids(build_report(run))


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    command = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,1024"]
    # Nothing may be fetched: any host name fails to resolve, so a request would also show as an error.
    command += ["--host-resolver-rules=MAP * ~NOTFOUND", "--hide-scrollbars", "--enable-logging=stderr", "--v=0"]
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=120, check=False)


def with_scripts(page: str, head: str = "", tail: str = "") -> str:
    return page.replace("<head>", "<head>" + head, 1).replace("</body>", tail + "</body>", 1)


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (Debian: apt-get install chromium)")
@pytest.mark.skipif(not matplotlib_available(), reason="the benchmark charts need matplotlib")
def test_html_in_headless_chromium_fits_1280_pixels_and_stays_offline(page: str, tmp_path: Path) -> None:
    assert "<script" not in page  # the report itself has none; the probes below are added for the test
    probe = tmp_path / "probe.html"
    probe.write_text(with_scripts(page, _PROBE_HEAD, _every_adapter_failing_grid() + _PROBE_TAIL), encoding="utf-8")
    done = chromium("--dump-dom", probe.as_uri())
    found = re.search(r'data-verdict="([^"]*)"', done.stdout)
    assert found, done.stderr[-2000:]
    verdict = json.loads(html.unescape(found[1]))
    assert verdict["scrollWidth"] <= 1280 and verdict["tablesScrollingClosed"] == verdict["tablesScrollingOpen"] == 0, (
        verdict
    )
    assert verdict["details"] >= 3 and verdict["opened"] == verdict["details"] and verdict["closedOrEmpty"] == 0
    assert verdict["resources"] == [] and verdict["problems"] == []
    assert "CONSOLE" not in done.stderr  # nothing logged by the page, the report's SVG included
    shown, screenshot = tmp_path / "showcase.html", tmp_path / "showcase.png"
    shown.write_text(with_scripts(page, tail=_SHOWCASE), encoding="utf-8")
    chromium(f"--screenshot={screenshot}", shown.as_uri())
    assert screenshot.stat().st_size > 20_000  # a rendered page, not a blank one


def test_compare_reuses_the_model_scores_and_na(run: RunResult) -> None:
    after = RunResult.from_dict(json.loads(json.dumps(run.to_dict())))
    fixed = next(c for c in after.adapters[1].clauses if c.id == "SAMP-TOPP-01")
    fixed.status = fixed.tests[0].status = "pass"
    comparison = compare_runs(run, after)
    changed = [(s.adapter, s.family, s.score_a, s.score_b) for s in comparison.scores if s.score_a != s.score_b]
    assert changed == [("hf", "sampling", "1/3 33%", "2/3 67%"), ("hf", "all", "2/5 40%", "3/5 60%")]
    third = {c.clause: c.status_a for c in comparison.clauses if c.adapter == LONG_NAME}
    assert third["SAMP-TOPK-01"] == "n/a"  # as the reports show it, not "unsupported"
    text = render_comparison_markdown(comparison)
    assert "| `hf` | sampling | 1/3 33% | 2/3 67% |" in text


# The fields a schema_version 1 results file has (before benchmarks had modes, sizes, rates, ceilings).
_VERSION_1_FIELDS = {
    "run": {"environment", "profile", "adapters", "created", "specformer_version", "schema_version"},
    "adapter": {"name", "description", "capabilities", "load_error", "clauses", "benchmarks"},
    "clause": {"id", "family", "title", "status", "tests", "expectation", "stale_expectation"},
    "test": {"nodeid", "status", "message", "evidence", "reproduce", "duration_s"},
    "bench": {"name", "family", "device", "params", "samples_s", "median_s", "iqr_s", "calls_per_sample", "threads"}
    | {"peak_memory_bytes", "peak_memory_source", "note"},
}


def as_version_1(run: RunResult) -> dict:
    keep = _VERSION_1_FIELDS

    def only(data: dict, kind: str) -> dict:
        return {key: value for key, value in data.items() if key in keep[kind]}

    data = only(run.to_dict(), "run") | {"schema_version": 1}
    data["adapters"] = [only(a, "adapter") for a in data["adapters"]]
    for adapter in data["adapters"]:
        adapter["benchmarks"] = [only(b, "bench") for b in adapter["benchmarks"]]
        adapter["clauses"] = [only(c, "clause") for c in adapter["clauses"]]
        for clause in adapter["clauses"]:
            clause["tests"] = [only(t, "test") for t in clause["tests"]]
    return data


def test_compare_reads_schema_version_1_and_2(run: RunResult, tmp_path: Path, capsys) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(as_version_1(run)))
    run.write_json(new)
    assert main(["compare", str(old), str(new), "--markdown"]) == 0
    shown = capsys.readouterr().out
    assert "No clause changed status." in shown and "unchanged: 15" in shown
    # each version 1 benchmark (no size: its length is in the parameters) pairs with its version 2 twin
    assert "| `hf` | sampling.top\\_p | cpu | batch=4 dtype=float32 length=256 | 2.00 µs | 2.00 µs | 1.00× |" in shown
    read = RunResult.read_json(old)  # as version 2, with what version 1 lacked at its defaults
    assert read.ceilings == {} and read.adapters[0].benchmarks[0].mode == "cpu"
    old.write_text(json.dumps(as_version_1(run) | {"schema_version": 3}))
    assert main(["compare", str(old), str(new)]) == 2
    assert "schema_version=3 is not supported; this specformer reads schema_version 1 and 2" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["run", "bench"])
def test_baseline_adapter_option(command: str) -> None:
    args = build_parser().parse_args([command, "--baseline-adapter", "hf"])
    assert args.baseline_adapter == "hf"
    assert build_parser().parse_args([command]).baseline_adapter is None


def test_unknown_baseline_adapter_is_a_usage_error_before_any_work(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--adapter", "reference", "--baseline-adapter", "nobody", "--no-bench"]) == 2
    assert "--baseline-adapter 'nobody' is not one of this run's adapters: reference" in capsys.readouterr().err


def test_bar_charts_span_the_page_and_label_each_bar_on_a_log_axis(page: str) -> None:
    """A log axis cannot be read off to a value, so every bar carries its own; charts are drawn the
    width of the page's 1216-px column (12.6 in at 72 pt per inch), not half of it."""
    found = re.search(r"<figure class='plot' aria-label='sampling · sampling\.top_p[^']*'>(.*?)</figure>", page, re.S)
    assert found
    assert re.search(r'<svg [^>]*width="907\.2pt"', found[1])
    texts = re.findall(r"<text[^>]*>([^<]*)</text>", found[1])
    assert "100 G" in texts and "1 T" in texts  # a log axis: the rates span 400x
    assert {"4.00 GB/s", "1.00 GB/s", "400 GB/s", "100 GB/s"} <= set(texts)


def test_bar_labels_wrap_whole_and_measured_values_keep_adapters_side_by_side() -> None:
    """A long parameter label wraps onto lines (never cut with an ellipsis) and its set grows to hold
    them; a value each adapter measured (a fitted exponent) is not a parameter set of its own."""
    from specformer.conformance.report.measurements import BenchmarkRow
    from specformer.conformance.report.plots import _side_by_side

    rows = []
    for size in (128, 1024):
        for adapter, exponent in (("a", 0.119), ("b", 0.105)):
            bench = _bench("kv_cache.decode_step", "generation", 1e-3, size)
            params = {"context": size, "exponent": exponent, "tie_break": "first-occurrence-" * 3}
            rows.append(BenchmarkRow(adapter, bench, params))
    positions, labels, _ = _side_by_side(rows)
    assert len(labels) == 2 and all("…" not in label and "\n" in label for label in labels)
    assert "first-occurrence-" * 3 in labels[0].replace("\n", " ") and "exponent" not in labels[0]
    assert positions[1] - positions[0] == 1 and positions[3] - positions[2] == 1  # a and b side by side
    assert positions[2] - positions[1] > 1  # a gap between the two sizes, as tall as the wrapped label


def test_markdown_says_the_shared_reproduce_command_once_and_loses_none(run: RunResult) -> None:
    """report.md doubled with the drill-down; the command most tests share is given once above the
    grids (with <test> and <adapter>), and each test's own command is still exactly recoverable:
    from the template where it follows it, else written out."""
    from specformer.conformance.report.markdown import _from_template

    changed = RunResult.from_dict(json.loads(json.dumps(run.to_dict())))
    commands = {}
    for adapter in changed.adapters[:2]:
        for clause in adapter.clauses:
            if clause.family == "tokenizers" and adapter.name in ("reference", "hf"):
                clause.status = "fail"
                for test in clause.tests:
                    test.status = "fail"
                    test.reproduce = f"python -m pytest '/x/suite/{test.nodeid}' --specformer-adapter={adapter.name} -q"
                    commands[adapter.name, test.nodeid] = test.reproduce
    odd = changed.adapters[0].clauses[-1].tests[0]
    odd.reproduce = commands["reference", odd.nodeid] = "a command of its own"
    clauses = render_markdown(changed).split("## Clauses", 1)[1]
    template = "python -m pytest '/x/suite/<test>' --specformer-adapter=<adapter> -q"
    assert clauses.count(template) == 1 and f"reproduces alone with `{template}`" in clauses
    found = {}
    blocks = re.findall(r'<details><summary><a name="[^"]+"></a>\S+ \w+ · (\S+) · (.*?)</details>', clauses, re.S)
    for adapter, body in blocks:
        for chunk in body.split("Test `")[1:]:
            test, own = chunk.split("`", 1)[0], re.search(r"Reproduce: `([^`]+)`", chunk)
            found[adapter, test] = own[1] if own else _from_template(template, adapter, OneTest(test, "fail"))
    assert blocks and {k: v for k, v in found.items() if k in commands} == commands
    assert "Reproduce: `a command of its own`" in clauses
