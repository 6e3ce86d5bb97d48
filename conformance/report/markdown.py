"""The run as GitHub-flavoured Markdown, sized for a pull-request comment.

Sections, in order: environment, the verdict against a baseline (when given), summary
(family x adapter counts), adapters that did not load, failures with their reproduce lines,
documented deviations, stale expectations, benchmarks (ceilings measured, one table per
family), the speedups between adapters (when two or more have benchmarks), the fitted
scaling exponents, and one clause x adapter table per family, each failing or deviating cell
linking to a collapsed <details> block under its table (message, evidence, headroom, reproduce
line). It leaves out the full evidence, raw benchmark samples and plots (results.json and the
HTML report keep them).

Said once, not per test (the drill-down doubled the file): a documented deviation's reason is in
the Deviates table, which the cell's block links to (and back); the reproduce command most tests
share is given once above the grids, with <test> and <adapter> in it, and a test's own line only
where its command differs from that one.

Strings from the run are escaped for where they land: `md_text` for prose and table cells
(Markdown punctuation, HTML, pipes, newlines), `md_code` for code spans. The Markdown helpers
here are also used by the comparison view.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from specformer.conformance.report.common import (
    HEADROOM_NOTE,
    LEGEND,
    Finding,
    clause_source,
    compact_params,
    deviation_reason,
    evidence_summary,
    failing_tests,
    format_ratio,
    format_seconds,
    link_label,
    stale_message,
    symbol,
)
from specformer.conformance.report.measurements import (
    SCALING_HEADERS,
    adapters_with_cells,
    correct_mark,
    flags_text,
    format_fraction,
    params_text,
    rate_text,
    scaling_cells,
    speedup_cell_text,
    speedup_groups,
)
from specformer.conformance.report.model import GridCell, GridRow, Report, Score, as_report
from specformer.conformance.results import BenchmarkResult, RunResult, Status, TestResult

if TYPE_CHECKING:  # compare.py imports this module, so the name is only for annotations
    from specformer.conformance.report.compare import GateResult

# Characters that Markdown (or a GFM table) would otherwise interpret.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]|~])")
_PLAIN_URL = re.compile(r"^https?://[^\s<>|`]+$")
# Longer messages are cut in a PR comment; the HTML report and results.json keep all of it.
MESSAGE_LIMIT = 2000


def render_markdown(run: RunResult | Report, gate: GateResult | None = None) -> str:
    """The Markdown report of `run` (or of a built `Report`), with the verdict against a
    baseline when `gate` (or the report's own gate) is given."""
    report = as_report(run)
    sections = [
        [f"# {report.title}", "", md_text(report.environment_line) + "  ", md_text(report.run_line)],
        _gate(gate or report.gate),
        _summary(report),
        _load_errors(report),
        _failures(report),
        _deviations(report),
        _stale(report),
        _benchmarks(report),
        _speedups(report),
        _scaling(report),
        _agreement(report),
        _slowest(report),
        _headroom(report),
        _clause_tables(report),
    ]
    return "\n\n".join("\n".join(lines) for lines in sections if lines) + "\n"


def md_text(text: str) -> str:
    """Text shown as written, in prose or in a table cell.

    >>> md_text("a|b <i>\\nc_d")
    'a\\\\|b &lt;i&gt; c\\\\_d'
    """
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = " ".join(text.splitlines())
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)


def md_code(text: str, in_table: bool = False) -> str:
    """A code span holding `text` verbatim, on one line.

    >>> md_code("x = `y`")
    '`` x = `y` ``'
    """
    text = " ".join(text.splitlines())
    if not text:
        return ""
    fence = "`" * (_longest_backtick_run(text) + 1)
    padded = f" {text} " if "`" in text else text
    span = f"{fence}{padded}{fence}"
    # subtle: GFM splits table cells on "|" even inside a code span, unless it is escaped.
    return span.replace("|", "\\|") if in_table else span


def md_fence(text: str) -> list[str]:
    """A fenced code block holding `text` verbatim."""
    fence = "`" * max(3, _longest_backtick_run(text) + 1)
    return [fence + "text", text, fence]


def md_table(headers: list[str], rows: list[list[str]]) -> list[str]:
    """A GFM table from cells that are already escaped Markdown."""
    lines = [_table_line(headers), _table_line(["---"] * len(headers))]
    lines.extend(_table_line(row) for row in rows)
    return lines


