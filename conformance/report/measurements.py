"""What the renderers show of benchmarks and scaling: rates, per-family tables, speedups.

The terminal, Markdown and HTML reports (and the plots) read benchmark rows through this
module, so they agree on which parameters a family's rows share, how a rate and a ceiling
fraction are written, how adapters are compared with each other, and which test evidence
is a scaling series. Like common.py it returns plain strings and small records: escaping
and layout stay with each renderer.

It leaves out judging anything: a speedup or a fitted exponent is shown, the verdict on a
complexity clause belongs to its test and the verdict on a regression to compare.py.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from typing import Any

from specformer.conformance.report.common import (
    compact_params,
    format_number,
    format_seconds,
    params_key,
    three_digits,
)
from specformer.conformance.results import BenchmarkResult, RunResult

FLOPS_UNIT, BYTES_UNIT = "FLOP/s", "B/s"
_SI_PREFIXES = (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3))
DEFAULT_BASELINE_ADAPTER = "reference"


@dataclass(frozen=True)
class BenchmarkRow:
    """One benchmark of one adapter; `params` holds only what its group does not share (size included)."""

    adapter: str
    bench: BenchmarkResult
    params: dict[str, Any]


@dataclass(frozen=True)
class BenchmarkGroup:
    """The benchmarks of one family, with the parameters every row has in common."""

    family: str
    common: dict[str, Any]
    rows: list[BenchmarkRow]


@dataclass(frozen=True)
class SpeedupCell:
    """One adapter's timing of one benchmark, and its speedup over the baseline adapter."""

    median_s: float
    iqr_s: float
    speedup: float | None  # baseline median / this median; None where the baseline lacks it


@dataclass(frozen=True)
class SpeedupRow:
    """One benchmark across adapters; `cells[i]` belongs to `Speedups.adapters[i]` (None: not run)."""

    family: str
    name: str
    params: dict[str, Any]  # with the ladder size, as `shown_params` gives them
    size: int | None
    mode: str
    device: str
    cells: tuple[SpeedupCell | None, ...]


@dataclass(frozen=True)
class Speedups:
    """The comparison across adapters: `adapters` are those with benchmarks, in run order."""

    baseline: str
    adapters: tuple[str, ...]
    rows: list[SpeedupRow]


@dataclass(frozen=True)
class ScalingSeries:
    """The `scaling` evidence of one test: a measured quantity over a ladder of sizes."""

    adapter: str
    clause: str
    operation: str
    quantity: str  # "time" or "memory"
    unit: str  # "s" or "B"
    sizes: tuple[float, ...]
    values: tuple[float, ...]
    used: tuple[bool, ...]  # False: excluded from the fit (launch-bound or noisy)
    exponent: float | None
    ci: tuple[float, float] | None
    r_squared: float | None
    expected: float | None
    band: tuple[float, float] | None


# --- number formats ----------------------------------------------------------------------


def format_rate(value: float | None, unit: str) -> str:
    """A rate with a decimal SI prefix.

    >>> format_rate(7.7e14, "FLOP/s"), format_rate(4.2e11, "B/s"), format_rate(950.0, "B/s")
    ('770 TFLOP/s', '420 GB/s', '950 B/s')
    """
    if value is None:
        return "—"
    if not math.isfinite(value) or value <= 0:
        return f"{value:g} {unit}"
    for prefix, scale in _SI_PREFIXES:
        if value >= scale:
            return f"{three_digits(value / scale)} {prefix}{unit}"
    return f"{three_digits(value)} {unit}"


def format_fraction(fraction: float | None) -> str:
    """A fraction of the ceiling as a percentage; above 100% it is a measurement error.

    >>> format_fraction(0.623), format_fraction(0.0341), format_fraction(1.2), format_fraction(None)
    ('62.3%', '3.41%', 'invalid', '—')
    """
    if fraction is None:
        return "—"
    if fraction > 1:
        return "invalid"
    return f"{three_digits(fraction * 100) if fraction > 0 else 0}%"


