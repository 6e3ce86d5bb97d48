"""Runs side by side: changed clause statuses, benchmark medians, and the CI gate.

`compare_runs(a, b)` builds the report model (model.py) of each run and pairs its scores by
(adapter, family), its clause grid cells by (adapter name, clause id) (so a family an adapter
does not declare is n/a on both sides, as in the reports), and benchmarks by
(adapter name, benchmark name, device, mode, parameters, size); whatever exists on one side
only is kept, with None on the other. `benchmark_speedups` (from measurements.py) compares
the adapters of one run with each other.

`gate` and `regressions` decide exit code 3. A regression is

- a clause that passed in the baseline and fails or errors now (whatever the machines);
- an adapter that loaded in the baseline and fails to load now;
- lost coverage (`lost_coverage`): a clause that passed in the baseline and is unsupported or
  n/a now, or absent from a family the adapter ran (a vocabulary package not installed, say),
  unless the caller accepts it (`--accept-lost-coverage`); an adapter or family the current run
  did not ask for is not lost;
- a benchmark whose median is slower than the baseline's by more than `threshold` and by
  more than the two runs' interquartile ranges together, judged only when
  `benchmark_comparability` finds both runs made in the same environment (device, python,
  torch, thread count and every package both record), because a timing from another machine
  or another build says nothing about the code.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from specformer.conformance.report.common import (
    environment_value,
    format_ratio,
    format_seconds,
    params_key,
)
from specformer.conformance.report.markdown import md_code, md_table, md_text
from specformer.conformance.report.measurements import (
    SpeedupCell,
    SpeedupRow,
    Speedups,
    benchmark_speedups,
    params_text,
    shown_params,
    where,
)
from specformer.conformance.report.model import Report, build_report
from specformer.conformance.report.terminal import render_speedups_terminal, status_text
from specformer.conformance.results import AdapterResult, BenchmarkResult, RunResult, Status

__all__ = [
    "BenchmarkChange",
    "ClauseChange",
    "Comparison",
    "GateResult",
    "ScoreChange",
    "SpeedupCell",
    "SpeedupRow",
    "Speedups",
    "benchmark_comparability",
    "benchmark_speedups",
    "compare_runs",
    "gate",
    "lost_coverage",
    "not_compared_reason",
    "regressions",
    "render_comparison_markdown",
    "render_comparison_terminal",
    "render_gate_terminal",
    "render_speedups_terminal",
]

DEFAULT_THRESHOLD = 0.10
# Environment entries that both runs must record, equal, for their timings to be compared;
# then those that must be equal where both runs record them; then every package both record.
_SAME_ENVIRONMENT_KEYS = ("device", "python", "torch")
_SAME_IF_RECORDED_KEYS = ("machine", "processor", "cpu_capability", "torch_threads", "cuda")

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
    mode: str
    params: str  # canonical JSON of the parameters
    size: int | None
    median_a_s: float | None
    median_b_s: float | None

    @property
    def ratio(self) -> float | None:
        """median b / median a: above 1 means b is slower."""
        if self.median_a_s is None or self.median_b_s is None or self.median_a_s <= 0:
            return None
        return self.median_b_s / self.median_a_s


@dataclass(frozen=True)
class ScoreChange:
    """One adapter's score in one family (or "all") in both runs, as the reports write it."""

    adapter: str
    family: str
    score_a: str | None
    score_b: str | None


@dataclass(frozen=True)
class Comparison:
    clauses: list[ClauseChange]
    benchmarks: list[BenchmarkChange]
    label_a: str = "a"
    label_b: str = "b"
    scores: list[ScoreChange] = field(default_factory=list)

    def changed(self) -> list[ClauseChange]:
        return [c for c in self.clauses if c.changed]

    def unchanged_count(self) -> int:
        return sum(not c.changed for c in self.clauses)


def compare_runs(a: RunResult, b: RunResult, labels: tuple[str, str] = ("a", "b")) -> Comparison:
    """Pair the clauses and benchmarks of two runs, in a's order, then what only b has."""
    report_a, report_b = build_report(a), build_report(b)
    return Comparison(
        _clause_changes(report_a, report_b), _benchmark_changes(a, b), *labels, _score_changes(report_a, report_b)
    )


