"""Plots for the HTML report: inline SVG drawn with matplotlib, an optional dependency.

Three kinds of figure:

- scaling: per (operation, quantity), each adapter's measured values against size on
  log-log axes, points excluded from the fit hollow, the fitted power law, and the spec's
  expected exponent as a reference slope;
- benchmarks: one figure per operation (report model's `OperationChart`), each parameter
  set's adapters as neighbouring bars: achieved throughput with the measured ceiling as a
  dashed line where the operation's roofline applies, else the median time per call with
  interquartile whiskers; a log axis where the values span more than 30x; each bar labelled
  with its value (a log axis cannot be read off to a value);
- speedups: per family, each adapter's speedup over the baseline adapter on a log axis.

The SVG must sit inside a self-contained page, so `_clean_svg` drops the XML prolog, the
metadata block (it names URLs) and comments, and prefixes every id with the figure's own
prefix so that ids of several figures cannot collide. Text from the run reaches the SVG
only as matplotlib text (escaped by its SVG writer), with mathtext parsing turned off so a
"$" in an adapter name is shown as written. Pyplot is never used: figures are built on the
Agg canvas, so no global backend or figure registry is touched.

Bar charts are drawn the width of the page's column (PAGE_WIDTH_IN), line charts half of it,
two to a row (Plot.half); long labels wrap onto more lines, never cut, and the figure grows to
hold them. It leaves out interactivity and raster output.
"""

from __future__ import annotations

import io
import math
import multiprocessing
import os
import re
import statistics
import textwrap
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from specformer.conformance.report.common import compact_params, format_seconds
from specformer.conformance.report.measurements import (
    BenchmarkRow,
    ScalingSeries,
    achieved_rate,
    format_exponent,
    format_rate,
    generation_series,
    memory_points,
    params_text,
    scaling_groups,
    speedup_groups,
)
from specformer.conformance.report.model import OperationChart, Report
from specformer.conformance.results import BenchmarkResult, RunResult

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

MATPLOTLIB_MISSING = "plots need matplotlib (pip install matplotlib)"
# The HTML page's column is 1216 px (html.py: 78rem less padding); matplotlib writes SVG sizes in
# points (72 per inch), which a browser draws at 96 px per inch.
PAGE_WIDTH_IN = 12.6
HALF_WIDTH_IN = 6.2  # two to a row
LABEL_WIDTH = 44  # characters per line of a bar's label before it wraps
TITLE_WIDTH = 170  # characters per line of a chart's title
_RC = {
    "svg.hashsalt": "specformer",  # deterministic ids (matplotlib otherwise uses random ones)
    "svg.fonttype": "none",  # text as <text>, not glyph paths: smaller, searchable
    "font.size": 9,
    "axes.grid": True,
    "grid.alpha": 0.3,
}
_TAG = re.compile(r"<[^<>]+>")


@dataclass(frozen=True)
class Plot:
    """One figure: a caption and the SVG markup to place inline."""

    title: str
    svg: str
    half: bool = False  # drawn half the page's width, to sit beside the next half figure


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def scaling_plots(run: RunResult) -> list[Plot]:
    """One log-log figure per (operation, quantity) found in the run's scaling evidence."""
    groups = scaling_groups(run).items()
    return _drawn(_scaling_plot, [(index, *key, series) for index, (key, series) in enumerate(groups)])


def _scaling_plot(index: int, operation: str, quantity: str, series: list[ScalingSeries]) -> Plot:
    title = f"{operation} · {quantity} against size"
    with _style():
        figure = _figure(HALF_WIDTH_IN, 4.2)
        _draw_scaling(figure.add_subplot(), series, title)
        return Plot(title, _svg(figure, f"scaling{index}"), half=True)


def _drawn(draw: Callable[..., Plot], calls: list[tuple[Any, ...]]) -> list[Plot]:
    """draw(*call) for each call, in order: in forked processes, one per core, where there are several
    figures (matplotlib draws on one core, and a report's figures are independent; the SVG is the
    same either way), else here."""
    cores = os.cpu_count() or 1
    if len(calls) < 2 or cores < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return [draw(*call) for call in calls]
    import matplotlib.figure  # noqa: F401  imported once, before the fork

    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=min(cores, len(calls)), mp_context=context) as pool:
        return list(pool.map(_call, [(draw, call) for call in calls]))


