"""The run as GitHub-flavoured Markdown, sized for a pull-request comment.

Sections, in order: environment, summary (family x adapter counts), adapters that did not
load, failures with their reproduce lines, documented deviations, stale expectations,
benchmarks, and one clause x adapter table per family. It leaves out the full evidence and
raw benchmark samples (results.json and the HTML report keep them).

Strings from the run are escaped for where they land: `md_text` for prose and table cells
(Markdown punctuation, HTML, pipes, newlines), `md_code` for code spans. The Markdown helpers
here are also used by the comparison view.
"""

from __future__ import annotations

import re

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
    evidence_summary,
    failing_tests,
    failures,
    family_counts,
    format_seconds,
    load_errors,
    run_line,
    stale_expectations,
    stale_message,
    status_counts_text,
    symbol,
)
from specformer.conformance.results import RunResult

# Characters that Markdown (or a GFM table) would otherwise interpret.
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]|~])")
_PLAIN_URL = re.compile(r"^https?://[^\s<>|`]+$")
# Longer messages are cut in a PR comment; the HTML report and results.json keep all of it.
MESSAGE_LIMIT = 2000


def render_markdown(run: RunResult) -> str:
    """The Markdown report of `run`."""
    sections = [
        [f"# {REPORT_TITLE}", "", md_text(environment_line(run.environment)) + "  ", md_text(run_line(run))],
        _summary(run),
        _load_errors(run),
        _failures(run),
        _deviations(run),
        _stale(run),
        _benchmarks(run),
        _clause_tables(run),
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


def _table_line(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _truncate(text: str) -> str:
    if len(text) <= MESSAGE_LIMIT:
        return text
    return text[:MESSAGE_LIMIT] + "\n… (truncated; results.json has the full message)"


def _adapter_headers(run: RunResult) -> list[str]:
    return [md_code(a.name, in_table=True) for a in run.adapters]


def _summary(run: RunResult) -> list[str]:
    rows = [[md_text(family), *(_counts_cell(c) for c in family_counts(run, family))] for family in run.families()]
    if len(rows) > 1:
        rows.append(["**all**", *(_counts_cell(c) for c in family_counts(run, None))])
    legend = ", ".join(f"{symbol(s)} {s}" for s in LEGEND)
    return ["## Summary", "", *md_table(["family", *_adapter_headers(run)], rows), "", f"Legend: {legend}."]


def _counts_cell(counts: dict[str, int] | None) -> str:
    return "—" if counts is None else status_counts_text(counts)


def _load_errors(run: RunResult) -> list[str]:
    found = load_errors(run)
    if not found:
        return []
    lines = ["## Adapters that did not load"]
    for adapter in found:
        lines += ["", f"{md_code(adapter.name)}:", "", *md_fence(_truncate(adapter.load_error or ""))]
    return lines


def _failures(run: RunResult) -> list[str]:
    found = failures(run)
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


def _deviations(run: RunResult) -> list[str]:
    found = deviations(run)
    if not found:
        return []
    rows = []
    for finding in found:
        reason, link = deviation_reason(finding.clause)
        rows.append(
            [
                md_code(finding.adapter.name, in_table=True),
                md_text(finding.clause.id),
                md_text(reason),
                md_link(link) if link else "",
            ]
        )
    return [
        f"## Deviates (documented) ({len(found)})",
        "",
        *md_table(["adapter", "clause", "reason", "link"], rows),
    ]


def _stale(run: RunResult) -> list[str]:
    found = stale_expectations(run)
    if not found:
        return []
    return [f"## Stale expectations ({len(found)})", "", *(f"- {md_text(stale_message(f))}" for f in found)]


def _benchmarks(run: RunResult) -> list[str]:
    found = benchmarks(run)
    if not found:
        return []
    rows = [
        [
            md_code(a.name, in_table=True),
            md_text(b.name),
            md_text(b.device),
            md_text(compact_params(b.params)),
            format_seconds(b.median_s),
            format_seconds(b.iqr_s),
            str(b.calls_per_sample),
        ]
        for a, b in found
    ]
    headers = ["adapter", "name", "device", "params", "median", "IQR", "calls/sample"]
    return ["## Benchmarks", "", *md_table(headers, rows)]


def _clause_tables(run: RunResult) -> list[str]:
    if not run.families():
        return []
    lines = ["## Clauses"]
    for family in run.families():
        rows = [
            [
                md_text(row.id),
                md_text(row.title),
                *(md_text(f"{symbol(s)} {s}") if s else "—" for s in row.statuses),
            ]
            for row in clause_rows(run, family)
        ]
        lines += [
            "",
            f"### {md_text(family)}",
            "",
            *md_table(["clause", "title", *_adapter_headers(run)], rows),
        ]
    return lines