def _scores(report: Report) -> dict[tuple[str, str], str]:
    return {
        (name, row.family): score.text()
        for row in report.scores
        for name, score in zip(report.adapter_names, row.scores, strict=True)
        if score is not None
    }


def _score_changes(a: Report, b: Report) -> list[ScoreChange]:
    scores_a, scores_b = _scores(a), _scores(b)
    keys = list(scores_a) + [k for k in scores_b if k not in scores_a]
    return [ScoreChange(*key, scores_a.get(key), scores_b.get(key)) for key in keys]


@dataclass(frozen=True)
class GateResult:
    """What the CI gate found: regression lines, and why benchmarks were not compared (if so)."""

    regressions: list[str]
    not_compared: str | None  # None: the benchmarks were compared, or a run had none
    # Lost coverage the caller accepted (--accept-lost-coverage): shown, not a regression.
    accepted: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.regressions)


def aligned_names(baseline: RunResult, current: RunResult) -> RunResult:
    """`baseline` with each module:attribute adapter under the name it has in `current`: a run labels
    such an adapter by its own `name` and keeps the import string as `spec`, and a baseline may carry
    either (an older run, or one whose adapter changed its name)."""
    by_spec = {a.spec: a.name for a in current.adapters if a.spec}
    names = {a.name for a in current.adapters}
    renamed = []
    for adapter in baseline.adapters:
        new = by_spec.get(adapter.spec or adapter.name) or by_spec.get(adapter.name)
        if new is not None and adapter.name not in names:
            adapter = dataclasses.replace(adapter, name=new)
        renamed.append(adapter)
    return dataclasses.replace(baseline, adapters=renamed)


def gate(
    baseline: RunResult,
    current: RunResult,
    threshold: float = DEFAULT_THRESHOLD,
    accept_lost_coverage: bool = False,
) -> GateResult:
    """The regressions of `current` against `baseline`, and why timings were not compared.

    The reason is left out when either run has no benchmarks: then there was nothing to compare.
    With accept_lost_coverage, lost coverage is listed in `accepted` instead of the regressions.
    """
    baseline = aligned_names(baseline, current)
    timed = all(any(a.benchmarks for a in run.adapters) for run in (baseline, current))
    reason = benchmark_comparability(baseline, current) if timed else None
    found = regressions(baseline, current, threshold, accept_lost_coverage=accept_lost_coverage)
    accepted = lost_coverage(baseline, current) if accept_lost_coverage else []
    return GateResult(found, reason, accepted)


def regressions(
    baseline: RunResult,
    current: RunResult,
    threshold: float = DEFAULT_THRESHOLD,
    accept_lost_coverage: bool = False,
) -> list[str]:
    """One line per regression: clauses pass -> fail/error, lost coverage (unless accepted), adapters
    that stopped loading, and (only between runs from the same environment) benchmarks slower beyond
    threshold and noise."""
    if not (threshold >= 0 and threshold < float("inf")):
        raise ValueError(f"threshold={threshold!r} must be a finite fraction >= 0, e.g. 0.10 for 10%")
    found = _clause_regressions(baseline, current) + _load_regressions(baseline, current)
    if not accept_lost_coverage:
        found += lost_coverage(baseline, current)
    if benchmark_comparability(baseline, current) is None:
        found += _benchmark_regressions(baseline, current, threshold)
    return found


def benchmark_comparability(baseline: RunResult, current: RunResult) -> str | None:
    """None when both runs come from the same environment, else the first difference, in a line.

    Compared: device, python and torch (a run that did not record one is incomparable);
    machine, processor, torch threads and CUDA version where both runs record them; and the
    version of every package both runs record.
    """
    before, now = baseline.environment, current.environment
    for key in _SAME_ENVIRONMENT_KEYS:
        a, b = environment_value(before, key), environment_value(now, key)
        if a is None or b is None:
            side = "baseline" if a is None else "current run"
            return f"{key} not recorded in the {side}"
        if a != b:
            return f"{key} differs: {a} vs {b}"
    for key in _SAME_IF_RECORDED_KEYS:
        a, b = before.get(key), now.get(key)
        if a is not None and b is not None and a != b:
            return f"{key} differs: {a} vs {b}"
    packages_a, packages_b = _packages(before), _packages(now)
    for package in sorted(packages_a.keys() & packages_b.keys()):
        if packages_a[package] != packages_b[package]:
            return f"{package} differs: {packages_a[package]} vs {packages_b[package]}"
    return None