def _call(job: tuple[Callable[..., Plot], tuple[Any, ...]]) -> Plot:
    draw, call = job
    return draw(*call)


# --- scaling -------------------------------------------------------------------------------


def _draw_scaling(axes: Axes, series_list: list[ScalingSeries], title: str) -> None:
    from matplotlib.lines import Line2D

    axes.set_xscale("log")
    axes.set_yscale("log")
    handles: list[Any] = []
    labels: list[str] = []
    for index, series in enumerate(series_list):
        color = f"C{index % 10}"
        _draw_series(axes, series, color)
        handles.append(Line2D([], [], color=color, marker="o"))
        labels.append(f"{series.adapter}: k={format_exponent(series)}")
    reference = _reference_slope(axes, series_list)
    if reference is not None:
        handles.append(reference[0])
        labels.append(reference[1])
    first = series_list[0]
    _size_ticks(axes, series_list)
    _unit_labels(axes, first.unit)
    axes.set_xlabel("size")
    axes.set_ylabel(first.quantity, parse_math=False)
    axes.set_title(title, parse_math=False)
    _legend(axes, handles, labels)


def _unit_labels(axes: Axes, unit: str) -> None:
    """The log y axis labelled in units (6 ms, not 6 x 10^-3), its minor ticks too: matplotlib
    picks which minor ticks to label (all where the values span under a decade, some around
    one, none beyond), and they are written like the major ones instead of typeset in mathtext."""
    from matplotlib.ticker import EngFormatter, LogFormatterSciNotation

    class MinorInUnits(LogFormatterSciNotation):
        def __call__(self, x: float, pos: int | None = None) -> str:
            return major(x, pos) if super().__call__(x, pos) else ""

    major = EngFormatter(unit=unit)
    axes.yaxis.set_major_formatter(major)
    axes.yaxis.set_minor_formatter(MinorInUnits(labelOnlyBase=False))


def _size_ticks(axes: Axes, series_list: list[ScalingSeries]) -> None:
    """The ladder's sizes as the x ticks, written plainly (512, not 5.12 × 10²)."""
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

    sizes = sorted({size for series in series_list for size in series.sizes if size > 0})
    axes.xaxis.set_major_locator(FixedLocator(sizes))
    axes.xaxis.set_major_formatter(FixedFormatter([f"{size:g}" for size in sizes]))
    axes.xaxis.set_minor_locator(NullLocator())


def _draw_series(axes: Axes, series: ScalingSeries, color: str) -> None:
    points = [(s, v, u) for s, v, u in zip(series.sizes, series.values, series.used, strict=True) if s > 0 and v > 0]
    if not points:
        return
    axes.plot([p[0] for p in points], [p[1] for p in points], "-", color=color, alpha=0.35, linewidth=1)
    used = [p for p in points if p[2]]
    excluded = [p for p in points if not p[2]]
    axes.plot([p[0] for p in used], [p[1] for p in used], "o", color=color)
    axes.plot([p[0] for p in excluded], [p[1] for p in excluded], "o", markerfacecolor="none", color=color)
    if series.exponent is not None and used:
        sizes, fitted = _power_law(used, series.exponent)
        axes.plot(sizes, fitted, ":", color=color, linewidth=1.5)


def _power_law(points: list[tuple[float, float, bool]], exponent: float) -> tuple[list[float], list[float]]:
    """The line value = c · size^exponent through the points' geometric centre, over their sizes."""
    log_c = statistics.fmean(math.log(v) - exponent * math.log(s) for s, v, _ in points)
    sizes = [min(p[0] for p in points), max(p[0] for p in points)]
    return sizes, [math.exp(log_c) * s**exponent for s in sizes]


