"""Tests of the report renderers, the results schema, plots and the run comparison.

A run is built by hand with every kind of finding (failure with evidence, documented
deviation, stale expectation, unsupported, error, an adapter that did not load, a CPU
benchmark, GPU benchmarks against measured ceilings, scaling evidence), then each renderer
is checked for what a reader relies on. The CI gate has its own tests in test_gating.py.
"""

from __future__ import annotations

import html
import io
import json
import re
import sys
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import jsonschema
import pytest
from rich.console import Console

from specformer.conformance.registry import registry, spec_anchor
from specformer.conformance.report import (
    benchmark_speedups,
    compare_runs,
    regressions,
    render_comparison_markdown,
    render_comparison_terminal,
    render_html,
    render_markdown,
    render_speedups_terminal,
    render_terminal,
    write_reports,
)
from specformer.conformance.report.measurements import format_fraction, format_rate
from specformer.conformance.results import (
    AdapterResult,
    BenchmarkResult,
    ClauseResult,
    Expectation,
    RunResult,
)
from specformer.conformance.results import TestResult as OneTestResult  # not a pytest class

REPRODUCE = (
    "pytest conformance/suite/test_sampling.py::test_top_p_keeps_crossing_token"
    "[seed=7-vocab=50] --specformer-adapter=alpha --hypothesis-seed=7"
)
DEVIATION_LINK = "https://example.invalid/issues/42"
SVG_NAMESPACES = ("http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink")
CEILINGS = {
    "matmul-bf16": {"value": 7.7e14, "unit": "FLOP/s", "params": {"n": 8192, "dtype": "bfloat16"}},
    "copy": {"value": 4.2e12, "unit": "B/s", "params": {"bytes": 2**30}},
}
SCALING = {
    "operation": "full_attention",
    "quantity": "time",
    "unit": "s",
    "sizes": [256, 512, 1024, 2048, 4096],
    "values": [2e-5, 2.1e-5, 6e-5, 2.4e-4, 9.6e-4],
    "used": [False, False, True, True, True],
    "exponent": 1.98,
    "ci": [1.91, 2.05],
    "r_squared": 0.999,
    "expected": 2.0,
    "band": [1.7, 2.3],
}


def clause(cid: str, status: str, test_status: str | None = None, **fields) -> ClauseResult:
    family = "sampling" if cid.startswith("SAMP") else "attention"
    test = OneTestResult(nodeid=f"suite/test_{family}.py::test_{cid.lower()}", status=test_status or status)
    return ClauseResult(id=cid, family=family, title=f"title of {cid}", status=status, tests=[test], **fields)


def failing_clause(message: str = "kept 3 tokens, expected 4") -> ClauseResult:
    failed = OneTestResult(
        nodeid="suite/test_sampling.py::test_top_p_keeps_crossing_token",
        status="fail",
        message=message,
        evidence={"error": 0.5, "tolerance": 1e-6, "ratio": 5e5, "seed": 7, "inputs": [0.1, 0.9]},
        reproduce=REPRODUCE,
        duration_s=0.01,
    )
    passed = OneTestResult(nodeid="suite/test_sampling.py::test_top_p_shape", status="pass")
    return ClauseResult("SAMP-TOPP-01", "sampling", "Top-p keeps the crossing token", "fail", [passed, failed])


def gpu_benchmark(mode: str, median_s: float, fraction: float, **fields) -> BenchmarkResult:
    flops = 4 * 2 * 16 * 1024 * 1024 * 64
    return BenchmarkResult(
        name="attention.full",
        family="attention",
        device="cuda",
        params={"B": 2, "H": 16, "D": 64, "dtype": "bfloat16", "L": 1024},
        samples_s=[median_s * 0.99, median_s, median_s * 1.02],
        median_s=median_s,
        iqr_s=median_s * 0.02,
        calls_per_sample=1,
        mode=mode,
        size=1024,
        flops=flops,
        bytes_moved=3 * 2 * 16 * 1024 * 64 * 2,
        achieved_flops_per_s=flops / median_s,
        ceiling="matmul-bf16",
        ceiling_fraction=fraction,
        sm_clock_mhz=1980.0,
        stop_reason="iqr settled",
        **fields,
    )


