"""The run as one self-contained HTML page: inline CSS and SVG, no scripts, no network.

The page holds the environment, the verdict against a baseline (when given), a legend, the
family x adapter summary, adapters that did not load, failures (each failing test in a
<details> with its message, full evidence and reproduce line), documented deviations, stale
expectations, benchmarks (ceilings, one table per family, plots), the speedups between
adapters, the scaling fits with their plots, and one clause x adapter matrix per family.
It leaves out raw benchmark samples (results.json keeps them).

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
    clause_rows,
    clause_source,
    compact_params,
    deviation_reason,
    deviations,
    environment_line,
    evidence_json,
    evidence_summary,
    failing_tests,
    failures,
    family_counts,
    format_number,
    format_ratio,
    format_seconds,
    headroom_rows,
    load_errors,
    run_line,
    stale_expectations,
    stale_message,
    symbol,
)
from specformer.conformance.report.measurements import (
    BenchmarkRow,
    agreements,
    benchmark_groups,
    benchmark_speedups,
    ceiling_rows,
    correct_mark,
    flags_text,
    format_band,
    format_exponent,
    format_fraction,
    generation_tables,
    load_average_text,
    params_text,
    rate_text,
    scaling_series,
    speedup_cell_text,
    speedup_groups,
    used_text,
)
from specformer.conformance.results import NOT_APPLICABLE, STATUSES, RunResult, TestResult

if TYPE_CHECKING:  # compare.py is not imported at run time: it needs no HTML, and vice versa
    from specformer.conformance.report.compare import GateResult

# Clause links are relative to the report's place in the repository: reports/MACHINE/report.html.
SPEC_ROOT = "../../"

# Status -> CSS class; anything else (a status this version does not know) is "s-other".
_STATUS_CLASSES = {status: f"s-{status}" for status in STATUSES} | {NOT_APPLICABLE: "s-na"}

_CSS = """
body { font: 14px/1.45 system-ui, sans-serif; color: #1f2328; margin: 2rem auto;
       max-width: 78rem; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.25rem; margin-top: 2rem;
     border-bottom: 1px solid #d0d7de; } h3 { font-size: 1.05rem; }
table { border-collapse: collapse; margin: .5rem 0; }
th, td { border: 1px solid #d0d7de; padding: .25rem .6rem; text-align: left;
         vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code, pre { font-family: ui-monospace, monospace; font-size: 12.5px; }
pre { background: #f6f8fa; padding: .5rem; overflow-x: auto; white-space: pre-wrap; }
.muted { color: #656d76; }
.count { display: inline-block; min-width: 2.6rem; padding: 0 .3rem; margin: 1px;
         border-radius: 3px; text-align: center; }
.zero { opacity: .35; }
.s-pass { background: #dafbe1; color: #116329; }
.s-fail { background: #ffebe9; color: #a40e26; }
.s-deviates { background: #fff8c5; color: #7d4e00; }
.s-unsupported, .s-na, .s-other { background: #eaeef2; color: #57606a; }
.s-error { background: #fbefff; color: #6e40c9; }
details { margin: .4rem 0 .8rem 1rem; } summary { cursor: pointer; }
figure.plot { margin: 1rem 0; } figure.plot svg { max-width: 100%; height: auto; }
figcaption { color: #656d76; }
.regression { color: #a40e26; }
"""


def render_html(run: RunResult, gate: GateResult | None = None) -> str:
    """The HTML report of `run`, as one page, with the verdict against a baseline when `gate` is given."""
    body = [
        f"<h1>{esc(REPORT_TITLE)}</h1>",
        f"<p class='muted'>{esc(environment_line(run.environment))}<br>{esc(run_line(run))}</p>",
        _gate(gate),
        _legend(),
        _summary(run),
        _load_errors(run),
        _failures(run),
        _deviations(run),
        _stale(run),
        _benchmarks(run),
        _speedups(run),
        _scaling(run),
        _agreement(run),
        _headroom(run),
        _clause_matrices(run),
        _environment(run.environment),
    ]
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
    return f"<h2>Legend</h2><table><tbody>{items}</tbody></table>"


def _counts_cell(counts: dict[str, int] | None) -> str:
    if counts is None:
        return "<td class='muted'>—</td>"
    badges = "".join(
        f"<span class='count {_STATUS_CLASSES[s]}{'' if counts[s] else ' zero'}' "
        f"title='{esc(s)}'>{counts[s]} {esc(symbol(s))}</span>"
        for s in STATUSES
    )
    return f"<td>{badges}</td>"


def _adapter_headers(run: RunResult) -> list[str]:
    return [esc(a.name) for a in run.adapters]


def _summary(run: RunResult) -> str:
    rows = [[td(family), *(_counts_cell(c) for c in family_counts(run, family))] for family in run.families()]
    if len(rows) > 1:
        rows.append(["<td><b>all</b></td>", *(_counts_cell(c) for c in family_counts(run, None))])
    descriptions = "".join(
        f"<li><b>{esc(a.name)}</b>: {esc(a.description)}</li>" for a in run.adapters if a.description
    )
    adapters = f"<ul>{descriptions}</ul>" if descriptions else ""
    return f"<h2>Summary</h2>{table(['family', *_adapter_headers(run)], rows)}{adapters}"


def _load_errors(run: RunResult) -> str:
    found = load_errors(run)
    if not found:
        return ""
    items = "".join(f"<li><b>{esc(a.name)}</b><pre>{esc(a.load_error)}</pre></li>" for a in found)
    return f"<h2>Adapters that did not load</h2><ul>{items}</ul>"


def _failures(run: RunResult) -> str:
    found = failures(run)
    if not found:
        return ""
    return f"<h2>Failures ({len(found)})</h2>" + "".join(_failure(f) for f in found)


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
    return heading + "".join(_failing_test(t) for t in tests)


def _failing_test(test: TestResult) -> str:
    summary = evidence_summary(test.evidence)
    first_line = test.message.splitlines()[0] if test.message else ""
    parts = [f"<summary><code>{esc(test.nodeid)}</code> {esc(first_line)}</summary>"]
    if test.message:
        parts.append(f"<pre>{esc(test.message)}</pre>")
    if summary:
        parts.append(f"<p>Evidence: {esc(summary)}</p>")
    if test.evidence:
        parts.append(f"<pre>{esc(evidence_json(test.evidence))}</pre>")
    if test.reproduce:
        parts.append(f"<p>Reproduce: <code>{esc(test.reproduce)}</code></p>")
    return f"<details open>{''.join(parts)}</details>"


def _deviations(run: RunResult) -> str:
    found = deviations(run)
    if not found:
        return ""
    rows = []
    for finding in found:
        reason, link = deviation_reason(finding.clause)
        rows.append(
            [
                td(finding.adapter.name),
                td(finding.clause.id),
                td(reason),
                f"<td><code>{esc(link)}</code></td>" if link else "<td></td>",
            ]
        )
    headers = ["adapter", "clause", "reason", "link"]
    return f"<h2>Deviates (documented) ({len(found)})</h2>{table(headers, rows)}"


def _stale(run: RunResult) -> str:
    found = stale_expectations(run)
    if not found:
        return ""
    items = "".join(f"<li>{esc(stale_message(f))}</li>" for f in found)
    return f"<h2>Stale expectations ({len(found)})</h2><ul>{items}</ul>"


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


_BENCHMARK_HEADERS = [
    "adapter",
    "name",
    "device",
    "mode",
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


def _benchmarks(run: RunResult) -> str:
    groups = benchmark_groups(run)
    if not groups:
        return ""
    parts = ["<h2>Benchmarks</h2>"]
    if load_average_text(run):
        parts.append(f"<p>{esc(load_average_text(run))}</p>")
    if run.ceilings:
        rows = [[td(name), td(value, "num"), td(params)] for name, value, params in ceiling_rows(run)]
        parts.append(f"<p>Ceilings measured at the start of the run:</p>{table(['ceiling', 'value', 'params'], rows)}")
    for group in groups:
        parts.append(f"<h3>{esc(group.family)} benchmarks</h3>")
        if group.common:
            parts.append(f"<p>Every row: {esc(compact_params(group.common))}</p>")
        parts.append(table(_BENCHMARK_HEADERS, [_benchmark_cells(run, row) for row in group.rows]))
    parts.append(_plots(plots.benchmark_plots, run))
    parts.append(_generation(run))
    return "".join(parts)


def _generation(run: RunResult) -> str:
    """The generation benchmarks' serving metrics: tables and their plots ("" for a run without them)."""
    found = generation_tables(run)
    if not found:
        return ""
    parts = ["<h3>Generation: TTFT, TPOT, throughput and memory</h3>"]
    for found_table in found:
        parts.append(f"<h4>{esc(found_table.title)}</h4>")
        parts.append(table([esc(h) for h in found_table.headers], [[td(c) for c in r] for r in found_table.rows]))
    parts.append(_plots(plots.generation_plots, run))
    return "".join(parts)


def _benchmark_cells(run: RunResult, row: BenchmarkRow) -> list[str]:
    bench = row.bench
    return [
        td(row.adapter),
        td(bench.name),
        td(bench.device),
        td(bench.mode),
        td(params_text(row.params)),
        td(format_seconds(bench.median_s), "num"),
        td(format_seconds(bench.iqr_s), "num"),
        td(bench.calls_per_sample, "num"),
        td(rate_text(bench, run.ceilings), "num"),
        td(format_fraction(bench.ceiling_fraction), "num"),
        td(correct_mark(bench.correct)),
        td(flags_text(bench.flags)),
        td(bench.note),
    ]


def _speedups(run: RunResult) -> str:
    speedups = benchmark_speedups(run)
    if len(speedups.adapters) < 2:
        return ""
    parts = [
        f"<h2>Speedups over {esc(speedups.baseline)}</h2>",
        f"<p>Each cell: median (interquartile range) and speedup = {esc(speedups.baseline)} median / median.</p>",
    ]
    headers = ["name", "device", "mode", "params", *(esc(a) for a in speedups.adapters)]
    for family, common, rows in speedup_groups(speedups):
        parts.append(f"<h3>{esc(family)} speedups</h3>")
        if common:
            parts.append(f"<p>Every row: {esc(compact_params(common))}</p>")
        cells = [
            [
                td(row.name),
                td(row.device),
                td(row.mode),
                td(params_text(params)),
                *(td(speedup_cell_text(cell), "num") for cell in row.cells),
            ]
            for row, params in rows
        ]
        parts.append(table(headers, cells))
    return "".join(parts)


def _scaling(run: RunResult) -> str:
    found = scaling_series(run)
    if not found:
        return ""
    headers = [
        "operation",
        "quantity",
        "adapter",
        "clause",
        "exponent [CI]",
        "expected",
        "accepted",
        "r²",
        "sizes used",
    ]
    rows = [
        [
            td(s.operation),
            td(s.quantity),
            td(s.adapter),
            td(s.clause),
            td(format_exponent(s), "num"),
            td("—" if s.expected is None else f"{s.expected:g}", "num"),
            td(format_band(s.band), "num"),
            td("—" if s.r_squared is None else f"{s.r_squared:.3f}", "num"),
            td(used_text(s), "num"),
        ]
        for s in found
    ]
    return f"<h2>Scaling</h2>{table(headers, rows)}{_plots(plots.scaling_plots, run)}"


def _plots(make: Callable[[RunResult], list[plots.Plot]], run: RunResult) -> str:
    """The figures `make` draws for the run, or a note where matplotlib is missing."""
    if not plots.matplotlib_available():
        return f"<p class='muted'>{esc(plots.MATPLOTLIB_MISSING)}</p>"
    figures = "".join(
        f"<figure class='plot'>{plot.svg}<figcaption>{esc(plot.title)}</figcaption></figure>" for plot in make(run)
    )
    return f"<h3>Plots</h3>{figures}" if figures else ""


def _headroom(run: RunResult) -> str:
    rows = [
        [td(row.id), td(row.title), *(td(format_ratio(r) if r is not None else "—") for r in row.ratios)]
        for row in headroom_rows(run)
    ]
    if not rows:
        return ""
    caption = f"<p class='muted'>{esc(HEADROOM_NOTE)}</p>"
    return "<h2>Numerical headroom</h2>" + caption + table(["clause", "title", *_adapter_headers(run)], rows)


def _clause_matrices(run: RunResult) -> str:
    parts = []
    for family in run.families():
        rows = [
            [td(row.id), td(row.title), f"<td>{_spec_link(row.source, row.anchor)}</td>"]
            + [status_cell(s) for s in row.statuses]
            for row in clause_rows(run, family)
        ]
        parts.append(f"<h3>{esc(family)}</h3>")
        parts.append(table(["clause", "title", "spec", *_adapter_headers(run)], rows))
    return "<h2>Clauses</h2>" + "".join(parts) if parts else ""


def _environment(environment: dict[str, Any]) -> str:
    rows = [[td(key), td(value)] for key, value in environment.items()]
    return f"<h2>Environment</h2>{table(['key', 'value'], rows)}"


def _agreement(run: RunResult) -> str:
    found = agreements(run)
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
    return f"<h2>Agreement on real vocabularies</h2>{table(headers, rows)}"