def _reference_slope(axes: Axes, series_list: list[ScalingSeries]) -> tuple[Any, str] | None:
    """The expected exponent as a grey dashed line through the first series' fitted points."""
    series = next((s for s in series_list if s.expected is not None), None)
    if series is None or series.expected is None:
        return None
    points = [(s, v, u) for s, v, u in zip(series.sizes, series.values, series.used, strict=True) if s > 0 and v > 0]
    points = [p for p in points if p[2]] or points
    if not points:
        return None
    sizes, values = _power_law(points, series.expected)
    (line,) = axes.plot(sizes, values, "--", color="0.45", linewidth=1)
    band = f", accepted [{series.band[0]:g}, {series.band[1]:g}]" if series.band else ""
    return line, f"expected k={series.expected:g}{band}"


# --- benchmarks ----------------------------------------------------------------------------


def _quartile_distances(row: BenchmarkRow) -> tuple[float, float]:
    """(median − first quartile, third quartile − median) from the samples, else IQR/2 each."""
    bench = row.bench
    if len(bench.samples_s) >= 2:
        first, _, third = statistics.quantiles(bench.samples_s, n=4)
        return max(0.0, bench.median_s - first), max(0.0, third - bench.median_s)
    return bench.iqr_s / 2, bench.iqr_s / 2


def _wrap(text: str, width: int = LABEL_WIDTH) -> str:
    """The text on lines of at most `width` characters, broken between parameters where it can.

    >>> _wrap("merges=4000 text_bytes=1000000 tie_break=first-occurrence", 30).splitlines()
    ['merges=4000 text_bytes=1000000', 'tie_break=first-occurrence']
    """
    lines = textwrap.wrap(" ".join(text.split()), width, break_long_words=False, break_on_hyphens=False)
    return "\n".join(lines) or text


def _label_bars(axes: Axes, container: Any, labels: list[str]) -> None:
    """Each bar's value written at its end, and room on the right for the text (linear or log axis)."""
    axes.bar_label(container, labels, padding=3, fontsize=7)
    left, right = axes.get_xlim()
    axes.set_xlim(left, right * (3.0 if axes.get_xscale() == "log" else 1.15))


# --- generation: serving metrics -------------------------------------------------------------


def generation_plots(run: RunResult) -> list[Plot]:
    """TTFT and TPOT against context, throughput against batch size, and weights against KV-cache
    bytes, one line (or bar) per adapter; [] for a run without generation rows."""
    plots: list[Plot] = []
    latency = {name: generation_series(run, name) for name in ("generation.ttft", "generation.tpot")}
    if any(latency.values()):
        with _style():
            figure = _figure(PAGE_WIDTH_IN, 3.6)
            for axes, (name, series) in zip(figure.subplots(1, 2), latency.items(), strict=True):
                _draw_lines(axes, series, f"{name.split('.')[1].upper()} against context", "context (tokens)", "s")
            plots.append(Plot("generation: TTFT and TPOT against context", _svg(figure, f"gen{len(plots)}")))
    throughput = generation_series(run, "generation.throughput")
    if throughput:
        with _style():
            figure = _figure(HALF_WIDTH_IN, 3.6)
            _draw_lines(figure.add_subplot(), throughput, "throughput against batch", "batch size", "tok/s")
            plots.append(Plot("generation: throughput against batch size", _svg(figure, f"gen{len(plots)}"), True))
    memory = memory_points(run)
    if memory:
        with _style():
            figure = _figure(HALF_WIDTH_IN, 1.3 + 0.28 * len(memory))
            _draw_memory(figure.add_subplot(), memory)
            plots.append(Plot("generation: weights and KV cache bytes", _svg(figure, f"gen{len(plots)}"), True))
    return plots


def _draw_lines(axes: Axes, series: dict[str, list[tuple[float, float]]], title: str, xlabel: str, unit: str) -> None:
    handles, labels = [], []
    for index, (adapter, points) in enumerate(series.items()):
        (line,) = axes.plot([x for x, _ in points], [y for _, y in points], marker="o", color=f"C{index % 10}")
        handles.append(line)
        labels.append(adapter)
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

    axes.set_xscale("log", base=2)
    axes.set_yscale("log")
    # The measured sizes as written (128, not 2^7); the y labels in units, the minor ones too
    # where the values span under a decade (matplotlib would write them as 6 x 10^-3).
    sizes = sorted({x for points in series.values() for x, _ in points})
    axes.xaxis.set_major_locator(FixedLocator(sizes))
    axes.xaxis.set_major_formatter(FixedFormatter([f"{size:g}" for size in sizes]))
    axes.xaxis.set_minor_locator(NullLocator())
    _unit_labels(axes, unit)
    axes.set_xlabel(xlabel)
    axes.set_title(title, parse_math=False)
    if handles:
        _legend(axes, handles, labels)