def make_run(adapter_name: str = "alpha", message: str = "kept 3 tokens, expected 4") -> RunResult:
    deviation = Expectation("ATTN-MASK-01", "aligns the causal mask top-left", DEVIATION_LINK)
    stale = Expectation("ATTN-SOFT-01", "used to overflow in float16")
    error = clause("SAMP-TEMP-01", "error")
    error.tests[0].message = "RuntimeError: boom"
    scaling = clause("ATTN-SOFT-01", "pass", expectation=stale, stale_expectation=True)
    scaling.tests[0].evidence = {"scaling": SCALING}
    bench = BenchmarkResult(
        name="top_p",
        family="sampling",
        device="cpu",
        params={"B": 2, "V": 32000},
        samples_s=[1.4e-5, 1.5e-5, 1.7e-5],
        median_s=1.5e-5,
        iqr_s=1.5e-6,
        calls_per_sample=100,
        threads=4,
    )
    alpha = AdapterResult(
        name=adapter_name,
        description="the alpha implementation",
        capabilities={"families": ["sampling", "attention"]},
        clauses=[
            clause("SAMP-TOPK-01", "pass"),
            failing_clause(message),
            error,
            clause("ATTN-MASK-01", "deviates", "fail", expectation=deviation),
            scaling,
            clause("ATTN-WIN-01", "unsupported"),
        ],
        benchmarks=[
            bench,
            gpu_benchmark("cold", 2.8e-4, 0.62, correct=True),
            gpu_benchmark("hot", 1.2e-4, 1.2, correct=False, flags=["ceiling_fraction > 1"]),
        ],
    )
    beta = AdapterResult(name="beta", load_error="ModuleNotFoundError: No module named 'beta_lib'")
    return RunResult(
        environment={"python": "3.11.7", "torch": "2.13.0", "platform": "Linux-x86_64", "device": "cpu"},
        profile="ci",
        adapters=[alpha, beta],
        created="2025-01-01T00:00:00Z",
        specformer_version="0.1.0",
        ceilings=CEILINGS,
    )


def copy_run(run: RunResult) -> RunResult:
    return RunResult.from_dict(json.loads(json.dumps(run.to_dict())))


def find_clause(run: RunResult, adapter: str, cid: str) -> ClauseResult:
    found = next(a for a in run.adapters if a.name == adapter)
    return next(c for c in found.clauses if c.id == cid)


def terminal_text(run: RunResult, width: int = 120, tty: bool = False) -> str:
    """What the terminal writer prints: plain lines (a CI log), or with `tty` tables fitted to `width`."""
    console = Console(record=True, width=width, force_terminal=tty, file=io.StringIO())
    render_terminal(run, console=console)
    return console.export_text()


@pytest.fixture(scope="module")
def schema() -> dict:
    text = (resources.files("specformer.conformance") / "results.schema.json").read_text()
    return json.loads(text)


# --- results.json and its schema ---------------------------------------------------------


def test_written_results_validate_against_schema(tmp_path: Path, schema: dict) -> None:
    paths = write_reports(make_run(), tmp_path / "out")
    assert [p.name for p in paths] == ["results.json", "report.md", "report.html"]
    assert all(p.is_file() and p.stat().st_size > 0 for p in paths)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(paths[0].read_text()), schema, cls=jsonschema.Draft202012Validator)


def _break_status(data: dict) -> None:
    data["adapters"][0]["clauses"][0]["status"] = "passed"


def _break_test_key(data: dict) -> None:
    del data["adapters"][0]["clauses"][1]["tests"][0]["nodeid"]


def _add_clause_key(data: dict) -> None:
    data["adapters"][0]["clauses"][0]["score"] = 1


def _break_version(data: dict) -> None:
    data["schema_version"] = 1


def _break_mode(data: dict) -> None:
    data["adapters"][0]["benchmarks"][1]["mode"] = "warm"


def _break_flags(data: dict) -> None:
    data["adapters"][0]["benchmarks"][2]["flags"] = "ceiling_fraction > 1"


def _break_correct(data: dict) -> None:
    data["adapters"][0]["benchmarks"][1]["correct"] = "yes"


def _drop_new_field(data: dict) -> None:
    del data["adapters"][0]["benchmarks"][0]["ceiling_fraction"]


def _break_ceiling(data: dict) -> None:
    del data["ceilings"]["copy"]["value"]


