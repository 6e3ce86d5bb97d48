"""Evidence a conformance test leaves for the report, passing or failing, in named kinds.

A failing test carries its evidence on the ConformanceFailure it raises (numerics.fail). A
passing test leaves what it measured here, and the plugin attaches it to the test's result:

- `comparison`: every numerics.assert_close call notes its error, tolerance and ratio; the
  result keeps the comparison with the largest ratio (the least headroom) and how many were made;
- `agreement`: a comparison with the reference over a real vocabulary (strings, agreeing, ...);
- `scaling`: a fitted exponent with its confidence interval, band and measured series.

The plugin calls `start` before each conformance test and `finish` after it; outside a test
(a benchmark, a user's script) `note` records nothing. Standard library only: the plugin
imports this module, and must stay cheap to load.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

KINDS = ("comparison", "agreement", "scaling")

_current: ContextVar[dict[str, Any] | None] = ContextVar("specformer_evidence", default=None)


@dataclass(frozen=True)
class Comparison:
    """One numerical comparison under the policy of conformance/numerics."""

    error: float
    tolerance: float
    reference_error: float
    dtype: str

    @property
    def ratio(self) -> float:
        return self.error / self.tolerance

    def evidence(self) -> dict[str, Any]:
        return {
            "error": self.error,
            "tolerance": self.tolerance,
            "ratio": self.ratio,
            "reference_error": self.reference_error,
            "dtype": self.dtype,
        }


def start() -> None:
    _current.set({})


def finish() -> dict[str, Any]:
    """What the test noted, as the result's evidence; recording stops until the next `start`."""
    noted = _current.get() or {}
    _current.set(None)
    return noted


def note(kind: str, value: Any) -> None:
    """Record `value` under `kind` for the running test (the last value of a kind wins)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}; got {kind!r}")
    noted = _current.get()
    if noted is not None:
        noted[kind] = value


def note_comparison(comparison: Comparison, what: str) -> None:
    """Keep the comparison with the largest error ratio so far, and count them.

    >>> start(); note_comparison(Comparison(1e-7, 1e-6, 0.0, "float32"), "a")
    >>> note_comparison(Comparison(4e-7, 1e-6, 0.0, "float32"), "b")
    >>> noted = finish()["comparison"]; (noted["what"], round(noted["ratio"], 3), noted["comparisons"])
    ('b', 0.4, 2)
    """
    noted = _current.get()
    if noted is None:
        return
    previous = noted.get("comparison")
    count = 1 + (previous["comparisons"] if previous else 0)
    if previous is None or comparison.ratio > previous["ratio"]:
        noted["comparison"] = {**comparison.evidence(), "what": what, "comparisons": count}
    else:
        previous["comparisons"] = count