def _draw_memory(axes: Axes, points: list[tuple[str, int, int, int, int | None]]) -> None:
    from matplotlib.ticker import EngFormatter

    positions = list(range(len(points)))
    weights = [p[2] for p in points]
    caches = [p[3] for p in points]
    bars = [axes.barh(positions, weights, color="C0"), axes.barh(positions, caches, left=weights, color="C1")]
    axes.set_yticks(positions, [_wrap(f"{p[0]} · context {p[1]}") for p in points], parse_math=False)
    axes.invert_yaxis()
    axes.grid(axis="y", visible=False)
    axes.xaxis.set_major_formatter(EngFormatter(unit="B"))
    _legend(axes, bars, ["weights", "KV cache (measured)"])


# --- figures and SVG -----------------------------------------------------------------------


@contextmanager
def _style() -> Iterator[None]:
    import matplotlib

    with matplotlib.rc_context(_RC):
        yield


def _figure(width_in: float, height_in: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_in, min(height_in, 40.0)), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _legend(axes: Axes, handles: list[Any], labels: list[str], outside: bool = False) -> None:
    # Handles and labels are passed explicitly: matplotlib would drop a label starting with "_".
    # Outside: right of the axes, where it covers no bar (constrained layout makes room for it).
    where = {"loc": "upper left", "bbox_to_anchor": (1.005, 1.0), "borderaxespad": 0.0} if outside else {}
    legend = axes.legend(handles, labels, fontsize="small", **where)
    for text in legend.get_texts():
        text.set_parse_math(False)


def _svg(figure: Figure, prefix: str) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    return _clean_svg(buffer.getvalue(), prefix)


def _clean_svg(svg: str, prefix: str) -> str:
    """Matplotlib's SVG made fit to inline: no prolog, metadata or comments; ids prefixed.

    >>> _clean_svg('<?xml?>\\n<svg><!-- x --><metadata>m</metadata><g id="a" clip-path="url(#a)"/></svg>', "p")
    '<svg><g id="p-a" clip-path="url(#p-a)"/></svg>'
    """
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    svg = re.sub(r"<!--.*?-->\s*", "", svg, flags=re.S)
    # Text from the run is escaped (it holds no "<"), so only real tags are rewritten here.
    return _TAG.sub(lambda tag: _prefix_ids(tag.group(0), prefix), svg).strip()


def _prefix_ids(tag: str, prefix: str) -> str:
    tag = re.sub(r'(\sid=")', rf"\g<1>{prefix}-", tag)
    tag = tag.replace('href="#', f'href="#{prefix}-')
    return tag.replace("url(#", f"url(#{prefix}-")


# --- one chart per operation, adapters side by side -------------------------------------------


def operation_plots(report: Report) -> list[Plot]:
    """Per benchmarked operation: each parameter set's adapters as neighbouring bars.

    Throughput against the measured ceiling where the operation's roofline applies (every row
    names the same measured ceiling and records a rate), otherwise the median time per call with
    its interquartile range. The axis is logarithmic where the values span more than 30x.
    """
    colours = {name: f"C{index % 10}" for index, name in enumerate(report.adapter_names)}
    ceilings = report.run.ceilings if report.run is not None else {}
    return _drawn(_operation_plot, [(index, chart, colours, ceilings) for index, chart in enumerate(report.charts)])


def _operation_plot(index: int, chart: OperationChart, colours: dict[str, str], ceilings: dict[str, Any]) -> Plot:
    title = f"{chart.family} · {chart.operation}"
    if chart.common:
        title += f"\n{_wrap(compact_params(chart.common), TITLE_WIDTH)}"
    with _style():
        positions, _, _ = _side_by_side(list(chart.rows), chart.operation)
        figure = _figure(PAGE_WIDTH_IN, 1.3 + 0.15 * title.count("\n") + 0.26 * (max(positions) + 1))
        _draw_operation(figure.add_subplot(), chart, colours, ceilings)
        figure.suptitle(title, parse_math=False, fontsize=9)
        return Plot(title.replace("\n", " · "), _svg(figure, f"op{index}"))


