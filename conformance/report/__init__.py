"""Reports of a run: terminal (rich), Markdown, self-contained HTML, and comparisons.

The writers format one report model (model.py: `build_report` turns a
`specformer.conformance.results.RunResult` into every section a report shows);
`write_reports` writes the three files a run leaves behind. The HTML report draws its plots
with matplotlib when it is installed (plots.py); everything else needs only rich.

Modules: model.py (the report model), common.py (findings and number formats), measurements.py (benchmark rows, rates,
speedups, scaling series), terminal.py, markdown.py, html.py, plots.py, and compare.py
(runs side by side, and the CI gate behind exit code 3).
"""

from __future__ import annotations

from pathlib import Path

from specformer.conformance.report.compare import (
    Comparison,
    GateResult,
    Speedups,
    benchmark_comparability,
    benchmark_speedups,
    compare_runs,
    gate,
    regressions,
    render_comparison_markdown,
    render_comparison_terminal,
    render_gate_terminal,
    render_speedups_terminal,
)
from specformer.conformance.report.html import render_html
from specformer.conformance.report.markdown import render_markdown
from specformer.conformance.report.model import Report, build_report
from specformer.conformance.report.terminal import render_terminal
from specformer.conformance.results import RunResult

__all__ = [
    "Comparison",
    "GateResult",
    "Report",
    "Speedups",
    "benchmark_comparability",
    "benchmark_speedups",
    "build_report",
    "compare_runs",
    "gate",
    "regressions",
    "render_comparison_markdown",
    "render_comparison_terminal",
    "render_gate_terminal",
    "render_html",
    "render_markdown",
    "render_speedups_terminal",
    "render_terminal",
    "write_reports",
]


def write_reports(
    run: RunResult, out_dir: Path, gate: GateResult | None = None, report: Report | None = None
) -> list[Path]:
    """Write results.json, report.md and report.html into `out_dir` (created if missing).

    With `gate` (the verdict against a baseline), report.md and report.html open with it.
    `report` is the model already built from `run` (built here when None).
    """
    report = report if report is not None else build_report(run, gate=gate)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, markdown_path, html_path = (
        out_dir / "results.json",
        out_dir / "report.md",
        out_dir / "report.html",
    )
    run.write_json(json_path)
    markdown_path.write_text(render_markdown(report, gate), encoding="utf-8")
    html_path.write_text(render_html(report, gate), encoding="utf-8")
    return [json_path, markdown_path, html_path]
