"""The run in a terminal, with rich: summary, failures to act on, deviations, benchmarks.

Shows what a developer needs after `specformer run`: a family x adapter count matrix,
adapters that did not load, each failing clause with its message, headline evidence and
a copy-pasteable reproduce line, documented deviations, stale expectations, the ceilings
measured, one benchmark table per family (parameters every row shares go in the title, and
columns no row fills are left out, so a table fits 120 columns), and, when two or more
adapters have benchmarks, their speedups. It leaves out the per-clause matrix, the full
evidence, calls per sample, scaling fits and plots (the Markdown and HTML reports have them).

Every string from the run is placed in a `rich.text.Text`, never in markup, so an
adapter name such as "[bold]" is shown as written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from specformer.conformance.report.common import (
    LEGEND,
    REPORT_TITLE,
    SYMBOLS,
    Finding,
    clause_source,
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
from specformer.conformance.report.measurements import (
    BenchmarkGroup,
    BenchmarkRow,
    SpeedupCell,
    Speedups,
    benchmark_groups,
    benchmark_speedups,
    ceiling_rows,
    correct_mark,
    flags_text,
    format_fraction,
    format_speedup,
    load_average_text,
    params_text,
    rate_text,
    short_name,
    speedup_groups,
    where,
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
            (f"  {clause_source(clause)}", "dim"),
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
                (f"  {clause_source(finding.clause)}", "dim"),
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
    groups = benchmark_groups(run)
    if not groups:
        return
    if load_average_text(run):
        console.print()
        console.print(Text(load_average_text(run), style="dim"))
    if run.ceilings:
        console.print()
        console.print(Text("ceilings measured at the start of the run", style="bold"))
        console.print(_ceilings_table(run))
    for group in groups:
        console.print()
        console.print(_group_heading("benchmarks", group.family, group.common))
        console.print(_benchmark_table(run, group))
    speedups = benchmark_speedups(run)
    if len(speedups.adapters) >= 2:
        console.print()
        render_speedups_terminal(speedups, console)


def _ceilings_table(run: RunResult) -> Table:
    table = _compact_table()
    for header in ("ceiling", "value", "params"):
        table.add_column(header)
    for name, value, params in ceiling_rows(run):
        table.add_row(Text(name), value, Text(params))
    return table


def _compact_table() -> Table:
    # Horizontal rules only: vertical borders cost three columns each at 120 characters.
    return Table(box=box.SIMPLE_HEAD, pad_edge=False)


def _group_heading(kind: str, family: str, common: dict[str, Any]) -> Text:
    # Printed above the table, not as its title: a title wraps at the table's width.
    heading = Text(f"{kind} · {family}", style="bold")
    if common:
        heading.append(f" · every row: {compact_params(common)}", style="dim")
    return heading


# Columns shown only when some row fills them: (header, cell text, the empty cell).
_OPTIONAL_COLUMNS: tuple[tuple[str, Callable[[RunResult, BenchmarkRow], str], str], ...] = (
    ("rate", lambda run, row: rate_text(row.bench, run.ceilings), "—"),
    ("% ceiling", lambda run, row: format_fraction(row.bench.ceiling_fraction), "—"),
    ("ok", lambda run, row: correct_mark(row.bench.correct), "—"),
    ("flags", lambda run, row: flags_text(row.bench.flags), ""),
)


def _benchmark_table(run: RunResult, group: BenchmarkGroup) -> Table:
    table = _compact_table()
    show_params = any(row.params for row in group.rows)
    optional = [c for c in _OPTIONAL_COLUMNS if any(c[1](run, row) != c[2] for row in group.rows)]
    for header in ("adapter", "name", "device", "params") if show_params else ("adapter", "name", "device"):
        table.add_column(header)
    for header in ("median", "IQR"):
        table.add_column(header, justify="right", no_wrap=True)
    for header, _, _ in optional:
        table.add_column(header, justify="right" if header in ("rate", "% ceiling") else "left")
    for row in group.rows:
        bench = row.bench
        cells = [Text(row.adapter), Text(short_name(bench.name, group.family)), Text(where(bench.device, bench.mode))]
        cells += [Text(params_text(row.params))] if show_params else []
        cells += [format_seconds(bench.median_s), format_seconds(bench.iqr_s)]
        table.add_row(*cells, *(Text(cell(run, row)) for _, cell, _ in optional))
    return table


def render_speedups_terminal(speedups: Speedups, console: Console | None = None) -> None:
    """Print one table per family: each adapter's median, IQR as a share of it, and speedup."""
    console = console or Console()
    console.print(
        Text.assemble(
            (f"speedup over {speedups.baseline}", "bold"),
            (f" · cells: median, IQR as % of the median, {speedups.baseline} median / median", "dim"),
        )
    )
    for family, common, rows in speedup_groups(speedups):
        console.print(_group_heading("speedups", family, common))
        show_params = any(params for _, params in rows)
        table = _compact_table()
        for header in ("name", "device", "params") if show_params else ("name", "device"):
            table.add_column(header)
        for adapter in speedups.adapters:
            table.add_column(Text(adapter), justify="right", no_wrap=True)
        for row, params in rows:
            shown = [Text(short_name(row.name, family)), Text(where(row.device, row.mode))]
            shown += [Text(params_text(params))] if show_params else []
            table.add_row(*shown, *(_speedup_cell_text(cell) for cell in row.cells))
        console.print(table)


def _speedup_cell_text(cell: SpeedupCell | None) -> Text:
    """'1.65 ms 16% 7.27×': median, IQR relative to it, and speedup coloured by direction."""
    if cell is None:
        return Text("—", style="dim")
    spread = f" {cell.iqr_s / cell.median_s:.0%}" if cell.median_s > 0 else ""
    text = Text(f"{format_seconds(cell.median_s)}{spread} ")
    speedup = cell.speedup
    style = "" if speedup is None else "green" if speedup > 1.05 else "red" if speedup < 0.95 else ""
    text.append(format_speedup(speedup), style=style)
    return text
