"""The run in a terminal, with rich: summary, failures to act on, deviations, benchmarks.

Shows what a developer needs after `specformer run`: a family x adapter count matrix,
adapters that did not load, each failing clause with its message, headline evidence and
a copy-pasteable reproduce line, documented deviations, stale expectations, and the
benchmark timings. It leaves out the per-clause matrix and the full evidence (the
Markdown and HTML reports have them).

Every string from the run is placed in a `rich.text.Text`, never in markup, so an
adapter name such as "[bold]" is shown as written.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table
from rich.text import Text

from specformer.conformance.report.common import (
    LEGEND,
    REPORT_TITLE,
    SYMBOLS,
    Finding,
    benchmarks,
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
)
from specformer.conformance.results import (
    DEVIATES,
    ERROR,
    FAIL,
    NOT_APPLICABLE,
    PASS,
    STATUSES,
    UNSUPPORTED,
    RunResult,
)

TESTS_SHOWN_PER_CLAUSE = 2

STATUS_STYLES = {
    PASS: "green",
    FAIL: "red",
    DEVIATES: "yellow",
    UNSUPPORTED: "bright_black",
    ERROR: "magenta",
    NOT_APPLICABLE: "bright_black",
}


def render_terminal(run: RunResult, console: Console | None = None) -> None:
    """Print the report of `run` to `console` (a new stdout console when None)."""
    console = console or Console()
    console.print(Text(REPORT_TITLE, style="bold"))
    console.print(Text(environment_line(run.environment), style="dim"))
    console.print(Text(run_line(run), style="dim"))
    console.print(summary_table(run))
    console.print(legend_text())
    _print_load_errors(console, run)
    _print_failures(console, run)
    _print_deviations(console, run)
    _print_stale(console, run)
    _print_benchmarks(console, run)


def status_text(status: str | None, label: str | None = None) -> Text:
    """A status (or another label) in its status colour."""
    return Text(label if label is not None else str(status), style=STATUS_STYLES.get(status or ""))


def counts_text(counts: dict[str, int] | None) -> Text:
    """'30 ✓ 1 ✗ 0 ~ ...' with each count in its status colour and zeros dimmed."""
    if counts is None:
        return Text("—", style="dim")
    text = Text()
    for status in STATUSES:
        style = STATUS_STYLES[status] if counts[status] else "dim"
        text.append(f"{counts[status]} {SYMBOLS[status]}", style=style)
        text.append(" ")
    text.rstrip()
    return text


def legend_text() -> Text:
    text = Text("legend: ", style="dim")
    for status in LEGEND:
        text.append_text(status_text(status, f"{SYMBOLS[status]} {status}"))
        text.append("  ")
    text.rstrip()
    return text


def summary_table(run: RunResult) -> Table:
    table = Table(title="clauses per family and adapter", title_justify="left")
    table.add_column("family", no_wrap=True)
    for adapter in run.adapters:
        table.add_column(Text(adapter.name), no_wrap=True)
    for family in run.families():
        table.add_row(Text(family), *(counts_text(c) for c in family_counts(run, family)))
    if len(run.families()) > 1:
        table.add_section()
        table.add_row("all", *(counts_text(c) for c in family_counts(run, None)))
    return table


def _print_load_errors(console: Console, run: RunResult) -> None:
    for adapter in load_errors(run):
        line = Text.assemble(("load error ", "bold red"), (adapter.name, "bold"), ": ")
        line.append(adapter.load_error or "")
        console.print(line)


def _print_failures(console: Console, run: RunResult) -> None:
    found = failures(run)
    if not found:
        return
    console.print(Text(f"\nfailures ({len(found)})", style="bold red"))
    for finding in found:
        _print_failure(console, finding)


def _print_failure(console: Console, finding: Finding) -> None:
    clause = finding.clause
    console.print(
        Text.assemble(
            status_text(clause.status, clause.status.upper()),
            " ",
            (finding.adapter.name, "bold"),
            " ",
            (clause.id, "bold"),
            " ",
            clause.title,
        )
    )
    tests = failing_tests(clause)
    if not tests:
        console.print(Text("    (no failing test recorded)", style="dim"))
    # The terminal shows the first two failing tests of a clause; the reports have them all.
    for test in tests[:TESTS_SHOWN_PER_CLAUSE]:
        console.print(Text(f"    {test.nodeid}", style="dim"))
        if test.message:
            console.print(Text.assemble("    ", test.message))
        summary = evidence_summary(test.evidence)
        if summary:
            console.print(Text.assemble(("    evidence: ", "dim"), summary))
        if test.reproduce:
            # soft_wrap: a reproduce line must stay one line to be copied and pasted.
            console.print(Text.assemble(("    reproduce: ", "dim"), test.reproduce), soft_wrap=True)
    if len(tests) > TESTS_SHOWN_PER_CLAUSE:
        hidden = len(tests) - TESTS_SHOWN_PER_CLAUSE
        console.print(Text(f"    (+{hidden} more failing tests: see report.md or report.html)", style="dim"))


def _print_deviations(console: Console, run: RunResult) -> None:
    found = deviations(run)
    if not found:
        return
    console.print(Text(f"\ndeviates (documented) ({len(found)})", style="bold yellow"))
    for finding in found:
        reason, _link = deviation_reason(finding.clause)
        console.print(
            Text.assemble(
                "  ",
                (finding.adapter.name, "bold"),
                " ",
                finding.clause.id,
                ": ",
                reason or "(no reason recorded)",
            )
        )


def _print_stale(console: Console, run: RunResult) -> None:
    found = stale_expectations(run)
    if not found:
        return
    console.print(Text(f"\nstale expectations ({len(found)})", style="bold yellow"))
    for finding in found:
        console.print(Text(f"  {stale_message(finding)}"))


def _print_benchmarks(console: Console, run: RunResult) -> None:
    rows = benchmarks(run)
    if not rows:
        return
    console.print()
    table = Table(title="benchmarks", title_justify="left")
    for header in ("adapter", "name", "device", "params"):
        table.add_column(header)
    for header in ("median", "IQR", "calls/sample"):
        table.add_column(header, justify="right")
    for adapter, bench in rows:
        table.add_row(
            Text(adapter.name),
            Text(bench.name),
            Text(bench.device),
            Text(compact_params(bench.params)),
            format_seconds(bench.median_s),
            format_seconds(bench.iqr_s),
            str(bench.calls_per_sample),
        )
    console.print(table)
