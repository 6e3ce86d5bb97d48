"""Every losses and heads mutant fails exactly the clauses it breaks, and every clause of the two
families is broken by some mutant (conformance/mutants/losses.py and heads.py).

One suite run per family, only that family's tests, under the quick profile (thorough when the
session asks for it), each mutant an adapter of the same pytest process.
"""

from __future__ import annotations

import pytest

from specformer.conformance.mutants import heads, losses
from specformer.conformance.results import ERROR, FAIL

FAMILIES = {"losses": losses, "heads": heads}


def _profile(request: pytest.FixtureRequest) -> str:
    return "thorough" if request.config.getoption("--specformer-profile") == "thorough" else "quick"


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_each_mutant_fails_exactly_the_clauses_it_breaks(run_suite, request, family: str) -> None:
    module = FAMILIES[family]
    mutants = {f"{module.__name__}:{m.__name__}": m for m in module.ALL}
    code, run, output = run_suite(list(mutants), families=(family,), profile=_profile(request))
    assert run is not None, output
    assert code == 1, output
    wrong = {}
    for adapter in run.adapters:
        failed = sorted(c.id for c in adapter.clauses if c.status in (FAIL, ERROR))
        if failed != sorted(mutants[adapter.name].breaks):
            wrong[adapter.name] = failed
    assert not wrong, wrong


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_clause_of_the_family_is_broken_by_some_mutant(family: str) -> None:
    from specformer.conformance.registry import registry

    clauses = {c.id for c in registry().values() if c.family == family}
    broken = {clause for mutant in FAMILIES[family].ALL for clause in mutant.breaks}
    assert len(FAMILIES[family].ALL) >= 8
    assert not sorted(clauses - broken), "clauses without a mutant"
    assert not sorted(broken - clauses), "mutants naming clauses of another family or unknown ones"
