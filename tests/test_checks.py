"""The suite's shared checks give the right verdict: a wrong answer is a failure (an
AssertionError the plugin reports as "fail"), never a crash of the check itself."""

from __future__ import annotations

import pytest
import torch

from specformer.conformance.numerics import ConformanceFailure, fail
from specformer.conformance.suite.checks import assert_unchanged, expect_value_error


def raise_(exc: Exception):
    def call():
        raise exc

    return call


def test_expect_value_error_accepts_a_message_naming_the_parameter() -> None:
    expect_value_error(raise_(ValueError("top_k must be >= 1, got 0")), "top_k", what="top_k=0")
    expect_value_error(raise_(ValueError("width must be even")), "dim", "width", what="odd", any_of=True)


@pytest.mark.parametrize(
    ("call", "names", "any_of", "match"),
    [
        (raise_(ValueError("bad value")), ("top_k",), False, "does not name top_k: bad value"),
        (raise_(ValueError("text has 'x'")), ("text", "[SEP]"), False, r"does not name text and \[SEP\]"),
        (raise_(ValueError("bad")), ("dim", "width"), True, "does not name dim or width"),
        (raise_(RuntimeError("shape mismatch")), ("window",), False, "raised RuntimeError"),
        (lambda: torch.zeros(2, 3), ("window",), False, r"was accepted \(returned \(2, 3\)\)"),
    ],
)
def test_expect_value_error_fails_with_a_conformance_failure(call, names, any_of, match) -> None:
    with pytest.raises(ConformanceFailure, match=match) as caught:
        expect_value_error(call, *names, what="the call", any_of=any_of)
    assert caught.value.evidence["call"] == "the call"


def test_fail_takes_any_evidence_key_including_message() -> None:
    """`message=` as evidence once crashed `fail` with a TypeError, an error verdict for a failure."""
    with pytest.raises(ConformanceFailure) as caught:
        fail("the clause does not hold", message="the library's own message")
    assert caught.value.evidence == {"message": "the library's own message"}


def test_assert_unchanged_is_bitwise() -> None:
    x = torch.tensor([[0.0, -torch.inf, 1.0]])
    assert_unchanged(x.clone(), x, "same")
    with pytest.raises(ConformanceFailure, match="unchanged"):
        assert_unchanged(x + 1e-7, x, "nudged")