def correct_mark(correct: bool | None) -> str:
    """✓ checked and right, ✗ checked and wrong, — not checked."""
    if correct is None:
        return "—"
    return "✓" if correct else "✗"


def flags_text(flags: list[str]) -> str:
    return ", ".join(flags)


def format_speedup(speedup: float | None) -> str:
    return "—" if speedup is None else f"{speedup:.2f}×"


def speedup_cell_text(cell: SpeedupCell | None) -> str:
    """'1.65 ms (IQR 256 µs) 7.27×': one adapter's cell of the comparison across adapters."""
    if cell is None:
        return "—"
    return f"{format_seconds(cell.median_s)} (IQR {format_seconds(cell.iqr_s)}) {format_speedup(cell.speedup)}"


def where(device: str, mode: str) -> str:
    """Device and timing mode in one word or two.

    >>> where("cpu", "cpu"), where("cuda", "cold")
    ('cpu', 'cuda cold')
    """
    return device if mode == device else f"{device} {mode}"


def shown_params(params: dict[str, Any], size: int | None) -> dict[str, Any]:
    """The parameters to show for a benchmark: its own, plus the ladder size where none holds it.

    >>> shown_params({"heads": 8}, 1024), shown_params({"L": 1024}, 1024)
    ({'heads': 8, 'size': 1024}, {'L': 1024})
    """
    if size is None or "size" in params or any(_same(value, size) for value in params.values()):
        return params
    return {**params, "size": size}


def params_text(params: dict[str, Any], size: int | None = None) -> str:
    """Parameters on one line, with the ladder size where the parameters do not hold it."""
    return compact_params(shown_params(params, size))


# --- rates and ceilings --------------------------------------------------------------------


def achieved_rate(bench: BenchmarkResult, ceilings: dict[str, dict[str, Any]]) -> tuple[float, str] | None:
    """(rate, unit) of a benchmark: the one its ceiling is measured in, else FLOP/s, else B/s."""
    rates = {FLOPS_UNIT: bench.achieved_flops_per_s, BYTES_UNIT: bench.achieved_bytes_per_s}
    preferred = ceilings.get(bench.ceiling, {}).get("unit")
    for unit in (preferred, FLOPS_UNIT, BYTES_UNIT):
        value = rates.get(unit) if unit else None
        if value is not None:
            return value, unit
    return None


def rate_text(bench: BenchmarkResult, ceilings: dict[str, dict[str, Any]]) -> str:
    rate = achieved_rate(bench, ceilings)
    return "—" if rate is None else format_rate(*rate)


def load_average_text(run: RunResult) -> str:
    """The machine's load while the benchmarks ran, from the 1-minute load average recorded at their
    start and end (environment["load_average"]), or "" for a run that did not record it.

    >>> load = {"cpus": 2, "start": [1.1, 1.4, 1.3], "end": [3.52, 2, 1.5]}
    >>> load_average_text(RunResult(environment={"load_average": load}, profile="ci"))
    "Load average (1 min) 1.1 at the benchmarks' start, 3.52 at their end, on 2 CPUs (above 2: timings shared cores)"
    """
    load = run.environment.get("load_average")
    if not isinstance(load, dict):
        return ""
    start, end, cpus = load.get("start"), load.get("end"), load.get("cpus")
    first = lambda values: f"{values[0]:g}" if isinstance(values, list) and values else "unknown"  # noqa: E731
    text = f"Load average (1 min) {first(start)} at the benchmarks' start, {first(end)} at their end"
    if isinstance(cpus, int):
        text += f", on {cpus} CPUs (above {cpus}: timings shared cores)"
    return text


