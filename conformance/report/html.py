"""The run as one self-contained HTML page (a conformance dashboard): inline CSS and SVG, no
scripts, no network. A thin writer of the report model (model.py).

The page holds the environment, the verdict against a baseline (when given), the score per
family and adapter (passed/applicable, n/a for a family the adapter does not declare),
adapters that did not load, failures (each failing test in a <details> with its message, full
evidence and reproduce line), documented deviations, stale expectations, one clause x adapter
grid per family (a glyph and a colour per cell; a failing or deviating cell opens to the
message, evidence, headroom and reproduce line; clause ids link to the spec), benchmarks (one
chart per operation with the adapters side by side, tables), the speedups over the baseline
adapter, the scaling fits, the slowest (adapter, family) wall times and the environment.
It reads at 1280 pixels without horizontal scrolling (tables wrap, long code breaks) and
prints without its navigation. It leaves out raw benchmark samples (results.json keeps them).

Every string that comes from the run goes through `esc` (html.escape), including status
strings, which also choose CSS classes only through a fixed table. Deviation links are shown
as text, not as hyperlinks, so the page refers to nothing outside itself. Plots come from
plots.py, whose SVG holds the run's strings only as escaped text and refers to nothing but
its own ids; without matplotlib the page says so where the plots would be.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from specformer.conformance.report import plots
from specformer.conformance.report.common import (
    HEADROOM_NOTE,
    LEGEND,
    REPORT_TITLE,
    Finding,
    clause_anchor,
    clause_source,
    compact_params,
    deviation_reason,
    evidence_json,
    evidence_summary,
    failing_tests,
    format_number,
    format_ratio,
    format_seconds,
    link_label,
    stale_message,
    symbol,
)
from specformer.conformance.report.measurements import (
    SCALING_HEADERS,
    BenchmarkRow,
    adapters_with_cells,
    correct_mark,
    flags_text,
    format_fraction,
    params_text,
    rate_text,
    scaling_cells,
    speedup_cell_text,
    speedup_groups,
    where,
)
from specformer.conformance.report.model import GridCell, Report, Score, as_report
from specformer.conformance.results import RunResult, Status, TestResult

if TYPE_CHECKING:  # compare.py is not imported at run time: it needs no HTML, and vice versa
    from specformer.conformance.report.compare import GateResult

# Clause links are relative to the report's place in the repository: reports/MACHINE/report.html.
SPEC_ROOT = "../../"

# Status -> CSS class; anything else (a status this version does not know) is "s-other".
_STATUS_CLASSES = {status: f"s-{status}" for status in Status.ALL} | {Status.NOT_APPLICABLE: "s-na"}

_CSS = """
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, sans-serif; color: #1f2328; margin: 1.5rem auto;
       max-width: 78rem; padding: 0 1rem; overflow-wrap: break-word; }
nav { font-size: 13px; } nav a { margin-right: .8rem; }
.wide { max-width: 100%; overflow-x: auto; }
th { white-space: nowrap; } td code, li code, p code { overflow-wrap: anywhere; }
table.grid td { min-width: 3.2rem; }
table.grid td.clause { min-width: 14rem; }
.cell summary { list-style: none; } .cell summary::-webkit-details-marker { display: none; }
.cell details { margin: 0; } .cell details details, .cell details > p { overflow-wrap: anywhere; }
.cell details[open] pre { max-height: 24rem; overflow-y: auto; }
.score { font-weight: 600; white-space: nowrap; } a.spec { white-space: nowrap; }
.bad { color: #a40e26; font-weight: 700; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem;
     border-bottom: 1px solid #d0d7de; } h3 { font-size: 1.05rem; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border: 1px solid #d0d7de; padding: .25rem .5rem; text-align: left;
         vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font-family: ui-monospace, monospace; font-size: 12.5px; }
