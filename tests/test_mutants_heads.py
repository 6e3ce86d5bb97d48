"""Every losses and heads mutant fails exactly the clauses it breaks, and every clause of the two
families is broken by some mutant (conformance/mutants/losses.py and heads.py).

One suite run per family, only that family's tests, each mutant an adapter of the same pytest
process: under quick, the mutants the issue names (MUTANTS_IN_CI); all of them when the session
runs the thorough profile.
"""

from __future__ import annotations

import pytest

from specformer.conformance.mutants import heads, losses

FAMILIES = {"losses": losses, "heads": heads}
# CI runs the mutants the issue names (each a whole family suite, ~2 s of CPU apiece); the thorough
# profile runs all 42. Every mutant's `breaks` was measured exact under quick.
MUTANTS_IN_CI = {
    "losses": ("SoftmaxThenLog", "HalfNotUpcast", "IgnoreMaskAfterMean", "LabelsShiftedTwice", "MeanOfMicroBatchMeans"),
    "heads": ("PoolsLastPosition", "SpanEndBeforeStart", "UntiedDeclaredTied"),
}


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_mutant_fails_exactly_the_clauses_it_breaks(
    run_mutants, mutant_profile, mutants_to_run, family: str
) -> None:
    mutants = mutants_to_run(FAMILIES[family], MUTANTS_IN_CI[family])
    _, wrong = run_mutants(mutants, family, mutant_profile)
    assert not wrong, wrong


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_clause_of_the_family_is_broken_by_some_mutant(family: str) -> None:
    from specformer.conformance.registry import registry

    clauses = {c.id for c in registry().values() if c.family == family}
    broken = {clause for mutant in FAMILIES[family].ALL for clause in mutant.breaks}
    assert len(FAMILIES[family].ALL) >= 8
    assert not sorted(clauses - broken), "clauses without a mutant"
    assert not sorted(broken - clauses), "mutants naming clauses of another family or unknown ones"