def ceiling_rows(run: RunResult) -> list[tuple[str, str, str]]:
    """(name, value with unit, parameters) of each ceiling measured in the run, by name."""
    rows = []
    for name, ceiling in sorted(run.ceilings.items()):
        value = ceiling.get("value")
        unit = str(ceiling.get("unit", ""))
        shown = format_rate(value, unit) if isinstance(value, (int, float)) else format_number(value)
        rows.append((name, shown, compact_params(ceiling.get("params") or {})))
    return rows


# --- benchmark tables ----------------------------------------------------------------------


def benchmark_groups(run: RunResult) -> list[BenchmarkGroup]:
    """The run's benchmarks per family (in the order first seen), shared parameters split off."""
    by_family: dict[str, list[tuple[str, BenchmarkResult]]] = {}
    for adapter in run.adapters:
        for bench in adapter.benchmarks:
            by_family.setdefault(bench.family, []).append((adapter.name, bench))
    groups = []
    for family, pairs in by_family.items():
        shown = [shown_params(bench.params, bench.size) for _, bench in pairs]
        common = common_params(shown)
        rows = [
            BenchmarkRow(name, bench, _without(params, common))
            for (name, bench), params in zip(pairs, shown, strict=True)
        ]
        groups.append(BenchmarkGroup(family, common, rows))
    return groups


def common_params(param_sets: list[dict[str, Any]]) -> dict[str, Any]:
    """The parameters every set has, with the same value, in the first set's order.

    >>> common_params([{"batch": 64, "top_k": 50}, {"batch": 64, "top_p": 0.9}])
    {'batch': 64}
    """
    if not param_sets:
        return {}
    first, *rest = param_sets
    return {
        key: value for key, value in first.items() if all(key in other and _same(other[key], value) for other in rest)
    }


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True, default=str)


def _without(params: dict[str, Any], common: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in params.items() if key not in common}


def short_name(name: str, family: str) -> str:
    """A benchmark's name without its family prefix, for a table already titled by family."""
    prefix = f"{family}."
    return name[len(prefix) :] if name.startswith(prefix) and len(name) > len(prefix) else name


# --- comparison across adapters ------------------------------------------------------------


def benchmark_speedups(run: RunResult, baseline_adapter: str | None = None) -> Speedups:
    """Each benchmark across adapters: median, IQR and speedup = baseline median / median.

    Benchmarks match by (name, params, size, mode, device). The baseline adapter is
    `baseline_adapter`, else "reference" where it has benchmarks, else the first adapter
    with benchmarks.
    """
    adapters = tuple(a.name for a in run.adapters if a.benchmarks)
    baseline = _baseline_adapter(adapters, baseline_adapter)
    table: dict[tuple[str, ...], dict[str, BenchmarkResult]] = {}
    for adapter in run.adapters:
        for bench in adapter.benchmarks:
            table.setdefault(_speedup_key(bench), {}).setdefault(adapter.name, bench)
    rows = [_speedup_row(by_adapter, adapters, baseline) for by_adapter in table.values()]
    return Speedups(baseline, adapters, rows)


def _baseline_adapter(adapters: tuple[str, ...], requested: str | None) -> str:
    if requested is not None:
        if requested not in adapters:
            known = ", ".join(adapters) or "none"
            raise ValueError(f"baseline_adapter={requested!r} has no benchmarks in this run; adapters with: {known}")
        return requested
    if DEFAULT_BASELINE_ADAPTER in adapters:
        return DEFAULT_BASELINE_ADAPTER
    return adapters[0] if adapters else ""


def _speedup_key(bench: BenchmarkResult) -> tuple[str, ...]:
    return (bench.name, params_key(bench.params), str(bench.size), bench.mode, bench.device)


def _speedup_row(by_adapter: dict[str, BenchmarkResult], adapters: tuple[str, ...], baseline: str) -> SpeedupRow:
    first = next(iter(by_adapter.values()))
    reference = by_adapter.get(baseline)
    cells = tuple(_speedup_cell(by_adapter.get(name), reference) for name in adapters)
    params = shown_params(first.params, first.size)
    return SpeedupRow(first.family, first.name, params, first.size, first.mode, first.device, cells)