def _drop_ceilings(data: dict) -> None:
    del data["ceilings"]


def _break_calls(data: dict) -> None:
    data["adapters"][0]["benchmarks"][0]["calls_per_sample"] = "100"


def _break_expectation(data: dict) -> None:
    data["adapters"][0]["clauses"][3]["expectation"] = {"clause": "ATTN-MASK-01"}


@pytest.mark.parametrize(
    "breaks",
    [
        _break_status,
        _break_test_key,
        _add_clause_key,
        _break_version,
        _break_calls,
        _break_expectation,
        _break_mode,
        _break_flags,
        _break_correct,
        _drop_new_field,
        _break_ceiling,
        _drop_ceilings,
    ],
)
def test_schema_rejects_broken_results(schema: dict, breaks) -> None:
    data = make_run().to_dict()
    breaks(data)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)


def test_results_round_trip_through_json(tmp_path: Path) -> None:
    run = make_run()
    assert copy_run(run) == run
    run.write_json(tmp_path / "results.json")
    assert RunResult.read_json(tmp_path / "results.json") == run


# --- HTML --------------------------------------------------------------------------------


class TagCollector(HTMLParser):
    """Records tags and attributes, and checks that elements nest and close properly."""

    VOID = frozenset({"meta", "br", "hr", "img", "input", "link", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.open: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1] != tag:
            self.problems.append(f"</{tag}> closes {self.open[-1:]}")
        else:
            self.open.pop()


def parse_html(page: str) -> TagCollector:
    parser = TagCollector()
    parser.feed(page)
    parser.close()
    return parser


def test_html_is_well_formed_and_refers_to_nothing_outside() -> None:
    page = render_html(make_run())
    parser = parse_html(page)
    assert parser.problems == [] and parser.open == []
    tag_names = {tag for tag, _ in parser.tags}
    assert tag_names.isdisjoint({"script", "link", "img", "iframe", "object", "embed"})
    attributes = [(name, value or "") for _, attrs in parser.tags for name, value in attrs]
    assert not [name for name, _ in attributes if name in ("src", "srcset") or name.startswith("on")]
    # Inline SVG refers only to its own ids: xlink:href="#id" and url(#id); besides those, only
    # relative links to a clause's heading in the repository's spec (no scheme, nothing fetched).
    spec_link = re.compile(r"^(\.\./)*spec/[a-z0-9_-]+\.md#[a-z0-9-]+$")
    hrefs = [value for name, value in attributes if name.endswith("href")]
    # A documented deviation's link is a hyperlink for the reader (followed only when clicked).
    assert not [h for h in hrefs if not h.startswith("#") and not spec_link.match(h) and h != DEVIATION_LINK]
    assert any(spec_link.match(h) for h in hrefs), "every clause row links to its spec heading"
    assert not re.findall(r"url\((?!#)", page) and "@import" not in page
    assert "<svg" in page
    # Besides the deviation's link only the SVG namespace
    # declarations (identifiers, never fetched) name a URL.
    without_link = page.replace(DEVIATION_LINK, "")
    for namespace in SVG_NAMESPACES:
        without_link = without_link.replace(f'"{namespace}"', "")
    assert DEVIATION_LINK in page
    assert "http://" not in without_link and "https://" not in without_link


def test_html_shows_every_kind_of_finding() -> None:
    page = render_html(make_run())
    for expected in (
        "SAMP-TOPP-01",
        "kept 3 tokens, expected 4",
        "ratio=5e+05",
        "RuntimeError: boom",
        "aligns the causal mask top-left",
        "remove it from alpha expectations",
        "No module named &#x27;beta_lib&#x27;",
        "15.0 µs",
        "class='s-unsupported'",
        "Linux-x86_64",
    ):
        assert expected in page, expected
    assert html.escape(REPRODUCE) in page


def test_html_escapes_strings_from_the_run() -> None:
    hostile_name = "<script>alert(1)</script>"
    hostile_message = '<img src=x onerror="alert(1)"> & more'
    page = render_html(make_run(adapter_name=hostile_name, message=hostile_message))
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; more" in page
    parser = parse_html(page)
    assert {tag for tag, _ in parser.tags}.isdisjoint({"script", "img"})


# --- Markdown ----------------------------------------------------------------------------

_UNESCAPED_PIPE = re.compile(r"(?<!\\)\|")


def markdown_tables(text: str) -> list[list[str]]:
    tables: list[list[str]] = []
    previous_was_row = False
    for line in text.splitlines():
        is_row = line.startswith("|")
        if is_row and not previous_was_row:
            tables.append([])
        if is_row:
            tables[-1].append(line)
        previous_was_row = is_row
    return tables


def test_markdown_tables_survive_pipes_and_newlines() -> None:
    run = make_run(adapter_name="a|b")
    deviation = find_clause(run, "a|b", "ATTN-MASK-01")
    deviation.expectation = Expectation("ATTN-MASK-01", "left | right\nsecond line", "x|y")
    deviation.title = "title | with pipe"
    text = render_markdown(run)
    tables = markdown_tables(text)
    assert len(tables) >= 4  # summary, deviations, benchmarks, one per family
    for table in tables:
        widths = {len(_UNESCAPED_PIPE.findall(row)) for row in table}
        assert len(widths) == 1, table
    assert "left \\| right second line" in text


def test_markdown_lists_findings_with_reproduce_in_code_span() -> None:
    text = render_markdown(make_run())
    assert text.startswith("# ")
    assert "python 3.11.7 · torch 2.13.0 · platform Linux-x86\\_64 · device cpu" in text
    assert f"`{REPRODUCE}`" in text
    assert "kept 3 tokens, expected 4" in text
    assert (
        '| `alpha` | <a name="deviation-attn-mask-01-alpha"></a>[ATTN-MASK-01](#attn-mask-01-alpha) | — | '
        "aligns the causal mask top-left | [example.invalid … 42](" + DEVIATION_LINK + ") |" in text
    )
    assert "remove it from alpha expectations" in text
    assert "ModuleNotFoundError" in text
    assert "15.0 µs" in text
    assert "| ATTN-WIN-01 | title of ATTN-WIN-01 | — | ? unsupported | — |" in text


def without_code(markdown: str) -> str:
    """Markdown with fenced blocks and code spans removed (their text is shown verbatim)."""
    markdown = re.sub(r"^```+text\n.*?^```+$", "", markdown, flags=re.S | re.M)
    return re.sub(r"(`+).*?\1", "", markdown)


def test_markdown_escapes_html_outside_code() -> None:
    run = make_run()
    run.adapters[1].load_error = "<script>alert(1)</script>"
    find_clause(run, "alpha", "ATTN-MASK-01").expectation.reason = "<img src=x onerror=alert(1)>"
    text = render_markdown(run)
    assert "```text\n<script>alert(1)</script>\n```" in text
    prose = without_code(text)
    assert "<script" not in prose and "<img" not in prose
    assert "&lt;img src=x onerror=alert(1)&gt;" in prose


# --- terminal ----------------------------------------------------------------------------


def test_terminal_shows_failures_with_reproduce_line() -> None:
    text = terminal_text(make_run())
    assert "SAMP-TOPP-01" in text and "Top-p keeps the crossing token" in text
    assert "kept 3 tokens, expected 4" in text
    assert "error=0.5 tolerance=1e-06 ratio=5e+05 seed=7" in text
    # The reproduce line is longer than the console and must stay one copyable line.
    assert REPRODUCE in text
    assert "SAMP-TEMP-01" in text and "RuntimeError: boom" in text
    assert "No module named 'beta_lib'" in text


def test_terminal_shows_summary_deviations_stale_and_benchmarks() -> None:
    text = terminal_text(make_run())
    # sampling: TOPK pass, TOPP fail, TEMP error; attention: SOFT pass, MASK deviates, WIN unsupported
    assert "score alpha sampling 1/3 33% 1 ✗ 1 ! (pass=1 fail=1 deviates=0 unsupported=0 error=1)" in text
    assert "score alpha attention 1/3 33% 1 ~ 1 ? (pass=1 fail=0 deviates=1 unsupported=1 error=0)" in text
    assert "ATTN-MASK-01: aligns the causal mask top-left" in text
    assert "ATTN-SOFT-01 is listed as a deviation but now passes" in text
    assert "remove it from alpha expectations" in text
    assert "15.0 µs" in text and "1.50 µs" in text and "B=2 V=32000" in text


def test_terminal_prints_markup_in_names_verbatim() -> None:
    text = terminal_text(make_run(adapter_name="[bold]alpha[/bold]", message="[red]x[/red]"))
    assert "[bold]alpha[/bold]" in text
    assert "[red]x[/red]" in text


# --- comparison and regressions -----------------------------------------------------------


def test_compare_runs_flags_changed_clause_and_benchmark_ratio() -> None:
    before = make_run()
    after = copy_run(before)
    find_clause(after, "alpha", "SAMP-TOPK-01").status = "fail"
    after.adapters[0].benchmarks[0].median_s = 3e-5
    comparison = compare_runs(before, after)
    assert [(c.adapter, c.clause, c.status_a, c.status_b) for c in comparison.changed()] == [
        ("alpha", "SAMP-TOPK-01", "pass", "fail")
    ]
    assert comparison.unchanged_count() == 5
    assert [b.ratio for b in comparison.benchmarks] == [pytest.approx(2.0), 1.0, 1.0]
    assert [b.mode for b in comparison.benchmarks] == ["cpu", "cold", "hot"]
    markdown = render_comparison_markdown(comparison)
    assert "SAMP-TOPK-01" in markdown and "unchanged: 5" in markdown and "2.00×" in markdown
    assert markdown.index("SAMP-TOPK-01") < markdown.index("unchanged: 5")
    console = Console(record=True, width=120)
    render_comparison_terminal(comparison, console=console)
    text = console.export_text()
    assert "SAMP-TOPK-01" in text and "unchanged: 5" in text and "2.00×" in text


def test_compare_runs_keeps_clauses_present_on_one_side() -> None:
    before = make_run()
    after = copy_run(before)
    after.adapters[0].clauses.pop(0)
    changes = {c.clause: c for c in compare_runs(before, after).changed()}
    assert list(changes) == ["SAMP-TOPK-01"]
    assert changes["SAMP-TOPK-01"].status_b is None


def run_with(adapters: dict[str, dict[str, str]]) -> RunResult:
    return RunResult(
        environment={},
        profile="ci",
        adapters=[
            AdapterResult(name, clauses=[clause(cid, status) for cid, status in statuses.items()])
            for name, statuses in adapters.items()
        ],
    )


def test_regressions_report_only_pass_to_fail_or_error() -> None:
    baseline = run_with(
        {
            "alpha": {"SAMP-A-01": "pass", "SAMP-B-01": "pass", "SAMP-C-01": "pass", "SAMP-D-01": "fail"},
            "gone": {"SAMP-A-01": "pass"},
        }
    )
    current = run_with(
        {
            "alpha": {
                "SAMP-A-01": "fail",
                "SAMP-B-01": "deviates",
                "SAMP-C-01": "error",
                "SAMP-D-01": "error",
            },
            "new": {"SAMP-A-01": "fail"},
        }
    )
    assert regressions(baseline, current) == [
        "alpha SAMP-A-01: pass -> fail",
        "alpha SAMP-C-01: pass -> error",
    ]
    assert regressions(baseline, baseline) == []


# --- schema version 2: rates, ceilings, flags --------------------------------------------


def test_rates_and_fractions_are_written_in_human_units() -> None:
    assert format_rate(3.07e13, "FLOP/s") == "30.7 TFLOP/s"
    assert format_rate(9.5e11, "B/s") == "950 GB/s"
    assert format_rate(None, "B/s") == "—"
    assert format_fraction(0.62) == "62.0%"
    assert format_fraction(1.2) == "invalid"  # above the measured ceiling: a measurement error


def test_markdown_and_html_show_rates_ceilings_correctness_and_flags() -> None:
    run = make_run()
    text, page = render_markdown(run), render_html(run)
    for report in (text, page):
        assert "770 TFLOP/s" in report and "4.20 TB/s" in report  # the ceilings measured
        assert "62.0%" in report and "invalid" in report
        # one table (and chart) per operation; Markdown escapes the brackets
        assert "attention.full [cuda cold]" in report.replace("\\[", "[").replace("\\]", "]")
    assert "ceiling\\_fraction &gt; 1" in text and "ceiling_fraction &gt; 1" in page
    # The heading names the benchmark and its mode, so its rows do not; "Every row" names the device once.
    cold = text.split("attention.full \\[cuda cold\\]", 1)[1].split("###", 1)[0]
    hot = text.split("attention.full \\[cuda hot\\]", 1)[1].split("###", 1)[0]
    assert "Every row: on cuda; B=2 H=16 D=64 dtype=bfloat16 L=1024" in cold
    row = next(line for line in cold.splitlines() if line.startswith("| `alpha`"))
    assert "| ✓ |" in row and "TFLOP/s" in row and "cuda" not in row and "attention" not in row
    assert "| ✗ |" in next(line for line in hot.splitlines() if line.startswith("| `alpha`"))
    assert "Every row: on cpu; B=2 V=32000" in text  # shared parameters are said once per family


def test_terminal_benchmark_tables_fit_120_columns() -> None:
    text = terminal_text(make_run())
    assert "770 TFLOP/s" in text and "62.0%" in text and "invalid" in text
    assert "attention.full [cuda cold]" in text and "ceiling_fraction > 1" in text
    assert "every row: B=2 H=16 D=64 dtype=bfloat16 L=1024" in text
    rows = [line for line in text.splitlines() if line.startswith("bench alpha attention.full")]
    assert len(rows) == 2  # plain: one line each, nothing wrapped
    table = terminal_text(make_run(), tty=True)
    assert "62.0%" in table and "ceiling_fraction > 1" in table
    assert max(len(line.rstrip()) for line in table.splitlines() if "µs" in line) <= 120


def test_scaling_fits_are_tabulated() -> None:
    text, page = render_markdown(make_run()), render_html(make_run())
    assert "| full\\_attention | time | `alpha` | ATTN-SOFT-01 | 1.98 \\[1.91, 2.05\\] | 2 |" in text
    assert "3 of 5" in text and "3 of 5" in page and "1.98 [1.91, 2.05]" in page


# --- comparison across adapters ----------------------------------------------------------


def two_adapter_run() -> RunResult:
    run = make_run()
    reference = copy_run(run).adapters[0]
    reference.name, reference.clauses = "reference", []
    for bench in reference.benchmarks:
        bench.median_s *= 2
    run.adapters.append(reference)
    return run


def test_speedups_use_reference_as_baseline_by_default() -> None:
    speedups = benchmark_speedups(two_adapter_run())
    assert speedups.baseline == "reference" and speedups.adapters == ("alpha", "reference")
    assert [row.mode for row in speedups.rows] == ["cpu", "cold", "hot"]
    first = speedups.rows[0]
    assert (first.name, first.size) == ("top_p", None)
    alpha, reference = first.cells
    assert alpha is not None and reference is not None
    assert alpha.speedup == pytest.approx(2.0) and reference.speedup == pytest.approx(1.0)
    assert (alpha.median_s, alpha.iqr_s) == (1.5e-5, 1.5e-6)


def test_speedups_baseline_is_settable_and_checked() -> None:
    run = two_adapter_run()
    speedups = benchmark_speedups(run, baseline_adapter="alpha")
    assert [cell.speedup for cell in speedups.rows[0].cells if cell] == [1.0, pytest.approx(0.5)]
    with pytest.raises(ValueError, match="baseline_adapter='beta'"):
        benchmark_speedups(run, baseline_adapter="beta")  # beta did not load: no benchmarks
    run.adapters[2].name = "gamma"  # without "reference", the first adapter is the baseline
    assert benchmark_speedups(run).baseline == "alpha"


def test_speedups_are_rendered_only_with_two_adapters() -> None:
    assert "Speedups" not in render_markdown(make_run())
    run = two_adapter_run()
    text, page = render_markdown(run), render_html(run)
    assert "## Speedups over `reference`" in text and "Speedups over reference</h2>" in page
    assert "15.0 µs (IQR 1.50 µs) 2.00×" in text and "15.0 µs (IQR 1.50 µs) 2.00×" in page
    console = Console(record=True, width=120)
    render_speedups_terminal(benchmark_speedups(run), console)
    shown = console.export_text()
    assert "speedup over reference" in shown  # one line per (benchmark, adapter): median, IQR share, speedup
    assert re.search(r"alpha +15\.0 µs +10% +2\.00×", shown) and re.search(r"reference +30\.0 µs +5% +1\.00×", shown)


# --- plots -------------------------------------------------------------------------------


def test_html_plots_are_inline_svg_and_deterministic() -> None:
    page = render_html(make_run())
    assert page.count("<svg") == 4  # scaling; one chart per operation: top_p times, attention cold and hot
    assert "<?xml" not in page and "<!DOCTYPE svg" not in page and "<metadata" not in page
    assert "alpha: k=1.98 [1.91, 2.05]" in page and "expected k=2" in page
    assert "ceiling matmul-bf16: 770 TFLOP/s" in page
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids))  # several figures, no id twice
    assert render_html(make_run()) == page