def _packages(environment: dict[str, Any]) -> dict[str, Any]:
    packages = environment.get("packages")
    return packages if isinstance(packages, dict) else {}


def _clause_regressions(baseline: RunResult, current: RunResult) -> list[str]:
    return [
        f"{c.adapter} {c.clause}: {c.status_a} -> {c.status_b}"
        for c in compare_runs(baseline, current).clauses
        if c.status_a == Status.PASS and c.status_b in (Status.FAIL, Status.ERROR)
    ]


def lost_coverage(baseline: RunResult, current: RunResult) -> list[str]:
    """One line per clause that passed in the baseline and is no longer checked now.

    That is: unsupported or n/a now, or absent from the results of a family the adapter ran now
    (a family with no result at all was not asked for, say with --family, and is not lost). An
    adapter absent from the current run, or that failed to load (`_load_regressions`), is skipped.
    """
    now = {a.name: a for a in current.adapters if not a.load_error}
    found = []
    for before in baseline.adapters:
        after = now.get(before.name)
        if after is None:
            continue
        statuses = {c.id: c.status for c in after.clauses}
        families_run = {c.family for c in after.clauses}
        for clause in before.clauses:
            status = statuses.get(clause.id)
            if clause.status != Status.PASS:
                continue
            if status in (Status.UNSUPPORTED, Status.NOT_APPLICABLE):
                found.append(f"{before.name} {clause.id}: pass -> {status} (lost coverage)")
            elif status is None and clause.family in families_run:
                found.append(f"{before.name} {clause.id}: pass -> no result (lost coverage)")
    return found


def _load_regressions(baseline: RunResult, current: RunResult) -> list[str]:
    loaded = {a.name for a in baseline.adapters if not a.load_error}
    return [
        f"{a.name}: loaded in the baseline, fails to load now: {_first_line(a.load_error or '')}"
        for a in current.adapters
        if a.load_error and a.name in loaded
    ]


def _first_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[0] if lines else ""


def _benchmark_regressions(baseline: RunResult, current: RunResult, threshold: float) -> list[str]:
    before = _benchmarks_by_key(baseline)
    found = []
    for key, (adapter, now) in _benchmarks_by_key(current).items():
        if key in before and _slower(before[key][1], now, threshold):
            found.append(_benchmark_line(adapter, before[key][1], now, threshold))
    return found


def _benchmarks_by_key(run: RunResult) -> dict[tuple[Any, ...], tuple[AdapterResult, BenchmarkResult]]:
    return {
        _benchmark_key(adapter.name, bench): (adapter, bench)
        for adapter in run.adapters
        for bench in adapter.benchmarks
    }


def _benchmark_key(adapter: str, bench: BenchmarkResult) -> tuple[Any, ...]:
    # The ladder size goes into the parameters where they do not hold it already (shown_params), so
    # a schema_version 1 row (no size, its length in the parameters) pairs with its version 2 twin.
    return (adapter, bench.name, bench.device, bench.mode, params_key(shown_params(bench.params, bench.size)), None)


def _slower(before: BenchmarkResult, now: BenchmarkResult, threshold: float) -> bool:
    """Slower by more than the threshold, and by more than the spread of both measurements."""
    if before.median_s <= 0:
        return False
    slowdown = now.median_s - before.median_s
    return now.median_s > before.median_s * (1 + threshold) and slowdown > before.iqr_s + now.iqr_s


def _benchmark_line(adapter: AdapterResult, before: BenchmarkResult, now: BenchmarkResult, threshold: float) -> str:
    change = now.median_s / before.median_s - 1
    context = " ".join(part for part in (where(now.device, now.mode), params_text(now.params, now.size)) if part)
    return (
        f"{adapter.name} {now.name} ({context}): median {format_seconds(before.median_s)} -> "
        f"{format_seconds(now.median_s)} (+{change:.1%}; threshold {threshold:.0%}, "
        f"IQR {format_seconds(before.iqr_s)} and {format_seconds(now.iqr_s)})"
    )


