"""What every renderer of a run needs: status symbols, number formats, and the findings.

The report model (model.py) picks the findings out of a `RunResult` with these helpers, and
the terminal, Markdown and HTML writers format numbers with them, so the three views cannot
disagree. It produces plain strings and small records only: escaping and layout belong to
each writer, and nothing here prints or writes files.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from specformer.conformance.results import AdapterResult, ClauseResult, RunResult, Status, TestResult

SYMBOLS = {
    Status.PASS: "✓",
    Status.FAIL: "✗",
    Status.DEVIATES: "~",
    Status.UNSUPPORTED: "?",
    Status.ERROR: "!",
    Status.CUSTOM: "*",
    Status.NOT_APPLICABLE: "-",
}

LEGEND = {
    Status.PASS: "every applicable test of the clause passed",
    Status.FAIL: "a test found the adapter breaking the clause",
    Status.DEVIATES: "it fails, and the adapter's expectations file documents why",
    Status.UNSUPPORTED: "the adapter does not implement what the clause's tests call",
    Status.ERROR: "the adapter raised or hung where the clause required an answer",
    Status.CUSTOM: "it fails, and the adapter declares its own behaviour there (one line, no named variant)",
}

# Evidence keys worth a place in a one-line summary, in this order; the rest stays in the
# full evidence (the HTML report shows all of it).
SUMMARY_EVIDENCE_KEYS = ("error", "tolerance", "ratio", "seed", "dtype")

# Environment keys for the one-line environment summary, in this order.
ENVIRONMENT_KEYS = ("python", "torch", "platform", "device")

REPORT_TITLE = "specformer conformance report"

HEADROOM_NOTE = "The largest error/tolerance ratio of each clause's comparisons, per adapter (1× is at the tolerance)."


@dataclass(frozen=True)
class Finding:
    """One clause of one adapter that a report calls out."""

    adapter: AdapterResult
    clause: ClauseResult


def symbol(status: str | None) -> str:
    """The one-character mark of a status; unknown or missing statuses show as a dash."""
    return SYMBOLS.get(status or "", "—")


def failures(run: RunResult) -> list[Finding]:
    return [Finding(a, c) for a in run.adapters for c in a.failures()]


def deviations(run: RunResult) -> list[Finding]:
    return [Finding(a, c) for a in run.adapters for c in a.clauses if c.status == Status.DEVIATES]


def stale_expectations(run: RunResult) -> list[Finding]:
    return [Finding(a, c) for a in run.adapters for c in a.clauses if c.stale_expectation]


def failing_tests(clause: ClauseResult) -> list[TestResult]:
    """The tests that decided a failing clause (those that failed or errored)."""
    return [t for t in clause.tests if t.status in (Status.FAIL, Status.ERROR)]


def stale_message(finding: Finding) -> str:
    return (
        f"{finding.clause.id} is listed as a deviation but now passes: "
        f"remove it from {finding.adapter.name} expectations"
    )


def deviation_reason(clause: ClauseResult) -> tuple[str, str]:
    """(reason, link) of a documented deviation; empty strings where none was recorded."""
    if clause.expectation is None:
        return "", ""
    return clause.expectation.reason, clause.expectation.link


def clause_source(clause: ClauseResult) -> str:
    """Where a result's clause is written ("spec/FAMILY.md:LINE"): as recorded, else the installed spec."""
    if clause.source:
        return clause.source
    from specformer.conformance.registry import registry

    known = registry().get(clause.id)
    return f"spec/{known.source}" if known else ""


def clause_anchor(clause: ClauseResult) -> str:
    """The relative link "spec/FAMILY.md#anchor" to a result's clause heading, or "" if unknown."""
    from specformer.conformance.registry import registry, spec_anchor

    known = registry().get(clause.id)
    return spec_anchor(known) if known else ""


@dataclass(frozen=True)
class HeadroomRow:
    """One clause's largest error/tolerance ratio per adapter (None: no comparison recorded).

    A ratio of 0.25 leaves 4x headroom; 1 is exactly at the tolerance; above 1 is a failure.
    """

    id: str
    title: str
    ratios: tuple[float | None, ...]


def largest_ratio(clause: ClauseResult) -> float | None:
    """The largest error/tolerance ratio over a clause's tests: a failing comparison's own, or
    the least-headroom comparison a passing test recorded (conformance/evidence)."""
    ratios = []
    for test in clause.tests:
        for source in (test.evidence, test.evidence.get("comparison") or {}):
            value = source.get("ratio") if isinstance(source, dict) else None
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                ratios.append(float(value))
    return max(ratios) if ratios else None


def headroom_rows(run: RunResult) -> list[HeadroomRow]:
    """Clauses with at least one numerical comparison, with each adapter's largest ratio."""
    titles: dict[str, str] = {}
    ratios: dict[str, list[float | None]] = {}
    for index, adapter in enumerate(run.adapters):
        for clause in adapter.clauses:
            ratio = largest_ratio(clause)
            if ratio is None:
                continue
            titles.setdefault(clause.id, clause.title)
            ratios.setdefault(clause.id, [None] * len(run.adapters))[index] = ratio
    return [HeadroomRow(cid, titles[cid], tuple(ratios[cid])) for cid in sorted(titles)]