def _draw_operation(
    axes: Axes, chart: OperationChart, colours: dict[str, str], ceilings: dict[str, dict[str, Any]]
) -> None:
    from matplotlib.patches import Patch
    from matplotlib.ticker import EngFormatter

    rows = list(chart.rows)
    rated = [achieved_rate(row.bench, ceilings) for row in rows] if chart.roofline else []
    use_rates = bool(rated) and all(r is not None for r in rated)
    values = [r[0] for r in rated if r is not None] if use_rates else [row.bench.median_s for row in rows]
    positions, labels, ticks = _side_by_side(rows, chart.operation)
    bar_colours = [colours.get(row.adapter, "C0") for row in rows]
    drawn_ceiling: list[float] = []
    if use_rates:
        bars = axes.barh(positions, values, color=bar_colours, height=0.8)
        unit = rated[0][1] if rated[0] is not None else ""
        texts = [format_rate(value, unit) for value in values]
        ceiling = ceilings[chart.roofline]
        value = ceiling.get("value")
        if isinstance(value, (int, float)) and value > 0 and ceiling.get("unit") == unit:
            axes.axvline(value, color="0.3", linestyle="--", linewidth=1.2)
            drawn_ceiling.append(float(value))
            # Left of its line, above the first bar: the legend sits right of the axes.
            label = f"ceiling {chart.roofline}: {format_rate(value, unit)} "
            axes.text(value, -0.6, label, fontsize=7, va="bottom", ha="right")
        axes.set_xlabel(f"achieved {unit} (dashed: the ceiling measured in this run)")
        formatter = EngFormatter(unit="")
    else:
        distances = [_quartile_distances(row) for row in rows]
        texts = [format_seconds(value) for value in values]
        bars = axes.barh(
            positions,
            values,
            xerr=[[d[0] for d in distances], [d[1] for d in distances]],
            color=bar_colours,
            ecolor="0.2",
            capsize=2,
            height=0.8,
        )
        axes.set_xlabel("median time per call (whiskers: interquartile range)")
        formatter = EngFormatter(unit="s")
    # The ceiling counts too: bars far below it are invisible on a linear axis.
    positive = [v for v in [*values, *drawn_ceiling] if v > 0]
    if positive and max(positive) / min(positive) > 30:
        axes.set_xscale("log")
    # After the scale: setting a scale installs that scale's own formatter.
    axes.xaxis.set_major_formatter(formatter)
    _label_bars(axes, bars, texts)
    axes.set_yticks(ticks, labels, parse_math=False)
    axes.invert_yaxis()
    axes.grid(axis="y", visible=False)
    shown = list(dict.fromkeys(row.adapter for row in rows))
    _legend(axes, [Patch(color=colours.get(name, "C0")) for name in shown], shown, outside=True)


def _side_by_side(rows: list[BenchmarkRow], name: str = "") -> tuple[list[float], list[str], list[float]]:
    """Bar positions with the adapters of one parameter set next to each other, a gap between sets,
    and the tick (position, label) of each set: the parameters that differ, once per set (wrapped;
    a set is as tall as its label). Values an adapter measured (a fitted exponent, tokens per
    second: they differ between adapters at the same size) are left out of the label, so the
    adapters of one size stay side by side; the tables show them."""
    measured = _measured_keys(rows)
    sets: dict[str, list[int]] = {}
    for index, row in enumerate(rows):
        params = {key: value for key, value in row.params.items() if key not in measured}
        sets.setdefault(params_text(params), []).append(index)
    positions = [0.0] * len(rows)
    labels, ticks = [], []
    cursor = 0.0
    for label, indices in sets.items():
        text = _wrap(label or name.rsplit(".", 1)[-1] or "—")
        span = max(len(indices), 0.62 * (text.count("\n") + 1))  # a line of text is about 0.62 bar
        start = cursor + (span - len(indices)) / 2
        for offset, index in enumerate(indices):
            positions[index] = start + offset
        ticks.append(cursor + (span - 1) / 2)
        labels.append(text)
        cursor += span + 0.6
    return positions, labels, ticks


