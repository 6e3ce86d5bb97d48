"""The run in a terminal, with rich: a thin writer of the report model (model.py).

Prints every section of the `Report`: the score per family and adapter (passed/applicable,
"n/a" for a family the adapter does not declare), adapters that did not load, each failing
clause with its message, headline evidence and a copy-pasteable reproduce line, documented
deviations, stale expectations, the clauses that do not pass everywhere (the Markdown and
HTML reports show every clause), agreement on real vocabularies, scaling fits, the slowest
(adapter, family) wall times, the ceilings, one benchmark table per operation with the
adapters side by side (the generation rows as the model's generation tables instead: TTFT and
TPOT per context, throughput per batch, cache memory against its formula, decode exponents),
and the speedups over the baseline adapter.

Two layouts. On a terminal, tables sized to the console (80 columns and up, tested at 80 and
120 on the committed reports/cpu run): the score table is split into several tables of
adapters when they do not fit, the speedups are one line per (benchmark, adapter) rather
than a column per adapter, and text columns fold instead of cutting a name. Without a
terminal (a CI log, a pipe), plain lines that grep well, one finding per line, each starting
with its kind ("score", "clause", "bench", "generation", "speedup", ...).

Every string from the run is placed in a `rich.text.Text`, never in markup, so an
adapter name such as "[bold]" is shown as written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich import box
from rich.console import Console
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from specformer.conformance.report.common import (
    LEGEND,
    SYMBOLS,
    Finding,
    clause_source,
    compact_params,
    deviation_reason,
    evidence_summary,
    failing_tests,
    format_seconds,
    shown_statuses,
    stale_message,
    symbol,
)
from specformer.conformance.report.measurements import (
    BenchmarkRow,
    SpeedupCell,
    Speedups,
    correct_mark,
    flags_text,
    format_band,
    format_exponent,
    format_fraction,
    format_speedup,
    params_text,
    rate_text,
    short_name,
    speedup_groups,
    used_text,
    where,
)
from specformer.conformance.report.model import Report, Score, as_report
from specformer.conformance.results import RunResult, Status

TESTS_SHOWN_PER_CLAUSE = 2
SCORE_TITLE = "score per family and adapter: clauses passed / applicable"

STATUS_STYLES = {
    Status.PASS: "green",
    Status.FAIL: "red",
    Status.DEVIATES: "yellow",
    Status.UNSUPPORTED: "bright_black",
    Status.ERROR: "magenta",
    Status.CUSTOM: "cyan",
    Status.NOT_APPLICABLE: "bright_black",
}


def render_terminal(run: RunResult | Report, console: Console | None = None, plain: bool | None = None) -> None:
    """Print the report of `run` (or of a built `Report`) to `console` (a new stdout console when None).

    `plain` chooses greppable lines over tables; by default, plain when the console is not a terminal.
    """
    report = as_report(run)
    console = console or Console()
    plain = (not console.is_terminal) if plain is None else plain
    # Plain lines are never wrapped: a CI log viewer wraps them, and grep finds them whole.
    soft_wrap, console.soft_wrap = console.soft_wrap, plain or console.soft_wrap
    try:
        _print_report(console, report, plain)
    finally:
        console.soft_wrap = soft_wrap


def _print_report(console: Console, report: Report, plain: bool) -> None:
    console.print(Text(report.title, style="bold"))
    console.print(Text(report.environment_line, style="dim"))
    console.print(Text(report.run_line, style="dim"))
    if plain:
        _print_plain_scores(console, report)
    else:
        console.print(Text(SCORE_TITLE, style="bold"))
        for table in score_tables(report, console.width):
            console.print(table)
    console.print(legend_text())
    _print_load_errors(console, report)
    _print_failures(console, report)
    _print_deviations(console, report, plain)
    _print_stale(console, report)
    _print_grid(console, report, plain)
    _print_agreement(console, report)
    _print_scaling(console, report)
    _print_slowest(console, report)
    _print_benchmarks(console, report, plain)


def status_text(status: str | None, label: str | None = None) -> Text:
    """A status (or another label) in its status colour."""
    return Text(label if label is not None else str(status), style=STATUS_STYLES.get(status or ""))


def score_text(score: Score | None) -> Text:
    """'30/32 94%' coloured by whether anything failed, then the non-pass counts ('1 ✗ 1 ?')."""
    if score is None:
        return Text("—", style="dim")
    if not score.declared:
        return Text(Status.NOT_APPLICABLE, style="dim")
    style = "bold red" if score.problems else "green" if score.passed == score.applicable else ""
    text = Text(score.text(), style=style)
    for status in Status.ALL:
        if status != Status.PASS and score.counts[status]:
            text.append(" ")
            text.append(f"{score.counts[status]} {SYMBOLS[status]}", style=STATUS_STYLES[status])
    return text


def legend_text() -> Text:
    text = Text("legend: ", style="dim")
    for status in LEGEND:
        text.append_text(status_text(status, f"{SYMBOLS[status]} {status}"))
        text.append("  ")
    text.append_text(status_text(Status.NOT_APPLICABLE, f"{Status.NOT_APPLICABLE} family not declared"))
    return text


def score_tables(report: Report, width: int) -> list[Table]:
    """The score table (families x adapters), split into several tables of adapters so each fits `width`."""
    rows = report.scores
    family_width = max([len("family"), *(len(row.family) for row in rows)])
    widths = [
        max([len(name), *(len(score_text(row.scores[i]).plain) for row in rows)])
        for i, name in enumerate(report.adapter_names)
    ]
    chunks: list[list[int]] = [[]]
    used = family_width + 4
    for index, cell_width in enumerate(widths):
        # Each column costs its text plus a border and a space either side.
        if chunks[-1] and used + cell_width + 3 > width:
            chunks.append([])
            used = family_width + 4
        chunks[-1].append(index)
        used += cell_width + 3
    tables = []
    for indices in chunks:
        table = Table(box=box.SQUARE)
        table.add_column("family", no_wrap=True)
        for index in indices:
            table.add_column(Text(report.adapter_names[index]), overflow="fold")
        for row in rows:
            if row.family == "all" and len(rows) > 1:
                table.add_section()
            table.add_row(Text(row.family), *(score_text(row.scores[i]) for i in indices))
        tables.append(table)
    return tables


def _print_plain_scores(console: Console, report: Report) -> None:
    console.print(Text(SCORE_TITLE, style="bold"))
    for row in report.scores:
        for name, score in zip(report.adapter_names, row.scores, strict=True):
            if score is None:
                continue
            line = Text("score ")
            line.append(name, style="bold")
            line.append(f" {row.family} ")
            if not score.declared:
                line.append(f"{Status.NOT_APPLICABLE} (family not declared)", style="dim")
            else:
                line.append_text(score_text(score))
                counted = " ".join(f"{s}={score.counts[s]}" for s in shown_statuses(score.counts))
                line.append(f" ({counted})", style="dim")
            console.print(line, soft_wrap=True)


def _print_load_errors(console: Console, report: Report) -> None:
    for adapter in report.adapters:
        if adapter.load_error:
            line = Text.assemble(("load error ", "bold red"), (adapter.name, "bold"), ": ")
            line.append(adapter.load_error)
            console.print(line)
        for problem in adapter.benchmark_errors:
            console.print(Text.assemble(("benchmark error ", "bold red"), (adapter.name, "bold"), ": ", problem))


def _print_failures(console: Console, report: Report) -> None:
    if not report.failures:
        return
    console.print(Text(f"\nfailures ({len(report.failures)})", style="bold red"))
    for finding in report.failures:
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


def _print_deviations(console: Console, report: Report, plain: bool) -> None:
    if not report.deviations:
        return
    console.print(Text(f"\ndeviates (documented) ({len(report.deviations)})", style="bold yellow"))
    for finding in report.deviations:
        reason, _link = deviation_reason(finding.clause)
        reason = reason or "(no reason recorded)"
        head = Text.assemble("  ", (finding.adapter.name, "bold"), " ", finding.clause.id)
        source = Text(f"  {clause_source(finding.clause)}", "dim")
        if plain:
            console.print(Text.assemble(head, ": ", reason, source))
        else:  # the reason indented under its clause, so the next clause stands out
            console.print(Text.assemble(head, source))
            console.print(Padding(Text(reason), (0, 0, 0, 4)))


def _print_stale(console: Console, report: Report) -> None:
    if not report.stale:
        return
    console.print(Text(f"\nstale expectations ({len(report.stale)})", style="bold yellow"))
    for finding in report.stale:
        console.print(Text(f"  {stale_message(finding)}"))


def _print_grid(console: Console, report: Report, plain: bool) -> None:
    """The clauses some adapter fails, errs on or deviates from (the Markdown and HTML grids show all)."""
    for grid in report.grids:
        rows = [row for row in grid.rows if any(c.opens for c in row.cells)]
        if not rows:
            continue
        hidden = len(grid.rows) - len(rows)
        heading = (
            f"\nclauses · {grid.family} · failing or deviating somewhere ({hidden} others pass or are unsupported)"
        )
        console.print(Text(heading, style="bold"))
        if plain:
            for row in rows:
                line = Text(f"clause {row.id}")
                for name, cell in zip(report.adapter_names, row.cells, strict=True):
                    if cell.status not in (None, Status.NOT_APPLICABLE):
                        line.append(f" {name}=")
                        line.append_text(status_text(cell.status))
                line.append(f"  {row.source}", style="dim")
                console.print(line, soft_wrap=True)
            continue
        columns = grid.columns()  # as in the Markdown and HTML grids: no column of n/a
        table = _compact_table()
        table.add_column("clause", no_wrap=True)
        for i in columns:
            table.add_column(Text(report.adapter_names[i]), overflow="fold")
        for row in rows:
            cells = [row.cells[i] for i in columns]
            table.add_row(
                Text(row.id),
                *(status_text(c.status, symbol(c.status)) if c.status else Text("—", "dim") for c in cells),
            )
        console.print(table)


def _print_agreement(console: Console, report: Report) -> None:
    if not report.agreement:
        return
    console.print(Text("\nagreement on real vocabularies", style="bold"))
    for a in report.agreement:
        line = Text(f"agreement {a.adapter} {a.vocabulary} {a.agreeing}/{a.strings} ({a.percent:.2f}%) {a.clause}")
        if a.first_difference:
            line.append(f"  first difference {a.first_difference[:200]}", style="dim")
        console.print(line)


def _print_scaling(console: Console, report: Report) -> None:
    if not report.scaling:
        return
    console.print(Text("\nscaling: fitted exponent [CI], expected, accepted band, sizes used", style="bold"))
    for s in report.scaling:
        expected = "—" if s.expected is None else f"{s.expected:g}"
        console.print(
            Text(
                f"scaling {s.adapter} {s.clause} {s.operation} {s.quantity}: {format_exponent(s)}"
                f" expected {expected} accepted {format_band(s.band)} used {used_text(s)}"
            )
        )


def _print_slowest(console: Console, report: Report) -> None:
    if not report.slowest:
        return
    console.print(Text("\nslowest (adapter, family) wall times", style="bold"))
    for wall in report.slowest:
        console.print(Text(f"wall {wall.adapter} {wall.family} {format_seconds(wall.seconds)}"))


def _print_benchmarks(console: Console, report: Report, plain: bool) -> None:
    if not report.charts:
        return
    if report.load_average:
        console.print()
        console.print(Text(report.load_average, style="dim"))
    if report.ceilings:
        console.print()
        console.print(Text("ceilings measured at the start of the run", style="bold"))
        for name, value, params in report.ceilings:
            console.print(Text(f"ceiling {name} {value} {params}".rstrip()))
    run_ceilings = report.run.ceilings if report.run is not None else {}
    tabulated = {name for table in report.generation for name in table.names}
    for chart in report.charts:
        if chart.rows and chart.rows[0].bench.name in tabulated:
            continue  # shown by its generation table below, side by side with the rows it belongs with
        console.print()
        console.print(_group_heading("benchmarks", f"{chart.family} · {chart.operation}", chart.common))
        if plain:
            for row in chart.rows:
                cells = [f"bench {row.adapter} {chart.operation}", params_text(row.params)]
                cells += [f"median {format_seconds(row.bench.median_s)} IQR {format_seconds(row.bench.iqr_s)}"]
                cells += [
                    f"{header} {cell(run_ceilings, row)}"
                    for header, cell, empty in _OPTIONAL_COLUMNS
                    if cell(run_ceilings, row) != empty
                ]
                console.print(Text("  ".join(c for c in cells if c)), soft_wrap=True)
        else:
            console.print(_benchmark_table(run_ceilings, chart.rows))
    _print_generation(console, report, plain)
    if len(report.speedups.adapters) >= 2:
        console.print()
        render_speedups_terminal(report.speedups, console, plain)


def _print_generation(console: Console, report: Report, plain: bool) -> None:
    """The generation rows' serving metrics (TTFT and TPOT per context, throughput per batch,
    cache memory against its formula, decode-step exponents): one table each, or, `plain`, one
    line per row ("generation ADAPTER header value; header value ...")."""
    for table in report.generation:
        console.print()
        console.print(Text(f"generation · {table.title}", style="bold"))
        if plain:
            for row in table.rows:
                pairs = "; ".join(f"{h}: {c}" for h, c in zip(table.headers[1:], row[1:], strict=True))
                console.print(Text(f"generation {row[0]} {pairs}"))
            continue
        shown = _compact_table()
        for index, header in enumerate(table.headers):
            numeric = index > 0 and header not in ("ok", "equal")
            shown.add_column(Text(header), justify="right" if numeric else "left", overflow="fold")
        for row in table.rows:
            # A list of "size: time" pairs, one pair a line, rather than wrapped inside a pair.
            shown.add_row(*(Text(cell.replace(", ", "\n") if ": " in cell else cell) for cell in row))
        console.print(shown)


def _compact_table() -> Table:
    # Horizontal rules only: vertical borders cost three columns each at 80 characters.
    return Table(box=box.SIMPLE_HEAD, pad_edge=False)


def _group_heading(kind: str, what: str, common: dict[str, Any]) -> Text:
    # Printed above the table, not as its title: a title wraps at the table's width.
    heading = Text(f"{kind} · {what}", style="bold")
    if common:
        heading.append(f" · every row: {compact_params(common)}", style="dim")
    return heading


# Columns shown only when some row fills them: (header, cell text, the empty cell).
_OPTIONAL_COLUMNS: tuple[tuple[str, Callable[[dict[str, dict[str, Any]], BenchmarkRow], str], str], ...] = (
    ("rate", lambda ceilings, row: rate_text(row.bench, ceilings), "—"),
    ("% ceiling", lambda ceilings, row: format_fraction(row.bench.ceiling_fraction), "—"),
    ("ok", lambda ceilings, row: correct_mark(row.bench.correct), "—"),
    ("flags", lambda ceilings, row: flags_text(row.bench.flags), ""),
)


def _benchmark_table(ceilings: dict[str, dict[str, Any]], rows: tuple[BenchmarkRow, ...]) -> Table:
    table = _compact_table()
    show_params = any(row.params for row in rows)
    optional = [c for c in _OPTIONAL_COLUMNS if any(c[1](ceilings, row) != c[2] for row in rows)]
    table.add_column("adapter", overflow="fold")
    if show_params:
        table.add_column("params", overflow="fold")
    for header in ("median", "IQR"):
        table.add_column(header, justify="right", no_wrap=True)
    for header, _, _ in optional:
        table.add_column(header, justify="right" if header in ("rate", "% ceiling") else "left", overflow="fold")
    for row in rows:
        cells = [Text(row.adapter)] + ([Text(params_text(row.params))] if show_params else [])
        cells += [format_seconds(row.bench.median_s), format_seconds(row.bench.iqr_s)]
        table.add_row(*cells, *(Text(cell(ceilings, row)) for _, cell, _ in optional))
    return table


def render_speedups_terminal(speedups: Speedups, console: Console | None = None, plain: bool = False) -> None:
    """Print one table per family (or, `plain`, one line per benchmark and adapter): each
    adapter's median, IQR as a share of it, and speedup over the baseline."""
    console = console or Console()
    console.print(
        Text.assemble(
            (f"speedup over {speedups.baseline}", "bold"),
            (f" · median, IQR as % of the median, speedup = {speedups.baseline} median / median", "dim"),
        )
    )
    for family, common, rows in speedup_groups(speedups):
        console.print(_group_heading("speedups", family, common))
        if plain:
            for row, params in rows:
                for adapter, cell in zip(speedups.adapters, row.cells, strict=True):
                    if cell is not None:
                        line = f"speedup {adapter} {row.name} {where(row.device, row.mode)} {params_text(params)}"
                        console.print(Text(f"{line} {_speedup_cell_text(cell).plain}"), soft_wrap=True)
            continue
        console.print(_speedup_table(family, rows, speedups.adapters))