def _speedup_cell(bench: BenchmarkResult | None, baseline: BenchmarkResult | None) -> SpeedupCell | None:
    if bench is None:
        return None
    speedup = None
    if baseline is not None and bench.median_s > 0:
        speedup = baseline.median_s / bench.median_s
    return SpeedupCell(bench.median_s, bench.iqr_s, speedup)


def speedup_groups(speedups: Speedups) -> list[tuple[str, dict[str, Any], list[tuple[SpeedupRow, dict[str, Any]]]]]:
    """(family, shared parameters, [(row, its other parameters)]) per family, as first seen."""
    by_family: dict[str, list[SpeedupRow]] = {}
    for row in speedups.rows:
        by_family.setdefault(row.family, []).append(row)
    groups = []
    for family, rows in by_family.items():
        common = common_params([row.params for row in rows])
        groups.append((family, common, [(row, _without(row.params, common)) for row in rows]))
    return groups


def adapters_with_cells(rows: list[tuple[SpeedupRow, dict[str, Any]]], count: int) -> list[int]:
    """The indices of the adapters (of `count`) with a timing in some row of a speedup group."""
    return [i for i in range(count) if any(row.cells[i] is not None for row, _ in rows)]


# --- scaling evidence ----------------------------------------------------------------------


def scaling_series(run: RunResult) -> list[ScalingSeries]:
    """Every well-formed `scaling` entry in the tests' evidence, in run order."""
    found = []
    for adapter in run.adapters:
        for clause in adapter.clauses:
            for test in clause.tests:
                series = _parse_scaling(adapter.name, clause.id, test.evidence.get("scaling"))
                if series is not None:
                    found.append(series)
    return found


def scaling_groups(run: RunResult) -> dict[tuple[str, str], list[ScalingSeries]]:
    """The scaling series by (operation, quantity), across adapters, in the order first seen."""
    groups: dict[tuple[str, str], list[ScalingSeries]] = {}
    for series in scaling_series(run):
        groups.setdefault((series.operation, series.quantity), []).append(series)
    return groups


def _parse_scaling(adapter: str, clause: str, data: Any) -> ScalingSeries | None:
    # Evidence is free-form JSON: a malformed entry is skipped, never a crash of the report.
    if not isinstance(data, dict):
        return None
    sizes, values = _numbers(data.get("sizes")), _numbers(data.get("values"))
    if sizes is None or values is None or len(sizes) != len(values) or not sizes:
        return None
    used = data.get("used")
    flags = tuple(bool(u) for u in used) if isinstance(used, list) and len(used) == len(sizes) else (True,) * len(sizes)
    return ScalingSeries(
        adapter=adapter,
        clause=clause,
        operation=str(data.get("operation", "?")),
        quantity=str(data.get("quantity", "?")),
        unit=str(data.get("unit", "")),
        sizes=sizes,
        values=values,
        used=flags,
        exponent=_number(data.get("exponent")),
        ci=_pair(data.get("ci")),
        r_squared=_number(data.get("r_squared")),
        expected=_number(data.get("expected")),
        band=_pair(data.get("band")),
    )


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


def _numbers(values: Any) -> tuple[float, ...] | None:
    if not isinstance(values, list):
        return None
    numbers = tuple(_number(v) for v in values)
    return None if any(n is None for n in numbers) else numbers  # type: ignore[return-value]


def _pair(values: Any) -> tuple[float, float] | None:
    numbers = _numbers(values)
    return (numbers[0], numbers[1]) if numbers is not None and len(numbers) == 2 else None