def _clause_changes(a: Report, b: Report) -> list[ClauseChange]:
    statuses_a, titles_a = _clause_statuses(a)
    statuses_b, titles_b = _clause_statuses(b)
    titles = titles_b | titles_a  # a's title wins where both runs have the clause
    keys = list(statuses_a) + [k for k in statuses_b if k not in statuses_a]
    return [ClauseChange(*key, titles[key], statuses_a.get(key), statuses_b.get(key)) for key in keys]


def _clause_statuses(
    report: Report,
) -> tuple[dict[tuple[str, str], str], dict[tuple[str, str], str]]:
    statuses, titles = {}, {}
    for grid in report.grids:
        for row in grid.rows:
            for name, cell in zip(report.adapter_names, row.cells, strict=True):
                if cell.status is not None:
                    statuses[name, row.id] = cell.status
                    titles[name, row.id] = row.title
    return statuses, titles


def _benchmark_changes(a: RunResult, b: RunResult) -> list[BenchmarkChange]:
    medians_a, medians_b = _benchmark_medians(a), _benchmark_medians(b)
    keys = list(medians_a) + [k for k in medians_b if k not in medians_a]
    # The key's fields are BenchmarkChange's first fields, in order.
    return [BenchmarkChange(*key, medians_a.get(key), medians_b.get(key)) for key in keys]


def _benchmark_medians(run: RunResult) -> dict[tuple[Any, ...], float]:
    return {
        _benchmark_key(adapter.name, bench): bench.median_s for adapter in run.adapters for bench in adapter.benchmarks
    }


def render_comparison_terminal(comparison: Comparison, console: Console | None = None) -> None:
    """Print changed clauses, the unchanged count, and the benchmark medians."""
    console = console or Console()
    scores = [s for s in comparison.scores if s.score_a != s.score_b]
    for s in scores:
        console.print(
            Text(f"score {s.adapter} {s.family}: {s.score_a or _MISSING} -> {s.score_b or _MISSING}"), soft_wrap=True
        )
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


def render_gate_terminal(gate_result: GateResult, console: Console | None = None) -> None:
    """Print each regression, and why benchmarks were not compared with the baseline."""
    console = console or Console()
    for line in gate_result.regressions:
        console.print(Text(f"regression: {line}", style="bold red"))
    if gate_result.not_compared:
        console.print(
            Text(f"benchmarks not compared with the baseline: {not_compared_reason(gate_result)}", style="yellow")
        )
    for line in gate_result.accepted:
        console.print(Text(f"accepted (--accept-lost-coverage): {line}", style="yellow"))
    if not gate_result.regressions:
        console.print(Text("no regression against the baseline", style="green"))


def not_compared_reason(gate_result: GateResult) -> str:
    """Why the timings were not compared, and what to do about it."""
    return (
        f"{gate_result.not_compared} (only runs from the same environment are compared; regenerate the baseline here)"
    )


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
            Text(where(bench.device, bench.mode)),
            Text(params_text(json.loads(bench.params), bench.size)),
            format_seconds(bench.median_a_s),
            format_seconds(bench.median_b_s),
            Text(format_ratio(ratio), style=style),
        )
    return table


def render_comparison_markdown(comparison: Comparison) -> str:
    """The comparison as Markdown: changed clauses first, then counts and benchmarks."""
    label_a, label_b = md_text(comparison.label_a), md_text(comparison.label_b)
    lines = [f"# specformer comparison: {label_a} → {label_b}", ""]
    scores = [
        [md_code(s.adapter, in_table=True), md_text(s.family), s.score_a or _MISSING, s.score_b or _MISSING]
        for s in comparison.scores
        if s.score_a != s.score_b
    ]
    if scores:
        lines += [
            "## Changed scores (clauses passed / applicable)",
            "",
            *md_table(["adapter", "family", label_a, label_b], scores),
            "",
        ]
    lines += ["## Changed clauses", ""]
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
            md_text(where(b.device, b.mode)),
            md_text(params_text(json.loads(b.params), b.size)),
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