def _speedup_table(family: str, rows: list[tuple[Any, dict[str, Any]]], adapters: tuple[str, ...]) -> Table:
    """One family's speedups, one line per (benchmark, adapter that ran it): as narrow as the
    longest name, so seven adapters fit 80 columns (a column per adapter would cut them)."""
    show_where = len({where(row.device, row.mode) for row, _ in rows}) > 1
    table = _compact_table()
    # The benchmark's name, its parameters under it, takes the width left and wraps at spaces.
    table.add_column("benchmark", overflow="fold", ratio=1)
    table.add_column("adapter", no_wrap=True)
    for header in ("median", "IQR", "speedup"):
        table.add_column(header, justify="right", no_wrap=True)
    for row, params in rows:
        name = Text(short_name(row.name, family) + (f" [{where(row.device, row.mode)}]" if show_where else ""))
        if params:
            name.append(f"\n{params_text(params)}", style="dim")
        for adapter, cell in zip(adapters, row.cells, strict=True):
            if cell is None:
                continue
            spread = f"{cell.iqr_s / cell.median_s:.0%}" if cell.median_s > 0 else "—"
            table.add_row(name, Text(adapter), format_seconds(cell.median_s), spread, _speedup_text(cell.speedup))
            name = Text("")
    return table


def _speedup_text(speedup: float | None) -> Text:
    style = "" if speedup is None else "green" if speedup > 1.05 else "red" if speedup < 0.95 else ""
    return Text(format_speedup(speedup), style=style)


def _speedup_cell_text(cell: SpeedupCell | None) -> Text:
    """'1.65 ms 16% 7.27×': median, IQR relative to it, and speedup coloured by direction."""
    if cell is None:
        return Text("—", style="dim")
    spread = f" {cell.iqr_s / cell.median_s:.0%}" if cell.median_s > 0 else ""
    text = Text(f"{format_seconds(cell.median_s)}{spread} ")
    return text.append_text(_speedup_text(cell.speedup))