def format_exponent(series: ScalingSeries) -> str:
    """'1.98 [1.91, 2.05]': the fitted exponent and its confidence interval.

    >>> format_exponent(ScalingSeries("a", "C", "op", "time", "s", (1.0,), (1.0,), (True,),
    ...                               1.98, (1.91, 2.05), None, 2.0, None))
    '1.98 [1.91, 2.05]'
    """
    if series.exponent is None:
        return "—"
    interval = f" [{series.ci[0]:.2f}, {series.ci[1]:.2f}]" if series.ci else ""
    return f"{series.exponent:.2f}{interval}"


def format_band(band: tuple[float, float] | None) -> str:
    return "—" if band is None else f"[{band[0]:g}, {band[1]:g}]"


def used_text(series: ScalingSeries) -> str:
    """'5 of 7': how many sizes the fit used."""
    return f"{sum(series.used)} of {len(series.used)}"


# The Scaling table of the HTML and Markdown reports: its columns, and one fit's cells as plain text (each
# writer escapes them its own way; the last five are numbers).
SCALING_HEADERS = (
    "operation",
    "quantity",
    "adapter",
    "clause",
    "exponent [CI]",
    "expected",
    "accepted",
    "r²",
    "sizes used",
)


def scaling_cells(series: ScalingSeries) -> list[str]:
    return [
        series.operation,
        series.quantity,
        series.adapter,
        series.clause,
        format_exponent(series),
        "—" if series.expected is None else f"{series.expected:g}",
        format_band(series.band),
        "—" if series.r_squared is None else f"{series.r_squared:.3f}",
        used_text(series),
    ]


@dataclass(frozen=True)
class Agreement:
    """One adapter's agreement with the reference on one real vocabulary (tokenizers family)."""

    adapter: str
    clause: str
    vocabulary: str
    strings: int
    agreeing: int
    percent: float
    first_difference: str  # "" when every string agrees
    explained_by: str  # the clause that explains the first difference, "" when none differs


def agreements(run: RunResult) -> list[Agreement]:
    """Every well-formed `agreement` entry in the tests' evidence, in run order."""
    found = []
    for adapter in run.adapters:
        for clause in adapter.clauses:
            for test in clause.tests:
                data = test.evidence.get("agreement")
                if not isinstance(data, dict) or not isinstance(data.get("strings"), int):
                    continue  # free-form evidence: skip what is malformed, never crash the report
                first = data.get("first_difference")
                first_text = ""
                if isinstance(first, dict):
                    first_text = (
                        f"{first.get('text')!r}: expected {first.get('expected')!r}, got {first.get('actual')!r}"
                    )
                found.append(
                    Agreement(
                        adapter=adapter.name,
                        clause=clause.id,
                        vocabulary=str(data.get("vocabulary", "")),
                        strings=data["strings"],
                        agreeing=int(data.get("agreeing", 0)),
                        percent=float(data.get("percent", 0.0)),
                        first_difference=first_text,
                        explained_by=str(data.get("clause") or ""),
                    )
                )
    return found


# --- generation: serving metrics (GEN-MET-01..04) ------------------------------------------
# The generation benchmarks (bench/generation.py) write one row per (metric, size); a reader wants
# them side by side: TTFT and TPOT per context, tokens/s per batch, weights against cache bytes.
# Each table is (title, headers, rows of plain strings); the writers escape and lay them out.


@dataclass(frozen=True)
class GenerationTable:
    title: str
    headers: list[str]
    rows: list[list[str]]
    names: tuple[str, ...] = ()  # the benchmark rows it tabulates (a view may show it instead of them)


def generation_tables(run: RunResult) -> list[GenerationTable]:
    """The serving metrics of the run's generation rows as tables; [] for a run without them."""
    tables = [_latency_table(run), _throughput_table(run), _memory_table(run), _decode_step_table(run)]
    models = generation_models(run)
    if len(models) == 1:  # the rows' labels leave the one model out: the titles name it
        tables = [replace(table, title=f"{table.title} · model {models[0]}") for table in tables]
    return [table for table in tables if table.rows]


