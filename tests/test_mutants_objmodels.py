"""Every objectives and models mutant fails the suite exactly at the clauses it breaks.

Each mutant runs its whole family suite (that is what checks "exactly"). CI runs the mutants
named below, the six bugs of issue 12; the thorough profile runs all 50 of them (the
objectives suite costs about 8 s of CPU per mutant, the models suite about 15 s).
"""

from __future__ import annotations

import pytest

IN_CI = {
    "objectives": ("MasksSpecialTokens", "EightyTwentyZero", "SentinelsInReverseOrder", "NoZeroLengthSpans"),
    "models": ("DecoderSeesTheFuture", "PositionIdsNotShiftedUnderLeftPadding"),
}


def mutant_profile(request: pytest.FixtureRequest) -> str:
    """quick, unless the session runs thorough (as tests/test_mutants.py)."""
    return "thorough" if request.config.getoption("--specformer-profile") == "thorough" else "quick"


def _check(run_mutants, request, module, family: str) -> None:
    profile = mutant_profile(request)
    chosen = [m for m in module.ALL if profile == "thorough" or m.__name__ in IN_CI[family]]
    assert len(chosen) >= len(IN_CI[family])
    mutants = {f"specformer.conformance.mutants.{family}:{m.__name__}": m for m in chosen}
    _, wrong = run_mutants(mutants, family, profile)
    assert not wrong, wrong


def test_there_are_enough_mutants() -> None:
    from specformer.conformance.mutants import models, objectives

    assert len(objectives.ALL) >= 6 and len(models.ALL) >= 6
    assert all(m.breaks for m in (*objectives.ALL, *models.ALL))


@pytest.mark.slow
def test_each_objectives_mutant_fails_exactly_the_clauses_it_breaks(run_mutants, request) -> None:
    from specformer.conformance.mutants import objectives

    _check(run_mutants, request, objectives, "objectives")


@pytest.mark.slow
def test_each_models_mutant_fails_exactly_the_clauses_it_breaks(run_mutants, request) -> None:
    from specformer.conformance.mutants import models

    _check(run_mutants, request, models, "models")


def test_every_objectives_and_models_clause_is_broken_by_some_mutant() -> None:
    from specformer.conformance.mutants import models, objectives
    from specformer.conformance.registry import registry

    ours = {c for c, clause in registry().items() if clause.family in ("objectives", "models")}
    broken = {clause for mutant in (*objectives.ALL, *models.ALL) for clause in mutant.breaks}
    assert not sorted(ours - broken), "clauses without a mutant"
    assert not sorted(broken - ours), "mutants naming unknown or foreign clauses"