def shown_statuses(counts: dict[str, int]) -> tuple[str, ...]:
    """The statuses a count summary shows: "custom" only where some clause has it (it is rare)."""
    return tuple(s for s in Status.ALL if s != Status.CUSTOM or counts.get(s, 0))


def format_number(value: Any) -> str:
    """Compact text for an evidence or parameter value.

    >>> format_number(0.000123456), format_number(3), format_number([1, 2])
    ('0.000123', '3', '[1, 2]')
    """
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, (int, str)):
        return str(value)
    return json.dumps(value, sort_keys=True, default=str)


def evidence_summary(evidence: dict[str, Any]) -> str:
    """The headline numbers of a test's evidence.

    >>> evidence_summary({"ratio": 4.0, "error": 2e-05, "inputs": [1, 2, 3]})
    'error=2e-05 ratio=4'
    """
    return " ".join(f"{key}={format_number(evidence[key])}" for key in SUMMARY_EVIDENCE_KEYS if key in evidence)


def evidence_json(evidence: dict[str, Any]) -> str:
    """The full evidence, pretty-printed (values JSON cannot hold are shown as strings)."""
    return json.dumps(evidence, indent=2, sort_keys=True, default=str)


def compact_params(params: dict[str, Any]) -> str:
    """Benchmark parameters on one line.

    >>> compact_params({"B": 2, "L": 128, "dtype": "float32"})
    'B=2 L=128 dtype=float32'
    """
    return " ".join(f"{key}={format_number(value)}" for key, value in params.items())


def params_key(params: dict[str, Any]) -> str:
    """A canonical string for a parameter set, to match benchmarks across runs."""
    return json.dumps(params, sort_keys=True, default=str)


def format_seconds(seconds: float | None) -> str:
    """A duration in human units with three significant digits.

    >>> format_seconds(1.5e-6), format_seconds(0.0421), format_seconds(2.0)
    ('1.50 µs', '42.1 ms', '2.00 s')
    """
    if seconds is None:
        return "—"
    if not math.isfinite(seconds) or seconds == 0:
        return f"{seconds:g} s"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if abs(seconds) >= scale:
            return f"{three_digits(seconds / scale)} {unit}"
    return f"{three_digits(seconds / 1e-9)} ns"


def three_digits(value: float) -> str:
    """A positive number with three significant digits and no exponent.

    >>> three_digits(1.5), three_digits(42.06), three_digits(999.7)
    ('1.50', '42.1', '1000')
    """
    # subtle: 999.7 has three integer digits, so it gets no decimals ("1000"), never "1e+03".
    decimals = max(0, 2 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"


def link_label(url: str) -> str:
    """A short label for a link: its host and last path segment ("" for what is not an http(s) URL).

    >>> link_label("https://github.com/huggingface/transformers/blob/v5.24.0/src/x/modeling_gpt2.py#L120")
    'github.com … modeling_gpt2.py#L120'
    >>> link_label("https://example.invalid/"), link_label("see the docs")
    ('example.invalid', '')
    """
    found = re.match(r"^https?://([^/\s]+)(/\S*)?$", url)
    if not found:
        return ""
    last = (found[2] or "").rstrip("/").rsplit("/", 1)[-1]
    return f"{found[1]} … {last}" if last else found[1]


def format_ratio(ratio: float | None) -> str:
    """An error/tolerance ratio: two decimals, three significant digits from 1000 up.

    >>> format_ratio(0.25), format_ratio(2591711.99), format_ratio(None)
    ('0.25×', '2.59e+06×', '—')
    """
    if ratio is None:
        return "—"
    return f"{ratio:.3g}×" if abs(ratio) >= 1000 else f"{ratio:.2f}×"


def environment_line(environment: dict[str, Any]) -> str:
    """python, torch, platform and device on one line, where the run recorded them."""
    values = {key: environment_value(environment, key) for key in ENVIRONMENT_KEYS}
    parts = [f"{key} {format_number(value)}" for key, value in values.items() if value is not None]
    return " · ".join(parts) if parts else "environment not recorded"


def environment_value(environment: dict[str, Any], key: str) -> Any:
    """A top-level environment entry, else the version of the package of that name, else None.

    >>> environment_value({"packages": {"torch": "2.13.0"}}, "torch")
    '2.13.0'
    """
    if key in environment:
        return environment[key]
    packages = environment.get("packages")
    return packages.get(key) if isinstance(packages, dict) else None


def run_line(run: RunResult) -> str:
    """Profile, creation time and specformer version of a run, where recorded."""
    parts = [f"profile {run.profile}"]
    if run.created:
        parts.append(f"created {run.created}")
    if run.specformer_version:
        parts.append(f"specformer {run.specformer_version}")
    return " · ".join(parts)