def generation_series(run: RunResult, name: str) -> dict[str, list[tuple[float, float]]]:
    """(size, median) points per adapter of one generation row name, by size: what the plots draw.
    For "generation.throughput" the value is generated tokens per second (batch × new tokens / median)."""
    series: dict[str, list[tuple[float, float]]] = {}
    for adapter, bench in _generation_rows(run, name):
        if bench.size is None or bench.median_s <= 0:
            continue
        value = _tokens_per_s(bench) if name == "generation.throughput" else bench.median_s
        if value is not None:
            series.setdefault(adapter, []).append((float(bench.size), value))
    return {adapter: sorted(points) for adapter, points in series.items()}


def memory_points(run: RunResult) -> list[tuple[str, int, int, int, int | None]]:
    """(adapter, context, weight bytes, measured cache bytes, formula bytes) of each kv_cache.memory row."""
    points = []
    for adapter, bench in _generation_rows(run, "kv_cache.memory"):
        params = bench.params
        weights, cache, context = params.get("weight_bytes"), params.get("cache_bytes"), params.get("context")
        if all(isinstance(v, int) for v in (weights, cache, context)):
            formula = params.get("formula_bytes")
            points.append((adapter, context, weights, cache, formula if isinstance(formula, int) else None))
    return points


def format_bytes(count: float | None) -> str:
    """Bytes in binary units, three significant digits.

    >>> format_bytes(512), format_bytes(3 * 2**20), format_bytes(None)
    ('512 B', '3.00 MiB', '—')
    """
    if count is None:
        return "—"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(count) >= scale:
            return f"{three_digits(count / scale)} {unit}"
    return f"{count:g} B"


def generation_label(adapter: str, bench: BenchmarkResult, *, model: bool = True) -> str:
    """What a generation row measured: the adapter, then (bench/generation.py's params) the model unless
    `model` is False (a run of one model names it in the titles instead) and the cache kind unless it is
    the default, dynamic; so that rows of one adapter stay apart and short labels stay short.

    >>> row = BenchmarkResult("generation.tpot", "generation", "cpu", {"model": "gpt2", "cache": "static"}, [1.0],
    ...                       1.0, 0.0, 1)
    >>> generation_label("hf", row), generation_label("hf", row, model=False)
    ('hf gpt2 static', 'hf static')
    """
    name, cache = bench.params.get("model"), bench.params.get("cache")
    described = [name if model and isinstance(name, str) else None, cache if cache != "dynamic" else None]
    return " ".join([adapter, *(v for v in described if isinstance(v, str))])


def generation_models(run: RunResult) -> list[str]:
    """The models the run's generation rows name (params "model"), in order of appearance."""
    names = [b.params.get("model") for a in run.adapters for b in a.benchmarks if b.family == "generation"]
    return list(dict.fromkeys(n for n in names if isinstance(n, str)))


def _generation_rows(run: RunResult, name: str) -> list[tuple[str, BenchmarkResult]]:
    """(label, row) of the run's rows of one name, by label and size; the label is generation_label's,
    naming the model only when the run has several."""
    several = len(generation_models(run)) > 1
    rows = [
        (generation_label(a.name, b, model=several), b) for a in run.adapters for b in a.benchmarks if b.name == name
    ]
    return sorted(rows, key=lambda pair: (pair[0], pair[1].size if pair[1].size is not None else -1))


def _tokens_per_s(bench: BenchmarkResult) -> float | None:
    batch, new_tokens = bench.params.get("batch"), bench.params.get("new_tokens")
    if not isinstance(batch, int) or not isinstance(new_tokens, int) or bench.median_s <= 0:
        return None
    return batch * new_tokens / bench.median_s


def _spread(bench: BenchmarkResult) -> str:
    return f"{format_seconds(bench.median_s)} ± {format_seconds(bench.iqr_s / 2)}"