def md_link(url: str) -> str:
    """A plain http(s) URL as an autolink; anything else as escaped text."""
    return f"<{url}>" if _PLAIN_URL.match(url) else md_text(url)


def md_short_link(url: str) -> str:
    """A plain http(s) URL as a link labelled by its host and last path segment; else as `md_link`."""
    label = link_label(url)
    plain = label and _PLAIN_URL.match(url) and "(" not in url and ")" not in url
    return f"[{md_text(label)}]({url})" if plain else md_link(url)


def _table_line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _truncate(text: str) -> str:
    if len(text) <= MESSAGE_LIMIT:
        return text
    return text[:MESSAGE_LIMIT] + "\n… (truncated; results.json has the full message)"


def _adapter_headers(report: Report) -> list[str]:
    return [md_code(name, in_table=True) for name in report.adapter_names]


def _summary(report: Report) -> list[str]:
    rows = [
        [f"**{md_text(row.family)}**" if row.family == "all" else md_text(row.family), *map(_score_cell, row.scores)]
        for row in report.scores
    ]
    legend = ", ".join(f"{symbol(s)} {s}" for s in LEGEND)
    return [
        "## Summary: clauses passed / applicable",
        "",
        *md_table(["family", *_adapter_headers(report)], rows),
        "",
        f"Legend: {legend}; n/a: the adapter does not declare the family.",
    ]


def _score_cell(score: Score | None) -> str:
    """'**30/32 94%** · 1 ✗ 1 ?': failures and errors in bold."""
    if score is None:
        return "—"
    if not score.declared:
        return Status.NOT_APPLICABLE
    extra = score.extra_text()
    head = f"**{score.text()}**" if score.problems else score.text()
    return f"{head} · {md_text(extra)}" if extra else head


def _load_errors(report: Report) -> list[str]:
    found = report.load_errors()
    errors = [(a.name, e) for a in report.adapters for e in a.benchmark_errors]
    if not found and not errors:
        return []
    lines = ["## Adapters that did not load or whose benchmarks failed"]
    for adapter in found:
        lines += ["", f"{md_code(adapter.name)}:", "", *md_fence(_truncate(adapter.load_error or ""))]
    lines += ["", *(f"- {md_code(name)}: {md_text(problem)}" for name, problem in errors)] if errors else []
    return lines


def _slowest(report: Report) -> list[str]:
    if not report.slowest:
        return []
    rows = [[md_code(w.adapter, in_table=True), md_text(w.family), format_seconds(w.seconds)] for w in report.slowest]
    return ["## Slowest (adapter, family) wall times", "", *md_table(["adapter", "family", "wall time"], rows)]


def _failures(report: Report) -> list[str]:
    found = report.failures
    if not found:
        return []
    lines = [f"## Failures ({len(found)})"]
    for finding in found:
        lines.extend(_failure(finding))
    return lines


def _failure(finding: Finding) -> list[str]:
    clause = finding.clause
    lines = [
        "",
        f"### {symbol(clause.status)} {clause.status} · {md_code(finding.adapter.name)} · "
        f"{md_text(clause.id)} {md_text(clause.title)}",
        "",
        f"Spec: {_spec_cell(clause_source(clause))}",
    ]
    tests = failing_tests(clause)
    if not tests:
        lines += ["", "_No failing test recorded._"]
    for test in tests:
        lines += ["", f"Test {md_code(test.nodeid)}"]
        if test.message:
            lines += ["", *md_fence(_truncate(test.message))]
        summary = evidence_summary(test.evidence)
        if summary:
            lines += ["", f"Evidence: {md_text(summary)}"]
        if test.reproduce:
            lines += ["", f"Reproduce: {md_code(test.reproduce)}"]
    return lines


def _deviations(report: Report) -> list[str]:
    found = report.deviations
    if not found:
        return []
    rows = []
    anchors = _cell_anchors(report)
    for finding in found:
        reason, link = deviation_reason(finding.clause)
        anchor = anchors.get((finding.clause.id, finding.adapter.name))
        clause = md_text(finding.clause.id)  # linked to its grid cell's block, which links back here
        rows.append(
            [
                md_code(finding.adapter.name, in_table=True),
                f'<a name="deviation-{anchor}"></a>[{clause}](#{anchor})' if anchor else clause,
                _spec_cell(clause_source(finding.clause)),
                md_text(reason),
                md_short_link(link) if link else "",
            ]
        )
    return [
        f"## Deviates (documented) ({len(found)})",
        "",
        *md_table(["adapter", "clause", "spec", "reason", "link"], rows),
    ]


