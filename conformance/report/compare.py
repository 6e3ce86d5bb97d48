"""Two runs side by side: clause statuses that changed, benchmark medians, regressions.

`compare_runs(a, b)` pairs clauses by (adapter name, clause id) and benchmarks by
(adapter name, benchmark name, device, parameters); whatever exists on one side only is
kept, with None on the other. `regressions` is the gate behind exit code 3: a clause that
passed in the baseline and fails or errors now, for an adapter present in both runs.

It leaves out judging speed: a benchmark ratio is shown, never turned into a verdict,
because only a baseline from the same machine makes a timing comparable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table
from rich.text import Text

from specformer.conformance.report.common import (
    compact_params,
    format_ratio,
    format_seconds,
    params_key,
)
from specformer.conformance.report.markdown import md_code, md_table, md_text
from specformer.conformance.report.terminal import status_text
from specformer.conformance.results import ERROR, FAIL, PASS, RunResult

_MISSING = "—"


@dataclass(frozen=True)
class ClauseChange:
    """One (adapter, clause) in both runs; a status is None where that run lacks it."""

    adapter: str
    clause: str
    title: str
    status_a: str | None
    status_b: str | None

    @property
    def changed(self) -> bool:
        return self.status_a != self.status_b


@dataclass(frozen=True)
class BenchmarkChange:
    """One benchmark in both runs; a median is None where that run lacks it."""

    adapter: str
    name: str
    device: str
    params: str  # canonical JSON of the parameters
    median_a_s: float | None
    median_b_s: float | None

    @property
    def ratio(self) -> float | None:
        """median b / median a: above 1 means b is slower."""
        if self.median_a_s is None or self.median_b_s is None or self.median_a_s <= 0:
            return None
        return self.median_b_s / self.median_a_s


@dataclass(frozen=True)
class Comparison:
    clauses: list[ClauseChange]
    benchmarks: list[BenchmarkChange]
    label_a: str = "a"
    label_b: str = "b"

    def changed(self) -> list[ClauseChange]:
        return [c for c in self.clauses if c.changed]

    def unchanged_count(self) -> int:
        return sum(not c.changed for c in self.clauses)


def compare_runs(a: RunResult, b: RunResult, labels: tuple[str, str] = ("a", "b")) -> Comparison:
    """Pair the clauses and benchmarks of two runs, in a's order, then what only b has."""
    return Comparison(_clause_changes(a, b), _benchmark_changes(a, b), *labels)


def regressions(baseline: RunResult, current: RunResult) -> list[str]:
    """'ADAPTER CLAUSE: pass -> fail' for each clause that passed and now fails or errors."""
    return [
        f"{c.adapter} {c.clause}: {c.status_a} -> {c.status_b}"
        for c in compare_runs(baseline, current).clauses
        if c.status_a == PASS and c.status_b in (FAIL, ERROR)
    ]


def _clause_changes(a: RunResult, b: RunResult) -> list[ClauseChange]:
    statuses_a, titles_a = _clause_statuses(a)
    statuses_b, titles_b = _clause_statuses(b)
    titles = titles_b | titles_a  # a's title wins where both runs have the clause
    keys = list(statuses_a) + [k for k in statuses_b if k not in statuses_a]
    return [ClauseChange(*key, titles[key], statuses_a.get(key), statuses_b.get(key)) for key in keys]


def _clause_statuses(
    run: RunResult,
) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]]:
    statuses, titles = {}, {}
    for adapter in run.adapters:
        for clause in adapter.clauses:
            statuses[adapter.name, clause.id] = clause.status
            titles[adapter.name, clause.id] = clause.title
    return statuses, titles


def _benchmark_changes(a: RunResult, b: RunResult) -> list[BenchmarkChange]:
    medians_a, medians_b = _benchmark_medians(a), _benchmark_medians(b)
    keys = list(medians_a) + [k for k in medians_b if k not in medians_a]
    return [BenchmarkChange(*key, medians_a.get(key), medians_b.get(key)) for key in keys]


def _benchmark_medians(run: RunResult) -> dict[tuple[str, str, str, str], float]:
    return {
        (adapter.name, bench.name, bench.device, params_key(bench.params)): bench.median_s
        for adapter in run.adapters
        for bench in adapter.benchmarks
    }


def render_comparison_terminal(comparison: Comparison, console: Console | None = None) -> None:
    """Print changed clauses, the unchanged count, and the benchmark medians."""
    console = console or Console()
    changed = comparison.changed()
    if changed:
        table = Table(title="changed clauses", title_justify="left")
        for header in ("adapter", "clause", "title", comparison.label_a, comparison.label_b):
            table.add_column(Text(header))
        for c in changed:
            table.add_row(Text(c.adapter), Text(c.clause), Text(c.title), _status(c.status_a), _status(c.status_b))
        console.print(table)
    else:
        console.print(Text("no clause changed status"))
    console.print(Text(f"unchanged: {comparison.unchanged_count()}"))
    if comparison.benchmarks:
        console.print(_benchmark_table(comparison))


def _ratio_header(comparison: Comparison) -> str:
    return f"{comparison.label_b}/{comparison.label_a}"


def _status(status: str | None) -> Text:
    return status_text(status) if status else Text(_MISSING, style="dim")


def _benchmark_table(comparison: Comparison) -> Table:
    table = Table(title="benchmarks (median)", title_justify="left")
    for header in ("adapter", "name", "device", "params"):
        table.add_column(header)
    for header in (comparison.label_a, comparison.label_b, _ratio_header(comparison)):
        table.add_column(Text(header), justify="right")
    for bench in comparison.benchmarks:
        ratio = bench.ratio
        style = "" if ratio is None else "red" if ratio > 1.05 else "green" if ratio < 0.95 else ""
        table.add_row(
            Text(bench.adapter),
            Text(bench.name),
            Text(bench.device),
            Text(compact_params(json.loads(bench.params))),
            format_seconds(bench.median_a_s),
            format_seconds(bench.median_b_s),
            Text(format_ratio(ratio), style=style),
        )
    return table


def render_comparison_markdown(comparison: Comparison) -> str:
    """The comparison as Markdown: changed clauses first, then counts and benchmarks."""
    label_a, label_b = md_text(comparison.label_a), md_text(comparison.label_b)
    lines = [f"# specformer comparison: {label_a} → {label_b}", "", "## Changed clauses", ""]
    rows = [
        [
            md_code(c.adapter, in_table=True),
            md_text(c.clause),
            md_text(c.title),
            md_text(c.status_a or _MISSING),
            md_text(c.status_b or _MISSING),
        ]
        for c in comparison.changed()
    ]
    if rows:
        lines += md_table(["adapter", "clause", "title", label_a, label_b], rows)
    else:
        lines.append("No clause changed status.")
    lines += ["", f"unchanged: {comparison.unchanged_count()}"]
    if comparison.benchmarks:
        lines += ["", "## Benchmarks (median)", "", *_benchmark_markdown(comparison)]
    return "\n".join(lines) + "\n"


def _benchmark_markdown(comparison: Comparison) -> list[str]:
    rows = [
        [
            md_code(b.adapter, in_table=True),
            md_text(b.name),
            md_text(b.device),
            md_text(compact_params(json.loads(b.params))),
            format_seconds(b.median_a_s),
            format_seconds(b.median_b_s),
            format_ratio(b.ratio),
        ]
        for b in comparison.benchmarks
    ]
    headers = [
        "adapter",
        "name",
        "device",
        "params",
        md_text(comparison.label_a),
        md_text(comparison.label_b),
        md_text(_ratio_header(comparison)),
    ]
    return md_table(headers, rows)
