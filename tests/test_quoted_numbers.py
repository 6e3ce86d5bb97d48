"""Numbers quoted in prose are checked against the committed report they quote.

The README shows what a run prints (from tests/fixtures/readme-run.json, rendered again here) and
the expectations files quote fitted exponents (from reports/cpu/results.json); a writer or a
regenerated report that no longer shows them must fail here rather than leave the prose stale.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from specformer.conformance.expectations import load_expectations
from specformer.conformance.report import render_terminal
from specformer.conformance.results import RunResult

ROOT = Path(__file__).resolve().parents[1]
REPORT = ROOT / "reports" / "cpu" / "results.json"
README_RUN = ROOT / "tests" / "fixtures" / "readme-run.json"
EXPECTATIONS = sorted((ROOT / "conformance" / "adapters" / "expectations").glob("*.toml"))


@pytest.fixture(scope="module")
def committed() -> RunResult:
    return RunResult.read_json(REPORT)


def scaling_fits(run: RunResult, adapter: str, clause_id: str) -> list[dict]:
    (result,) = [a for a in run.adapters if a.name == adapter]
    return [
        t.evidence["scaling"] for c in result.clauses if c.id == clause_id for t in c.tests if "scaling" in t.evidence
    ]


def rendered_lines(run: RunResult, tty: bool) -> list[str]:
    console = Console(width=100, force_terminal=tty, no_color=True, record=True, file=io.StringIO())
    render_terminal(run, console)
    return [line.rstrip() for line in console.export_text().splitlines()]


def test_readme_run_output_is_what_the_terminal_writer_prints() -> None:
    """The README's "What a run prints" blocks are the terminal writer's output for the run whose
    results.json is tests/fixtures/readme-run.json: in a 100-column terminal, then without one."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## What a run prints", 1)[1]
    terminal_block, plain_block = re.findall(r"```text\n(.*?)```", section, flags=re.DOTALL)[:2]
    run = RunResult.read_json(README_RUN)
    for block, tty in ((terminal_block, True), (plain_block, False)):
        printed = iter(rendered_lines(run, tty))
        for line in block.splitlines():
            if line.strip() == "...":
                continue  # the README leaves some lines out, in order
            assert any(line.rstrip() == shown for shown in printed), f"not printed (in this order): {line!r}"
    assert "score per family and adapter: clauses passed / applicable" in terminal_block


@pytest.mark.parametrize("path", EXPECTATIONS, ids=[p.stem for p in EXPECTATIONS])
def test_exponents_quoted_in_expectations_are_the_committed_reports(path: Path, committed: RunResult) -> None:
    adapter = path.stem
    checked = 0
    for clause_id, expectation in load_expectations(path).items():
        quoted = re.search(r"n\^(\d\.\d+)(?: to n\^(\d\.\d+))?", expectation.reason)
        if quoted is None:
            continue
        low = float(quoted[1])
        high = float(quoted[2] or quoted[1])
        fits = scaling_fits(committed, adapter, clause_id)
        assert fits, f"{path.name}: {clause_id} quotes n^{quoted[1]} but the committed report has no fit"
        for fit in fits:
            assert round(low, 2) - 0.005 <= fit["exponent"] <= round(high, 2) + 0.005, (clause_id, fit["exponent"])
        interval = re.search(r"within \[(\d\.\d+), (\d\.\d+)\]", expectation.reason)
        if interval is not None:
            for fit in fits:
                assert float(interval[1]) <= fit["ci"][0] and fit["ci"][1] <= float(interval[2]), (clause_id, fit["ci"])
        checked += 1
    if adapter == "torch":
        assert checked == 2  # CPLX-GLOBAL-01 and -02 quote the eager FlexAttention exponents


def test_readme_failure_excerpt_points_at_the_spec_as_it_is() -> None:
    """The mutant's failure in the README quotes the clause's line and its first example's line."""
    from specformer.conformance.registry import registry

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    clause = registry()["SAMP-TOPP-01"]
    assert f"SAMP-TOPP-01 {clause.title}  spec/{clause.source}" in readme
    assert f"spec example {clause.examples[0].source}: top_p" in readme