def test_plots_escape_adapter_names() -> None:
    page = render_html(make_run(adapter_name="<script>alert(1)</script>$x$"))
    assert "<svg" in page and "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;$x$: k=1.98" in page  # "$" is not mathtext
    assert {tag for tag, _ in parse_html(page).tags}.isdisjoint({"script"})


def test_html_without_matplotlib_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib now raises
    page = render_html(make_run())
    assert "plots need matplotlib" in page and "<svg" not in page
    assert "770 TFLOP/s" in page  # the tables do not need it


def test_agreement_evidence_becomes_a_table_in_both_reports() -> None:
    run = make_run()
    entry = clause("TOK-BPE-06", "fail")
    entry.tests[0].evidence = {
        "agreement": {
            "vocabulary": "tekken <v3>",
            "strings": 10,
            "agreeing": 9,
            "percent": 90.0,
            "first_difference": {"text": "x\r\t", "expected": [1, 2], "actual": [1, 3]},
            "clause": "TOK-BL-04",
        }
    }
    malformed = clause("TOK-BPE-05", "pass")
    malformed.tests[0].evidence = {"agreement": {"strings": "many"}}  # skipped, not a crash
    run.adapters[0].clauses += [entry, malformed]
    markdown, html_text = render_markdown(run), render_html(run)
    assert "## Agreement on real vocabularies" in markdown
    assert "| tekken &lt;v3&gt; | `alpha` | TOK-BPE-06 | 10 | 90.00% |" in markdown
    assert "TOK-BL-04" in markdown
    assert "<h2>Agreement on real vocabularies</h2>" in html_text and "tekken &lt;v3&gt;" in html_text
    assert "<v3>" not in html_text


