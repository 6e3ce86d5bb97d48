"""The one report model: every section a report shows, built once from a `RunResult`.

`build_report(run)` picks out the summary scores, failures, deviations, stale expectation
entries, the clause x adapter grid of each family (with each failing or deviating cell's
message, evidence, headroom and reproduce line), agreement on real vocabularies, benchmarks,
ceilings, scaling fits, speedups against a baseline adapter, the slowest (adapter, family)
wall times and the environment. The terminal, Markdown and HTML writers only format a
`Report`; they decide nothing about what is shown, so the three views cannot disagree
(tests/test_reports.py renders all three from one results.json and compares them).

A family an adapter does not declare in its capabilities, and where it answered nothing, is
"n/a" for that adapter: its clauses are left out of the adapter's score and shown as n/a in
the grid, never as unsupported. An adapter whose capabilities name no families (an older
results file, a third-party adapter that declares nothing) applies to every family it recorded.

It leaves out formatting beyond plain strings (colour, escaping, layout) and all I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from specformer.conformance.report.common import (
    REPORT_TITLE,
    Finding,
    HeadroomRow,
    clause_anchor,
    clause_source,
    deviations,
    environment_line,
    failing_tests,
    failures,
    headroom_rows,
    largest_ratio,
    run_line,
    stale_expectations,
)
from specformer.conformance.report.measurements import (
    Agreement,
    BenchmarkGroup,
    BenchmarkRow,
    GenerationTable,
    ScalingSeries,
    Speedups,
    agreements,
    benchmark_groups,
    benchmark_speedups,
    ceiling_rows,
    common_params,
    generation_tables,
    load_average_text,
    scaling_series,
    shown_params,
    where,
)
from specformer.conformance.results import AdapterResult, ClauseResult, RunResult, Status, TestResult

if TYPE_CHECKING:  # compare.py imports the writers' helpers; the model only carries its verdict
    from specformer.conformance.report.compare import GateResult

# Wall-time keys of `AdapterResult.wall_s` that are not spec families.
_WALL_TOTALS = ("suite", "bench")
SLOWEST_SHOWN = 8


@dataclass(frozen=True)
class Score:
    """One adapter's clauses in one family (or in all of them): passed out of applicable.

    `declared` is False for a family the adapter does not declare: the cell shows "n/a".
    Applicable clauses are every clause the adapter recorded in a declared family, the
    unsupported ones included (an operation the adapter lacks is not a pass).
    """

    declared: bool
    counts: dict[str, int]

    @property
    def passed(self) -> int:
        return self.counts[Status.PASS]

    @property
    def applicable(self) -> int:
        return sum(self.counts.values())

    @property
    def percent(self) -> float | None:
        return 100.0 * self.passed / self.applicable if self.applicable else None

    @property
    def problems(self) -> int:
        """Failures and errors: what must be acted on."""
        return self.counts[Status.FAIL] + self.counts[Status.ERROR]

    def text(self) -> str:
        """'30/32 94%', or 'n/a' for an undeclared family.

        >>> Score(True, {"pass": 30, "fail": 1, "deviates": 0, "unsupported": 1, "error": 0}).text()
        '30/32 94%'
        """
        if not self.declared:
            return Status.NOT_APPLICABLE
        if not self.applicable:
            return "0/0"
        return f"{self.passed}/{self.applicable} {self.percent:.0f}%"

    def extra_text(self) -> str:
        """The counts that are not passes, with their symbols: '1 ✗ 1 ?' ('' when all passed)."""
        from specformer.conformance.report.common import SYMBOLS

        if not self.declared:
            return ""
        return " ".join(f"{self.counts[s]} {SYMBOLS[s]}" for s in Status.ALL if s != Status.PASS and self.counts[s])


@dataclass(frozen=True)
class ScoreRow:
    """One family (or "all") across the run's adapters; `scores[i]` belongs to `Report.adapters[i]`.

    A score is None where the adapter recorded no clause of the family (it did not load).
    """

    family: str
    scores: tuple[Score | None, ...]


@dataclass(frozen=True)
class GridCell:
    """One clause for one adapter: its status ("n/a" for an undeclared family, None: not recorded),
    its largest error/tolerance ratio, and what a reader opens on a failing or deviating cell."""

    status: str | None
    ratio: float | None = None
    tests: tuple[TestResult, ...] = ()  # the failing tests (fail, error, deviates)
    reason: str = ""  # a documented deviation's reason
    link: str = ""

    @property
    def opens(self) -> bool:
        return self.status in (Status.FAIL, Status.ERROR, Status.DEVIATES)


@dataclass(frozen=True)
class GridRow:
    id: str
    title: str
    source: str  # "spec/sampling.md:156"
    anchor: str  # "spec/sampling.md#samp-topp-01--..."
    cells: tuple[GridCell, ...]


@dataclass(frozen=True)
class FamilyGrid:
    family: str
    rows: tuple[GridRow, ...]

    def columns(self) -> tuple[int, ...]:
        """The adapters (indices into `Report.adapters`) the family applies to: all but those whose
        every cell is n/a (an adapter that did not load, with no cell at all, stays: its "—" says so).
        The views draw only these columns and name the others."""
        width = len(self.rows[0].cells) if self.rows else 0
        return tuple(i for i in range(width) if any(row.cells[i].status != Status.NOT_APPLICABLE for row in self.rows))


@dataclass(frozen=True)
class AdapterInfo:
    name: str
    description: str
    families: tuple[str, ...]  # declared in its capabilities (empty: it declared none)
    load_error: str | None
    benchmark_errors: tuple[str, ...]


@dataclass(frozen=True)
class WallTime:
    adapter: str
    family: str
    seconds: float


@dataclass(frozen=True)
class OperationChart:
    """One benchmarked operation across adapters: the rows to draw side by side.

    `common` holds the parameters every row shares (shown once, with the chart's title);
    `roofline` is the ceiling name that applies to every row ("" where none does, e.g.
    tokenizers: no rate, or rows that name no ceiling), so only then is a ceiling drawn.
    """

    family: str
    operation: str
    common: dict[str, Any]
    rows: tuple[BenchmarkRow, ...]
    roofline: str


@dataclass(frozen=True)
class Report:
    title: str
    environment_line: str
    run_line: str
    environment: dict[str, Any]
    profile: str
    adapters: tuple[AdapterInfo, ...]
    families: tuple[str, ...]
    scores: tuple[ScoreRow, ...]  # one per family, then "all" when there are several families
    failures: tuple[Finding, ...]
    deviations: tuple[Finding, ...]
    stale: tuple[Finding, ...]
    grids: tuple[FamilyGrid, ...]
    headroom: tuple[HeadroomRow, ...]
    agreement: tuple[Agreement, ...]
    ceilings: tuple[tuple[str, str, str], ...]  # (name, value with unit, parameters)
    benchmarks: tuple[BenchmarkGroup, ...]
    charts: tuple[OperationChart, ...]
    speedups: Speedups
    scaling: tuple[ScalingSeries, ...]
    slowest: tuple[WallTime, ...]
    load_average: str = ""  # the machine's load while the benchmarks ran
    generation: tuple[GenerationTable, ...] = ()  # TTFT, TPOT, throughput and memory of the generation rows
    gate: GateResult | None = None
    run: RunResult | None = field(default=None, repr=False, compare=False)  # for plots and raw samples

    @property
    def adapter_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.adapters)

    def load_errors(self) -> list[AdapterInfo]:
        return [a for a in self.adapters if a.load_error]


def build_report(run: RunResult, baseline_adapter: str | None = None, gate: GateResult | None = None) -> Report:
    """Every section of the report of `run`; speedups are against `baseline_adapter`
    (default: reference where it has benchmarks, else the first adapter with benchmarks)."""
    declared = [declared_families(a) for a in run.adapters]
    families = tuple(run.families())
    return Report(
        title=REPORT_TITLE,
        environment_line=environment_line(run.environment),
        run_line=run_line(run),
        environment=run.environment,
        profile=run.profile,
        adapters=tuple(_adapter_info(a) for a in run.adapters),
        families=families,
        scores=tuple(_score_rows(run, families, declared)),
        failures=tuple(failures(run)),
        deviations=tuple(deviations(run)),
        stale=tuple(stale_expectations(run)),
        grids=tuple(_grid(run, family, declared) for family in families),
        headroom=tuple(headroom_rows(run)),
        agreement=tuple(agreements(run)),
        ceilings=tuple(ceiling_rows(run)),
        benchmarks=tuple(benchmark_groups(run)),
        charts=tuple(operation_charts(run)),
        # A run without benchmarks (--no-bench) has no speedups to measure against anyone.
        speedups=benchmark_speedups(run, baseline_adapter if any(a.benchmarks for a in run.adapters) else None),
        scaling=tuple(scaling_series(run)),
        slowest=tuple(slowest(run)),
        load_average=load_average_text(run),
        generation=tuple(generation_tables(run)),
        gate=gate,
        run=run,
    )


def as_report(run_or_report: RunResult | Report) -> Report:
    return run_or_report if isinstance(run_or_report, Report) else build_report(run_or_report)


def declared_families(adapter: AdapterResult) -> set[str]:
    """The families that apply to the adapter: those its capabilities declare, and any other
    where it recorded an answer (a cross-cutting family such as complexity tests operations of
    the declared ones). An adapter that declares none applies to every family it recorded."""
    families = adapter.capabilities.get("families") if isinstance(adapter.capabilities, dict) else None
    if not (isinstance(families, list) and families):
        return {c.family for c in adapter.clauses}
    answered = {c.family for c in adapter.clauses if c.status != Status.UNSUPPORTED}
    return {str(f) for f in families} | answered


def _adapter_info(adapter: AdapterResult) -> AdapterInfo:
    families = adapter.capabilities.get("families") if isinstance(adapter.capabilities, dict) else None
    return AdapterInfo(
        name=adapter.name,
        description=adapter.description,
        families=tuple(str(f) for f in families) if isinstance(families, list) else (),
        load_error=adapter.load_error,
        benchmark_errors=tuple(adapter.benchmark_errors),
    )


def _score(adapter: AdapterResult, families: set[str], family: str | None) -> Score | None:
    if not adapter.clauses:
        return None
    if family is not None and family not in families:
        return Score(False, dict.fromkeys(Status.ALL, 0))
    counts = dict.fromkeys(Status.ALL, 0)
    for clause in adapter.clauses:
        if clause.family in families and (family is None or clause.family == family):
            counts[clause.status if clause.status in counts else Status.UNSUPPORTED] += 1
    return Score(True, counts)


def _score_rows(run: RunResult, families: tuple[str, ...], declared: list[set[str]]) -> list[ScoreRow]:
    rows = [
        ScoreRow(family, tuple(_score(a, d, family) for a, d in zip(run.adapters, declared, strict=True)))
        for family in families
    ]
    if len(families) > 1:
        rows.append(ScoreRow("all", tuple(_score(a, d, None) for a, d in zip(run.adapters, declared, strict=True))))
    return rows


def _grid(run: RunResult, family: str, declared: list[set[str]]) -> FamilyGrid:
    first: dict[str, ClauseResult] = {}
    cells: dict[str, list[GridCell]] = {}
    for index, adapter in enumerate(run.adapters):
        for clause in adapter.clauses:
            if clause.family != family:
                continue
            first.setdefault(clause.id, clause)
            row = cells.setdefault(clause.id, [GridCell(None)] * len(run.adapters))
            row[index] = _cell(clause, family in declared[index])
    rows = tuple(
        GridRow(cid, clause.title, clause_source(clause), clause_anchor(clause), tuple(cells[cid]))
        for cid, clause in first.items()
    )
    return FamilyGrid(family, rows)


def _cell(clause: ClauseResult, declared: bool) -> GridCell:
    if not declared:
        return GridCell(Status.NOT_APPLICABLE)
    reason, link = ("", "") if clause.expectation is None else (clause.expectation.reason, clause.expectation.link)
    tests = failing_tests(clause) if clause.status in (Status.FAIL, Status.ERROR) else []
    if clause.status == Status.DEVIATES:
        tests = [t for t in clause.tests if t.status in (Status.FAIL, Status.ERROR, Status.DEVIATES)]
    return GridCell(clause.status, largest_ratio(clause), tuple(tests), reason, link)


def slowest(run: RunResult, shown: int = SLOWEST_SHOWN) -> list[WallTime]:
    """The longest (adapter, family) wall times of the run, longest first."""
    found = [
        WallTime(adapter.name, family, float(seconds))
        for adapter in run.adapters
        for family, seconds in adapter.wall_s.items()
        if family not in _WALL_TOTALS and isinstance(seconds, (int, float))
    ]
    return sorted(found, key=lambda w: -w.seconds)[:shown]


def operation_charts(run: RunResult) -> list[OperationChart]:
    """The run's benchmarks per operation (benchmark name and timing mode), adapters side by side."""
    by_operation: dict[tuple[str, str, str], list[tuple[str, Any]]] = {}
    for adapter in run.adapters:
        for bench in adapter.benchmarks:
            key = (bench.family, bench.name, bench.mode)
            by_operation.setdefault(key, []).append((adapter.name, bench))
    charts = []
    for (family, name, mode), pairs in by_operation.items():
        shown = [shown_params(bench.params, bench.size) for _, bench in pairs]
        common = common_params(shown)
        rows = tuple(
            BenchmarkRow(adapter, bench, {k: v for k, v in params.items() if k not in common})
            for (adapter, bench), params in zip(pairs, shown, strict=True)
        )
        ceilings = {bench.ceiling for _, bench in pairs}
        roofline = ""
        if len(ceilings) == 1 and "" not in ceilings and name_has_rate(pairs):
            roofline = next(iter(ceilings))
        device = pairs[0][1].device
        operation = name if mode in (device, "") else f"{name} [{where(device, mode)}]"
        charts.append(OperationChart(family, operation, common, rows, roofline if roofline in run.ceilings else ""))
    return charts


def name_has_rate(pairs: list[tuple[str, Any]]) -> bool:
    """Whether every benchmark of an operation records an achieved rate (FLOP/s or B/s)."""
    return all(b.achieved_flops_per_s is not None or b.achieved_bytes_per_s is not None for _, b in pairs)


def status_totals(report: Report) -> dict[str, dict[str, int]]:
    """Per adapter, clause counts per status over declared families: what every view must agree on."""
    totals: dict[str, dict[str, int]] = {}
    for index, adapter in enumerate(report.adapters):
        counts = dict.fromkeys(Status.ALL, 0)
        for grid in report.grids:
            for row in grid.rows:
                status = row.cells[index].status
                if status in counts:
                    counts[status] += 1
        totals[adapter.name] = counts
    return totals