def _measured_keys(rows: list[BenchmarkRow]) -> set[str]:
    """Parameters whose numbers differ between two adapters' rows of the same size: measured, not set."""
    by_size: dict[Any, dict[str, list[Any]]] = {}
    for row in rows:
        if row.bench.size is not None:
            for key, value in row.params.items():
                if not isinstance(value, str):
                    by_size.setdefault(row.bench.size, {}).setdefault(key, []).append(repr(value))
    return {key for values in by_size.values() for key, seen in values.items() if len(set(seen)) > 1}


# Speedup bars are laid out as benchmark rows with a label for a parameter set; no timing is read.
_PLACEHOLDER = BenchmarkResult("", "", "", {}, [], 0.0, 0.0, 0)


def speedup_plots(report: Report) -> list[Plot]:
    """Per family: each adapter's speedup over the baseline adapter, on a log axis (1x dashed)."""
    from matplotlib.patches import Patch

    speedups = report.speedups
    if len(speedups.adapters) < 2:
        return []
    colours = {name: f"C{index % 10}" for index, name in enumerate(report.adapter_names)}
    others = [a for a in speedups.adapters if a != speedups.baseline]
    plots: list[Plot] = []
    for family, common, rows in speedup_groups(speedups):
        bars = []  # (row label, adapter, speedup)
        for row, params in rows:
            label = _wrap(f"{row.name} {params_text(params)}".strip(), 60)
            for adapter, cell in zip(speedups.adapters, row.cells, strict=True):
                if adapter in others and cell is not None and cell.speedup is not None and cell.speedup > 0:
                    bars.append((label, adapter, cell.speedup))
        if not bars:
            continue
        title = f"{family}: speedup over {speedups.baseline} (baseline median / median; right of 1x is faster)"
        if common:
            title += f"\n{_wrap(compact_params(common), TITLE_WIDTH)}"
        with _style():
            fake_rows = [BenchmarkRow(adapter, _PLACEHOLDER, {"": label}) for label, adapter, _ in bars]
            positions, _, _ = _side_by_side(fake_rows)
            figure = _figure(PAGE_WIDTH_IN, 1.3 + 0.15 * title.count("\n") + 0.22 * (max(positions) + 1))
            axes = figure.add_subplot()
            drawn = axes.barh(positions, [s for _, _, s in bars], color=[colours.get(a, "C0") for _, a, _ in bars])
            axes.axvline(1.0, color="0.3", linestyle="--", linewidth=1)
            _speedup_axis(axes, [s for _, _, s in bars])
            _label_bars(axes, drawn, [f"{s:.3g}×" for _, _, s in bars])
            groups = list(dict.fromkeys(label for label, _, _ in bars))
            centres = [
                sum(p for p, (lab, _, _) in zip(positions, bars, strict=True) if lab == g)
                / sum(1 for lab, _, _ in bars if lab == g)
                for g in groups
            ]
            axes.set_yticks(centres, groups, parse_math=False)
            axes.invert_yaxis()
            axes.grid(axis="y", visible=False)
            shown = list(dict.fromkeys(a for _, a, _ in bars))
            _legend(axes, [Patch(color=colours.get(name, "C0")) for name in shown], shown, outside=True)
            figure.suptitle(title, parse_math=False, fontsize=9)
            plots.append(Plot(title.replace("\n", " · "), _svg(figure, f"speedup{len(plots)}")))
    return plots


def _speedup_axis(axes: Axes, speedups: list[float]) -> None:
    """A log axis with ticks at 1-2-5 steps written as '2×', not '2 × 10⁰'."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullFormatter

    axes.set_xscale("log")
    low, high = min([*speedups, 1.0]), max([*speedups, 1.0])
    steps = [m * 10.0**e for e in range(-4, 5) for m in (1, 2, 5)]
    ticks = [t for t in steps if low / 1.5 <= t <= high * 1.5] or [1.0]
    axes.xaxis.set_major_locator(FixedLocator(ticks))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}×"))
    axes.xaxis.set_minor_formatter(NullFormatter())
