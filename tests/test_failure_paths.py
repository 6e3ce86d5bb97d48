"""Every failure path of the suite's helpers, driven once: each must end in a ConformanceFailure.

A bug in a failure path (a TypeError while formatting the message, a shape error while measuring a
difference) turns the verdict "fail" into "error" and loses the message that explains it. These
tests call each helper with an answer it must reject and check that what comes out is the
suite's failure, with its message and evidence, not some other exception.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from specformer.conformance import evidence as noted
from specformer.conformance import numerics
from specformer.conformance.numerics import ConformanceFailure
from specformer.conformance.suite import attention_inputs as attention_suite
from specformer.conformance.suite import checks, tokenizer_checks
from specformer.conformance.suite import test_sampling as sampling_suite


def _raise(exc: Exception):
    def call():
        raise exc

    return call


def _fails(call, *fragments: str) -> ConformanceFailure:
    """call() must raise ConformanceFailure whose message holds every fragment."""
    with pytest.raises(ConformanceFailure) as failure:
        call()
    for fragment in fragments:
        assert fragment in str(failure.value), (fragment, str(failure.value))
    return failure.value


# ---------------------------------------------------------------------------------------
# numerics


def test_fail_accepts_any_evidence_name() -> None:
    failure = _fails(lambda: numerics.fail("the clause broke", message="m", what="w"), "the clause broke")
    assert failure.evidence == {"message": "m", "what": "w"}


def test_annotate_adds_inputs_to_the_failure() -> None:
    def call() -> None:
        with numerics.annotate(seed=3):
            numerics.fail("bad", error=1.0)

    failure = _fails(call, "bad [seed=3]")
    assert failure.evidence == {"seed": 3, "error": 1.0}


@pytest.mark.parametrize(
    ("actual", "fragment"),
    [
        (torch.zeros(2, 3, dtype=torch.float64), "shape (2, 3), expected (2, 2)"),
        (torch.zeros(2, 2, dtype=torch.float32), "dtype torch.float32"),
        (torch.tensor([[0.0, float("-inf")], [0.0, 0.0]], dtype=torch.float64), "removed tokens differ"),
        (torch.tensor([[0.0, 0.5], [0.0, 0.0]], dtype=torch.float64), "exceeds tolerance"),
        (torch.tensor([[0.0, float("nan")], [0.0, 0.0]], dtype=torch.float64), "max abs error inf"),
    ],
)
def test_assert_close_failure_paths(actual: torch.Tensor, fragment: str) -> None:
    oracle = torch.zeros(2, 2, dtype=torch.float64)
    _fails(lambda: numerics.assert_close(actual, oracle, oracle.clone(), what="op"), "op: ", fragment)


# ---------------------------------------------------------------------------------------
# sampling


# ---------------------------------------------------------------------------------------
# the shared checks (conformance/suite/checks.py), used by every family's tests


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: 1, "top_k=0: was accepted (returned int), expected a ValueError naming top_k"),
        (lambda: torch.zeros(2, 3), "was accepted (returned (2, 3))"),
        (_raise(RuntimeError("boom")), "top_k=0: raised RuntimeError (boom), expected a ValueError naming top_k"),
        (_raise(ValueError("bad value")), "top_k=0: the ValueError does not name top_k: bad value"),
    ],
)
def test_expect_value_error_failure_paths(call, fragment: str) -> None:
    _fails(lambda: checks.expect_value_error(call, "top_k", what="top_k=0"), fragment)


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (_raise(ValueError("nothing useful")), "the ValueError does not name length or position"),
        (_raise(IndexError("out of range")), "raised IndexError (out of range)"),
    ],
)
def test_expect_value_error_any_of_failure_paths(call, fragment: str) -> None:
    _fails(lambda: checks.expect_value_error(call, "length", "position", what="too long", any_of=True), fragment)


def test_expect_value_error_names_every_parameter_it_needs() -> None:
    call = _raise(ValueError("top_k is wrong"))
    _fails(lambda: checks.expect_value_error(call, "top_k", "top_p", what="x"), "does not name top_k and top_p")


def test_sampling_kept_and_unchanged() -> None:
    logits = torch.tensor([[0.0, float("-inf"), 1.0]])
    _fails(lambda: sampling_suite.assert_kept(logits, [[2]], "top_k=1"), "kept tokens [[0, 2]], expected [[2]]")
    _fails(lambda: sampling_suite.assert_unchanged(logits, torch.zeros(1, 3), "top_p=1"), "unchanged (bitwise)")
    _fails(lambda: sampling_suite.assert_unchanged(logits, torch.zeros(2, 3), "top_p=1"), "unchanged (bitwise)")


# ---------------------------------------------------------------------------------------
# attention and embeddings


def test_attention_assert_same_failure_paths() -> None:
    _fails(lambda: attention_suite.assert_same(torch.ones(2), torch.zeros(2), "rows"), "max difference 1")
    _fails(lambda: attention_suite.assert_same(torch.ones(3), torch.zeros(2), "rows"), "shape (3,), expected (2,)")
    mixed = torch.ones(2, dtype=torch.float32), torch.zeros(2, dtype=torch.float64)
    _fails(lambda: attention_suite.assert_same(*mixed, "rows"), "rows")


# ---------------------------------------------------------------------------------------
# tokenizers


def test_tokenizers_check_cuts_long_values() -> None:
    failure = _fails(lambda: tokenizer_checks.check(list(range(100)), [], "ids", seed=1), "100 items")
    assert failure.evidence == {"seed": 1}


def test_tokenizers_agreement_failure_names_the_explanation() -> None:
    request = SimpleNamespace(node=SimpleNamespace(user_properties=[]))
    noted.start()
    texts = ["a", "bc", "d"]

    def actual(text: str) -> list[int]:
        if text == "d":
            raise RuntimeError("crashed")
        return [ord(c) for c in text] if text != "bc" else [98]

    failure = _fails(
        lambda: tokenizer_checks.check_agreement(
            request, "vocab", texts, [[ord(c) for c in t] for t in texts], actual, lambda t: "TOK-X-01"
        ),
        "vocab: 2 of 3 strings differ",
        "first: 'bc'",
        "(explained by TOK-X-01)",
    )
    entry = failure.evidence["agreement"]
    assert entry["agreeing"] == 1 and entry["clause"] == "TOK-X-01"
    assert noted.finish() == {"agreement": entry}  # the same entry reaches the report


def test_tokenizers_agreement_survives_an_explanation_that_raises() -> None:
    request = SimpleNamespace(node=SimpleNamespace(user_properties=[]))
    _fails(
        lambda: tokenizer_checks.check_agreement(
            request, "vocab", ["a"], [[1]], lambda t: [2], _raise_with_argument(KeyError("x"))
        ),
        "(explained by raised KeyError",
    )


def _raise_with_argument(exc: Exception):
    def explain(text: str) -> str:
        raise exc

    return explain


def test_every_case_reports_each_failing_case() -> None:
    def table() -> None:
        with numerics.every_case("ids") as cases:
            for text in ("a", "b", "c"):
                with cases.case(repr(text)):
                    if text != "b":
                        tokenizer_checks.check([0], [1], f"encode({text!r})", seed=2)

    failure = _fails(table, "ids: 2 of 3 cases fail: encode('a'): got [0]", "| encode('c'): got [0]")
    assert [c["case"] for c in failure.evidence["failing_cases"]] == ["'a'", "'c'"]
    assert failure.evidence["failing_cases"][0]["seed"] == 2