def _stale(report: Report) -> list[str]:
    found = report.stale
    if not found:
        return []
    return [f"## Stale expectations ({len(found)})", "", *(f"- {md_text(stale_message(f))}" for f in found)]


def _gate(gate: GateResult | None) -> list[str]:
    if gate is None:
        return []
    lines = ["## Against the baseline", ""]
    if gate.regressions:
        lines += [f"Regressions ({len(gate.regressions)}):", "", *(f"- {md_text(line)}" for line in gate.regressions)]
    else:
        lines.append("No regression against the baseline.")
    if gate.not_compared:
        lines += [
            "",
            f"Benchmarks not compared: {md_text(gate.not_compared)}. "
            "Only runs from the same environment are compared; regenerate the baseline on this machine.",
        ]
    return lines


_BENCHMARK_HEADERS = [
    "adapter",
    "device",
    "params",
    "median",
    "IQR",
    "calls/sample",
    "rate",
    "% of ceiling",
    "correct",
    "flags",
]


def _benchmarks(report: Report) -> list[str]:
    if not report.charts:
        return []
    ceilings = report.run.ceilings if report.run is not None else {}
    lines = ["## Benchmarks"]
    if report.load_average:
        lines += ["", md_text(report.load_average)]
    if report.ceilings:
        rows = [[md_text(name), md_text(value), md_text(params)] for name, value, params in report.ceilings]
        lines += ["", "Ceilings measured at the start of the run:", "", *md_table(["ceiling", "value", "params"], rows)]
    for chart in report.charts:
        # The heading names the benchmark and its timing mode, so its rows do not; the device is said
        # once where every row shares it.
        lines += ["", f"### {md_text(chart.family)} · {md_text(chart.operation)}", ""]
        devices = {row.bench.device for row in chart.rows}
        shared = [f"on {next(iter(devices))}"] if len(devices) == 1 else []
        if chart.common:
            shared.append(compact_params(chart.common))
        lines += [f"Every row: {md_text('; '.join(shared))}", ""] if shared else []
        headers = [h for h in _BENCHMARK_HEADERS if h != "device" or len(devices) > 1]
        lines += md_table(
            headers,
            [_benchmark_cells(ceilings, row.adapter, row.bench, row.params, len(devices) > 1) for row in chart.rows],
        )
    for found in report.generation:  # the generation rows' serving metrics, side by side
        lines += ["", f"### {md_text(found.title)}", ""]
        lines += md_table(found.headers, [[md_text(cell) for cell in row] for row in found.rows])
    return lines


def _benchmark_cells(
    ceilings: dict[str, dict[str, Any]],
    adapter: str,
    bench: BenchmarkResult,
    params: dict[str, Any],
    device: bool = True,
) -> list[str]:
    return [
        md_code(adapter, in_table=True),
        *([md_text(bench.device)] if device else []),
        md_text(params_text(params, bench.size)),
        format_seconds(bench.median_s),
        format_seconds(bench.iqr_s),
        str(bench.calls_per_sample),
        md_text(rate_text(bench, ceilings)),
        md_text(format_fraction(bench.ceiling_fraction)),
        correct_mark(bench.correct),
        md_text(flags_text(bench.flags)),
    ]


def _speedups(report: Report) -> list[str]:
    speedups = report.speedups
    if len(speedups.adapters) < 2:
        return []
    lines = [
        f"## Speedups over {md_code(speedups.baseline)}",
        "",
        f"Each cell: median (interquartile range) and speedup = {md_code(speedups.baseline)} median / median.",
    ]
    for family, common, rows in speedup_groups(speedups):
        lines += ["", f"### {md_text(family)} speedups", ""]
        if common:
            lines += [f"Every row: {md_text(compact_params(common))}", ""]
        used = adapters_with_cells(rows, len(speedups.adapters))
        headers = ["name", "device", "mode", "params", *(md_code(speedups.adapters[i], in_table=True) for i in used)]
        cells = [
            [
                md_text(row.name),
                md_text(row.device),
                md_text(row.mode),
                md_text(params_text(params)),
                *(md_text(speedup_cell_text(row.cells[i])) for i in used),
            ]
            for row, params in rows
        ]
        lines += md_table(headers, cells)
    return lines