def _latency_table(run: RunResult) -> GenerationTable:
    tpot = {(a, b.size): b for a, b in _generation_rows(run, "generation.tpot")}
    rows = []
    for adapter, ttft in _generation_rows(run, "generation.ttft"):
        later = tpot.get((adapter, ttft.size))
        rate = f"{three_digits(1 / later.median_s)} tok/s" if later is not None and later.median_s > 0 else "—"
        floor = later.params.get("floor_s") if later is not None else None
        rows.append(
            [
                adapter,
                format_number(ttft.params.get("context")),
                format_number(ttft.params.get("new_tokens")),
                _spread(ttft),
                _spread(later) if later is not None else "—",
                rate,
                format_seconds(floor) if isinstance(floor, float) and floor > 0 else "—",
                f"{three_digits(later.median_s / floor)}×" if isinstance(floor, float) and floor > 0 else "—",
                correct_mark(ttft.correct),
            ]
        )
    headers = [
        "adapter",
        "context",
        "new tokens",
        "TTFT (median ± IQR/2)",
        "TPOT (median ± IQR/2)",
        "1 / TPOT",
        "TPOT floor (bytes / bandwidth)",
        "TPOT / floor",
        "ok",
    ]
    title = "Latency against context (batch 1): TTFT and TPOT"
    return GenerationTable(title, headers, rows, ("generation.ttft", "generation.tpot"))


def _throughput_table(run: RunResult) -> GenerationTable:
    rows = []
    for adapter, bench in _generation_rows(run, "generation.throughput"):
        rate = _tokens_per_s(bench)
        bound = bench.params.get("floor_tokens_per_s")
        rows.append(
            [
                adapter,
                format_number(bench.params.get("batch")),
                format_number(bench.params.get("context")),
                format_number(bench.params.get("new_tokens")),
                _spread(bench),
                "—" if rate is None else f"{three_digits(rate)} tok/s",
                f"{three_digits(bound)} tok/s" if isinstance(bound, float) else "—",
                correct_mark(bench.correct),
            ]
        )
    headers = [
        "adapter",
        "batch",
        "context",
        "new tokens",
        "request (median ± IQR/2)",
        "throughput",
        "decode floor (bandwidth)",
        "ok",
    ]
    title = "Throughput against batch size (generated tokens per second)"
    return GenerationTable(title, headers, rows, ("generation.throughput",))


def _memory_table(run: RunResult) -> GenerationTable:
    rows = []
    for adapter, context, weights, cache, formula in memory_points(run):
        share = f"{cache / (weights + cache):.1%}" if weights + cache > 0 else "—"
        same = "—" if formula is None else ("✓" if formula == cache else "✗")
        rows.append(
            [adapter, str(context), format_bytes(weights), format_bytes(cache), format_bytes(formula), same, share]
        )
    headers = ["adapter", "context", "weights", "KV cache (measured)", "KV-SIZE-01 formula", "equal", "cache share"]
    return GenerationTable("Memory: weights and KV cache (batch 1)", headers, rows, ("kv_cache.memory",))


def _decode_step_table(run: RunResult) -> GenerationTable:
    rows = []
    for name, label in (("kv_cache.decode_step", "with cache"), ("kv_cache.decode_step_no_cache", "no cache")):
        by_adapter: dict[str, list[BenchmarkResult]] = {}
        for adapter, bench in _generation_rows(run, name):
            by_adapter.setdefault(adapter, []).append(bench)
        for adapter, benches in by_adapter.items():
            times = ", ".join(f"{b.size}: {format_seconds(b.median_s)}" for b in benches)
            exponent, interval = benches[0].params.get("exponent"), benches[0].params.get("exponent_ci")
            fitted = format_number(exponent) + (f" {format_number(interval)}" if interval is not None else "")
            rows.append([adapter, label, fitted, times])
    headers = ["adapter", "decode step", "fitted exponent [interval]", "median per context"]
    title = "One decode step against context (a cache: ~1; none: ~2)"
    return GenerationTable(title, headers, rows, ("kv_cache.decode_step", "kv_cache.decode_step_no_cache"))
