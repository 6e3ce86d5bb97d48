"""Reports of a run: terminal (rich), Markdown, self-contained HTML, and comparisons.

All renderers read the one results model (`specformer.conformance.results.RunResult`);
`write_reports` writes the three files a run leaves behind. Plots are left out for now.
"""

from __future__ import annotations

from pathlib import Path

from specformer.conformance.report.compare import (
    Comparison,
    compare_runs,
    regressions,
    render_comparison_markdown,
    render_comparison_terminal,
)
from specformer.conformance.report.html import render_html
from specformer.conformance.report.markdown import render_markdown
from specformer.conformance.report.terminal import render_terminal
from specformer.conformance.results import RunResult

__all__ = [
    "Comparison",
    "compare_runs",
    "regressions",
    "render_comparison_markdown",
    "render_comparison_terminal",
    "render_html",
    "render_markdown",
    "render_terminal",
    "write_reports",
]


def write_reports(run: RunResult, out_dir: Path) -> list[Path]:
    """Write results.json, report.md and report.html into `out_dir` (created if missing)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, markdown_path, html_path = (
        out_dir / "results.json",
        out_dir / "report.md",
        out_dir / "report.html",
    )
    run.write_json(json_path)
    markdown_path.write_text(render_markdown(run), encoding="utf-8")
    html_path.write_text(render_html(run), encoding="utf-8")
    return [json_path, markdown_path, html_path]