def _scaling(report: Report) -> list[str]:
    found = report.scaling
    if not found:
        return []
    # the adapter as code; the numbers as they are
    escape = (md_text, md_text, _table_code, md_text, md_text, str, md_text, str, str)
    rows = [[how(cell) for how, cell in zip(escape, scaling_cells(s), strict=True)] for s in found]
    return ["## Scaling", "", *md_table(list(SCALING_HEADERS), rows)]


def _headroom(report: Report) -> list[str]:
    rows = [
        [md_text(row.id), md_text(row.title), *(format_ratio(r) if r is not None else "—" for r in row.ratios)]
        for row in report.headroom
    ]
    if not rows:
        return []
    return [
        "## Numerical headroom",
        "",
        md_text(HEADROOM_NOTE),
        "",
        *md_table(["clause", "title", *_adapter_headers(report)], rows),
    ]


def _table_code(text: str) -> str:
    return md_code(text, in_table=True)


def _spec_cell(source: str) -> str:
    """A clause's "spec/FAMILY.md:LINE" as code, or a dash for a clause the spec does not know."""
    return md_code(source, in_table=True) if source else "—"


def _clause_tables(report: Report) -> list[str]:
    """One clause x adapter table per family; a failing, erring or deviating cell links to a
    collapsed block under its table with the message, evidence, headroom and reproduce line."""
    if not report.grids:
        return []
    anchors = _cell_anchors(report)
    listed = {(f.clause.id, f.adapter.name) for f in report.deviations}  # their reasons are in that table
    template = _reproduce_template(
        (report.adapter_names[i], test)
        for grid in report.grids
        for row in grid.rows
        for i in grid.columns()
        for test in row.cells[i].tests
    )
    lines = ["## Clauses"]
    if template:
        lines += [
            "",
            f"Each test in the blocks below reproduces alone with {md_code(template)} (`<test>`: the test's id, "
            "`<adapter>`: its column); a test whose command differs shows its own.",
        ]
    for grid in report.grids:
        columns = grid.columns()
        names = report.adapter_names
        rows = [
            [
                _clause_cell(row.id, row.anchor),
                md_text(row.title),
                _spec_cell(row.source),
                *(_grid_cell(row.cells[i], anchors.get((row.id, names[i]))) for i in columns),
            ]
            for row in grid.rows
        ]
        headers = _adapter_headers(report)
        lines += [
            "",
            f"### {md_text(grid.family)}",
            "",
            *md_table(["clause", "title", "spec", *(headers[i] for i in columns)], rows),
        ]
        others = [report.adapter_names[i] for i in range(len(report.adapters)) if i not in columns]
        if others:
            lines += ["", f"n/a (family not declared): {', '.join(md_code(name) for name in others)}"]
        for row in grid.rows:
            for i in columns:
                anchor = anchors.get((row.id, names[i]))
                if anchor is not None:
                    in_table = row.cells[i].status == Status.DEVIATES and (row.id, names[i]) in listed
                    lines += _cell_details(row, names[i], row.cells[i], anchor, template, in_table)
    return lines


def _cell_anchors(report: Report) -> dict[tuple[str, str], str]:
    """(clause id, adapter) -> the anchor of the block its grid cell opens to, for each cell that opens."""
    anchors: dict[tuple[str, str], str] = {}
    for grid in report.grids:
        taken: set[str] = set()
        for row in grid.rows:
            for i in grid.columns():
                if row.cells[i].opens:
                    anchor = _unique_anchor(f"{row.id}-{report.adapter_names[i]}", taken)
                    taken.add(anchor)
                    anchors[row.id, report.adapter_names[i]] = anchor
    return anchors


_ADAPTER_OPTION = "--specformer-adapter="


def _reproduce_template(tests: Iterable[tuple[str, TestResult]]) -> str:
    """The reproduce command most of these (adapter, test) share, with <test> for the test's id and
    <adapter> for the adapter; "" where no two share one.

    >>> t = lambda node: TestResult(node, "fail", reproduce=f"pytest 'suite/{node}' --specformer-adapter=hf")
    >>> _reproduce_template([("hf", t("a.py::x")), ("hf", t("b.py::y"))])
    "pytest 'suite/<test>' --specformer-adapter=<adapter>"
    """
    counts = Counter(
        _as_template(adapter, test) for adapter, test in tests if test.reproduce and test.nodeid in test.reproduce
    )
    found = counts.most_common(1)
    return found[0][0] if found and found[0][1] > 1 else ""


