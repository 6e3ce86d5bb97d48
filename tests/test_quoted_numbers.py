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


# A measured value quoted in a reason: "ratio 1.6-1.7", "error is 2.5e-6", "errors ~1e-8 to 1e-7",
# "tolerance of 2.42e-6", "gets 2.7e-6" (the reference's own error), "by ~3e-6" (an error).
NUMBER = r"~?\d+(?:\.\d+)?(?:e-?\d+)?"
QUOTED = re.compile(
    rf"\b(?P<kind>ratio|errors?|tolerances?|gets|by)(?: is| of| against the float64 oracle is)? "
    rf"(?P<low>{NUMBER})(?:(?: to |-)(?P<high>{NUMBER}))?(?!\w|\.\d)"
)
KINDS = {"ratio": "ratio", "error": "error", "errors": "error", "tolerance": "tolerance", "tolerances": "tolerance"}
KINDS |= {"gets": "reference_error", "by": "error"}


# "... is 1.1e-5 from the float64 oracle where the float32 reference is 2.2e-6"
FROM_ORACLE = re.compile(rf"\bis (?P<low>{NUMBER})(?: to (?P<high>{NUMBER}))? from the float64 oracle")
REFERENCE_IS = re.compile(rf"\breference is (?P<low>{NUMBER})(?: to (?P<high>{NUMBER}))?(?!\w|\.\d)")


def quoted_values(reason: str) -> list[tuple[str, str, str | None]]:
    """(evidence key, low, high or None) for each measured value the reason quotes."""
    found = [(KINDS[m["kind"]], m["low"], m["high"]) for m in QUOTED.finditer(reason)]
    found += [("error", m["low"], m["high"]) for m in FROM_ORACLE.finditer(reason)]
    return found + [("reference_error", m["low"], m["high"]) for m in REFERENCE_IS.finditer(reason)]


def measured(run: RunResult, adapter: str, clause_id: str, key: str) -> list[float]:
    """Every value of `key` in the evidence of the adapter's tests of the clause (a failing test's
    evidence holds it directly, a passing one's under "comparison")."""
    found = [a for a in run.adapters if a.name == adapter]
    tests = [t for a in found for c in a.clauses if c.id == clause_id for t in c.tests]
    values = []
    for test in tests:
        for evidence in (test.evidence, test.evidence.get("comparison") or {}):
            if isinstance(evidence.get(key), int | float):
                values.append(float(evidence[key]))
    return values


def shown_as(value: float, quoted: str) -> bool:
    """Whether `value` is what `quoted` says: the same to the quoted digits (one unit of the last
    digit either way), or with "~" the same order (within a factor of 3)."""
    number = quoted.lstrip("~")
    if quoted.startswith("~"):
        return float(number) / 3 <= value <= float(number) * 3
    mantissa = number.split("e")[0]
    digits = len(mantissa.split(".")[1]) if "." in mantissa else 0
    unit = 10.0 ** (-digits) * (10.0 ** int(number.split("e")[1]) if "e" in number else 1.0)
    return abs(value - float(number)) <= unit


@pytest.mark.parametrize("path", EXPECTATIONS, ids=[p.stem for p in EXPECTATIONS])
def test_measured_values_quoted_in_expectations_are_in_the_committed_report(path: Path, committed: RunResult) -> None:
    """A reason that quotes an error, a tolerance or a ratio quotes one the committed report measured
    for that clause and adapter (each end of a range), so a regenerated report cannot leave it stale.
    An adapter the report does not run (an optional library) quotes mechanisms, not measurements."""
    stale = []
    for clause_id, expectation in load_expectations(path).items():
        for key, low, high in quoted_values(expectation.reason):
            values = measured(committed, path.stem, clause_id, key)
            for quoted in (low, high) if high else (low,):
                if not any(shown_as(v, quoted) for v in values):
                    stale.append(f"{clause_id}: {key} {quoted} (the report has {sorted(values)[:6]})")
    assert not stale, "\n".join(stale)


def test_a_stale_quoted_value_is_caught() -> None:
    assert quoted_values("its error is 8.5e-6 to 9.1e-6, ratio 1.6-1.7; errors ~1e-8") == [
        ("error", "8.5e-6", "9.1e-6"),
        ("ratio", "1.6", "1.7"),
        ("error", "~1e-8", None),
    ]
    assert quoted_values("is 1.1e-5 from the float64 oracle where the float32 reference is 2.2e-6.") == [
        ("error", "1.1e-5", None),
        ("reference_error", "2.2e-6", None),
    ]
    assert shown_as(1.697, "1.7") and shown_as(9.13e-6, "9.1e-6") and shown_as(2.5e-8, "~1e-8")
    assert not shown_as(1.52, "1.7") and not shown_as(9.4e-6, "9.1e-6") and not shown_as(5e-8, "~1e-8")


# "292 of 1436 strings differ" in a reason; "292 of 1436 strings differ from the reference" in a message
COUNTED = re.compile(r"\b(?P<count>\d[\d,]*) of (?P<total>\d[\d,]*) (?:corpus )?strings (?P<verb>differ|agree)")


def differing_counts(run: RunResult, adapter: str, clause_id: str) -> set[tuple[int, int]]:
    """(differing, total) of every agreement count in the messages of the adapter's tests of the clause."""
    messages = [
        t.message or ""
        for a in run.adapters
        if a.name == adapter
        for c in a.clauses
        if c.id == clause_id
        for t in c.tests
    ]
    return {
        (int(m["count"]), int(m["total"])) for text in messages for m in COUNTED.finditer(text) if m["verb"] == "differ"
    }


def quoted_counts(reason: str) -> list[tuple[int, int]]:
    """(differing, total) for each "N of M strings differ/agree" the reason quotes."""
    counts = []
    for m in COUNTED.finditer(reason):
        count, total = int(m["count"].replace(",", "")), int(m["total"].replace(",", ""))
        counts.append((count if m["verb"] == "differ" else total - count, total))
    return counts


@pytest.mark.parametrize("path", EXPECTATIONS, ids=[p.stem for p in EXPECTATIONS])
def test_string_counts_quoted_in_expectations_are_in_the_committed_report(path: Path, committed: RunResult) -> None:
    """A reason that says how many corpus strings differ (or agree) says what a test of that clause
    reported in the committed run."""
    stale = []
    for clause_id, expectation in load_expectations(path).items():
        measured_counts = differing_counts(committed, path.stem, clause_id)
        stale += [
            f"{clause_id}: {n} of {total} differ (the report has {sorted(measured_counts)})"
            for n, total in quoted_counts(expectation.reason)
            if (n, total) not in measured_counts
        ]
    assert not stale, "\n".join(stale)


def test_a_stale_string_count_is_caught() -> None:
    assert quoted_counts("1434 of 1436 strings agree with v1, 4 of 1,436 corpus strings differ") == [
        (2, 1436),
        (4, 1436),
    ]
    assert not {(3, 1436)} & {(2, 1436), (4, 1436)}  # a count the report does not have is reported stale


@pytest.mark.parametrize("path", EXPECTATIONS, ids=[p.stem for p in EXPECTATIONS])
def test_every_count_in_a_reason_is_in_the_checked_form(path: Path) -> None:
    """ "N of M" in a reason is written "N of M strings differ" (or agree), so the check above reads it."""
    loose = [
        (clause_id, m.group())
        for clause_id, expectation in load_expectations(path).items()
        for m in re.finditer(r"\b\d[\d,]* of \d[\d,]*\b[^.;]{0,20}", expectation.reason)
        if not COUNTED.match(expectation.reason, m.start())
    ]
    assert not loose, loose
