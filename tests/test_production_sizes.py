"""Every clause is value-checked at the size users run, or says why not (conformance/suite/production_sizes.py).

A clause arriving in spec/ without a production-size case or a reason fails here, and so does a
stale entry (a clause that no longer exists, one listed twice, a named test that does not cite it).
"""

from __future__ import annotations

from specformer.conformance.registry import citations, registry
from specformer.conformance.suite.operations import OPERATIONS, PRODUCTION_KEYS, PRODUCTION_VOCAB
from specformer.conformance.suite.production_sizes import (
    AT_SIZE_IN_CLAUSE_TESTS,
    NO_PRODUCTION_SIZE,
    PRODUCTION_CASES,
    case_id,
)


def _covered() -> dict[str, list[str]]:
    """Clause -> the ways it is value-checked at production size."""
    ways: dict[str, list[str]] = {}
    for op in OPERATIONS:
        if "production" not in op.opt_out and "reference" not in op.opt_out:
            for clause_id in op.clauses:
                ways.setdefault(clause_id, []).append(f"row {op.id}")
    for op in PRODUCTION_CASES:
        for clause_id in op.clauses:
            ways.setdefault(clause_id, []).append(f"case {case_id(op)}")
    for clause_id, test in AT_SIZE_IN_CLAUSE_TESTS.items():
        ways.setdefault(clause_id, []).append(f"test {test}")
    return ways


def test_every_clause_is_checked_at_production_size_or_says_why_not() -> None:
    clauses = set(registry())
    covered = _covered()
    missing = sorted(clauses - set(covered) - set(NO_PRODUCTION_SIZE))
    assert not missing, f"clauses with neither a production-size case nor a reason in production_sizes.py: {missing}"
    both = sorted(set(covered) & set(NO_PRODUCTION_SIZE))
    assert not both, f"checked at production size and opted out too (drop the opt-out): {both}"
    stale = sorted((set(covered) | set(NO_PRODUCTION_SIZE)) - clauses)
    assert not stale, f"production_sizes.py names clauses the spec does not have: {stale}"
    assert all(len(reason) > 30 for reason in NO_PRODUCTION_SIZE.values())


def test_named_clause_tests_exist_and_cite_their_clause() -> None:
    cited = citations()
    for clause_id, test in AT_SIZE_IN_CLAUSE_TESTS.items():
        assert test in cited.get(clause_id, []), f"{test} does not cite {clause_id}"


def test_production_cases_are_at_production_size() -> None:
    """Each case's inputs reach a production dimension: 1,024+ keys or a 32k+ vocabulary."""
    import torch

    ids = [case_id(op) for op in PRODUCTION_CASES]
    assert len(ids) == len(set(ids)), "two production cases share an id"
    for op in PRODUCTION_CASES:
        inputs = op.inputs(torch.Generator().manual_seed(5), "production")
        largest = max(max(x.shape) for x in inputs if isinstance(x, torch.Tensor))
        assert largest > 1_024, (case_id(op), largest)
        if op.family in ("sampling", "losses"):
            assert inputs[0].shape[-1] >= 32_000, case_id(op)
        if op.family == "attention":
            keys = inputs[1].shape[-2]
            assert keys > 1_024 and keys % 64 and keys % 128, (case_id(op), keys)
    assert PRODUCTION_VOCAB >= 128_000 and PRODUCTION_KEYS > 1_024 and PRODUCTION_KEYS % 64
