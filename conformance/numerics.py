"""The numerical policy, and the one way every test compares numbers and decides failures.

The rule (FlashAttention's): the reference runs in float64 as the oracle; an adapter's
output in dtype d passes if its error against the oracle is within

    tolerance = max(FLOOR[d], 2 * error of the reference itself run in d)

so an adapter may be as inexact as a straightforward implementation in its dtype, twice
over, and the floor covers operations where the reference in d happens to be exact. Every
comparison records its error ratio (error / tolerance), passing or failing (through
conformance/evidence), which the report shows as headroom.

Error is the largest absolute difference over the positions where the oracle is finite;
positions where the oracle is -inf (a removed token) must be -inf in the output too, and
that is checked exactly, not within a tolerance.

Also here: ConformanceFailure, the exception every test raises to report that a clause does
not hold, with its evidence; every_case, which runs a table of known answers to the end and
reports each failing case; and the chi-square test for statistical clauses.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch

from specformer.conformance import evidence

# Absolute error floors per dtype, used where 2x the reference's own error is smaller.
FLOORS: dict[torch.dtype, float] = {
    torch.float64: 1e-12,
    torch.float32: 1e-6,
    torch.float16: 1e-3,
    torch.bfloat16: 8e-3,
}


class ConformanceFailure(AssertionError):
    """A clause does not hold for an adapter. `evidence` carries the numbers and inputs."""

    def __init__(self, message: str, evidence: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.evidence = dict(evidence or {})


def fail(message: str, /, **evidence: Any) -> None:
    """Report that a clause does not hold. `message` is positional-only, so evidence may itself be
    called `message` (a failure path that raised TypeError turned a fail into an error)."""
    raise ConformanceFailure(message, evidence)


@contextmanager
def annotate(**evidence: Any) -> Iterator[None]:
    """Add the inputs that regenerate a case to any ConformanceFailure raised inside."""
    try:
        yield
    except ConformanceFailure as failure:
        failure.evidence = {**evidence, **failure.evidence}
        failure.args = (f"{failure.args[0]} [{', '.join(f'{k}={v}' for k, v in evidence.items())}]",)
        raise


class Cases:
    """The known-answer cases of one test, run to the end: each failure is kept, not only the first."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.total = 0
        self.failures: list[tuple[str, ConformanceFailure]] = []

    @contextmanager
    def case(self, label: str) -> Iterator[None]:
        self.total += 1
        try:
            yield
        except ConformanceFailure as failure:
            self.failures.append((label, failure))


@contextmanager
def every_case(what: str) -> Iterator[Cases]:
    """Run every case of a known-answer table, then fail once naming each failing case.

    >>> with every_case("top_k") as cases:  # doctest: +IGNORE_EXCEPTION_DETAIL
    ...     for k in (1, 2, 3):
    ...         with cases.case(f"k={k}"):
    ...             if k != 2:
    ...                 fail(f"k={k} kept too many")
    Traceback (most recent call last):
    ConformanceFailure: top_k: 2 of 3 cases fail: k=1 kept too many | k=3 kept too many
    """
    cases = Cases(what)
    yield cases
    if cases.failures:
        messages = " | ".join(str(failure.args[0]) for _, failure in cases.failures)
        fail(
            f"{what}: {len(cases.failures)} of {cases.total} cases fail: {messages}",
            failing_cases=[{"case": label, "message": str(f.args[0]), **f.evidence} for label, f in cases.failures],
        )


@dataclass(frozen=True)
class Comparison(evidence.Comparison):
    @property
    def passed(self) -> bool:
        return self.error <= self.tolerance


def max_abs_error(actual: torch.Tensor, oracle: torch.Tensor) -> float:
    """max |actual - oracle| over positions where the oracle is finite (0.0 if none)."""
    finite = torch.isfinite(oracle)
    if not finite.any():
        return 0.0
    diff = (actual.double() - oracle.double())[finite].abs()
    return math.inf if torch.isnan(diff).any() else float(diff.max())


def tolerance_for(dtype: torch.dtype, reference_error: float) -> float:
    if dtype not in FLOORS:
        raise ValueError(f"dtype must be one of {', '.join(str(d) for d in FLOORS)}; got {dtype}")
    return max(FLOORS[dtype], 2.0 * reference_error)


def assert_close(
    actual: torch.Tensor, oracle: torch.Tensor, reference_in_dtype: torch.Tensor, *, what: str
) -> Comparison:
    """Check `actual` against the float64 `oracle` under the policy; return the comparison.

    reference_in_dtype is the reference run in the adapter's dtype on the same inputs.
    Raises ConformanceFailure on a shape or dtype change, on a -inf pattern that differs
    from the oracle's, or on an error above tolerance.
    """
    if actual.shape != oracle.shape:
        fail(f"{what}: shape {tuple(actual.shape)}, expected {tuple(oracle.shape)}")
    if actual.dtype != reference_in_dtype.dtype:
        fail(f"{what}: dtype {actual.dtype}, expected {reference_in_dtype.dtype}")
    assert_same_removed(actual, oracle, what=what)
    comparison = Comparison(
        error=max_abs_error(actual, oracle),
        tolerance=tolerance_for(actual.dtype, max_abs_error(reference_in_dtype, oracle)),
        reference_error=max_abs_error(reference_in_dtype, oracle),
        dtype=str(actual.dtype).removeprefix("torch."),
    )
    if not comparison.passed:
        fail(
            f"{what}: max abs error {comparison.error:.3g} exceeds tolerance {comparison.tolerance:.3g} "
            f"(ratio {comparison.ratio:.2f})",
            **comparison.evidence(),
        )
    evidence.note_comparison(comparison, what)  # the headroom of a passing comparison, for the report
    return comparison


def assert_same_removed(actual: torch.Tensor, oracle: torch.Tensor, *, what: str) -> None:
    """The positions at -inf (removed tokens) must be exactly the oracle's."""
    removed, expected = torch.isneginf(actual), torch.isneginf(oracle)
    if torch.equal(removed, expected):
        return
    wrongly_removed = (removed & ~expected).nonzero().tolist()
    wrongly_kept = (~removed & expected).nonzero().tolist()
    fail(
        f"{what}: removed tokens differ from the reference; wrongly removed (row, token): "
        f"{wrongly_removed[:8]}, wrongly kept: {wrongly_kept[:8]}",
        wrongly_removed=wrongly_removed[:32],
        wrongly_kept=wrongly_kept[:32],
    )


def chi_square_p_value(observed: torch.Tensor, expected_probs: torch.Tensor, *, min_expected: float = 5.0) -> float:
    """Goodness of fit of counts to probabilities; categories with expected count < min_expected
    are pooled into one (the usual validity rule). Returns the p-value.

    >>> round(chi_square_p_value(torch.tensor([50, 50]), torch.tensor([0.5, 0.5])), 3)
    1.0
    """
    observed = observed.double()
    expected = expected_probs.double() * observed.sum()
    small = expected < min_expected
    if small.any():
        observed = torch.cat([observed[~small], observed[small].sum().reshape(1)])
        expected = torch.cat([expected[~small], expected[small].sum().reshape(1)])
    keep = expected > 0
    if (observed[~keep] > 0).any():
        return 0.0  # a draw where the distribution has no mass
    observed, expected = observed[keep], expected[keep]
    degrees = len(expected) - 1
    if degrees < 1:
        return 1.0
    statistic = float(((observed - expected) ** 2 / expected).sum())
    # Survival function of chi-square with k degrees: Q(k/2, x/2).
    return float(torch.special.gammaincc(torch.tensor(degrees / 2.0), torch.tensor(statistic / 2.0)))