def _as_template(adapter: str, test: TestResult) -> str:
    with_test = test.reproduce.replace(test.nodeid, "<test>", 1) if test.nodeid else test.reproduce
    return with_test.replace(_ADAPTER_OPTION + adapter, _ADAPTER_OPTION + "<adapter>")


def _from_template(template: str, adapter: str, test: TestResult) -> str:
    """The template's command for this test: equal to its reproduce line when that follows the template."""
    return template.replace("<test>", test.nodeid, 1).replace(_ADAPTER_OPTION + "<adapter>", _ADAPTER_OPTION + adapter)


def _unique_anchor(text: str, taken: set[str]) -> str:
    """A lower-case anchor from letters, digits and dashes, not one of `taken`.

    >>> _unique_anchor("SAMP-TOPP-01-hf", set()), _unique_anchor("A-b c", {"a-b-c"})
    ('samp-topp-01-hf', 'a-b-c-2')
    """
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "cell"
    anchor, count = base, 1
    while anchor in taken:
        count += 1
        anchor = f"{base}-{count}"
    return anchor


def _clause_cell(clause_id: str, anchor: str) -> str:
    """The clause id, linked to its heading in the spec (relative to reports/NAME/report.md)."""
    return f"[{md_text(clause_id)}](../../{anchor})" if anchor else md_text(clause_id)


def _grid_cell(cell: GridCell, anchor: str | None) -> str:
    if not cell.status:
        return "—"
    label = md_text(f"{symbol(cell.status)} {cell.status}")
    return f"[{label}](#{anchor})" if anchor else label


def _cell_details(
    row: GridRow, adapter: str, cell: GridCell, anchor: str, template: str = "", in_table: bool = False
) -> list[str]:
    """The collapsed block a grid cell links to; GitHub renders Markdown inside <details> after a blank line.
    The anchor sits in the summary, which shows while the block is closed. `in_table`: the reason
    is in the Deviates table (linked, not repeated); `template`: the shared reproduce command."""
    summary = html.escape(f"{symbol(cell.status)} {cell.status} · {adapter} · {row.id} {row.title}", quote=False)
    lines = ["", f'<details><summary><a name="{anchor}"></a>{summary}</summary>', ""]
    if in_table and (cell.reason or cell.link):
        lines += [f"Documented: the reason and link are in [Deviates (documented)](#deviation-{anchor})", ""]
    elif cell.reason or cell.link:
        lines += [f"Documented: {md_text(cell.reason)}" + (f" ({md_short_link(cell.link)})" if cell.link else ""), ""]
    if cell.ratio is not None:
        lines += [f"Headroom: largest error/tolerance {format_ratio(cell.ratio)}", ""]
    if not cell.tests:
        lines += ["_No failing test recorded._", ""]
    for test in cell.tests:
        lines += [f"Test {md_code(test.nodeid)} ({md_text(test.status)})", ""]
        if test.message:
            lines += [*md_fence(_truncate(test.message)), ""]
        summary_text = evidence_summary(test.evidence)
        if summary_text:
            lines += [f"Evidence: {md_text(summary_text)}", ""]
        if test.reproduce and not (template and _from_template(template, adapter, test) == test.reproduce):
            lines += [f"Reproduce: {md_code(test.reproduce)}", ""]
    return [*lines, "</details>"]


def _agreement(report: Report) -> list[str]:
    found = report.agreement
    if not found:
        return []
    headers = ["vocabulary", "adapter", "clause", "strings", "agreeing", "first difference", "explained by"]
    rows = [
        [
            md_text(a.vocabulary),
            md_code(a.adapter, in_table=True),
            md_text(a.clause),
            str(a.strings),
            f"{a.percent:.2f}%",
            md_text(a.first_difference[:200]) if a.first_difference else "—",
            md_text(a.explained_by) if a.explained_by else "—",
        ]
        for a in found
    ]
    return ["## Agreement on real vocabularies", "", *md_table(headers, rows)]