pre { background: #f6f8fa; padding: .5rem; white-space: pre-wrap; word-break: break-all; }
.muted { color: #656d76; }
.count { display: inline-block; min-width: 2.6rem; padding: 0 .3rem; margin: 1px;
         border-radius: 3px; text-align: center; }
.zero { opacity: .35; }
.s-pass { background: #dafbe1; color: #116329; }
.s-fail { background: #ffebe9; color: #a40e26; }
.s-deviates, .s-custom { background: #fff8c5; color: #7d4e00; }
.s-unsupported, .s-na, .s-other { background: #eaeef2; color: #57606a; }
.s-error { background: #fbefff; color: #6e40c9; }
details { margin: .4rem 0 .8rem 1rem; } summary { cursor: pointer; }
figure.plot { margin: 1rem 0; } figure.plot svg { max-width: 100%; height: auto; }
figure.plot.half { display: inline-block; vertical-align: top; width: 50%; margin: .5rem 0; }
.regression { color: #a40e26; }
@media print {
  body { max-width: none; margin: 0; font-size: 11px; } nav { display: none; }
  .wide { overflow: visible; } .cell details[open] pre { max-height: none; }
  table { font-size: 10px; } code, pre { font-size: 9px; }
  a { color: inherit; text-decoration: none; } h2, h3 { break-after: avoid; }
  tr, figure { break-inside: avoid; } .s-pass, .s-fail, .s-deviates, .s-error, .s-unsupported, .s-na {
    -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
"""


_NAV = (
    ("summary", "Summary"),
    ("failures", "Failures"),
    ("deviations", "Deviations"),
    ("clauses", "Clauses"),
    ("benchmarks", "Benchmarks"),
    ("generation", "Generation"),
    ("speedups", "Speedups"),
    ("scaling", "Scaling"),
    ("slowest", "Wall times"),
    ("environment", "Environment"),
)


def render_html(run: RunResult | Report, gate: GateResult | None = None) -> str:
    """The HTML report of `run` (or of a built `Report`), as one page, with the verdict against
    a baseline when `gate` (or the report's own gate) is given."""
    report = as_report(run)
    body = [
        f"<h1>{esc(report.title)}</h1>",
        f"<p class='muted'>{esc(report.environment_line)}<br>{esc(report.run_line)}</p>",
        _gate(gate or report.gate),
        _summary(report),
        _legend(),
        _load_errors(report),
        _failures(report),
        _deviations(report),
        _stale(report),
        _clause_grids(report),
        _agreement(report),
        _benchmarks(report),
        _speedups(report),
        _scaling(report),
        _headroom(report),
        _slowest(report),
        _environment(report.environment),
    ]
    present = [(key, title) for key, title in _NAV if f"id='{key}'" in "".join(part for part in body if part)]
    nav = "<nav>" + "".join(f"<a href='#{key}'>{title}</a>" for key, title in present) + "</nav>"
    body.insert(1, nav)
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>{esc(REPORT_TITLE)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body>\n</html>\n"
    )


def _spec_link(source: str, anchor: str) -> str:
    """The clause's file:line, linked to its heading relative to where reports are kept
    (reports/MACHINE/report.html, two levels below the repository root)."""
    if not anchor:
        return f"<code>{esc(source)}</code>" if source else ""
    return f"<a class='spec' href='{esc(SPEC_ROOT + anchor)}'><code>{esc(source)}</code></a>"


def esc(value: Any) -> str:
    """Any value as escaped HTML text (quotes too, so it is safe in attributes)."""
    return html.escape(value if isinstance(value, str) else format_number(value), quote=True)


def status_cell(status: str | None) -> str:
    if status is None:
        return "<td class='muted'>—</td>"
    css = _STATUS_CLASSES.get(status, "s-other")
    return f"<td class='{css}'>{esc(symbol(status))} {esc(status)}</td>"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A table from escaped header texts and ready-made cells ('<td>...</td>')."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join(f"<tr>{''.join(row)}</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def td(text: Any, css: str = "") -> str:
    attribute = f" class='{css}'" if css else ""
    return f"<td{attribute}>{esc(text)}</td>"


def _legend() -> str:
    items = "".join(f"<tr>{status_cell(status)}<td>{esc(meaning)}</td></tr>" for status, meaning in LEGEND.items())
    items += f"<tr>{status_cell(Status.NOT_APPLICABLE)}<td>the adapter does not declare the family</td></tr>"
    return f"<details><summary>Legend</summary><table><tbody>{items}</tbody></table></details>"


def _wide(markup: str) -> str:
    """A table in a box that scrolls by itself, should a cell hold something that cannot wrap."""
    return f"<div class='wide'>{markup}</div>"


def _score_cell(score: Score | None) -> str:
    if score is None:
        return "<td class='muted'>—</td>"
    if not score.declared:
        return f"<td class='s-na' title='family not declared'>{esc(Status.NOT_APPLICABLE)}</td>"
    css = "s-fail" if score.problems else "s-pass" if score.passed == score.applicable else ""
    badges = "".join(
        f" <span class='count {_STATUS_CLASSES[s]}' title='{esc(s)}'>{score.counts[s]} {esc(symbol(s))}</span>"
        for s in Status.ALL
        if s != Status.PASS and score.counts[s]
    )
    head = f"<span class='score{' bad' if score.problems else ''}'>{esc(score.text())}</span>"
    return f"<td class='{css}'>{head}{badges}</td>"


def _adapter_headers(report: Report) -> list[str]:
    return [esc(name) for name in report.adapter_names]


def _summary(report: Report) -> str:
    rows = [
        [f"<td><b>{esc(row.family)}</b></td>" if row.family == "all" else td(row.family)]
        + [_score_cell(s) for s in row.scores]
        for row in report.scores
    ]
    descriptions = "".join(
        f"<li><b>{esc(a.name)}</b>: {esc(a.description)}</li>" for a in report.adapters if a.description
    )
    adapters = f"<ul>{descriptions}</ul>" if descriptions else ""
    return (
        "<h2 id='summary'>Summary: clauses passed / applicable</h2>"
        + _wide(table(["family", *_adapter_headers(report)], rows))
        + adapters
    )


def _load_errors(report: Report) -> str:
    found = report.load_errors()
    items = "".join(f"<li><b>{esc(a.name)}</b><pre>{esc(a.load_error)}</pre></li>" for a in found)
    items += "".join(
        f"<li><b>{esc(a.name)}</b> benchmarks: {esc(problem)}</li>"
        for a in report.adapters
        for problem in a.benchmark_errors
    )
    return f"<h2>Adapters that did not load or whose benchmarks failed</h2><ul>{items}</ul>" if items else ""


def _failures(report: Report) -> str:
    if not report.failures:
        return ""
    return f"<h2 id='failures'>Failures ({len(report.failures)})</h2>" + "".join(_failure(f) for f in report.failures)


def _failure(finding: Finding) -> str:
    clause = finding.clause
    css = _STATUS_CLASSES.get(clause.status, "s-other")
    heading = (
        f"<h3><span class='count {css}'>{esc(clause.status)}</span> "
        f"{esc(finding.adapter.name)} · <code>{esc(clause.id)}</code> {esc(clause.title)} "
        f"{_spec_link(clause_source(clause), clause_anchor(clause))}</h3>"
    )
    tests = failing_tests(clause)
    if not tests:
        return heading + "<p class='muted'>No failing test recorded.</p>"
    return heading + "".join(_failing_test(t, opened=True) for t in tests)


def _failing_test(test: TestResult, opened: bool = False) -> str:
    summary = evidence_summary(test.evidence)
    first_line = test.message.splitlines()[0] if test.message else ""
    parts = [f"<summary><code>{esc(test.nodeid)}</code> {esc(first_line)}</summary>"]
    if test.message.strip() != first_line.strip():  # a one-line message is in the summary already
        parts.append(f"<pre>{esc(test.message)}</pre>")
    if summary:
        parts.append(f"<p>Evidence: {esc(summary)}</p>")
    if test.evidence:
        parts.append(f"<pre>{esc(evidence_json(test.evidence))}</pre>")
    if test.reproduce:
        parts.append(f"<p>Reproduce: <code>{esc(test.reproduce)}</code></p>")
    return f"<details{' open' if opened else ''}>{''.join(parts)}</details>"


def _deviations(report: Report) -> str:
    if not report.deviations:
        return ""
    rows = []
    for finding in report.deviations:
        reason, link = deviation_reason(finding.clause)
        cid = finding.clause.id
        rows.append(
            [
                td(finding.adapter.name),
                f"<td>{_clause_link(cid, clause_source(finding.clause), clause_anchor(finding.clause))}</td>",
                td(reason),
                f"<td class='link'>{_short_link(link)}</td>" if link else "<td></td>",
            ]
        )
    headers = ["adapter", "clause", "reason", "link"]
    return f"<h2 id='deviations'>Deviates (documented) ({len(report.deviations)})</h2>{_wide(table(headers, rows))}"


def _short_link(link: str) -> str:
    """A link by its host and last path segment, the whole address in its href and title
    (a column of full GitHub URLs wraps every few characters)."""
    label = link_label(link)
    if not label:
        return f"<code>{esc(link)}</code>"
    return f"<a href='{esc(link)}' title='{esc(link)}'>{esc(label)}</a>"


def _stale(report: Report) -> str:
    if not report.stale:
        return ""
    items = "".join(f"<li>{esc(stale_message(f))}</li>" for f in report.stale)
    return f"<h2>Stale expectations ({len(report.stale)})</h2><ul>{items}</ul>"


def _gate(gate: GateResult | None) -> str:
    if gate is None:
        return ""
    if gate.regressions:
        items = "".join(f"<li class='regression'>{esc(line)}</li>" for line in gate.regressions)
        verdict = f"<p>Regressions ({len(gate.regressions)}):</p><ul>{items}</ul>"
    else:
        verdict = "<p>No regression against the baseline.</p>"
    if gate.not_compared:
        verdict += (
            f"<p class='muted'>Benchmarks not compared: {esc(gate.not_compared)}. Only runs from the same "
            "environment are compared; regenerate the baseline on this machine.</p>"
        )
    return f"<h2>Against the baseline</h2>{verdict}"


def _clause_link(clause_id: str, source: str, anchor: str) -> str:
    """The clause id, linked to its heading in the spec; the title attribute gives file:line."""
    if not anchor:
        return f"<code>{esc(clause_id)}</code>"
    return f"<a class='spec' href='{esc(SPEC_ROOT + anchor)}' title='{esc(source)}'><code>{esc(clause_id)}</code></a>"


def _grid_cell(cell: GridCell) -> str:
    """A glyph and a colour; a failing or deviating cell opens to what decided it."""
    if cell.status is None:
        return "<td class='muted'>—</td>"
    css = _STATUS_CLASSES.get(cell.status, "s-other")
    label = f"{esc(symbol(cell.status))} {esc(cell.status)}"
    if not cell.opens:
        return f"<td class='{css}'>{label}</td>"
    parts = []
    if cell.reason:
        parts.append(f"<p>Documented: {esc(cell.reason)}</p>")
    if cell.ratio is not None:
        parts.append(f"<p>Headroom: largest error/tolerance {esc(format_ratio(cell.ratio))}</p>")
    parts += [_failing_test(test, opened=True) for test in cell.tests]
    return f"<td class='{css} cell'><details><summary>{label}</summary>{''.join(parts)}</details></td>"


def _clause_grids(report: Report) -> str:
    parts = []
    for grid in report.grids:
        columns = grid.columns()
        rows = [
            [
                f"<td class='clause'>{_clause_link(row.id, row.source, row.anchor)} {esc(row.title)}"
                f" <span class='muted'>{esc(row.source)}</span></td>"
            ]
            + [_grid_cell(row.cells[i]) for i in columns]
            for row in grid.rows
        ]
        headers = ["clause", *(_adapter_headers(report)[i] for i in columns)]
        parts.append(f"<h3 id='family-{esc(grid.family)}'>{esc(grid.family)}</h3>")
        parts.append(_wide(f"<table class='grid'>{table(headers, rows)[7:]}"))
        others = [report.adapter_names[i] for i in range(len(report.adapters)) if i not in columns]
        if others:
            parts.append(f"<p class='muted'>n/a (family not declared): {esc(', '.join(others))}</p>")
    if not parts:
        return ""
    note = "<p class='muted'>A failing or deviating cell opens to its message, evidence, headroom, reproduce line.</p>"
    return "<h2 id='clauses'>Clauses</h2>" + note + "".join(parts)


_BENCHMARK_HEADERS = [
    "adapter",
    "params",
    "median",
    "IQR",
    "calls/sample",
    "rate",
    "% of ceiling",
    "correct",
    "flags",
    "note",
]


def _benchmarks(report: Report) -> str:
    if not report.charts:
        return ""
    ceilings = report.run.ceilings if report.run is not None else {}
    parts = ["<h2 id='benchmarks'>Benchmarks</h2>"]
    if report.load_average:
        parts.append(f"<p>{esc(report.load_average)}</p>")
    if report.ceilings:
        rows = [[td(name), td(value, "num"), td(params)] for name, value, params in report.ceilings]
        parts.append(f"<p>Ceilings measured at the start of the run:</p>{table(['ceiling', 'value', 'params'], rows)}")
    parts.append(_plots(plots.operation_plots, report))
    tables = []
    for chart in report.charts:
        tables.append(f"<h3>{esc(chart.family)} · {esc(chart.operation)}</h3>")
        if chart.common:
            tables.append(f"<p>Every row: {esc(compact_params(chart.common))}</p>")
        tables.append(_wide(table(_BENCHMARK_HEADERS, [_benchmark_cells(ceilings, row) for row in chart.rows])))
    parts.append(f"<details><summary>Benchmark tables</summary>{''.join(tables)}</details>")
    parts.append(_generation(report))
    return "".join(parts)


def _generation(report: Report) -> str:
    """The generation benchmarks' serving metrics: tables and their plots ("" for a run without them)."""
    if not report.generation:
        return ""
    parts = ["<h3 id='generation'>Generation: TTFT, TPOT, throughput and memory</h3>"]
    for found_table in report.generation:
        parts.append(f"<h4>{esc(found_table.title)}</h4>")
        parts.append(
            _wide(
                table(
                    [esc(h) for h in found_table.headers],
                    [_generation_cells(found_table.headers, r) for r in found_table.rows],
                )
            )
        )
    parts.append(_plots(lambda r: plots.generation_plots(r.run) if r.run is not None else [], report))
    return "".join(parts)


def _generation_cells(headers: list[str], row: list[str]) -> list[str]:
    """A generation table's row: numbers right-aligned, the adapter and the check marks not."""
    return [
        td(cell, "num" if i > 0 and headers[i] not in ("ok", "equal", "decode step") else "")
        for i, cell in enumerate(row)
    ]


def _benchmark_cells(ceilings: dict[str, dict[str, Any]], row: BenchmarkRow) -> list[str]:
    bench = row.bench
    return [
        td(row.adapter),
        td(params_text(row.params)),
        td(format_seconds(bench.median_s), "num"),
        td(format_seconds(bench.iqr_s), "num"),
        td(bench.calls_per_sample, "num"),
        td(rate_text(bench, ceilings), "num"),
        td(format_fraction(bench.ceiling_fraction), "num"),
        td(correct_mark(bench.correct)),
        td(flags_text(bench.flags)),
        td(bench.note),
    ]


def _speedups(report: Report) -> str:
    speedups = report.speedups
    if len(speedups.adapters) < 2:
        return ""
    parts = [
        f"<h2 id='speedups'>Speedups over {esc(speedups.baseline)}</h2>",
        f"<p>Each cell: median (interquartile range) and speedup = {esc(speedups.baseline)} median / median.</p>",
        _plots(plots.speedup_plots, report),
    ]
    tables = []
    for family, common, rows in speedup_groups(speedups):
        tables.append(f"<h3>{esc(family)} speedups</h3>")
        if common:
            tables.append(f"<p>Every row: {esc(compact_params(common))}</p>")
        used = adapters_with_cells(rows, len(speedups.adapters))  # no column of dashes for the others
        headers = ["name", "device", "params", *(esc(speedups.adapters[i]) for i in used)]
        cells = [
            [
                td(row.name),
                td(where(row.device, row.mode)),
                td(params_text(params)),
                *(td(speedup_cell_text(row.cells[i]), "num") for i in used),
            ]
            for row, params in rows
        ]
        tables.append(_wide(table(headers, cells)))
    parts.append(f"<details><summary>Speedup tables</summary>{''.join(tables)}</details>")
    return "".join(parts)


def _scaling(report: Report) -> str:
    found = report.scaling
    if not found:
        return ""
    rows = [[td(cell, "num" if i >= 4 else "") for i, cell in enumerate(scaling_cells(s))] for s in found]
    plotted = _plots(lambda r: plots.scaling_plots(r.run) if r.run is not None else [], report)
    return f"<h2 id='scaling'>Scaling</h2>{_wide(table(list(SCALING_HEADERS), rows))}{plotted}"


def _plots(make: Callable[[Report], list[plots.Plot]], report: Report) -> str:
    """The figures `make` draws for the report, or a note where matplotlib is missing."""
    if not plots.matplotlib_available():
        return f"<p class='muted'>{esc(plots.MATPLOTLIB_MISSING)}</p>"
    # The title (with the chart's shared parameters) is drawn once, as text in the SVG; the
    # figure carries it as its accessible name rather than a caption repeating it underneath.
    return "".join(
        f"<figure class='plot{' half' if plot.half else ''}' aria-label='{esc(plot.title)}'>{plot.svg}</figure>"
        for plot in make(report)
    )


def _headroom(report: Report) -> str:
    rows = [
        [td(row.id), td(row.title), *(td(format_ratio(r) if r is not None else "—") for r in row.ratios)]
        for row in report.headroom
    ]
    if not rows:
        return ""
    caption = f"<p class='muted'>{esc(HEADROOM_NOTE)}</p>"
    return "<h2>Numerical headroom</h2>" + caption + _wide(table(["clause", "title", *_adapter_headers(report)], rows))


def _slowest(report: Report) -> str:
    if not report.slowest:
        return ""
    rows = [[td(w.adapter), td(w.family), td(format_seconds(w.seconds), "num")] for w in report.slowest]
    return (
        f"<h2 id='slowest'>Slowest (adapter, family) wall times</h2>{table(['adapter', 'family', 'wall time'], rows)}"
    )


def _environment(environment: dict[str, Any]) -> str:
    rows = [[td(key), td(value)] for key, value in environment.items()]
    return f"<h2 id='environment'>Environment</h2>{_wide(table(['key', 'value'], rows))}"


def _agreement(report: Report) -> str:
    found = report.agreement
    if not found:
        return ""
    headers = ["vocabulary", "adapter", "clause", "strings", "agreeing", "first difference", "explained by"]
    rows = [
        [
            td(a.vocabulary),
            td(a.adapter),
            td(a.clause),
            td(str(a.strings), "num"),
            td(f"{a.percent:.2f}%", "num"),
            td(a.first_difference[:300] or "—"),
            td(a.explained_by or "—"),
        ]
        for a in found
    ]
    return f"<h2>Agreement on real vocabularies</h2>{_wide(table(headers, rows))}"