def test_every_view_carries_the_clause_spec_location(tmp_path: Path) -> None:
    """A row names where its clause is written; the HTML links to the heading; results.json keeps it."""
    run = make_run()
    failing = find_clause(run, "alpha", "SAMP-TOPP-01")
    failing.source = "spec/sampling.md:156"
    path = tmp_path / "results.json"
    run.write_json(path)
    assert find_clause(RunResult.read_json(path), "alpha", "SAMP-TOPP-01").source == "spec/sampling.md:156"
    # A result without a recorded source (an older file) still shows the installed spec's line.
    topk_line = f"spec/{registry()['SAMP-TOPK-01'].source}"
    markdown = render_markdown(run)
    assert "Spec: `spec/sampling.md:156`" in markdown and f"| `{topk_line}` |" in markdown
    page = render_html(run)
    assert f"href='../../{spec_anchor(registry()['SAMP-TOPP-01'])}'><code>spec/sampling.md:156</code></a>" in page
    console = Console(record=True, width=200)
    render_terminal(run, console=console)
    assert "SAMP-TOPP-01 Top-p keeps the crossing token  spec/sampling.md:156" in console.export_text()


def test_headroom_shows_the_largest_ratio_per_clause_and_adapter_passing_tests_included() -> None:
    run = make_run()
    passing = find_clause(run, "alpha", "SAMP-TOPK-01")
    comparison = {"error": 2e-7, "tolerance": 1e-6, "ratio": 0.2, "dtype": "float32", "what": "x", "comparisons": 9}
    passing.tests[0].evidence = {"comparison": comparison}
    passing.tests.append(OneTestResult(nodeid="suite/test_sampling.py::b", status="pass", evidence={}))
    markdown = render_markdown(run)
    assert "## Numerical headroom" in markdown
    assert "| SAMP-TOPK-01 | title of SAMP-TOPK-01 | 0.20× | — |" in markdown
    assert "| SAMP-TOPP-01 | Top-p keeps the crossing token | 5e+05× | — |" in markdown
    page = render_html(run)
    assert "<h2>Numerical headroom</h2>" in page and "<td>0.20×</td>" in page
