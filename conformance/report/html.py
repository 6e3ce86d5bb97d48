"""The run as one self-contained HTML page: inline CSS, no scripts, no network.

The page holds the environment, a legend, the family x adapter summary, adapters that did
not load, failures (each failing test in a <details> with its message, full evidence and
reproduce line), documented deviations, stale expectations, benchmarks, and one clause x
adapter matrix per family. It leaves out plots and raw benchmark samples (results.json keeps
the samples).

Every string that comes from the run goes through `esc` (html.escape), including status
strings, which also choose CSS classes only through a fixed table. Deviation links are shown
as text, not as hyperlinks, so the page refers to nothing outside itself.
"""

from __future__ import annotations

import html
from typing import Any

from specformer.conformance.report.common import (
    LEGEND,
    REPORT_TITLE,
    Finding,
    benchmarks,
    clause_rows,
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
    format_seconds,
    load_errors,
    run_line,
    stale_expectations,
    stale_message,
    symbol,
)
from specformer.conformance.results import NOT_APPLICABLE, STATUSES, RunResult, TestResult

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
"""


def render_html(run: RunResult) -> str:
    """The HTML report of `run`, as one page."""
    body = [
        f"<h1>{esc(REPORT_TITLE)}</h1>",
        f"<p class='muted'>{esc(environment_line(run.environment))}<br>{esc(run_line(run))}</p>",
        _legend(),
        _summary(run),
        _load_errors(run),
        _failures(run),
        _deviations(run),
        _stale(run),
        _benchmarks(run),
        _clause_matrices(run),
        _environment(run.environment),
    ]
    return (
        "<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
        f"<title>{esc(REPORT_TITLE)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body>\n</html>\n"
    )


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
        f"{esc(finding.adapter.name)} · <code>{esc(clause.id)}</code> {esc(clause.title)}</h3>"
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


def _benchmarks(run: RunResult) -> str:
    found = benchmarks(run)
    if not found:
        return ""
    rows = [
        [
            td(a.name),
            td(b.name),
            td(b.device),
            td(compact_params(b.params)),
            td(format_seconds(b.median_s), "num"),
            td(format_seconds(b.iqr_s), "num"),
            td(b.calls_per_sample, "num"),
            td(b.note),
        ]
        for a, b in found
    ]
    headers = ["adapter", "name", "device", "params", "median", "IQR", "calls/sample", "note"]
    return f"<h2>Benchmarks</h2>{table(headers, rows)}"


def _clause_matrices(run: RunResult) -> str:
    parts = []
    for family in run.families():
        rows = [
            [td(row.id), td(row.title), *(status_cell(s) for s in row.statuses)] for row in clause_rows(run, family)
        ]
        parts.append(f"<h3>{esc(family)}</h3>")
        parts.append(table(["clause", "title", *_adapter_headers(run)], rows))
    return "<h2>Clauses</h2>" + "".join(parts) if parts else ""


def _environment(environment: dict[str, Any]) -> str:
    rows = [[td(key), td(value)] for key, value in environment.items()]
    return f"<h2>Environment</h2>{table(['key', 'value'], rows)}"
